/*
 * prometheus_remote_write — the parts of the prometheus.remote_write sink that tests and benchmarks
 * call directly: the Remote Write encoder (batch -> snappy-compressed prometheus.WriteRequest (1.0) or
 * io.prometheus.write.v2.Request (2.0) bodies of at most max_samples_per_send samples,
 * sinks/prometheus_remote_write_encoder.c) and the reading of a receiver's answers. The component itself is `prometheus_remote_write_ops`
 * (cmd/registry.c).
 */
#ifndef SOLDER_SINKS_PROMETHEUS_REMOTE_WRITE_H
#define SOLDER_SINKS_PROMETHEUS_REMOTE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/batch.h"

struct prw_encoder;
struct relabel_rules;

/* The endpoint's protobuf_message values: Remote Write 1.0 (the default) and 2.0. */
#define PRW_V1_MESSAGE "prometheus.WriteRequest"
#define PRW_V2_MESSAGE "io.prometheus.write.v2.Request"

struct prw_encoder_options {
	const struct labels *external; /* added to every series lacking a label of that name (copied; may be NULL) */
	size_t max_samples_per_send;   /* samples per request (0 = 2000) */
	int64_t sample_age_limit_ms;   /* samples older than this at send time are dropped (0 = no limit) */
	bool send_metadata;            /* one MetricMetadata per family present in a delivery (prepare)… */
	int64_t metadata_interval_ms;  /* …at most once per this interval per family (0 = in every delivery) */
	struct relabel_rules *relabel; /* write_relabel_config, applied once per series (borrowed; may be NULL) */
	size_t metadata_max_per_request; /* a delivery's metadata go this many per request from its first (0 = 2000) */
};

/* What one prw_encoder_prepare found. */
struct prw_stats {
	size_t samples, series, requests;
	size_t no_name; /* samples of series without a __name__: not sent */
	size_t too_old; /* samples older than sample_age_limit: not sent */
	size_t relabel_dropped; /* samples of series write_relabel_config dropped */
};

/* One request body; buffers belong to the encoder and stay valid until the next call. */
struct prw_request {
	const uint8_t *raw; /* the WriteRequest protobuf */
	size_t raw_len;
	const uint8_t *body; /* raw, snappy block-compressed: what goes on the wire */
	size_t body_len;
	size_t samples, series, metadata; /* 2.0: metadata = series that carry a Metadata */
	size_t symbols;                   /* 2.0: entries of Request.symbols, "" included */
};

int prw_encoder_new(const struct prw_encoder_options *o, struct prw_encoder **out);
void prw_encoder_free(struct prw_encoder *e);

/*
 * The version the next prepare orders series for (1 by default): 1.0 sends the series of one target
 * side by side (sorted by their labels other than __name__, then __name__: snappy compresses that
 * best), 2.0 in the batch's order (families together: fewer symbols per request). Either version can
 * encode the requests of either order, so a fallback in the middle of a batch stays correct.
 */
void prw_encoder_set_version(struct prw_encoder *e, int version);

/*
 * Groups b's samples into series (write_relabel_config applied, then labels merged with the external
 * labels, sorted, empty values removed), puts the series in sending order (prw_encoder_set_version),
 * orders each series' samples by timestamp (stable), and cuts them into requests. b must stay unchanged
 * until the last prw_encoder_request. Returns the number of requests, or -ENOMEM/-E2BIG.
 */
int prw_encoder_prepare(struct prw_encoder *e, const struct batch *b, int64_t now_ms, struct prw_stats *st);

/* Encodes request i (0 <= i < the count prepare returned) as a 1.0 WriteRequest. 0, -ENOMEM or -EINVAL. */
int prw_encoder_request(struct prw_encoder *e, size_t i, struct prw_request *out);

/*
 * The same request i as a 2.0 Request: a symbol table of its own (symbols[0] = ""), each series' labels
 * as sorted name/value ref pairs, its samples in timestamp order, and its metric type, help and unit as a
 * per-series Metadata whenever send_metadata is set (2.0 has no per-interval metadata: it rides in every
 * series). Request i of either version holds the same samples, so a batch can switch version between
 * requests. 0, -ENOMEM or -EINVAL.
 */
int prw_encoder_request_v2(struct prw_encoder *e, size_t i, struct prw_request *out);

/* What a 2.0 receiver's X-Prometheus-Remote-Write-*-Written headers say about one request. */
enum prw_written {
	PRW_WRITTEN_ALL,     /* every header present and none below what was sent */
	PRW_WRITTEN_PARTIAL, /* a header says fewer were written: *rejected is the shortfall */
	PRW_WRITTEN_ABSENT,  /* no header at all: the receiver may speak 1.0 only */
};

/*
 * Reads the Samples-, Histograms- and Exemplars-Written header values (NULL when absent; a value that is
 * not a decimal count counts as absent) against what request carried. *rejected: samples + histograms +
 * exemplars the receiver says it did not write (a partial write: not to be retried).
 */
enum prw_written prw_written_check(const struct prw_request *req, const char *samples, const char *histograms,
				   const char *exemplars, size_t *rejected);

/* The drop reason for a rejected write: rate_limited (429), out_of_order, duplicate, too_old or bad_request. */
const char *prw_drop_reason(long status, const char *body);

struct cfg_body;
/* Why an endpoint block asks for what solder does not do (an unknown protobuf_message), or NULL. The
 * component refuses to create such an endpoint rather than ignore the setting. */
const char *prw_endpoint_unsupported(const struct cfg_body *endpoint);

#endif
