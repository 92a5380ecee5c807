/*
 * otlp_logs_loki and otelcol.exporter.loki: OTLP/JSON requests (turned into protobuf by lib/otlp, so
 * the cases read like what clients send) converted into Loki entries and compared, whole, with what
 * Loki's own OTLP ingestion makes of them — labels, timestamp, line, structured metadata. Then the
 * component in the real runtime: entries reach forward_to, a refusal downstream is the push's
 * result, a malformed payload is dropped and counted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/registry.h"
#include "config/types.h"
#include "lib/otlp.h"
#include "lib/proto/otlp/logs_service.pb-c.h"
#include "pipeline/otlp_logs_loki.h"
#include "pipeline/runtime.h"

/* ---- helpers ---- */

static void encode(const char *json, uint8_t **pb, size_t *len)
{
	char err[256] = "";
	int rc = otlp_from_json(OTLP_LOGS, json, strlen(json), 1 << 20, pb, len, err, sizeof(err));
	if (rc)
		fprintf(stderr, "bad test JSON: %s\n", err);
	assert_int_equal(rc, 0);
}

/* One line per entry: `{labels} ts line {metadata}`. */
static char *render(const struct batch *b)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	for (size_t i = 0; i < b->n_records; i++) {
		const struct log_entry *e = &b->records[i].log;
		char ls[2048], md[4096];
		labels_format(&e->labels, ls, sizeof(ls));
		labels_format(&e->metadata, md, sizeof(md));
		fprintf(f, "%s %lld %.*s %s\n", ls, (long long)e->ts_ns, (int)e->line_len, e->line, md);
	}
	fclose(f);
	return text;
}

/* The JSON cases read best as written. */
/* clang-format off */
#define RES(attrs) "{\"resourceLogs\":[{\"resource\":{\"attributes\":[" attrs "]},\"scopeLogs\":[{"
#define STR(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"
#define BODY(v) "{\"body\":" v "}"
#define RECORDS(...) "\"logRecords\":[" __VA_ARGS__ "]}]}]}"

/* ---- conversion, table-driven ---- */

static const struct conv_case {
	const char *name, *json, *want;
} conv_cases[] = {
	{ "every field",
	  RES(STR("service.name", "checkout") "," STR("k8s.namespace.name", "shop") "," STR("host.name", "node-1"))
	  "\"scope\":{\"name\":\"lib\",\"version\":\"1.2\",\"attributes\":[{\"key\":\"scope.attr\",\"value\":{\"boolValue\":true}}]},"
	  RECORDS("{\"timeUnixNano\":\"1700000000000000001\",\"observedTimeUnixNano\":\"1700000000000000002\","
		  "\"severityNumber\":9,\"severityText\":\"INFO\",\"body\":{\"stringValue\":\"hello world\"},"
		  "\"attributes\":[" STR("http.method", "GET") ",{\"key\":\"retries\",\"value\":{\"intValue\":\"3\"}}],"
		  "\"droppedAttributesCount\":2,\"flags\":1,"
		  "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\"}"),
	  "{k8s_namespace_name=\"shop\", service_name=\"checkout\"} 1700000000000000001 hello world "
	  "{dropped_attributes_count=\"2\", flags=\"1\", host_name=\"node-1\", http_method=\"GET\", "
	  "observed_timestamp=\"1700000000000000002\", retries=\"3\", scope_attr=\"true\", scope_name=\"lib\", "
	  "scope_version=\"1.2\", severity_number=\"9\", severity_text=\"INFO\", span_id=\"eee19b7ec3c1b174\", "
	  "trace_id=\"5b8efff798038103d269b633813fc60c\"}\n" },
	{ "no service.name: unknown_service; no timestamps: now",
	  RES(STR("host.name", "h")) RECORDS(BODY("{\"stringValue\":\"x\"}")),
	  "{service_name=\"unknown_service\"} 42 x {host_name=\"h\"}\n" },
	{ "empty service.name counts as none",
	  RES(STR("service.name", "")) RECORDS(BODY("{\"stringValue\":\"x\"}")),
	  "{service_name=\"unknown_service\"} 42 x {}\n" },
	{ "service_name discovered from the first indexed label on Loki's list",
	  RES(STR("k8s.pod.name", "p") "," STR("k8s.job.name", "j") "," STR("k8s.container.name", "c"))
	  RECORDS(BODY("{\"stringValue\":\"x\"}")),
	  "{k8s_container_name=\"c\", k8s_job_name=\"j\", k8s_pod_name=\"p\", service_name=\"j\"} 42 x {}\n" },
	{ "observed time only: the timestamp, not metadata; no body: empty line",
	  RES(STR("service.name", "s")) RECORDS("{\"observedTimeUnixNano\":\"5\"}"),
	  "{service_name=\"s\"} 5  {}\n" },
	{ "every index attribute, non-string values rendered",
	  RES(STR("service.name", "a") "," STR("service.namespace", "b") "," STR("service.instance.id", "c") ","
	      STR("deployment.environment", "d") "," STR("cloud.region", "e") "," STR("cloud.availability_zone", "f") ","
	      STR("k8s.cluster.name", "g") ",{\"key\":\"k8s.namespace.name\",\"value\":{\"intValue\":\"7\"}},"
	      STR("k8s.pod.name", "i") "," STR("k8s.container.name", "j") "," STR("container.name", "k") ","
	      STR("k8s.replicaset.name", "l") "," STR("k8s.deployment.name", "m") "," STR("k8s.statefulset.name", "n") ","
	      STR("k8s.daemonset.name", "o") "," STR("k8s.cronjob.name", "p") "," STR("k8s.job.name", "q") ","
	      STR("k8s.node.name", "r"))
	  RECORDS(BODY("{\"stringValue\":\"x\"}")),
	  "{cloud_availability_zone=\"f\", cloud_region=\"e\", container_name=\"k\", deployment_environment=\"d\", "
	  "k8s_cluster_name=\"g\", k8s_container_name=\"j\", k8s_cronjob_name=\"p\", k8s_daemonset_name=\"o\", "
	  "k8s_deployment_name=\"m\", k8s_job_name=\"q\", k8s_namespace_name=\"7\", k8s_pod_name=\"i\", "
	  "k8s_replicaset_name=\"l\", k8s_statefulset_name=\"n\", service_instance_id=\"c\", service_name=\"a\", "
	  "service_namespace=\"b\"} 42 x {k8s_node_name=\"r\"}\n" },
	{ "bodies render as pdata's AsString",
	  RES(STR("service.name", "s"))
	  RECORDS(BODY("{\"intValue\":\"-12\"}") "," BODY("{\"doubleValue\":1.5}") "," BODY("{\"doubleValue\":1e21}") ","
		  BODY("{\"doubleValue\":1e-7}") "," BODY("{\"doubleValue\":0.000001}") ","
		  BODY("{\"doubleValue\":123456789.125}") "," BODY("{\"doubleValue\":100}") ","
		  BODY("{\"doubleValue\":0.1}") "," BODY("{\"doubleValue\":\"NaN\"}") ","
		  BODY("{\"doubleValue\":\"-Infinity\"}") "," BODY("{\"boolValue\":false}") ","
		  BODY("{\"bytesValue\":\"aGk=\"}")),
	  "{service_name=\"s\"} 42 -12 {}\n{service_name=\"s\"} 42 1.5 {}\n{service_name=\"s\"} 42 1e+21 {}\n"
	  "{service_name=\"s\"} 42 1e-7 {}\n{service_name=\"s\"} 42 0.000001 {}\n"
	  "{service_name=\"s\"} 42 123456789.125 {}\n{service_name=\"s\"} 42 100 {}\n{service_name=\"s\"} 42 0.1 {}\n"
	  "{service_name=\"s\"} 42 json: unsupported value: NaN {}\n"
	  "{service_name=\"s\"} 42 json: unsupported value: -Inf {}\n{service_name=\"s\"} 42 false {}\n"
	  "{service_name=\"s\"} 42 aGk= {}\n" },
	{ "maps and arrays as Go's encoding/json: sorted keys, last duplicate wins, HTML-safe escapes",
	  RES(STR("service.name", "s"))
	  RECORDS(BODY("{\"kvlistValue\":{\"values\":[{\"key\":\"z\",\"value\":{\"intValue\":\"1\"}},"
		       "{\"key\":\"a\",\"value\":{\"stringValue\":\"first\"}},"
		       "{\"key\":\"m\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"b\",\"value\":{\"boolValue\":true}}]}}},"
		       "{\"key\":\"e\",\"value\":{\"stringValue\":\"q\\\"\\n\\t\\u0001&<>\\u2028\"}},"
		       "{\"key\":\"n\",\"value\":{}},{\"key\":\"y\",\"value\":{\"bytesValue\":\"aGk=\"}},"
		       "{\"key\":\"a\",\"value\":{\"stringValue\":\"dup\"}}]}}") ","
		  BODY("{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"intValue\":\"1\"},{\"doubleValue\":2.5},"
		       "{},{\"kvlistValue\":{}},{\"arrayValue\":{}}]}}") ","
		  BODY("{\"kvlistValue\":{\"values\":[{\"key\":\"x\",\"value\":{\"doubleValue\":\"NaN\"}}]}}")),
	  "{service_name=\"s\"} 42 {\"a\":\"dup\",\"e\":\"q\\\"\\n\\t\\u0001\\u0026\\u003c\\u003e\\u2028\",\"m\":{\"b\":true},"
	  "\"n\":null,\"y\":\"aGk=\",\"z\":1} {}\n"
	  "{service_name=\"s\"} 42 [\"a\",1,2.5,null,{},[]] {}\n"
	  "{service_name=\"s\"} 42  {}\n" },
	{ "names normalised as otlptranslator does; empty names and values left out",
	  RES(STR("service.name", "s"))
	  RECORDS("{\"attributes\":[" STR("1abc", "a") "," STR("_x", "b") "," STR("__x", "c") "," STR("\xc3\xa9.y", "d") ","
		  STR("a-b/c", "e") "," STR("", "f") "," STR("_", "g") "," STR("empty", "") "," STR("9", "h") "]}"),
	  "{service_name=\"s\"} 42  {__x=\"c\", __y=\"d\", a_b_c=\"e\", key_=\"g\", key_1abc=\"a\", key_9=\"h\", key_x=\"b\"}\n" },
	{ "map-valued attributes flatten to parent_child",
	  RES(STR("service.name", "s") ",{\"key\":\"k8s.pod.name\",\"value\":{\"kvlistValue\":{\"values\":[" STR("uid", "u1")
	      "]}}}")
	  RECORDS("{\"attributes\":[{\"key\":\"http\",\"value\":{\"kvlistValue\":{\"values\":[" STR("method", "GET") ","
		  "{\"key\":\"status.code\",\"value\":{\"intValue\":\"200\"}},"
		  "{\"key\":\"deep\",\"value\":{\"kvlistValue\":{\"values\":[" STR("er", "x") "]}}}]}}}]}"),
	  "{k8s_pod_name_uid=\"u1\", service_name=\"s\"} 42  "
	  "{http_deep_er=\"x\", http_method=\"GET\", http_status_code=\"200\"}\n" },
	{ "a name at several levels: resource beats record, scope beats both (Loki's order, last wins)",
	  RES(STR("service.name", "s") "," STR("dup", "resource") "," STR("dup2", "resource"))
	  "\"scope\":{\"attributes\":[" STR("dup", "scope") "]},"
	  RECORDS("{\"attributes\":[" STR("dup", "record") "," STR("dup2", "record") "," STR("own", "record") "]}"),
	  "{service_name=\"s\"} 42  {dup=\"scope\", dup2=\"resource\", own=\"record\"}\n" },
	{ "zero and wrong-length ids are left out",
	  RES(STR("service.name", "s"))
	  RECORDS("{\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"0102030405060708\"},"
		  "{\"traceId\":\"0102\",\"spanId\":\"0000000000000000\"}"),
	  "{service_name=\"s\"} 42  {span_id=\"0102030405060708\"}\n{service_name=\"s\"} 42  {}\n" },
	{ "two resources, two streams",
	  "{\"resourceLogs\":[{\"resource\":{\"attributes\":[" STR("service.name", "a") "]},\"scopeLogs\":[{"
	  "\"logRecords\":[" BODY("{\"stringValue\":\"1\"}") "]}]},"
	  "{\"resource\":{\"attributes\":[" STR("service.name", "b") "]},\"scopeLogs\":[{\"logRecords\":["
	  BODY("{\"stringValue\":\"2\"}") "]},{\"scope\":{\"name\":\"two\"},\"logRecords\":["
	  BODY("{\"stringValue\":\"3\"}") "]}]}]}",
	  "{service_name=\"a\"} 42 1 {}\n{service_name=\"b\"} 42 2 {}\n{service_name=\"b\"} 42 3 {scope_name=\"two\"}\n" },
	{ "no resource at all",
	  "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[" BODY("{\"stringValue\":\"x\"}") "]}]}]}",
	  "{service_name=\"unknown_service\"} 42 x {}\n" },
};
/* clang-format on */

static void test_convert_cases(void **state)
{
	for (size_t i = 0; i < sizeof(conv_cases) / sizeof(*conv_cases); i++) {
		const struct conv_case *c = &conv_cases[i];
		uint8_t *pb;
		size_t len;
		encode(c->json, &pb, &len);
		struct batch *b = batch_new();
		struct otlp_logs_loki_counts counts;
		char err[256];
		assert_int_equal(otlp_logs_loki_convert(pb, len, 42, b, &counts, err, sizeof(err)), 0);
		char *got = render(b);
		if (strcmp(got, c->want))
			fprintf(stderr, "case \"%s\"\n got: %s\nwant: %s\n", c->name, got, c->want);
		assert_string_equal(got, c->want);
		assert_int_equal(counts.entries, b->n_records);
		free(got);
		batch_free(b);
		free(pb);
	}
}

static void test_malformed_appends_nothing(void **state)
{
	static const uint8_t bad[] = {0x0a, 0x05, 0x12, 0x03, 0x0a}; /* a nested length past the end */
	struct batch *b = batch_new();
	char err[256] = "";
	assert_int_equal(otlp_logs_loki_convert(bad, sizeof(bad), 1, b, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(b->n_records, 0);
	assert_true(err[0] != '\0');
	assert_int_equal(otlp_logs_loki_convert(NULL, 0, 1, b, NULL, err, sizeof(err)), 0); /* empty request */
	assert_int_equal(b->n_records, 0);
	batch_free(b);
}

static void test_label_names(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"service.name", "service_name"},
		{"k8s.pod.name", "k8s_pod_name"},
		{"1a", "key_1a"},
		{"_a", "key_a"},
		{"__a", "__a"},
		{"_", "key_"},
		{"a\xc3\xa9", "a_"},
		{"\xff\xfe", "__"},
		{".x", "key_x"},
		{"..x", "__x"},
		{"", ""},
		{"\xe2\x82\xac"
		 "1",
		 "key_1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char buf[64];
		size_t n = otlp_logs_loki_label_name(cases[i].in, strlen(cases[i].in), buf, sizeof(buf));
		assert_true(n < sizeof(buf));
		buf[n] = '\0';
		assert_string_equal(buf, cases[i].want);
		/* a short buffer gets the prefix of the same result and the full length */
		char small[3];
		assert_int_equal(otlp_logs_loki_label_name(cases[i].in, strlen(cases[i].in), small, sizeof(small)), n);
		assert_memory_equal(small, buf, n < sizeof(small) ? n : sizeof(small));
	}
}

/* Built with protobuf-c: OTLP/JSON cannot carry invalid UTF-8, a protobuf client can. */
static void test_invalid_utf8_stream_label(void **state)
{
	Opentelemetry__Proto__Common__V1__AnyValue pod_v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT,
						   body = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	pod_v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	pod_v.string_value = "a\xff\xc3" "b";
	body.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	body.string_value = "line";
	Opentelemetry__Proto__Common__V1__KeyValue pod = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	pod.key = "k8s.pod.name";
	pod.value = &pod_v;
	Opentelemetry__Proto__Common__V1__KeyValue *attrs[] = {&pod};
	Opentelemetry__Proto__Resource__V1__Resource res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	res.n_attributes = 1;
	res.attributes = attrs;
	Opentelemetry__Proto__Logs__V1__LogRecord lr = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
	lr.time_unix_nano = 3;
	lr.body = &body;
	Opentelemetry__Proto__Logs__V1__LogRecord *lrs[] = {&lr};
	Opentelemetry__Proto__Logs__V1__ScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
	sl.n_log_records = 1;
	sl.log_records = lrs;
	Opentelemetry__Proto__Logs__V1__ScopeLogs *sls[] = {&sl};
	Opentelemetry__Proto__Logs__V1__ResourceLogs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
	rl.resource = &res;
	rl.n_scope_logs = 1;
	rl.scope_logs = sls;
	Opentelemetry__Proto__Logs__V1__ResourceLogs *rls[] = {&rl};
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
	req.n_resource_logs = 1;
	req.resource_logs = rls;
	uint8_t buf[256];
	size_t len = opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(&req, buf);
	struct batch *b = batch_new();
	char err[256];
	assert_int_equal(otlp_logs_loki_convert(buf, len, 1, b, NULL, err, sizeof(err)), 0);
	char *got = render(b);
	assert_string_equal(got, "{k8s_pod_name=\"a\xef\xbf\xbd\xef\xbf\xbd"
				 "b\", service_name=\"unknown_service\"} 3 line {}\n");
	free(got);
	batch_free(b);
}

/* ---- the component in the runtime ---- */

static int sink_result;
static size_t sink_pushes;
static char *sink_text;

static int capture_push(void *arg, struct batch *b, unsigned flags)
{
	sink_pushes++;
	if (sink_result)
		return sink_result;
	free(sink_text);
	sink_text = render(b);
	return 0;
}
static int capture_create(struct component *c, const struct cfg_body *args, void **state)
{
	*state = c;
	return component_export_receiver(c, "receiver", capture_push, NULL);
}
static struct component *src_c;
static struct forward_list src_fl;
static int src_create(struct component *c, const struct cfg_body *args, void **state)
{
	src_c = c;
	forward_list_free(&src_fl);
	*state = c;
	return forward_list_from(cfg_get(args, "forward_to"), &src_fl);
}

static const struct export_schema logs_rx[] = {{"receiver", &type_logs_receiver}, {0}};
static const struct arg_schema src_args[] = {{"forward_to", &type_list_any}, {0}};
static const struct component_schema s_sink = {"test.logsink", .exports = logs_rx, .runnable = true};
static const struct component_schema s_src = {"test.src", .args = {src_args}, .runnable = true};
static const struct component_ops o_sink = {COMPONENT_OPS_VERSION, &s_sink, capture_create};
static const struct component_ops o_src = {COMPONENT_OPS_VERSION, &s_src, src_create};

static const struct component_ops *find_ops(const struct component_schema *s)
{
	return s == &s_sink ? &o_sink : s == &s_src ? &o_src : registry_find_ops(s);
}

static struct runtime *start(const char *text)
{
	static const struct component_schema *schemas[64];
	static struct component_registry reg;
	if (!reg.n) {
		const struct component_registry *real = registry_components();
		for (size_t i = 0; i < real->n; i++)
			schemas[reg.n++] = real->schemas[i];
		schemas[reg.n++] = &s_sink;
		schemas[reg.n++] = &s_src;
		reg.schemas = schemas;
	}
	struct diag_list d;
	diag_list_init(&d);
	struct config *cfg = NULL;
	if (config_load_source(source_from_memory("t.alloy", text, strlen(text)), &reg, NULL, &d, &cfg) != 0) {
		diag_print_brief(&d, stderr);
		fail();
	}
	struct runtime *rt;
	struct runtime_options o = {find_ops, NULL, NULL, NULL};
	assert_int_equal(runtime_new(&o, &rt), 0);
	assert_int_equal(runtime_apply(rt, cfg, &d), 0);
	diag_list_free(&d);
	return rt;
}

struct drop_find {
	const char *id, *reason;
	uint64_t n;
};
static void drop_cb(void *arg, const struct component_info *info)
{
	struct drop_find *f = arg;
	if (strcmp(info->id, f->id) == 0)
		for (size_t i = 0; i < COMPONENT_DROP_REASONS && info->stats.dropped[i].reason; i++)
			if (!strcmp(info->stats.dropped[i].reason, f->reason))
				f->n += info->stats.dropped[i].records;
}
static uint64_t dropped_of(struct runtime *rt, const char *id, const char *reason)
{
	struct drop_find f = {id, reason, 0};
	runtime_visit(rt, drop_cb, &f);
	return f.n;
}

static const char *const pipeline_cfg = "test.logsink \"out\" { }\n"
					"otelcol.exporter.loki \"x\" {\n\tforward_to = [test.logsink.out.receiver]\n}\n"
					"test.src \"in\" {\n\tforward_to = [otelcol.exporter.loki.x.input]\n}\n";

static struct batch *logs_payload(const char *json)
{
	uint8_t *pb;
	size_t len;
	encode(json, &pb, &len);
	struct batch *b = batch_new();
	assert_int_equal(batch_add_payload(b, PAYLOAD_OTLP_LOGS, pb, len), 0);
	free(pb);
	return b;
}

static void test_component_forwards(void **state)
{
	struct runtime *rt = start(pipeline_cfg);
	struct batch *b = logs_payload(RES(STR("service.name", "api")) RECORDS("{\"timeUnixNano\":\"7\",\"body\":"
									       "{\"stringValue\":\"one\"}},"
									       "{\"timeUnixNano\":\"8\",\"body\":"
									       "{\"stringValue\":\"two\"}}"));
	/* a second payload in the same push joins the same batch of entries */
	uint8_t *pb;
	size_t len;
	encode(RES(STR("service.name", "web")) RECORDS("{\"timeUnixNano\":\"9\",\"body\":{\"stringValue\":\"three\"}}"),
	       &pb, &len);
	assert_int_equal(batch_add_payload(b, PAYLOAD_OTLP_LOGS, pb, len), 0);
	free(pb);
	sink_result = 0;
	sink_pushes = 0;
	assert_int_equal(forward_push(src_c, &src_fl, b, PUSH_NONBLOCK), 0);
	assert_int_equal(sink_pushes, 1);
	assert_string_equal(sink_text, "{service_name=\"api\"} 7 one {}\n{service_name=\"api\"} 8 two {}\n"
				       "{service_name=\"web\"} 9 three {}\n");
	/* a full WAL behind forward_to is the pusher's answer, so the client retries */
	sink_result = -EAGAIN;
	assert_int_equal(forward_push(src_c, &src_fl, b, PUSH_NONBLOCK), -EAGAIN);
	sink_result = 0;
	batch_free(b);
	runtime_free(rt);
}

static void test_component_drops_malformed(void **state)
{
	struct runtime *rt = start(pipeline_cfg);
	struct batch *b = batch_new();
	static const uint8_t bad[] = {0x0a, 0x05, 0x12, 0x03, 0x0a};
	assert_int_equal(batch_add_payload(b, PAYLOAD_OTLP_LOGS, bad, sizeof(bad)), 0);
	sink_pushes = 0;
	assert_int_equal(forward_push(src_c, &src_fl, b, PUSH_NONBLOCK), 0);
	assert_int_equal(sink_pushes, 0); /* nothing left to forward */
	assert_int_equal(dropped_of(rt, "otelcol.exporter.loki.x", "malformed"), 1);
	batch_free(b);
	/* good and bad together: the good one still goes */
	b = logs_payload(RES(STR("service.name", "ok"))
				 RECORDS("{\"timeUnixNano\":\"1\",\"body\":{\"stringValue\":\"y\"}}"));
	assert_int_equal(batch_add_payload(b, PAYLOAD_OTLP_LOGS, bad, sizeof(bad)), 0);
	assert_int_equal(forward_push(src_c, &src_fl, b, PUSH_NONBLOCK), 0);
	assert_string_equal(sink_text, "{service_name=\"ok\"} 1 y {}\n");
	assert_int_equal(dropped_of(rt, "otelcol.exporter.loki.x", "malformed"), 2);
	batch_free(b);
	runtime_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_convert_cases),	   cmocka_unit_test(test_malformed_appends_nothing),
		cmocka_unit_test(test_label_names),	   cmocka_unit_test(test_invalid_utf8_stream_label),
		cmocka_unit_test(test_component_forwards), cmocka_unit_test(test_component_drops_malformed),
	};
	int rc = cmocka_run_group_tests_name("otelcol_exporter_loki", tests, NULL, NULL);
	forward_list_free(&src_fl);
	free(sink_text);
	return rc;
}
