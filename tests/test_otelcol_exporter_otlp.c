/*
 * Tests for the OTLP exporters' delivery (sinks/otlp_export) against loopback servers: solder's own
 * nghttp2 gRPC server (lib/grpcserver, scripted statuses) for otelcol.exporter.otlp, lib/httpserver
 * and a raw HTTP/1.1 socket (to see zstd bodies as sent) for otelcol.exporter.otlphttp. Checked:
 * payloads of a signal merged into one request that protobuf-c decodes back to every span; the OTLP
 * retry table; RetryInfo and Retry-After delays; partial success counted, not retried; a retry resends
 * only what was not accepted; a stalled server times out and is retried; gzip and zstd bodies; zone
 * choice and failover through the gRPC exporter's client block.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "cmd/registry.h"
#include "config/config.h"
#include "lib/agent_zone.h"
#include "lib/grpc.h"
#include "lib/grpcserver.h"
#include "lib/httpserver.h"
#include "lib/metrics.h"
#include "lib/otlp.h"
#include "lib/proto/otlp/logs_service.pb-c.h"
#include "lib/proto/otlp/trace_service.pb-c.h"
#include "lib/sender.h"
#include "lib/zone.h"
#include "sinks/otlp_export.h"
#include "support/harness.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest TraceReq;

/* An ExportTraceServiceRequest with one resource holding one span per name. */
static uint8_t *trace_payload(const char *const *names, size_t n, size_t *len)
{
	Opentelemetry__Proto__Trace__V1__Span spans[8], *sp[8];
	uint8_t tid[16] = {1, 2, 3}, sid[8] = {4, 5, 6};
	for (size_t i = 0; i < n; i++) {
		opentelemetry__proto__trace__v1__span__init(&spans[i]);
		spans[i].name = (char *)names[i];
		spans[i].trace_id = (ProtobufCBinaryData){16, tid};
		spans[i].span_id = (ProtobufCBinaryData){8, sid};
		sp[i] = &spans[i];
	}
	Opentelemetry__Proto__Trace__V1__ScopeSpans ss;
	opentelemetry__proto__trace__v1__scope_spans__init(&ss);
	ss.spans = sp;
	ss.n_spans = n;
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp = &ss;
	Opentelemetry__Proto__Trace__V1__ResourceSpans rs;
	opentelemetry__proto__trace__v1__resource_spans__init(&rs);
	rs.scope_spans = &ssp;
	rs.n_scope_spans = 1;
	Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp = &rs;
	TraceReq req;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	req.resource_spans = &rsp;
	req.n_resource_spans = 1;
	*len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	uint8_t *out = malloc(*len);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, out);
	return out;
}

static void add_trace(struct batch *b, const char *name)
{
	size_t len;
	uint8_t *p = trace_payload(&name, 1, &len);
	assert_int_equal(batch_add_payload(b, PAYLOAD_OTLP_TRACES, p, len), 0);
	free(p);
}

static void add_log(struct batch *b, const char *body)
{
	Opentelemetry__Proto__Common__V1__AnyValue v;
	opentelemetry__proto__common__v1__any_value__init(&v);
	v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v.string_value = (char *)body;
	Opentelemetry__Proto__Logs__V1__LogRecord lr, *lrp = &lr;
	opentelemetry__proto__logs__v1__log_record__init(&lr);
	lr.body = &v;
	Opentelemetry__Proto__Logs__V1__ScopeLogs sl, *slp = &sl;
	opentelemetry__proto__logs__v1__scope_logs__init(&sl);
	sl.log_records = &lrp;
	sl.n_log_records = 1;
	Opentelemetry__Proto__Logs__V1__ResourceLogs rl, *rlp = &rl;
	opentelemetry__proto__logs__v1__resource_logs__init(&rl);
	rl.scope_logs = &slp;
	rl.n_scope_logs = 1;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req;
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(&req);
	req.resource_logs = &rlp;
	req.n_resource_logs = 1;
	uint8_t buf[512];
	size_t len = opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(&req, buf);
	assert_int_equal(batch_add_payload(b, PAYLOAD_OTLP_LOGS, buf, len), 0);
}

/* Span names of a trace request, joined with ','. */
static void span_names(const uint8_t *msg, size_t len, char *out, size_t cap)
{
	TraceReq *r = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, msg);
	out[0] = 0;
	assert_non_null(r);
	for (size_t i = 0; i < r->n_resource_spans; i++)
		for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
			for (size_t k = 0; k < r->resource_spans[i]->scope_spans[j]->n_spans; k++)
				snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "",
					 r->resource_spans[i]->scope_spans[j]->spans[k]->name);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r, NULL);
}

/* ---- verdict tables ---- */

static void test_grpc_verdicts(void **state)
{
	static const struct {
		long http;
		int code;
		int64_t delay;
		enum wal_sink_result want;
		const char *reason;
	} cases[] = {
		{200, GRPC_OK, 0, WAL_SINK_OK, "OK"},
		{200, GRPC_UNAVAILABLE, 0, WAL_SINK_RETRY, "UNAVAILABLE"},
		{200, GRPC_DEADLINE_EXCEEDED, 0, WAL_SINK_RETRY, "DEADLINE_EXCEEDED"},
		{200, GRPC_ABORTED, 0, WAL_SINK_RETRY, "ABORTED"},
		{200, GRPC_OUT_OF_RANGE, 0, WAL_SINK_RETRY, "OUT_OF_RANGE"},
		{200, GRPC_DATA_LOSS, 0, WAL_SINK_RETRY, "DATA_LOSS"},
		{200, GRPC_CANCELLED, 0, WAL_SINK_RETRY, "CANCELLED"},
		{200, GRPC_RESOURCE_EXHAUSTED, 0, WAL_SINK_DROP, "RESOURCE_EXHAUSTED"},
		{200, GRPC_RESOURCE_EXHAUSTED, 1500, WAL_SINK_RETRY, "RESOURCE_EXHAUSTED"},
		{200, GRPC_INVALID_ARGUMENT, 0, WAL_SINK_DROP, "INVALID_ARGUMENT"},
		{200, GRPC_UNAUTHENTICATED, 0, WAL_SINK_DROP, "UNAUTHENTICATED"},
		{200, GRPC_PERMISSION_DENIED, 0, WAL_SINK_DROP, "PERMISSION_DENIED"},
		{200, GRPC_UNIMPLEMENTED, 0, WAL_SINK_DROP, "UNIMPLEMENTED"},
		{200, GRPC_INTERNAL, 0, WAL_SINK_DROP, "INTERNAL"},
		{200, -1, 0, WAL_SINK_RETRY, "no_grpc_status"},
		{0, -1, 0, WAL_SINK_RETRY, "transport"},
		{503, -1, 0, WAL_SINK_RETRY, "UNAVAILABLE"},
		{404, -1, 0, WAL_SINK_DROP, "UNIMPLEMENTED"},
		{400, -1, 0, WAL_SINK_DROP, "INTERNAL"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *reason = NULL;
		enum wal_sink_result r =
			otlp_export_grpc_verdict(cases[i].http, cases[i].code, cases[i].delay, &reason);
		if (r != cases[i].want || strcmp(reason, cases[i].reason) != 0)
			fail_msg("case %zu: got %d %s", i, r, reason);
	}
}

static void test_http_verdicts(void **state)
{
	static const struct {
		long status;
		enum wal_sink_result want;
		const char *reason;
	} cases[] = {
		{200, WAL_SINK_OK, "ok"},	   {204, WAL_SINK_OK, "ok"},
		{429, WAL_SINK_RETRY, "http_429"}, {502, WAL_SINK_RETRY, "http_5xx"},
		{503, WAL_SINK_RETRY, "http_5xx"}, {504, WAL_SINK_RETRY, "http_5xx"},
		{0, WAL_SINK_RETRY, "transport"},  {400, WAL_SINK_DROP, "http_400"},
		{401, WAL_SINK_DROP, "http_401"},  {413, WAL_SINK_DROP, "http_413"},
		{418, WAL_SINK_DROP, "http_4xx"},  {302, WAL_SINK_DROP, "http_other"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *reason = NULL;
		enum wal_sink_result r = otlp_export_http_verdict(cases[i].status, &reason);
		if (r != cases[i].want || strcmp(reason, cases[i].reason) != 0)
			fail_msg("case %zu: got %d %s", i, r, reason);
	}
}

static void test_status_details(void **state)
{
	char b64[512];
	int64_t ms = 0;
	assert_true(grpc_status_details(GRPC_UNAVAILABLE, "full", 2500, b64, sizeof(b64)) > 0);
	assert_int_equal(grpc_status_details_retry_delay(b64, strlen(b64), &ms), 0);
	assert_int_equal(ms, 2500);
	assert_true(grpc_status_details(GRPC_UNAVAILABLE, "full", 0, b64, sizeof(b64)) > 0);
	assert_int_equal(grpc_status_details_retry_delay(b64, strlen(b64), &ms), -ENOENT);
	assert_int_equal(grpc_status_details_retry_delay("!!!", 3, &ms), -EINVAL);
	assert_int_equal(grpc_status_details_retry_delay("CgUSA", 5, &ms), -EINVAL); /* truncated */
	char msg[64];
	grpc_message_decode("a%20b%25c%zz", 12, msg, sizeof(msg));
	assert_string_equal(msg, "a b%c%zz");
}

/* The exporter's item counter agrees with otlp_validate, and refuses what runs past its end. */
static void test_count_items(void **state)
{
	static const char *const names[] = {"a", "b", "c", "d"};
	size_t len;
	uint8_t *p = trace_payload(names, 4, &len);
	uint64_t counted = 0, validated = 0;
	assert_int_equal(otlp_export_count_items(OTLP_TRACES, p, len, &counted), 0);
	assert_int_equal(otlp_validate(OTLP_TRACES, p, len, &validated, NULL, 0), 0);
	assert_int_equal(counted, 4);
	assert_int_equal(validated, 4);
	assert_int_equal(otlp_export_count_items(OTLP_TRACES, p, len - 1, &counted), -EINVAL);
	free(p);
	struct batch *b = batch_new();
	add_log(b, "x");
	assert_int_equal(
		otlp_export_count_items(OTLP_LOGS, b->records[0].payload.data, b->records[0].payload.len, &counted), 0);
	assert_int_equal(counted, 1);
	assert_int_equal(otlp_export_count_items(OTLP_LOGS, NULL, 0, &counted), 0);
	assert_int_equal(counted, 0);
	batch_free(b);
}

/* protobuf → our OTLP/JSON → lib/otlp's JSON reader → protobuf gives the same message back. */
static void test_json_round_trip(void **state)
{
	static const struct {
		enum otlp_signal sig;
		const char *json;
		const char *expect; /* a piece of our JSON */
	} cases[] = {
		{OTLP_TRACES,
		 "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
		 "\"stringValue\":\"q\\\"x\"}}]},"
		 "\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":"
		 "\"eee19b7ec3c1b174\","
		 "\"parentSpanId\":\"eee19b7ec3c1b173\",\"name\":\"n\",\"kind\":2,\"startTimeUnixNano\":"
		 "\"1544712660000000000\","
		 "\"attributes\":[{\"key\":\"i\",\"value\":{\"intValue\":\"-7\"}},{\"key\":\"b\",\"value\":{"
		 "\"bytesValue\":\"AQID\"}}],"
		 "\"status\":{\"code\":2}}]}]}]}",
		 "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"parentSpanId\":"
		 "\"eee19b7ec3c1b173\""},
		{OTLP_METRICS,
		 "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"h\",\"histogram\":{\"dataPoints\":"
		 "[{"
		 "\"count\":\"3\",\"sum\":0,\"bucketCounts\":[\"1\",\"2\"],\"explicitBounds\":[1.5]}],"
		 "\"aggregationTemporality\":2}}]}]}]}",
		 "\"sum\":0"},
		{OTLP_LOGS,
		 "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"timeUnixNano\":\"1\",\"severityNumber\":9,"
		 "\"body\":{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{\"doubleValue\":2.5}}]}},"
		 "\"traceId\":\"00ff\"}]}]}]}",
		 "\"severityNumber\":9"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *pb1, *pb2;
		size_t len1, len2, jlen;
		char *js, err[128];
		if (otlp_from_json(cases[i].sig, cases[i].json, strlen(cases[i].json), 1 << 20, &pb1, &len1, err,
				   sizeof(err)))
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(otlp_export_to_json(cases[i].sig, pb1, len1, &js, &jlen), 0);
		if (!strstr(js, cases[i].expect))
			fail_msg("case %zu: %s lacks %s", i, js, cases[i].expect);
		if (otlp_from_json(cases[i].sig, js, jlen, 1 << 20, &pb2, &len2, err, sizeof(err)))
			fail_msg("case %zu: our JSON does not read back: %s: %s", i, err, js);
		if (len1 != len2 || memcmp(pb1, pb2, len1) != 0)
			fail_msg("case %zu: round trip differs: %s", i, js);
		free(pb1);
		free(pb2);
		free(js);
	}
	char why[64];
	const char *answer = "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"old\"}}";
	assert_int_equal(otlp_export_json_rejected(OTLP_TRACES, answer, strlen(answer), why, sizeof(why)), 3);
	assert_string_equal(why, "old");
	assert_int_equal(otlp_export_json_rejected(OTLP_TRACES, "{}", 2, why, sizeof(why)), 0);
}

/* ---- a scripted gRPC server ---- */

struct script {
	enum grpc_status status;
	int64_t retry_delay_ms;
	int64_t rejected; /* > 0: OK with a partial_success */
	int sleep_ms;
};

struct fake_grpc {
	pthread_mutex_t lock;
	struct grpcserver *srv;
	struct script next[8]; /* answers for the next calls, then OK */
	size_t nnext;
	char paths[16][96];
	char names[16][256]; /* span names of each trace call, or "logs" */
	size_t calls;
};

static void grpc_handler(void *ctx, const struct grpc_call *call, struct grpc_reply *reply)
{
	struct fake_grpc *f = ctx;
	pthread_mutex_lock(&f->lock);
	struct script s = {GRPC_OK, 0, 0, 0};
	if (f->nnext) {
		s = f->next[0];
		memmove(f->next, f->next + 1, --f->nnext * sizeof(f->next[0]));
	}
	size_t i = f->calls++ % 16;
	snprintf(f->paths[i], sizeof(f->paths[i]), "%s", call->path);
	if (strstr(call->path, "TraceService"))
		span_names(call->msg, call->len, f->names[i], sizeof(f->names[i]));
	else
		snprintf(f->names[i], sizeof(f->names[i]), "logs");
	pthread_mutex_unlock(&f->lock);
	if (s.sleep_ms)
		usleep((useconds_t)s.sleep_ms * 1000);
	reply->status = s.status;
	reply->retry_delay_ms = s.retry_delay_ms;
	snprintf(reply->message, sizeof(reply->message), "scripted %s", grpc_status_name(s.status));
	if (s.rejected) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
		opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
		ps.rejected_spans = s.rejected;
		ps.error_message = "too old";
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r;
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&r);
		r.partial_success = &ps;
		reply->body_len =
			opentelemetry__proto__collector__trace__v1__export_trace_service_response__get_packed_size(&r);
		reply->body = malloc(reply->body_len);
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&r, reply->body);
	}
}

static void grpc_serve(struct fake_grpc *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	struct grpcserver_options o = {.listen = "127.0.0.1:0", .workers = 4};
	assert_int_equal(grpcserver_start(&o, grpc_handler, f, &f->srv), 0);
}

static void script(struct fake_grpc *f, struct script s)
{
	pthread_mutex_lock(&f->lock);
	f->next[f->nnext++] = s;
	pthread_mutex_unlock(&f->lock);
}

/* A client from an exporter config text (component id otelcol.exporter.<kind>.x). */
static struct otlp_export_client *client_from(const char *text, bool grpc, struct agent_zone *az,
					      const struct otlp_export_opts *extra)
{
	struct config *cfg;
	char id[64], err[160];
	snprintf(id, sizeof(id), "otelcol.exporter.%s.x", grpc ? "otlp" : "otlphttp");
	const struct cfg_body *body = harness_body(text, id, &cfg);
	struct sender_config sc;
	int rc = otlp_exporter_sender_config(body, grpc, &sc, err, sizeof(err));
	if (rc < 0)
		fail_msg("sender config: %s", err);
	struct sender *s;
	struct sender_metrics_opts m = {NULL, id, az};
	assert_int_equal(sender_new(&sc, &m, &s), 0);
	struct sender *per[OTLP_SIGNALS] = {NULL};
	static const char *const keys[] = {"traces_endpoint", "metrics_endpoint", "logs_endpoint"};
	for (int i = 0; !grpc && i < OTLP_SIGNALS; i++) {
		const char *url = cfg_string(body, keys[i]);
		if (!url)
			continue;
		struct sender_config c2 = {0};
		c2.urls = calloc(1, sizeof(char *));
		c2.zones = calloc(1, sizeof(char *));
		c2.urls[0] = strdup(url);
		c2.nurls = 1;
		assert_int_equal(sender_new(&c2, NULL, &per[i]), 0);
	}
	harness_body_free(cfg);
	struct otlp_export_opts o = extra ? *extra : (struct otlp_export_opts){.retry = true};
	o.grpc = grpc;
	o.component_id = id;
	struct otlp_export_client *cl;
	assert_int_equal(otlp_export_client_new(&o, s, per, &cl), 0);
	return cl;
}

static struct otlp_export_client *grpc_client(int port, const char *extra_client, const struct otlp_export_opts *o)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "otelcol.exporter.otlp \"x\" {\n  timeout = \"300ms\"\n  client {\n    endpoint = \"127.0.0.1:%d\"\n"
		 "    tls { insecure = true }\n%s  }\n}\n",
		 port, extra_client ? extra_client : "");
	return client_from(text, true, NULL, o);
}

static void test_grpc_merge_and_signals(void **state)
{
	struct fake_grpc f;
	grpc_serve(&f);
	struct otlp_export_client *cl = grpc_client(grpcserver_port(f.srv), NULL, NULL);
	struct batch *b = batch_new();
	add_trace(b, "a");
	add_log(b, "hello");
	add_trace(b, "b");
	add_trace(b, "c");
	struct wal_sink_outcome out = {0};
	if (otlp_export_deliver(cl, b, &out) != WAL_SINK_OK)
		fail_msg("%s", out.message);
	assert_int_equal(f.calls, 2); /* three trace payloads merged into one call, then the logs */
	assert_string_equal(f.paths[0], "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
	assert_string_equal(f.names[0], "a,b,c");
	assert_string_equal(f.paths[1], "/opentelemetry.proto.collector.logs.v1.LogsService/Export");
	struct otlp_export_totals t;
	otlp_export_get_totals(cl, &t);
	assert_int_equal(t.sent[OTLP_TRACES], 3);
	assert_int_equal(t.sent[OTLP_LOGS], 1);
	batch_free(b);
	otlp_export_client_free(cl);
	grpcserver_stop(f.srv);
}

/* A cap smaller than two payloads: one request per payload, all arriving. */
static void test_grpc_request_cap(void **state)
{
	struct fake_grpc f;
	grpc_serve(&f);
	struct otlp_export_opts o = {.retry = true, .max_request_bytes = 40};
	struct otlp_export_client *cl = grpc_client(grpcserver_port(f.srv), "    compression = \"none\"\n", &o);
	struct batch *b = batch_new();
	add_trace(b, "one");
	add_trace(b, "two");
	add_trace(b, "three");
	struct wal_sink_outcome out = {0};
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	assert_int_equal(f.calls, 3);
	assert_string_equal(f.names[2], "three");
	batch_free(b);
	otlp_export_client_free(cl);
	grpcserver_stop(f.srv);
}

static void test_grpc_retry_rules(void **state)
{
	struct fake_grpc f;
	grpc_serve(&f);
	struct otlp_export_client *cl = grpc_client(grpcserver_port(f.srv), NULL, NULL);
	struct batch *b = batch_new();
	add_trace(b, "t1");
	add_log(b, "l1");
	struct wal_sink_outcome out = {0};

	/* traces accepted, logs UNAVAILABLE: retry; the retry sends only the logs */
	script(&f, (struct script){GRPC_OK});
	script(&f, (struct script){GRPC_UNAVAILABLE});
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_RETRY);
	assert_non_null(strstr(out.message, "UNAVAILABLE"));
	memset(&out, 0, sizeof(out));
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	assert_int_equal(f.calls, 3);
	assert_string_equal(f.names[2], "logs");

	/* RESOURCE_EXHAUSTED with RetryInfo: retried after the server's delay */
	batch_reset(b);
	add_trace(b, "t2");
	script(&f, (struct script){GRPC_RESOURCE_EXHAUSTED, 1500});
	memset(&out, 0, sizeof(out));
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_RETRY);
	assert_int_equal(out.retry_after_ms, 1500);
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);

	/* RESOURCE_EXHAUSTED without it, and INVALID_ARGUMENT: dropped with the code as reason */
	script(&f, (struct script){GRPC_RESOURCE_EXHAUSTED});
	memset(&out, 0, sizeof(out));
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_DROP);
	assert_string_equal(out.drop_reason, "RESOURCE_EXHAUSTED");
	script(&f, (struct script){GRPC_INVALID_ARGUMENT});
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_DROP);
	assert_string_equal(out.drop_reason, "INVALID_ARGUMENT");

	/* partial success: OK, not retried, the rejected span counted */
	batch_reset(b);
	add_trace(b, "p1");
	add_trace(b, "p2");
	script(&f, (struct script){GRPC_OK, 0, 1});
	size_t calls = f.calls;
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	assert_int_equal(f.calls, calls + 1);
	struct otlp_export_totals t;
	otlp_export_get_totals(cl, &t);
	assert_int_equal(t.rejected[OTLP_TRACES], 1);
	assert_int_equal(t.dropped[OTLP_TRACES], 2);	  /* the two drops above */
	assert_int_equal(t.sent[OTLP_TRACES], 1 + 1 + 1); /* t1, t2, p1|p2 minus the rejected one */

	/* a stalled server: the 300 ms timeout ends the call, which is retried */
	script(&f, (struct script){GRPC_OK, 0, 0, 1500});
	memset(&out, 0, sizeof(out));
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_RETRY);
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	batch_free(b);
	otlp_export_client_free(cl);
	grpcserver_stop(f.srv);
}

static void test_grpc_retry_disabled(void **state)
{
	struct fake_grpc f;
	grpc_serve(&f);
	struct otlp_export_opts o = {.retry = false, .compression = OTLP_COMPRESS_GZIP};
	struct otlp_export_client *cl = grpc_client(grpcserver_port(f.srv), NULL, &o);
	struct batch *b = batch_new();
	add_trace(b, "gz");
	struct wal_sink_outcome out = {0};
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK); /* gzip framed, gunzipped by the server */
	assert_string_equal(f.names[0], "gz");
	script(&f, (struct script){GRPC_UNAVAILABLE});
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_DROP);
	assert_string_equal(out.drop_reason, "retry_disabled");
	batch_free(b);
	otlp_export_client_free(cl);
	grpcserver_stop(f.srv);
}

/* zone-a's endpoint is chosen though listed second; after it fails it fails over to zone-b. */
static void test_grpc_zones(void **state)
{
	struct fake_grpc a, bsrv;
	grpc_serve(&a);
	grpc_serve(&bsrv);
	struct zone_opts zo = {.zone = "zone-a", .imds_url = ""};
	struct zone_watcher *zw;
	assert_int_equal(zone_watcher_start(&zo, NULL, &zw), 0);
	struct agent_zone *az;
	assert_int_equal(agent_zone_new(zw, NULL, NULL, &az), 0);
	char text[1024];
	snprintf(text, sizeof(text),
		 "otelcol.exporter.otlp \"x\" {\n  client {\n    endpoint = \"127.0.0.1:%d\"\n    zone = \"zone-b\"\n"
		 "    failure_threshold = 2\n    open_min = \"10s\"\n"
		 "    zone_endpoint {\n      url = \"http://127.0.0.1:%d\"\n      zone = \"zone-a\"\n    }\n"
		 "    tls { insecure = true }\n  }\n}\n",
		 grpcserver_port(bsrv.srv), grpcserver_port(a.srv));
	struct otlp_export_client *cl = client_from(text, true, az, NULL);
	struct batch *b = batch_new();
	add_trace(b, "z");
	struct wal_sink_outcome out = {0};
	for (int i = 0; i < 3; i++)
		assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	assert_int_equal(a.calls, 3);
	assert_int_equal(bsrv.calls, 0);
	script(&a, (struct script){GRPC_UNAVAILABLE});
	script(&a, (struct script){GRPC_UNAVAILABLE});
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_RETRY);
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_RETRY);
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK); /* circuit open: zone-b */
	assert_int_equal(a.calls, 5);
	assert_int_equal(bsrv.calls, 1);
	batch_free(b);
	otlp_export_client_free(cl);
	agent_zone_free(az);
	zone_watcher_stop(zw);
	grpcserver_stop(a.srv);
	grpcserver_stop(bsrv.srv);
}

/* ---- OTLP/HTTP ---- */

struct fake_http {
	pthread_mutex_t lock;
	int status[4];
	size_t nstatus;
	const char *retry_after;
	char paths[8][64], ctype[64], names[8][128];
	size_t calls;
	int64_t rejected;
};

static int http_handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct fake_http *f = ctx;
	pthread_mutex_lock(&f->lock);
	size_t i = f->calls++ % 8;
	snprintf(f->paths[i], sizeof(f->paths[i]), "%s", req->path);
	const char *ct = http_request_header(req, "Content-Type");
	snprintf(f->ctype, sizeof(f->ctype), "%s", ct ? ct : "");
	if (strstr(req->path, "traces"))
		span_names((const uint8_t *)req->body, req->body_len, f->names[i], sizeof(f->names[i]));
	resp->status = 200;
	if (f->nstatus) {
		resp->status = f->status[0];
		memmove(f->status, f->status + 1, --f->nstatus * sizeof(int));
		if (f->retry_after)
			http_response_add_header(resp, "Retry-After", f->retry_after);
	} else if (f->rejected) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
		opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
		ps.rejected_spans = f->rejected;
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r;
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&r);
		r.partial_success = &ps;
		uint8_t buf[64];
		size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&r, buf);
		http_response_set_body(resp, buf, n);
		resp->content_type = "application/x-protobuf";
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void test_http_paths_retry_partial(void **state)
{
	static struct fake_http f = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct httpserver_options ho = {.listen = "127.0.0.1:0"};
	struct httpserver *srv;
	assert_int_equal(httpserver_start(&ho, &srv), 0);
	assert_int_equal(httpserver_route(srv, "POST", "/otlp/v1/traces", HTTP_ROUTE_EXACT, http_handler, &f), 0);
	assert_int_equal(httpserver_route(srv, "POST", "/custom/logs", HTTP_ROUTE_EXACT, http_handler, &f), 0);
	char text[1024];
	int port = httpserver_port(srv);
	snprintf(text, sizeof(text),
		 "otelcol.exporter.otlphttp \"x\" {\n  client {\n    endpoint = \"http://127.0.0.1:%d/otlp/\"\n  }\n"
		 "  logs_endpoint = \"http://127.0.0.1:%d/custom/logs\"\n}\n",
		 port, port);
	struct otlp_export_opts o = {.retry = true, .compression = OTLP_COMPRESS_GZIP};
	struct otlp_export_client *cl = client_from(text, false, NULL, &o);
	struct batch *b = batch_new();
	add_trace(b, "h1");
	add_trace(b, "h2");
	add_log(b, "l");
	struct wal_sink_outcome out = {0};
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	assert_int_equal(f.calls, 2);
	assert_string_equal(f.paths[0], "/otlp/v1/traces");
	assert_string_equal(f.names[0], "h1,h2"); /* gzip, inflated by the server */
	assert_string_equal(f.paths[1], "/custom/logs");
	assert_string_equal(f.ctype, "application/x-protobuf");

	/* 503 with Retry-After: retry after it; then 400: dropped */
	pthread_mutex_lock(&f.lock);
	f.status[f.nstatus++] = 503;
	f.retry_after = "3";
	pthread_mutex_unlock(&f.lock);
	batch_reset(b);
	add_trace(b, "h3");
	memset(&out, 0, sizeof(out));
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_RETRY);
	assert_int_equal(out.retry_after_ms, 3000);
	pthread_mutex_lock(&f.lock);
	f.status[f.nstatus++] = 400;
	f.retry_after = NULL;
	pthread_mutex_unlock(&f.lock);
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_DROP);
	assert_string_equal(out.drop_reason, "http_400");

	/* partial success */
	f.rejected = 2;
	batch_reset(b);
	add_trace(b, "h4");
	add_trace(b, "h5");
	add_trace(b, "h6");
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	struct otlp_export_totals t;
	otlp_export_get_totals(cl, &t);
	assert_int_equal(t.rejected[OTLP_TRACES], 2);
	assert_int_equal(t.sent[OTLP_TRACES], 2 + 1);
	assert_int_equal(t.dropped[OTLP_TRACES], 1);
	batch_free(b);
	otlp_export_client_free(cl);
	httpserver_stop(srv);
}

/* A raw HTTP/1.1 server (httpserver refuses zstd bodies) that keeps one request's body as sent. */
struct raw_server {
	int fd, port;
	char head[2048];
	uint8_t body[4096];
	size_t body_len;
};

static void *raw_serve(void *arg)
{
	struct raw_server *r = arg;
	int c = accept(r->fd, NULL, NULL);
	char buf[8192];
	size_t n = 0;
	char *end = NULL;
	while (!end && n < sizeof(buf) - 1) {
		ssize_t got = read(c, buf + n, sizeof(buf) - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
		buf[n] = 0;
		end = strstr(buf, "\r\n\r\n");
	}
	if (end) {
		size_t hl = (size_t)(end + 4 - buf);
		snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, buf);
		const char *cl = strcasestr(r->head, "Content-Length:");
		size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
		while (n - hl < want && n < sizeof(buf)) {
			ssize_t got = read(c, buf + n, sizeof(buf) - n);
			if (got <= 0)
				break;
			n += (size_t)got;
		}
		r->body_len = n - hl < sizeof(r->body) ? n - hl : sizeof(r->body);
		memcpy(r->body, buf + hl, r->body_len);
	}
	const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	assert_int_equal(write(c, ok, sizeof(ok) - 1), (ssize_t)sizeof(ok) - 1);
	close(c);
	return NULL;
}

static void test_http_zstd(void **state)
{
	struct raw_server r = {0};
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r.fd, 4), 0);
	getsockname(r.fd, (struct sockaddr *)&sa, &sl);
	pthread_t th;
	pthread_create(&th, NULL, raw_serve, &r);
	char text[512];
	snprintf(text, sizeof(text),
		 "otelcol.exporter.otlphttp \"x\" {\n  client {\n    endpoint = \"http://127.0.0.1:%d\"\n"
		 "    compression = \"zstd\"\n    headers = {\"X-Scope-OrgID\" = \"t1\"}\n  }\n}\n",
		 ntohs(sa.sin_port));
	struct otlp_export_opts o = {.retry = true, .compression = OTLP_COMPRESS_ZSTD};
	struct otlp_export_client *cl = client_from(text, false, NULL, &o);
	struct batch *b = batch_new();
	add_trace(b, "zs1");
	add_trace(b, "zs2");
	struct wal_sink_outcome out = {0};
	assert_int_equal(otlp_export_deliver(cl, b, &out), WAL_SINK_OK);
	pthread_join(th, NULL);
	close(r.fd);
	assert_non_null(strcasestr(r.head, "POST /v1/traces HTTP/1.1"));
	assert_non_null(strcasestr(r.head, "Content-Encoding: zstd"));
	assert_non_null(strcasestr(r.head, "X-Scope-OrgID: t1"));
	uint8_t plain[4096];
	size_t n = ZSTD_decompress(plain, sizeof(plain), r.body, r.body_len);
	assert_false(ZSTD_isError(n));
	char names[64];
	span_names(plain, n, names, sizeof(names));
	assert_string_equal(names, "zs1,zs2");
	batch_free(b);
	otlp_export_client_free(cl);
}

/* ---- the components in the runtime, with a WAL: receiver → WAL → both exporters ---- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

static int calls_of(pthread_mutex_t *lock, const size_t *calls)
{
	pthread_mutex_lock(lock);
	int n = (int)*calls;
	pthread_mutex_unlock(lock);
	return n;
}

static void wait_calls(pthread_mutex_t *lock, const size_t *calls, int want)
{
	for (int i = 0; i < 1000 && calls_of(lock, calls) < want; i++)
		usleep(10000);
	assert_true(calls_of(lock, calls) >= want);
}

static void test_component_end_to_end(void **state)
{
	struct fake_grpc f;
	grpc_serve(&f);
	static struct fake_http hf = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct httpserver_options ho = {.listen = "127.0.0.1:0"};
	struct httpserver *hs;
	assert_int_equal(httpserver_start(&ho, &hs), 0);
	assert_int_equal(httpserver_route(hs, "POST", "/v1/traces", HTTP_ROUTE_EXACT, http_handler, &hf), 0);
	int in_port = free_port();
	char dir[] = "/tmp/otlpexp-XXXXXX", cfg[2048], cmd[64];
	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg),
		 "otelcol.receiver.otlp \"in\" {\n  grpc { endpoint = \"127.0.0.1:%d\" }\n"
		 "  output { traces = [otelcol.exporter.otlp.x.input, otelcol.exporter.otlphttp.y.input] }\n}\n"
		 "otelcol.exporter.otlp \"x\" {\n  client {\n    endpoint = \"127.0.0.1:%d\"\n    tls { insecure = "
		 "true }\n  }\n"
		 "  retry_on_failure { initial_interval = \"20ms\" }\n}\n"
		 "otelcol.exporter.otlphttp \"y\" {\n  client { endpoint = \"http://127.0.0.1:%d\" }\n"
		 "  retry_on_failure { initial_interval = \"20ms\" }\n}\n",
		 in_port, grpcserver_port(f.srv), httpserver_port(hs));
	struct harness h;
	harness_start_with_wal(&h, cfg, dir);

	/* our own gRPC client sends to the receiver; acknowledged means durable in both WAL streams */
	struct sender_config sc = {0};
	sc.urls = calloc(1, sizeof(char *));
	sc.zones = calloc(1, sizeof(char *));
	assert_int_equal(asprintf(&sc.urls[0], "http://127.0.0.1:%d", in_port) > 0, 1);
	sc.nurls = 1;
	sc.grpc = true;
	struct sender *client;
	assert_int_equal(sender_new(&sc, NULL, &client), 0);
	script(&f, (struct script){GRPC_UNAVAILABLE}); /* the exporter retries it */
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "e2e-2" : "e2e-1";
		size_t len;
		uint8_t *msg = trace_payload(&name, 1, &len);
		uint8_t *framed = malloc(len + GRPC_FRAME_HEADER);
		grpc_frame_header(framed, len);
		memcpy(framed + GRPC_FRAME_HEADER, msg, len);
		struct sender_response r;
		for (int tries = 0; tries < 100; tries++) { /* the receiver may still be starting */
			sender_post_grpc(client, otlp_export_grpc_path(OTLP_TRACES), framed, len + GRPC_FRAME_HEADER,
					 NULL, 0, &r);
			if (r.grpc_status == GRPC_OK)
				break;
			usleep(20000);
		}
		assert_int_equal(r.grpc_status, GRPC_OK);
		free(framed);
		free(msg);
	}
	wait_calls(&f.lock, &f.calls, 2); /* UNAVAILABLE, then both spans (in one call or two) */
	wait_calls(&hf.lock, &hf.calls, 1);
	char all[1024] = "";
	for (int tries = 0; tries < 500 && !(strstr(all, "e2e-1") && strstr(all, "e2e-2")); tries++) {
		usleep(10000);
		pthread_mutex_lock(&f.lock);
		all[0] = 0;
		for (size_t i = 0; i < f.calls && i < 16; i++)
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s;", f.names[i]);
		pthread_mutex_unlock(&f.lock);
	}
	assert_non_null(strstr(all, "e2e-1"));
	assert_non_null(strstr(all, "e2e-2"));
	sender_free(client);
	harness_stop(&h);
	grpcserver_stop(f.srv);
	httpserver_stop(hs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_schema(void **state)
{
	static const struct {
		const char *text;
		bool ok;
	} cases[] = {
		{"otelcol.exporter.otlp \"x\" {\n client {\n endpoint = \"t:4317\"\n compression = \"zstd\"\n }\n}\n",
		 true},
		{"otelcol.exporter.otlp \"x\" {\n client {\n endpoint = \"t:4317\"\n compression = \"snappy\"\n }\n}\n",
		 false},
		{"otelcol.exporter.otlp \"x\" {\n client {\n endpoint = \"t:4317\"\n zone = \"a\"\n kubernetes_service "
		 "{\n namespace = \"n\"\n name = \"tempo\"\n port = \"4317\"\n }\n }\n}\n",
		 true},
		{"otelcol.exporter.otlphttp \"x\" {\n client {\n endpoint = \"http://t\"\n zone_endpoint {\n url = "
		 "\"http://u\"\n zone = \"b\"\n }\n }\n}\n",
		 true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_list d;
		diag_list_init(&d);
		struct config *cfg = NULL;
		int rc = config_load_source(source_from_memory("t.alloy", cases[i].text, strlen(cases[i].text)),
					    registry_components(), NULL, &d, &cfg);
		if ((rc == 0) != cases[i].ok) {
			diag_print_brief(&d, stderr);
			fail_msg("case %zu: rc=%d", i, rc);
		}
		diag_list_free(&d);
		config_free(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grpc_verdicts),
		cmocka_unit_test(test_http_verdicts),
		cmocka_unit_test(test_status_details),
		cmocka_unit_test(test_count_items),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_grpc_merge_and_signals),
		cmocka_unit_test(test_grpc_request_cap),
		cmocka_unit_test(test_grpc_retry_rules),
		cmocka_unit_test(test_grpc_retry_disabled),
		cmocka_unit_test(test_grpc_zones),
		cmocka_unit_test(test_http_paths_retry_partial),
		cmocka_unit_test(test_http_zstd),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_component_end_to_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
