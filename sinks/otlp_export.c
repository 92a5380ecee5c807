/*
 * otlp_export — the delivery half the two OTLP exporters share (see otlp_export.h): merging payloads
 * into requests, compressing, sending through lib/sender, and reading the answer.
 *
 * Retry policy (OTLP specification, "Failures"): over gRPC, CANCELLED, DEADLINE_EXCEEDED, ABORTED,
 * OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried, RESOURCE_EXHAUSTED only when the server sent a
 * RetryInfo (it promises to recover), honouring its delay; every other code drops the request,
 * counted by the code's name. A call answered 200 without any grpc-status is retried (a proxy cut the
 * stream). Over HTTP, 429, 502, 503 and 504 are retried honouring Retry-After — and so is every other
 * 5xx and no answer at all, as for every solder sink (DESIGN §5); other 4xx drop, counted as
 * "http_<status>". A success carrying partial_success with rejected items is never retried: the
 * rejected count goes to a counter and a log line at most every 10 s.
 *
 * Compression is done here (zlib gzip at level 1, zstd at level 1: cheap, most of the gain on OTLP)
 * into a buffer reused across requests, so steady-state delivery allocates nothing.
 */
#include "sinks/otlp_export.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>
#include <zstd.h>

#include "lib/grpc.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/proto/otlp/logs_service.pb-c.h"
#include "lib/proto/otlp/metrics_service.pb-c.h"
#include "lib/proto/otlp/trace_service.pb-c.h"
#include "lib/sender.h"
#include "pipeline/component.h"

#define DEFAULT_MAX_REQUEST    ((4u << 20) - (64u << 10))
#define REJECT_LOG_INTERVAL_NS 10000000000LL

enum { FAM_SENT, FAM_REJECTED, FAM_FAILED, FAM_RETRIES, FAM_N };

struct buf {
	uint8_t *p;
	size_t len, cap;
};

struct otlp_export_client {
	struct otlp_export_opts o;
	char *component_id;
	struct sender *def, *per_signal[OTLP_SIGNALS];
	struct metric_family *fam[FAM_N];
	struct buf body, wire; /* merged request; compressed + framed request */
	z_stream zs;
	bool zs_ready;
	ZSTD_CCtx *zc;
	/* the batch being delivered: which records are done, kept across the lane's retries of it */
	uint8_t *done;
	size_t done_cap;
	size_t retry_n; /* n_records and bytes of the batch whose delivery returned RETRY */
	uint64_t retry_bytes;
	bool retrying;
	int64_t first_fail_ns;
	int64_t last_reject_log_ns;
	struct otlp_export_totals totals;
};

/* What one request carries and how it went. */
struct request {
	enum otlp_signal sig;
	size_t first, end; /* record range scanned */
	size_t payloads;
	uint64_t items, bytes;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *const signal_paths[OTLP_SIGNALS] = {
	[OTLP_TRACES] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	[OTLP_METRICS] = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	[OTLP_LOGS] = "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};
static const char *const http_paths[OTLP_SIGNALS] = {
	[OTLP_TRACES] = "/v1/traces", [OTLP_METRICS] = "/v1/metrics", [OTLP_LOGS] = "/v1/logs"};

const char *otlp_export_grpc_path(enum otlp_signal s)
{
	return s < OTLP_SIGNALS ? signal_paths[s] : NULL;
}

static int signal_of(const struct record *r, enum otlp_signal *s)
{
	if (r->kind != RECORD_PAYLOAD)
		return -1;
	switch (r->payload.kind) {
	case PAYLOAD_OTLP_TRACES:
		*s = OTLP_TRACES;
		return 0;
	case PAYLOAD_OTLP_METRICS:
		*s = OTLP_METRICS;
		return 0;
	case PAYLOAD_OTLP_LOGS:
		*s = OTLP_LOGS;
		return 0;
	default:
		return -1;
	}
}

/* ---- counting items without decoding ---- */

/*
 * Payloads were fully validated by the receiver that wrote them and are CRC-checked by the WAL, so the
 * exporter only counts: it walks the few levels above the spans / log records / data points and skips
 * their contents by length (otlp_validate, which checks everything, costs a quarter of the exporter's
 * CPU at high rates). A length that runs past its parent still fails the payload.
 */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -EINVAL;
}

/* Next field: 1 (with *num, and *sub, *sub_len for a length-delimited one), 0 at the end, <0 malformed. */
static int pb_next(const uint8_t **p, const uint8_t *end, uint32_t *num, const uint8_t **sub, size_t *sub_len)
{
	uint64_t key, v;
	if (*p >= end)
		return 0;
	if (pb_varint(p, end, &key) < 0)
		return -EINVAL;
	*num = (uint32_t)(key >> 3);
	*sub = NULL;
	switch (key & 7) {
	case 0:
		return pb_varint(p, end, &v) < 0 ? -EINVAL : 1;
	case 1:
		if (end - *p < 8)
			return -EINVAL;
		*p += 8;
		return 1;
	case 5:
		if (end - *p < 4)
			return -EINVAL;
		*p += 4;
		return 1;
	case 2:
		if (pb_varint(p, end, &v) < 0 || v > (uint64_t)(end - *p))
			return -EINVAL;
		*sub = *p;
		*sub_len = (size_t)v;
		*p += v;
		return 1;
	default:
		return -EINVAL;
	}
}

/*
 * Counts the length-delimited fields numbered path[depth] inside fields path[0..depth-1] (metrics: any of
 * the data members 5, 7, 9, 10, 11 at the Metric level). Returns 0 or -EINVAL.
 */
static int count_path(const uint8_t *p, const uint8_t *end, const uint32_t *path, int depth, int level, uint64_t *items)
{
	uint32_t num;
	const uint8_t *sub;
	size_t sub_len;
	int rc;
	while ((rc = pb_next(&p, end, &num, &sub, &sub_len)) > 0) {
		bool match =
			path[level] ? num == path[level] : num == 5 || num == 7 || num == 9 || num == 10 || num == 11;
		if (!match || !sub)
			continue;
		if (level == depth)
			(*items)++;
		else if (count_path(sub, sub + sub_len, path, depth, level + 1, items) < 0)
			return -EINVAL;
	}
	return rc;
}

int otlp_export_count_items(enum otlp_signal s, const uint8_t *data, size_t len, uint64_t *items)
{
	static const uint32_t spans[] = {1, 2, 2}, logs[] = {1, 2, 2}, points[] = {1, 2, 2, 0, 1};
	*items = 0;
	if (s == OTLP_METRICS)
		return count_path(data, data + len, points, 4, 0, items);
	return count_path(data, data + len, s == OTLP_TRACES ? spans : logs, 2, 0, items);
}

static int buf_reserve(struct buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64 << 10;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* ---- verdicts ---- */

/* How gRPC clients map an HTTP status that is not 200 (grpc/doc/http-grpc-status-mapping.md). */
static int grpc_code_of_http(long status)
{
	switch (status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

enum wal_sink_result otlp_export_grpc_verdict(long http_status, int grpc_status, int64_t retry_delay_ms,
					      const char **reason)
{
	if (http_status == 0) {
		*reason = "transport";
		return WAL_SINK_RETRY;
	}
	int code = http_status != 200 ? grpc_code_of_http(http_status) : grpc_status;
	if (code < 0) {
		*reason = "no_grpc_status";
		return WAL_SINK_RETRY;
	}
	*reason = grpc_status_name((enum grpc_status)code);
	switch (code) {
	case GRPC_OK:
		return WAL_SINK_OK;
	case GRPC_CANCELLED:
	case GRPC_DEADLINE_EXCEEDED:
	case GRPC_ABORTED:
	case GRPC_OUT_OF_RANGE:
	case GRPC_UNAVAILABLE:
	case GRPC_DATA_LOSS:
		return WAL_SINK_RETRY;
	case GRPC_RESOURCE_EXHAUSTED:
		return retry_delay_ms > 0 ? WAL_SINK_RETRY : WAL_SINK_DROP;
	default:
		return WAL_SINK_DROP;
	}
}

enum wal_sink_result otlp_export_http_verdict(long http_status, const char **reason)
{
	static const char *const names[] = {"http_400", "http_401", "http_403", "http_404",
					    "http_405", "http_413", "http_415", "http_4xx"};
	static const long codes[] = {400, 401, 403, 404, 405, 413, 415};
	if (http_status >= 200 && http_status < 300) {
		*reason = "ok";
		return WAL_SINK_OK;
	}
	if (http_status == 0 || http_status == 429 || http_status >= 500) {
		*reason = http_status == 0 ? "transport" : http_status == 429 ? "http_429" : "http_5xx";
		return WAL_SINK_RETRY;
	}
	*reason = http_status >= 400 ? names[7] : "http_other"; /* 1xx/3xx as a final answer: not OTLP */
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == http_status)
			*reason = names[i];
	return WAL_SINK_DROP;
}

/* ---- the client ---- */

static void register_families(struct otlp_export_client *cl, struct metrics_registry *reg)
{
	cl->fam[FAM_SENT] = metrics_counter_family(reg, "solder_otlp_exporter_sent_items_total",
						   "Spans, log records or data points the backend accepted.",
						   "component_id", "signal", METRICS_END);
	cl->fam[FAM_REJECTED] =
		metrics_counter_family(reg, "solder_otlp_exporter_rejected_items_total",
				       "Items the backend rejected in a partial success (never retried).",
				       "component_id", "signal", METRICS_END);
	cl->fam[FAM_FAILED] = metrics_counter_family(reg, "solder_otlp_exporter_failed_items_total",
						     "Items dropped after a non-retryable answer, by reason.",
						     "component_id", "signal", "reason", METRICS_END);
	cl->fam[FAM_RETRIES] = metrics_counter_family(reg, "solder_otlp_exporter_retries_total",
						      "Requests that failed and will be retried, by reason.",
						      "component_id", "reason", METRICS_END);
}

int otlp_export_client_new(const struct otlp_export_opts *o, struct sender *def,
			   struct sender *per_signal[OTLP_SIGNALS], struct otlp_export_client **out)
{
	struct otlp_export_client *cl = calloc(1, sizeof(*cl));
	if (!cl)
		goto fail;
	cl->o = *o;
	cl->def = def;
	for (int i = 0; i < OTLP_SIGNALS; i++)
		cl->per_signal[i] = per_signal ? per_signal[i] : NULL;
	cl->component_id = strdup(o->component_id ? o->component_id : "");
	if (!cl->component_id)
		goto fail;
	cl->o.component_id = cl->component_id;
	if (!cl->o.max_request_bytes)
		cl->o.max_request_bytes = DEFAULT_MAX_REQUEST;
	if (o->compression == OTLP_COMPRESS_GZIP) {
		if (deflateInit2(&cl->zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			goto fail;
		cl->zs_ready = true;
	} else if (o->compression == OTLP_COMPRESS_ZSTD) {
		if (!(cl->zc = ZSTD_createCCtx()))
			goto fail;
		ZSTD_CCtx_setParameter(cl->zc, ZSTD_c_compressionLevel, 1);
	}
	if (o->registry)
		register_families(cl, o->registry);
	*out = cl;
	return 0;
fail:
	if (cl) {
		otlp_export_client_free(cl);
	} else {
		sender_free(def);
		for (int i = 0; per_signal && i < OTLP_SIGNALS; i++)
			sender_free(per_signal[i]);
	}
	return -ENOMEM;
}

void otlp_export_client_free(struct otlp_export_client *cl)
{
	if (!cl)
		return;
	for (int i = 0; i < FAM_N; i++) {
		if (cl->fam[i])
			metrics_family_remove_by_label(cl->fam[i], "component_id", cl->component_id);
		metrics_family_unregister(cl->fam[i]);
	}
	sender_free(cl->def);
	for (int i = 0; i < OTLP_SIGNALS; i++)
		sender_free(cl->per_signal[i]);
	if (cl->zs_ready)
		deflateEnd(&cl->zs);
	ZSTD_freeCCtx(cl->zc);
	free(cl->body.p);
	free(cl->wire.p);
	free(cl->done);
	free(cl->component_id);
	free(cl);
}

void otlp_export_get_totals(struct otlp_export_client *cl, struct otlp_export_totals *t)
{
	*t = cl->totals;
}

/* Compresses cl->body into cl->wire after `prefix` reserved bytes (the gRPC frame header). */
static int compress_body(struct otlp_export_client *cl, size_t prefix, size_t *out_len)
{
	size_t n = cl->body.len;
	if (cl->o.compression == OTLP_COMPRESS_ZSTD) {
		size_t bound = ZSTD_compressBound(n);
		if (buf_reserve(&cl->wire, prefix + bound) < 0)
			return -ENOMEM;
		size_t r = ZSTD_compress2(cl->zc, cl->wire.p + prefix, bound, cl->body.p, n);
		if (ZSTD_isError(r))
			return -EIO;
		*out_len = r;
		return 0;
	}
	size_t bound = deflateBound(&cl->zs, n) + 32;
	if (buf_reserve(&cl->wire, prefix + bound) < 0 || deflateReset(&cl->zs) != Z_OK)
		return -ENOMEM;
	cl->zs.next_in = cl->body.p;
	cl->zs.avail_in = (uInt)n;
	cl->zs.next_out = cl->wire.p + prefix;
	cl->zs.avail_out = (uInt)bound;
	if (deflate(&cl->zs, Z_FINISH) != Z_STREAM_END)
		return -EIO;
	*out_len = bound - cl->zs.avail_out;
	return 0;
}

/* The request bytes for cl->body: framed for gRPC, compressed when configured. */
static int wire_form(struct otlp_export_client *cl, const uint8_t **data, size_t *len)
{
	size_t prefix = cl->o.grpc ? GRPC_FRAME_HEADER : 0, n = cl->body.len;
	bool compressed = cl->o.compression != OTLP_COMPRESS_NONE;
	if (compressed) {
		int rc = compress_body(cl, prefix, &n);
		if (rc < 0)
			return rc;
	} else if (!cl->o.grpc) {
		*data = cl->body.p;
		*len = n;
		return 0;
	} else {
		if (buf_reserve(&cl->wire, prefix + n) < 0)
			return -ENOMEM;
		memcpy(cl->wire.p + prefix, cl->body.p, n);
	}
	if (cl->o.grpc)
		grpc_frame_header_flag(cl->wire.p, n, compressed);
	*data = cl->wire.p;
	*len = prefix + n;
	return 0;
}

/* partial_success.rejected_<items> of an Export*ServiceResponse; 0 when absent or undecodable. */
static int64_t rejected_of(enum otlp_signal s, const uint8_t *msg, size_t len, char *why, size_t why_len)
{
	int64_t n = 0;
	const char *text = NULL;
	why[0] = 0;
	if (s == OTLP_TRACES) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
			opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, len,
													  msg);
		if (r && r->partial_success) {
			n = r->partial_success->rejected_spans;
			text = r->partial_success->error_message;
		}
		snprintf(why, why_len, "%s", text ? text : "");
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(r, NULL);
	} else if (s == OTLP_LOGS) {
		Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse *r =
			opentelemetry__proto__collector__logs__v1__export_logs_service_response__unpack(NULL, len, msg);
		if (r && r->partial_success) {
			n = r->partial_success->rejected_log_records;
			text = r->partial_success->error_message;
		}
		snprintf(why, why_len, "%s", text ? text : "");
		opentelemetry__proto__collector__logs__v1__export_logs_service_response__free_unpacked(r, NULL);
	} else {
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse *r =
			opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(NULL, len,
													      msg);
		if (r && r->partial_success) {
			n = r->partial_success->rejected_data_points;
			text = r->partial_success->error_message;
		}
		snprintf(why, why_len, "%s", text ? text : "");
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(r, NULL);
	}
	return n > 0 ? n : 0;
}

/* The answer's message: the gRPC frame's payload (gunzipped when sent so), or the HTTP body. */
static int64_t answer_rejected(struct otlp_export_client *cl, enum otlp_signal s, const struct sender_response *r,
			       char *why, size_t why_len)
{
	why[0] = 0;
	if (!r->data || !r->data_len || r->data_truncated)
		return 0;
	if (cl->o.json)
		return otlp_export_json_rejected(s, (const char *)r->data, r->data_len, why, why_len);
	if (!cl->o.grpc)
		return rejected_of(s, r->data, r->data_len, why, why_len);
	const uint8_t *msg;
	size_t mlen;
	int compressed;
	if (grpc_frame_parse(r->data, r->data_len, SENDER_DATA_MAX, &msg, &mlen, &compressed) < 0)
		return 0;
	if (!compressed)
		return rejected_of(s, msg, mlen, why, why_len);
	uint8_t *plain;
	size_t plen;
	if (!r->grpc_gzip || grpc_gunzip(msg, mlen, SENDER_DATA_MAX, &plain, &plen) < 0)
		return 0;
	int64_t n = rejected_of(s, plain, plen, why, why_len);
	free(plain);
	return n;
}

static void note_rejected(struct otlp_export_client *cl, const struct request *rq, int64_t rejected, const char *why)
{
	uint64_t n = (uint64_t)rejected;
	cl->totals.rejected[rq->sig] += n;
	metric_counter_add(metrics_counter_child(cl->fam[FAM_REJECTED], cl->component_id, otlp_signal_name(rq->sig)),
			   n);
	int64_t now = mono_ns();
	if (cl->last_reject_log_ns && now - cl->last_reject_log_ns < REJECT_LOG_INTERVAL_NS)
		return;
	cl->last_reject_log_ns = now;
	char q[300];
	log_warn(cl->component_id, "backend rejected part of a request (partial success, not retried)",
		 "signal=%s rejected=%" PRId64 " items=%" PRIu64 " error=%s", otlp_signal_name(rq->sig), rejected,
		 rq->items, log_quote(q, sizeof(q), why));
}

static void describe(struct wal_sink_outcome *out, const struct sender_response *r, const char *reason, bool grpc)
{
	if (r->status == 0)
		snprintf(out->message, sizeof(out->message), "%.120s: %.120s", r->url, r->error);
	else if (grpc && r->status == 200)
		snprintf(out->message, sizeof(out->message), "%.100s: %s: %.120s", r->url, reason, r->grpc_message);
	else
		snprintf(out->message, sizeof(out->message), "%.100s: HTTP %ld: %.*s", r->url, r->status,
			 (int)strcspn(r->body, "\n"), r->body);
}

/* Sends cl->body as one request for rq; the verdict, with out filled on RETRY/DROP. */
/* encoding = "json": cl->body becomes the request's OTLP/JSON form. */
static int body_to_json(struct otlp_export_client *cl, enum otlp_signal sig)
{
	char *js;
	size_t jlen;
	int rc = otlp_export_to_json(sig, cl->body.p, cl->body.len, &js, &jlen);
	if (rc < 0)
		return rc;
	if ((rc = buf_reserve(&cl->body, jlen)) == 0) {
		memcpy(cl->body.p, js, jlen);
		cl->body.len = jlen;
	}
	free(js);
	return rc;
}

static enum wal_sink_result send_request(struct otlp_export_client *cl, const struct request *rq,
					 struct wal_sink_outcome *out, const char **reason)
{
	const uint8_t *data;
	size_t len;
	int rc = cl->o.json ? body_to_json(cl, rq->sig) : 0;
	if (rc < 0) {
		snprintf(out->message, sizeof(out->message), "cannot write the request as JSON: %s", strerror(-rc));
		*reason = "json";
		return rc == -ENOMEM ? WAL_SINK_RETRY : WAL_SINK_DROP;
	}
	rc = wire_form(cl, &data, &len);
	if (rc < 0) {
		snprintf(out->message, sizeof(out->message), "cannot compress the request: %s", strerror(-rc));
		*reason = "compression";
		return WAL_SINK_RETRY;
	}
	static const char *const gzip_names[] = {NULL, "gzip", "zstd"};
	const char *enc = gzip_names[cl->o.compression];
	struct sender_header h[2];
	size_t nh = 0;
	struct sender_response resp;
	cl->totals.requests++;
	enum wal_sink_result v;
	if (cl->o.grpc) {
		if (enc)
			h[nh++] = (struct sender_header){"grpc-encoding", (char *)enc};
		h[nh++] = (struct sender_header){"grpc-accept-encoding", "gzip"};
		sender_post_grpc(cl->def, signal_paths[rq->sig], data, len, h, nh, &resp);
		v = otlp_export_grpc_verdict(resp.status, resp.grpc_status, resp.grpc_retry_delay_ms, reason);
		out->retry_after_ms = resp.grpc_retry_delay_ms;
	} else {
		h[nh++] = (struct sender_header){"Content-Type",
						 cl->o.json ? "application/json" : "application/x-protobuf"};
		if (enc)
			h[nh++] = (struct sender_header){"Content-Encoding", (char *)enc};
		struct sender *s = cl->per_signal[rq->sig] ? cl->per_signal[rq->sig] : cl->def;
		sender_post_path(s, cl->per_signal[rq->sig] ? NULL : http_paths[rq->sig], data, len, h, nh, &resp);
		v = otlp_export_http_verdict(resp.status, reason);
		out->retry_after_ms = resp.retry_after_ms;
	}
	if (v != WAL_SINK_OK) {
		describe(out, &resp, *reason, cl->o.grpc);
		return v;
	}
	char why[256];
	int64_t rejected = answer_rejected(cl, rq->sig, &resp, why, sizeof(why));
	if (rejected > 0)
		note_rejected(cl, rq, rejected, why);
	uint64_t ok = rq->items > (uint64_t)rejected ? rq->items - (uint64_t)rejected : 0;
	cl->totals.sent[rq->sig] += ok;
	metric_counter_add(metrics_counter_child(cl->fam[FAM_SENT], cl->component_id, otlp_signal_name(rq->sig)), ok);
	return WAL_SINK_OK;
}

/* Marks the records of rq done. */
static void mark_done(struct otlp_export_client *cl, const struct batch *b, const struct request *rq)
{
	enum otlp_signal s;
	for (size_t i = rq->first; i < rq->end; i++)
		if (!cl->done[i] && signal_of(&b->records[i], &s) == 0 && s == rq->sig)
			cl->done[i] = 1;
}

/*
 * Merges the not-yet-done payloads of signal `sig` from record `from` on into cl->body, up to the cap.
 * Returns the request (payloads == 0 when none is left). Malformed payloads are marked done and counted.
 */
static int build_request(struct otlp_export_client *cl, const struct batch *b, enum otlp_signal sig, size_t from,
			 struct request *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->sig = sig;
	rq->first = from;
	cl->body.len = 0;
	size_t i = from;
	for (; i < b->n_records; i++) {
		enum otlp_signal s;
		const struct record *r = &b->records[i];
		if (cl->done[i] || signal_of(r, &s) < 0 || s != sig)
			continue;
		if (rq->payloads && cl->body.len + r->payload.len > cl->o.max_request_bytes)
			break;
		uint64_t items = 0;
		if (otlp_export_count_items(sig, r->payload.data, r->payload.len, &items) < 0) {
			cl->done[i] = 1;
			cl->totals.dropped[sig]++;
			metric_counter_inc(metrics_counter_child(cl->fam[FAM_FAILED], cl->component_id,
								 otlp_signal_name(sig), "malformed"));
			if (cl->o.c)
				component_count_dropped(cl->o.c, "malformed", 1, r->payload.len);
			continue;
		}
		if (buf_reserve(&cl->body, cl->body.len + r->payload.len) < 0)
			return -ENOMEM;
		memcpy(cl->body.p + cl->body.len, r->payload.data, r->payload.len);
		cl->body.len += r->payload.len;
		rq->payloads++;
		rq->items += items;
		rq->bytes += r->payload.len;
	}
	rq->end = i;
	return 0;
}

/* A new batch, or the lane retrying the one whose delivery returned RETRY: keep its done marks then. */
static int begin_batch(struct otlp_export_client *cl, const struct batch *b)
{
	bool same = cl->retrying && cl->retry_n == b->n_records && cl->retry_bytes == b->bytes;
	cl->retrying = false;
	if (same)
		return 0;
	cl->first_fail_ns = 0;
	if (b->n_records > cl->done_cap) {
		uint8_t *d = realloc(cl->done, b->n_records);
		if (!d)
			return -ENOMEM;
		cl->done = d;
		cl->done_cap = b->n_records;
	}
	if (b->n_records)
		memset(cl->done, 0, b->n_records);
	return 0;
}

/* A failed request that will be retried — unless retrying is off or the batch has failed for too long. */
static enum wal_sink_result retry_or_give_up(struct otlp_export_client *cl, const struct batch *b, const char *reason,
					     struct wal_sink_outcome *out)
{
	int64_t now = mono_ns();
	if (!cl->first_fail_ns)
		cl->first_fail_ns = now;
	metric_counter_inc(metrics_counter_child(cl->fam[FAM_RETRIES], cl->component_id, reason));
	if (!cl->o.retry || (cl->o.max_elapsed_ns > 0 && now - cl->first_fail_ns >= cl->o.max_elapsed_ns)) {
		out->drop_reason = !cl->o.retry ? "retry_disabled" : "max_elapsed_time";
		return WAL_SINK_DROP;
	}
	cl->totals.retries++;
	cl->retrying = true;
	cl->retry_n = b->n_records;
	cl->retry_bytes = b->bytes;
	return WAL_SINK_RETRY;
}

static void count_dropped(struct otlp_export_client *cl, const struct request *rq, const char *reason)
{
	cl->totals.dropped[rq->sig] += rq->items;
	metric_counter_add(
		metrics_counter_child(cl->fam[FAM_FAILED], cl->component_id, otlp_signal_name(rq->sig), reason),
		rq->items);
}

/* Giving up on a batch: the items of every payload not delivered yet are dropped. */
static void count_remaining(struct otlp_export_client *cl, const struct batch *b, const char *reason)
{
	for (size_t i = 0; i < b->n_records; i++) {
		struct request rq = {0};
		if (cl->done[i] || signal_of(&b->records[i], &rq.sig) < 0)
			continue;
		otlp_export_count_items(rq.sig, b->records[i].payload.data, b->records[i].payload.len, &rq.items);
		count_dropped(cl, &rq, reason);
	}
}

enum wal_sink_result otlp_export_deliver(void *arg, struct batch *b, struct wal_sink_outcome *out)
{
	struct otlp_export_client *cl = arg;
	if (begin_batch(cl, b) < 0) {
		snprintf(out->message, sizeof(out->message), "out of memory");
		return WAL_SINK_RETRY;
	}
	size_t delivered = 0, dropped = 0;
	uint64_t dropped_bytes = 0;
	const char *drop_reason = NULL;
	bool mixed_reasons = false;
	for (int sig = 0; sig < OTLP_SIGNALS; sig++) {
		for (size_t from = 0;;) {
			struct request rq;
			if (build_request(cl, b, (enum otlp_signal)sig, from, &rq) < 0) {
				snprintf(out->message, sizeof(out->message), "out of memory");
				cl->retrying = true, cl->retry_n = b->n_records, cl->retry_bytes = b->bytes;
				return WAL_SINK_RETRY;
			}
			if (!rq.payloads)
				break;
			const char *reason = NULL;
			struct wal_sink_outcome o = {0};
			enum wal_sink_result v = send_request(cl, &rq, &o, &reason);
			if (v == WAL_SINK_RETRY) {
				*out = o;
				enum wal_sink_result r = retry_or_give_up(cl, b, reason, out);
				if (r == WAL_SINK_DROP)
					count_remaining(cl, b, out->drop_reason);
				return r;
			}
			mark_done(cl, b, &rq);
			if (v == WAL_SINK_DROP) {
				count_dropped(cl, &rq, reason);
				mixed_reasons |= drop_reason && strcmp(drop_reason, reason) != 0;
				drop_reason = reason;
				dropped += rq.payloads;
				dropped_bytes += rq.bytes;
				*out = o;
				out->drop_reason = reason;
			} else {
				delivered += rq.payloads;
			}
			from = rq.end;
		}
	}
	cl->first_fail_ns = 0;
	if (!dropped)
		return WAL_SINK_OK;
	if (!delivered && !mixed_reasons)
		return WAL_SINK_DROP; /* wal_sink counts and logs the whole batch under the one reason */
	if (cl->o.c)
		component_count_dropped(cl->o.c, mixed_reasons ? "rejected" : drop_reason, dropped, dropped_bytes);
	char q[300];
	log_warn(cl->component_id, "requests dropped", "payloads=%zu reason=%s error=%s", dropped,
		 mixed_reasons ? "several" : drop_reason, log_quote(q, sizeof(q), out->message));
	return WAL_SINK_OK;
}
