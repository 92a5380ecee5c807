/*
 * otlp_export — what otelcol.exporter.otlp (gRPC) and otelcol.exporter.otlphttp share: the lane's
 * deliver function that turns a merged WAL batch of OTLP payloads into Export requests, sends them
 * through lib/sender and maps each answer to OK / RETRY / DROP per the OTLP specification, with the
 * exporters' self-metrics.
 *
 * Payloads stay encoded: the payloads of one signal are merged into one Export*ServiceRequest by
 * concatenating their bytes (a serialized message followed by another of the same type is their
 * merge, and the request's only field is a repeated one), up to max_request_bytes; one larger payload
 * goes alone. Nothing is decoded and encoded again; the items are counted on the way (a walk over the
 * levels above them, cross-checked against otlp_validate by the tests).
 *
 * A batch that needs several requests is tracked across retries: the payloads a request already
 * delivered (or dropped) are not sent again when the lane retries the batch after a later request
 * failed, so a retry resends only what was not accepted.
 */
#ifndef SOLDER_SINKS_OTLP_EXPORT_H
#define SOLDER_SINKS_OTLP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/otlp.h"
#include "pipeline/wal_sink.h"

struct component;
struct metrics_registry;
struct sender;
struct otlp_export_client;

enum otlp_export_compression { OTLP_COMPRESS_NONE = 0, OTLP_COMPRESS_GZIP, OTLP_COMPRESS_ZSTD };

struct otlp_export_opts {
	bool grpc; /* gRPC (sender made with cfg.grpc) or OTLP/HTTP */
	bool json; /* OTLP/HTTP with encoding = "json" (sinks/otlp_export_json.c) */
	enum otlp_export_compression compression;
	size_t max_request_bytes;	   /* merged request size cap before compression; 0 = 4 MiB - 64 KiB */
	bool retry;			   /* retry_on_failure.enabled: false turns RETRY into a drop */
	int64_t max_elapsed_ns;		   /* > 0: drop a batch still failing after this long */
	struct metrics_registry *registry; /* NULL: no self-metrics */
	const char *component_id;
	struct component *c; /* NULL (tests): drops are not counted on the component */
};

/*
 * Takes over `def` (the client block's sender; requests go to its URL + "/v1/<signal>" over HTTP, or
 * + the Export method path over gRPC) and the non-NULL per_signal[] senders (otlphttp's
 * traces_endpoint, …: their URL is used as is). On failure the senders are freed too.
 */
int otlp_export_client_new(const struct otlp_export_opts *o, struct sender *def,
			   struct sender *per_signal[OTLP_SIGNALS], struct otlp_export_client **out);
void otlp_export_client_free(struct otlp_export_client *cl);

/* The lane's deliver (struct wal_sink_lane_ops): `arg` is the client. */
enum wal_sink_result otlp_export_deliver(void *arg, struct batch *b, struct wal_sink_outcome *out);

/* Items by outcome since the client was made (for tests and figures). */
struct otlp_export_totals {
	uint64_t sent[OTLP_SIGNALS], rejected[OTLP_SIGNALS], dropped[OTLP_SIGNALS];
	uint64_t requests, retries;
};
void otlp_export_get_totals(struct otlp_export_client *cl, struct otlp_export_totals *t);

/* Spans, log records or data points in an Export*ServiceRequest, skipping their contents. 0 or -EINVAL. */
int otlp_export_count_items(enum otlp_signal s, const uint8_t *data, size_t len, uint64_t *items);

/* "/opentelemetry.proto.collector.trace.v1.TraceService/Export", … */
const char *otlp_export_grpc_path(enum otlp_signal s);

/*
 * The verdict on one gRPC answer (a non-200 HTTP status is first mapped to its gRPC code as gRPC
 * clients do): OTLP's retryable codes retry (RESOURCE_EXHAUSTED only with a RetryInfo), others drop.
 * *reason is the status name, or "transport" when no answer came.
 */
enum wal_sink_result otlp_export_grpc_verdict(long http_status, int grpc_status, int64_t retry_delay_ms,
					      const char **reason);
/* The same for OTLP/HTTP: 2xx ok; no answer, 429 and 5xx retry; other 4xx drop ("http_400", …). */
enum wal_sink_result otlp_export_http_verdict(long http_status, const char **reason);

/* ---- OTLP/JSON (sinks/otlp_export_json.c) ---- */
/* The OTLP/JSON form of an Export*ServiceRequest, malloc'd. 0, -EINVAL (does not unpack) or -ENOMEM. */
int otlp_export_to_json(enum otlp_signal s, const uint8_t *pb, size_t len, char **out, size_t *out_len);
/* partialSuccess.rejected<Items> of a JSON Export*ServiceResponse (0 when absent), its errorMessage in why. */
int64_t otlp_export_json_rejected(enum otlp_signal s, const char *body, size_t len, char *why, size_t why_len);

/* ---- the components (sinks/otlp_export_component.c) ---- */
struct cfg_body;
struct otlp_exporter;
int otlp_exporter_create(struct component *c, const struct cfg_body *args, bool grpc, struct otlp_exporter **out);
int otlp_exporter_start(struct otlp_exporter *e);
void otlp_exporter_stop(struct otlp_exporter *e, int64_t deadline_ns);
void otlp_exporter_free(struct otlp_exporter *e);

/*
 * The sender configuration of an exporter's `client` block, as otlp_exporter_create makes it (exposed
 * for tests): endpoint(s) with their zones, OTel `tls`, headers, timeout; for gRPC, "host:port"
 * endpoints get http:// when tls.insecure is true and https:// otherwise. -EINVAL with err set.
 */
struct sender_config;
int otlp_exporter_sender_config(const struct cfg_body *args, bool grpc, struct sender_config *cfg, char *err,
				size_t errlen);

#endif
