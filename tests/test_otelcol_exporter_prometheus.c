/*
 * otelcol.exporter.prometheus: the text rules table by table (metric names with unit and type
 * suffixes, units, label names, float formats), the conversion of requests built with the generated
 * protobuf-c structs (one case per rule of the compatibility spec, compared line by line), and the
 * component in the real runtime behind otelcol.receiver.otlp over loopback HTTP: samples arrive, a
 * refusing downstream makes the client see 503, drops are counted per reason, the unsupported
 * experimental arguments fail validation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
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
#include <curl/curl.h>

#include "cmd/registry.h"
#include "config/config.h"
#include "config/source.h"
#include "lib/proto/otlp/metrics_service.pb-c.h"
#include "pipeline/otlp_metrics_prom.h"
#include "support/harness.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest Request;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile Quantile;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define T0     1700000000000000000ull /* ns */
#define T0_MS  1700000000000ll
#define NOW_MS 1800000000000ll

/* ---------------- text rules ---------------- */

static void test_metric_names(void **state)
{
	static const struct {
		const char *name, *unit;
		enum otlp_prom_kind kind;
		bool suffixes;
		const char *want;
	} cases[] = {
		{"system.filesystem.usage", "By", OTLP_PROM_KIND_GAUGE, true, "system_filesystem_usage_bytes"},
		{"system.network.dropped", "{packets}", OTLP_PROM_KIND_GAUGE, true, "system_network_dropped"},
		{"system.network.dropped", "packets", OTLP_PROM_KIND_OTHER, true, "system_network_dropped_packets"},
		{"system.memory.utilization", "1", OTLP_PROM_KIND_GAUGE, true, "system_memory_utilization_ratio"},
		{"system.memory.utilization", "1", OTLP_PROM_KIND_OTHER, true, "system_memory_utilization"},
		{"cpu.ratio.used", "1", OTLP_PROM_KIND_GAUGE, true, "cpu_used_ratio"},
		{"http.server.duration", "s", OTLP_PROM_KIND_OTHER, true, "http_server_duration_seconds"},
		{"http.server.duration", "ms", OTLP_PROM_KIND_OTHER, true, "http_server_duration_milliseconds"},
		{"requests", "", OTLP_PROM_KIND_COUNTER, true, "requests_total"},
		{"requests_total", "", OTLP_PROM_KIND_COUNTER, true, "requests_total"},
		{"total.requests", "", OTLP_PROM_KIND_COUNTER, true, "requests_total"},
		{"io.time", "s", OTLP_PROM_KIND_COUNTER, true, "io_time_seconds_total"},
		{"bytes.sent", "By", OTLP_PROM_KIND_COUNTER, true, "bytes_sent_total"},
		{"speed", "m/s", OTLP_PROM_KIND_GAUGE, true, "speed_meters_per_second"},
		{"rate", "1/s", OTLP_PROM_KIND_GAUGE, true, "rate_per_second"},
		{"throughput", "By/{packet}", OTLP_PROM_KIND_GAUGE, true, "throughput_bytes"},
		{"events", "{event}/min", OTLP_PROM_KIND_COUNTER, true, "events_per_min_total"},
		{"mem", " MiBy ", OTLP_PROM_KIND_GAUGE, true, "mem_mebibytes"},
		{"temp", "Cel", OTLP_PROM_KIND_GAUGE, true, "temp_celsius"},
		{"cpu", "%", OTLP_PROM_KIND_GAUGE, true, "cpu_percent"},
		{"(lambda).function.executions(#)", "", OTLP_PROM_KIND_OTHER, true, "lambda_function_executions"},
		{"a__b..c_", "", OTLP_PROM_KIND_OTHER, true, "a_b_c"},
		{"2xx.responses", "", OTLP_PROM_KIND_GAUGE, true, "_2xx_responses"},
		{"caf\xc3\xa9.sales", "", OTLP_PROM_KIND_GAUGE, true, "caf_sales"},
		{"...", "", OTLP_PROM_KIND_GAUGE, true, ""},
		{"", "s", OTLP_PROM_KIND_GAUGE, true, "seconds"},
		{"http.server.duration", "s", OTLP_PROM_KIND_OTHER, false, "http_server_duration"},
		{"requests", "", OTLP_PROM_KIND_COUNTER, false, "requests"},
		{"a::b-c", "", OTLP_PROM_KIND_OTHER, false, "a::b_c"},
		{"a__b", "", OTLP_PROM_KIND_OTHER, false, "a__b"},
		{"9lives", "", OTLP_PROM_KIND_OTHER, false, "_9lives"},
		{"-.-", "", OTLP_PROM_KIND_OTHER, false, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		size_t n = otlp_prom_metric_name(cases[i].name, cases[i].unit, cases[i].kind, cases[i].suffixes, buf,
						 sizeof(buf));
		if (strcmp(buf, cases[i].want) || n != strlen(cases[i].want))
			fail_msg("case %zu: name %s unit %s: got \"%s\", want \"%s\"", i, cases[i].name, cases[i].unit,
				 buf, cases[i].want);
	}
	char small[6];
	assert_int_equal(otlp_prom_metric_name("requests", "", OTLP_PROM_KIND_COUNTER, true, small, sizeof(small)), 14);
	assert_string_equal(small, "reque");
}

static void test_units(void **state)
{
	static const struct {
		const char *unit;
		enum otlp_prom_kind kind;
		const char *want;
	} cases[] = {
		{"By/s", OTLP_PROM_KIND_OTHER, "bytes_per_second"},
		{"1", OTLP_PROM_KIND_GAUGE, "ratio"},
		{"1", OTLP_PROM_KIND_COUNTER, ""},
		{"{req}", OTLP_PROM_KIND_COUNTER, ""},
		{"ms", OTLP_PROM_KIND_OTHER, "milliseconds"},
		{"1/s", OTLP_PROM_KIND_GAUGE, "per_second"},
		{"widgets", OTLP_PROM_KIND_GAUGE, "widgets"},
		{"", OTLP_PROM_KIND_GAUGE, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		otlp_prom_unit(cases[i].unit, cases[i].kind, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want))
			fail_msg("unit %s: got \"%s\", want \"%s\"", cases[i].unit, buf, cases[i].want);
	}
}

static void test_label_names(void **state)
{
	static const struct {
		const char *key, *want;
	} cases[] = {
		{"http.route", "http_route"},
		{"1code", "key_1code"},
		{"_private", "key_private"},
		{"_", "key_"},
		{"__reserved", "__reserved"},
		{"a-b.c/d", "a_b_c_d"},
		{"Mixed.Case9", "Mixed_Case9"},
		{"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "____"}, /* four Cyrillic letters: one '_' each */
		{"\xc3\xa9", "key_"},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		otlp_prom_label_name(cases[i].key, strlen(cases[i].key), buf, sizeof(buf));
		if (strcmp(buf, cases[i].want))
			fail_msg("key %s: got \"%s\", want \"%s\"", cases[i].key, buf, cases[i].want);
	}
	char tiny[4]; /* the path that does not fit */
	assert_int_equal(otlp_prom_label_name("1code", 5, tiny, sizeof(tiny)), 9);
	assert_string_equal(tiny, "key");
}

static void test_float_format(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{0.005, "0.005"},
		{1, "1"},
		{1e6, "1000000"},
		{2.5e-7, "0.00000025"},
		{0.99, "0.99"},
		{-0.5, "-0.5"},
		{0.1 + 0.2, "0.30000000000000004"},
		{0, "0"},
		{123.25, "123.25"},
		{1e21, "1000000000000000000000"},
		{INFINITY, "+Inf"},
		{-INFINITY, "-Inf"},
		{NAN, "NaN"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[OTLP_PROM_FLOAT_MAX];
		otlp_prom_format_float(cases[i].v, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want))
			fail_msg("%.17g: got \"%s\", want \"%s\"", cases[i].v, buf, cases[i].want);
	}
	char buf[OTLP_PROM_FLOAT_MAX];
	assert_true(otlp_prom_format_float(5e-324, buf, sizeof(buf)) < sizeof(buf)); /* the longest form fits */
	assert_string_equal(buf + strlen(buf) - 5, "00005");
}

static void test_utf8(void **state)
{
	static const struct {
		const char *in, *want;
		bool valid;
	} cases[] = {
		{"plain", "plain", true},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true},
		{"a\xff"
		 "b",
		 "a\xef\xbf\xbd"
		 "b",
		 false},							 /* a byte that never starts UTF-8 */
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", false},		 /* overlong '/' */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", false}, /* a surrogate */
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", false}, /* past U+10FFFF */
		{"x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd", false},				 /* cut short */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		size_t n = strlen(cases[i].in);
		assert_int_equal(otlp_prom_utf8_valid(cases[i].in, n), cases[i].valid);
		out[otlp_prom_utf8_fix(cases[i].in, n, out)] = '\0';
		if (strcmp(out, cases[i].want))
			fail_msg("case %zu: got %s", i, out);
	}
}

/* ---------------- request builders (every allocation is freed after the test) ---------------- */

static void *allocs[4096];
static size_t n_allocs;

static void *keep(void *p)
{
	assert_non_null(p);
	assert_true(n_allocs < sizeof(allocs) / sizeof(allocs[0]));
	return allocs[n_allocs++] = p;
}

static void free_all(void)
{
	while (n_allocs)
		free(allocs[--n_allocs]);
}

#define NEW(T, INIT) ((T *)memcpy(keep(malloc(sizeof(T))), &(T)INIT, sizeof(T)))

static KeyValue *kv(const char *key, AnyValue *v)
{
	KeyValue *k = NEW(KeyValue, OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT);
	k->key = (char *)key;
	k->value = v;
	return k;
}

static AnyValue *any(void)
{
	return NEW(AnyValue, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT);
}

static KeyValue *kv_s(const char *key, const char *s)
{
	AnyValue *v = any();
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = (char *)s;
	return kv(key, v);
}

static KeyValue *kv_i(const char *key, int64_t i)
{
	AnyValue *v = any();
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = i;
	return kv(key, v);
}

static KeyValue *kv_d(const char *key, double d)
{
	AnyValue *v = any();
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	v->double_value = d;
	return kv(key, v);
}

static KeyValue *kv_b(const char *key, bool b)
{
	AnyValue *v = any();
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	v->bool_value = b;
	return kv(key, v);
}

/* A NULL-terminated list of pointers as a counted array. */
struct list {
	void **v;
	size_t n;
};

static struct list list_v(void *first, va_list ap)
{
	struct list l = {keep(calloc(64, sizeof(void *))), 0};
	for (void *p = first; p; p = va_arg(ap, void *))
		l.v[l.n++] = p;
	return l;
}

static struct list L(void *first, ...) {
	va_list ap;
	va_start(ap, first);
	struct list l = list_v(first, ap);
	va_end(ap);
	return l;
}

static NumberDataPoint *
num(double v, uint64_t ts, struct list attrs)
{
	NumberDataPoint *p = NEW(NumberDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT);
	p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
	p->as_double = v;
	p->time_unix_nano = ts;
	p->start_time_unix_nano = ts ? ts - 1000000000ull : 0;
	p->attributes = (KeyValue **)attrs.v, p->n_attributes = attrs.n;
	return p;
}

static NumberDataPoint *num_int(int64_t v, struct list attrs)
{
	NumberDataPoint *p = num(0, T0, attrs);
	p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
	p->as_int = v;
	return p;
}

static Metric *metric(const char *name, const char *unit)
{
	Metric *m = NEW(Metric, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT);
	m->name = (char *)name, m->unit = (char *)unit, m->description = "help text";
	return m;
}

static Metric *gauge(const char *name, const char *unit, struct list points)
{
	Metric *m = metric(name, unit);
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
	m->gauge = NEW(Opentelemetry__Proto__Metrics__V1__Gauge, OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT);
	m->gauge->data_points = (NumberDataPoint **)points.v, m->gauge->n_data_points = points.n;
	return m;
}

#define DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA
#define CUMUL OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

static Metric *sum(const char *name, const char *unit, int temporality, bool monotonic, struct list points)
{
	Metric *m = metric(name, unit);
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
	m->sum = NEW(Opentelemetry__Proto__Metrics__V1__Sum, OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT);
	m->sum->aggregation_temporality = temporality;
	m->sum->is_monotonic = monotonic;
	m->sum->data_points = (NumberDataPoint **)points.v, m->sum->n_data_points = points.n;
	return m;
}

static HistogramDataPoint *hpoint(const double *bounds, size_t nb, const uint64_t *counts, size_t nc, uint64_t count,
				  const double *sum_or_null, struct list attrs)
{
	HistogramDataPoint *p = NEW(HistogramDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT);
	p->explicit_bounds = (double *)bounds, p->n_explicit_bounds = nb;
	p->bucket_counts = (uint64_t *)counts, p->n_bucket_counts = nc;
	p->count = count;
	p->time_unix_nano = T0;
	if (sum_or_null) {
		p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
		p->sum = *sum_or_null;
	}
	p->attributes = (KeyValue **)attrs.v, p->n_attributes = attrs.n;
	return p;
}

static Metric *histogram(const char *name, const char *unit, int temporality, struct list points)
{
	Metric *m = metric(name, unit);
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
	m->histogram =
		NEW(Opentelemetry__Proto__Metrics__V1__Histogram, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT);
	m->histogram->aggregation_temporality = temporality;
	m->histogram->data_points = (HistogramDataPoint **)points.v, m->histogram->n_data_points = points.n;
	return m;
}

static Metric *summary(const char *name, uint32_t flags)
{
	static const double qs[][2] = {{0.5, 1.5}, {0.99, 9.25}};
	SummaryDataPoint *p = NEW(SummaryDataPoint, OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__INIT);
	p->time_unix_nano = T0, p->count = 4, p->sum = 12.5, p->flags = flags;
	p->quantile_values = keep(calloc(2, sizeof(Quantile *)));
	for (int i = 0; i < 2; i++) {
		Quantile *q =
			NEW(Quantile, OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY_DATA_POINT__VALUE_AT_QUANTILE__INIT);
		q->quantile = qs[i][0], q->value = qs[i][1];
		p->quantile_values[p->n_quantile_values++] = q;
	}
	Metric *m = metric(name, "s");
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
	m->summary = NEW(Opentelemetry__Proto__Metrics__V1__Summary, OPENTELEMETRY__PROTO__METRICS__V1__SUMMARY__INIT);
	m->summary->data_points = keep(calloc(1, sizeof(SummaryDataPoint *)));
	m->summary->data_points[0] = p, m->summary->n_data_points = 1;
	return m;
}

static Metric *exponential(const char *name)
{
	Metric *m = metric(name, "");
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
	m->exponential_histogram = NEW(Opentelemetry__Proto__Metrics__V1__ExponentialHistogram,
				       OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT);
	m->exponential_histogram->aggregation_temporality = CUMUL;
	m->exponential_histogram->data_points = keep(calloc(2, sizeof(void *)));
	for (int i = 0; i < 2; i++)
		m->exponential_histogram->data_points[i] =
			NEW(Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint,
			    OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT);
	m->exponential_histogram->n_data_points = 2;
	return m;
}

/* A resource (attributes may be empty: no resource at all when res.n == 0 and !with_resource). */
static ResourceMetrics *rmetrics(bool with_resource, struct list res, const char *scope, const char *version,
				 struct list scope_attrs, struct list metrics)
{
	ResourceMetrics *rm = NEW(ResourceMetrics, OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT);
	if (with_resource) {
		rm->resource = NEW(Opentelemetry__Proto__Resource__V1__Resource,
				   OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT);
		rm->resource->attributes = (KeyValue **)res.v, rm->resource->n_attributes = res.n;
	}
	ScopeMetrics *sm = NEW(ScopeMetrics, OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT);
	if (scope) {
		sm->scope = NEW(Opentelemetry__Proto__Common__V1__InstrumentationScope,
				OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT);
		sm->scope->name = (char *)scope, sm->scope->version = (char *)version;
		sm->scope->attributes = (KeyValue **)scope_attrs.v, sm->scope->n_attributes = scope_attrs.n;
	}
	sm->metrics = (Metric **)metrics.v, sm->n_metrics = metrics.n;
	rm->scope_metrics = keep(calloc(1, sizeof(ScopeMetrics *)));
	rm->scope_metrics[0] = sm, rm->n_scope_metrics = 1;
	return rm;
}

/* The usual resource: job it/shop, instance pod-7, one more attribute. */
static struct list shop(void)
{
	return L(kv_s("service.name", "shop"), kv_s("service.namespace", "it"), kv_s("service.instance.id", "pod-7"),
		 kv_s("k8s.pod.name", "p1"), NULL);
}

static uint8_t *pack(struct list rms, size_t *len)
{
	Request r = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	r.resource_metrics = (ResourceMetrics **)rms.v, r.n_resource_metrics = rms.n;
	*len = protobuf_c_message_get_packed_size(&r.base);
	uint8_t *buf = keep(malloc(*len + 1));
	protobuf_c_message_pack(&r.base, buf);
	return buf;
}

/* ---------------- conversion cases ---------------- */

/* `name{labels} value ts` per sample, in order, without __name__ inside the braces; values raw. */
static char *format_samples(const struct batch *b)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	for (size_t i = 0; i < b->n_records; i++) {
		const struct metric_sample *s = &b->records[i].sample;
		const struct label *name = labels_get(&s->labels, "__name__", 8);
		fprintf(f, "%s{", name ? name->value : "?");
		const char *sep = "";
		for (uint32_t k = 0; k < s->labels.n; k++) {
			if (!strcmp(s->labels.v[k].name, "__name__"))
				continue;
			fprintf(f, "%s%s=\"%s\"", sep, s->labels.v[k].name, s->labels.v[k].value);
			sep = ",";
		}
		uint64_t bits;
		memcpy(&bits, &s->value, sizeof(bits));
		if (bits == 0x7ff0000000000002ull)
			fprintf(f, "} stale %lld\n", (long long)s->ts_ms);
		else
			fprintf(f, "} %.15g %lld\n", s->value, (long long)s->ts_ms);
	}
	fclose(f);
	return text;
}

struct conv_case {
	const char *what;
	struct list (*build)(void);
	void (*opts)(struct otlp_prom_options *o);
	const char *want;
	uint64_t delta, exponential, invalid, points;
};

#define JOBI  "instance=\"pod-7\",job=\"it/shop\""
#define SCOPE "otel_scope_name=\"lib\",otel_scope_version=\"1.0\""
#define TI    "target_info{" JOBI ",k8s_pod_name=\"p1\"} 1 1800000000000\n"
#define NOA   L(NULL)

static struct list c_gauge(void)
{
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(gauge("queue.depth", "{item}",
				  L(num(2.5, T0, L(kv_s("http.route", "/a"), NULL)), num_int(-3, L(NULL)), NULL)),
			    NULL)),
		 NULL);
}
static struct list c_counter(void)
{
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(sum("io.time", "s", CUMUL, true, L(num(12, T0, NOA), NULL)),
			    sum("queue.size", "1", CUMUL, false, L(num(4, T0, NOA), NULL)), NULL)),
		 NULL);
}
static struct list c_delta(void)
{
	static const double b[] = {1};
	static const uint64_t c[] = {1, 1};
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(sum("hits", "", DELTA, true, L(num(1, T0, NOA), num(2, T0, NOA), NULL)),
			    sum("level", "", DELTA, false, L(num(1, T0, NOA), NULL)),
			    sum("unspecified", "", 0, true, L(num(1, T0, NOA), NULL)),
			    histogram("lat", "s", DELTA, L(hpoint(b, 1, c, 2, 2, NULL, NOA), NULL)), NULL)),
		 NULL);
}
static struct list c_histogram(void)
{
	static const double b[] = {0.005, 0.1, 1}, s = 5.5;
	static const uint64_t c[] = {1, 2, 3, 4};
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(histogram("http.duration", "s", CUMUL,
				      L(hpoint(b, 3, c, 4, 10, &s, L(kv_s("method", "GET"), NULL)),
					hpoint(NULL, 0, NULL, 0, 3, NULL, NOA), NULL)),
			    NULL)),
		 NULL);
}
static struct list c_histogram_bad(void)
{
	static const double down[] = {1, 0.5}, dup[] = {1, 1}, inf[] = {1, INFINITY};
	static const uint64_t c[] = {1, 1, 1};
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(histogram("h", "", CUMUL,
				      L(hpoint(down, 2, c, 3, 3, NULL, NOA), hpoint(dup, 2, c, 3, 3, NULL, NOA),
					hpoint(inf, 2, c, 3, 3, NULL, L(kv_s("k", "inf"), NULL)), NULL)),
			    NULL)),
		 NULL);
}
static struct list c_summary_exp(void)
{
	return L(rmetrics(true, shop(), "lib", "1.0", NOA, L(summary("rpc.latency", 0), exponential("exp"), NULL)),
		 NULL);
}
static struct list c_stale(void)
{
	static const double b[] = {1}, s = 2;
	static const uint64_t c[] = {1, 1};
	NumberDataPoint *p = num(0, T0, NOA);
	p->flags = 1;
	p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE__NOT_SET;
	HistogramDataPoint *h = hpoint(b, 1, c, 2, 2, &s, NOA);
	h->flags = 1;
	NumberDataPoint *novalue = num(0, T0, L(kv_s("k", "v"), NULL));
	novalue->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE__NOT_SET;
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(gauge("g", "", L(p, novalue, NULL)), histogram("h", "", CUMUL, L(h, NULL)), summary("s", 1),
			    NULL)),
		 NULL);
}
static struct list c_labels(void)
{
	AnyValue *arr = any(), *map = any(), *bytes = any();
	arr->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	arr->array_value =
		NEW(Opentelemetry__Proto__Common__V1__ArrayValue, OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT);
	struct list items = L(kv_s("", "a")->value, kv_i("", 2)->value, kv_s("", "<q\">")->value, NULL);
	arr->array_value->values = (AnyValue **)items.v, arr->array_value->n_values = items.n;
	map->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
	map->kvlist_value = NEW(Opentelemetry__Proto__Common__V1__KeyValueList,
				OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT);
	struct list pairs = L(kv_i("b", 1), kv_s("a", "x"), kv_b("c", false), NULL);
	map->kvlist_value->values = (KeyValue **)pairs.v, map->kvlist_value->n_values = pairs.n;
	bytes->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
	bytes->bytes_value = (ProtobufCBinaryData){4, (uint8_t *)"abcd"};
	struct list attrs = L(kv_i("int", 42), kv_b("bool", true), kv_d("dbl", 1.5), kv_d("tiny", 1e-7),
			      kv_d("big", 1e21), kv("arr", arr), kv(("map"), map), kv("bin", bytes), kv_s("a_b", "2"),
			      kv_s("a.b", "1"), kv_s("job", "mine"), kv_s("le", "attr"), kv_s("__name__", "evil"),
			      kv_s("empty", ""), kv_s("...", "nameless"), NULL);
	static const double b[] = {1};
	static const uint64_t c[] = {1, 1};
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(gauge("g", "", L(num(1, T0, attrs), NULL)),
			    histogram("h", "", CUMUL, L(hpoint(b, 1, c, 2, 2, NULL, L(kv_s("le", "x"), NULL)), NULL)),
			    NULL)),
		 NULL);
}
static struct list c_resources(void)
{
	return L(rmetrics(true, L(kv_s("service.name", "solo"), NULL), NULL, NULL, NOA,
			  L(gauge("a", "", L(num(1, 0, NOA), NULL)), NULL)),
		 rmetrics(false, NOA, "s", "", NOA, L(gauge("b", "", L(num(2, T0, NOA), NULL)), NULL)),
		 rmetrics(true, L(kv_s("service.instance.id", "i"), kv_s("service.namespace", "ns"), NULL), "lib",
			  "1.0", L(kv_s("scope.attr", "v"), NULL), L(gauge("c", "", L(num(3, T0, NOA), NULL)), NULL)),
		 NULL);
}
static struct list c_to_telemetry(void)
{
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(gauge("g", "", L(num(1, T0, L(kv_s("k8s.pod.name", "point"), kv_s("x", "y"), NULL)), NULL)),
			    NULL)),
		 NULL);
}
static struct list c_invalid(void)
{
	Metric *nodata = metric("nodata", "");
	return L(rmetrics(true, shop(), "lib", "1.0", NOA,
			  L(gauge("...", "", L(num(1, T0, NOA), num(2, T0, NOA), NULL)), nodata,
			    gauge("ok", "", L(num(1, T0, NOA), NULL)), NULL)),
		 NULL);
}

static struct list c_bad_utf8(void)
{
	return L(rmetrics(true, L(kv_s("service.name", "sh\xffop"), NULL),
			  "li\xc0"
			  "b",
			  "1.0", NOA, L(gauge("g", "", L(num(1, T0, L(kv_s("v", "a\xe2\x82"), NULL)), NULL)), NULL)),
		 NULL);
}

static void o_no_scope_no_target(struct otlp_prom_options *o)
{
	o->include_scope_labels = false;
	o->include_target_info = false;
}
static void o_scope_info(struct otlp_prom_options *o)
{
	o->include_scope_info = true;
}
static void o_to_telemetry(struct otlp_prom_options *o)
{
	o->resource_to_telemetry_conversion = true;
	o->keep_identifying_resource_attributes = true;
}
static void o_plain(struct otlp_prom_options *o)
{
	o->add_metric_suffixes = false;
}

static const struct conv_case conv_cases[] = {
	{"gauge: attributes, job/instance, scope labels, target_info, int and double values", c_gauge, NULL,
	 TI "queue_depth{http_route=\"/a\"," JOBI "," SCOPE "} 2.5 1700000000000\n"
	    "queue_depth{" JOBI "," SCOPE "} -3 1700000000000\n",
	 .points = 2},
	{"monotonic cumulative sum: _total after the unit; up/down sum: a gauge without _ratio", c_counter, NULL,
	 TI "io_time_seconds_total{" JOBI "," SCOPE "} 12 1700000000000\n"
	    "queue_size{" JOBI "," SCOPE "} 4 1700000000000\n",
	 .points = 2},
	{"delta and unspecified temporality: dropped and counted", c_delta, NULL, TI, .delta = 5},
	{"histogram: cumulative buckets, +Inf = count, _sum only when set", c_histogram, NULL,
	 TI "http_duration_seconds_bucket{" JOBI ",le=\"0.005\",method=\"GET\"," SCOPE "} 1 1700000000000\n"
	    "http_duration_seconds_bucket{" JOBI ",le=\"0.1\",method=\"GET\"," SCOPE "} 3 1700000000000\n"
	    "http_duration_seconds_bucket{" JOBI ",le=\"1\",method=\"GET\"," SCOPE "} 6 1700000000000\n"
	    "http_duration_seconds_bucket{" JOBI ",le=\"+Inf\",method=\"GET\"," SCOPE "} 10 1700000000000\n"
	    "http_duration_seconds_sum{" JOBI ",method=\"GET\"," SCOPE "} 5.5 1700000000000\n"
	    "http_duration_seconds_count{" JOBI ",method=\"GET\"," SCOPE "} 10 1700000000000\n"
	    "http_duration_seconds_bucket{" JOBI ",le=\"+Inf\"," SCOPE "} 3 1700000000000\n"
	    "http_duration_seconds_count{" JOBI "," SCOPE "} 3 1700000000000\n",
	 .points = 2},
	{"histogram: bounds that do not increase are invalid; a final +Inf bound is the implicit one", c_histogram_bad,
	 NULL,
	 TI "h_bucket{" JOBI ",k=\"inf\",le=\"1\"," SCOPE "} 1 1700000000000\n"
	    "h_bucket{" JOBI ",k=\"inf\",le=\"+Inf\"," SCOPE "} 3 1700000000000\n"
	    "h_count{" JOBI ",k=\"inf\"," SCOPE "} 3 1700000000000\n",
	 .invalid = 2, .points = 1},
	{"summary: quantiles, _sum, _count; exponential histogram dropped", c_summary_exp, NULL,
	 TI "rpc_latency_seconds{" JOBI "," SCOPE ",quantile=\"0.5\"} 1.5 1700000000000\n"
	    "rpc_latency_seconds{" JOBI "," SCOPE ",quantile=\"0.99\"} 9.25 1700000000000\n"
	    "rpc_latency_seconds_sum{" JOBI "," SCOPE "} 12.5 1700000000000\n"
	    "rpc_latency_seconds_count{" JOBI "," SCOPE "} 4 1700000000000\n",
	 .exponential = 2, .points = 1},
	{"NoRecordedValue: staleness markers for every series of the point; no value: invalid", c_stale, NULL,
	 TI "g{" JOBI "," SCOPE "} stale 1700000000000\n"
	    "h_bucket{" JOBI ",le=\"1\"," SCOPE "} stale 1700000000000\n"
	    "h_bucket{" JOBI ",le=\"+Inf\"," SCOPE "} stale 1700000000000\n"
	    "h_sum{" JOBI "," SCOPE "} stale 1700000000000\n"
	    "h_count{" JOBI "," SCOPE "} stale 1700000000000\n"
	    "s_seconds{" JOBI "," SCOPE ",quantile=\"0.5\"} stale 1700000000000\n"
	    "s_seconds{" JOBI "," SCOPE ",quantile=\"0.99\"} stale 1700000000000\n"
	    "s_seconds_sum{" JOBI "," SCOPE "} stale 1700000000000\n"
	    "s_seconds_count{" JOBI "," SCOPE "} stale 1700000000000\n",
	 .invalid = 1, .points = 3},
	{"labels: values as strings, collisions joined by key order, structural labels win, attributes beat job, "
	 "\"...\" is \"___\"",
	 c_labels, NULL,
	 TI "g{___=\"nameless\",a_b=\"1;2\",arr=\"[\"a\",2,\"\\u003cq\\\"\\u003e\"]\",big=\"1e+21\","
	    "bin=\"YWJjZA==\",bool=\"true\",dbl=\"1.5\",instance=\"pod-7\",int=\"42\",job=\"mine\",le=\"attr\","
	    "map=\"{\"a\":\"x\",\"b\":1,\"c\":false}\"," SCOPE ",tiny=\"1e-7\"} 1 1700000000000\n"
	    "h_bucket{" JOBI ",le=\"1\"," SCOPE "} 1 1700000000000\n"
	    "h_bucket{" JOBI ",le=\"+Inf\"," SCOPE "} 2 1700000000000\n"
	    "h_count{" JOBI ",le=\"x\"," SCOPE "} 2 1700000000000\n",
	 .points = 2},
	{"resources: job from service.name alone, no resource no target_info, no time → now, scope info off",
	 c_resources, NULL,
	 "target_info{job=\"solo\"} 1 1800000000000\n"
	 "a{job=\"solo\"} 1 1800000000000\n"
	 "b{otel_scope_name=\"s\"} 2 1700000000000\n"
	 "target_info{instance=\"i\"} 1 1800000000000\n"
	 "c{instance=\"i\"," SCOPE "} 3 1700000000000\n",
	 .points = 3},
	{"include_scope_labels = false, include_target_info = false", c_gauge, o_no_scope_no_target,
	 "queue_depth{http_route=\"/a\"," JOBI "} 2.5 1700000000000\n"
	 "queue_depth{" JOBI "} -3 1700000000000\n",
	 .points = 2},
	{"include_scope_info: otel_scope_info with the scope's attributes", c_resources, o_scope_info,
	 "target_info{job=\"solo\"} 1 1800000000000\n"
	 "otel_scope_info{job=\"solo\"} 1 1800000000000\n"
	 "a{job=\"solo\"} 1 1800000000000\n"
	 "otel_scope_info{otel_scope_name=\"s\"} 1 1800000000000\n"
	 "b{otel_scope_name=\"s\"} 2 1700000000000\n"
	 "target_info{instance=\"i\"} 1 1800000000000\n"
	 "otel_scope_info{instance=\"i\"," SCOPE ",scope_attr=\"v\"} 1 1800000000000\n"
	 "c{instance=\"i\"," SCOPE "} 3 1700000000000\n",
	 .points = 3},
	{"resource_to_telemetry_conversion (resource wins a key) and keep_identifying_resource_attributes",
	 c_to_telemetry, o_to_telemetry,
	 "target_info{" JOBI ",k8s_pod_name=\"p1\",service_instance_id=\"pod-7\",service_name=\"shop\","
	 "service_namespace=\"it\"} 1 1800000000000\n"
	 "g{" JOBI ",k8s_pod_name=\"p1\"," SCOPE ",service_instance_id=\"pod-7\",service_name=\"shop\","
	 "service_namespace=\"it\",x=\"y\"} 1 1700000000000\n",
	 .points = 1},
	{"add_metric_suffixes = false", c_counter, o_plain,
	 TI "io_time{" JOBI "," SCOPE "} 12 1700000000000\n"
	    "queue_size{" JOBI "," SCOPE "} 4 1700000000000\n",
	 .points = 2},
	{"invalid UTF-8 in values, job and scope name: each bad byte becomes U+FFFD", c_bad_utf8, NULL,
	 "target_info{job=\"sh\xef\xbf\xbdop\"} 1 1800000000000\n"
	 "g{job=\"sh\xef\xbf\xbdop\",otel_scope_name=\"li\xef\xbf\xbd"
	 "b\",otel_scope_version=\"1.0\","
	 "v=\"a\xef\xbf\xbd\xef\xbf\xbd\"} 1 1700000000000\n",
	 .points = 1},
	{"no usable name, no data: invalid", c_invalid, NULL, TI "ok{" JOBI "," SCOPE "} 1 1700000000000\n",
	 .invalid = 3, .points = 1},
};

static void run_case(struct otlp_prom *cv, const struct conv_case *c)
{
	struct otlp_prom_options o;
	otlp_prom_default_options(&o);
	o.now_ms = NOW_MS;
	if (c->opts)
		c->opts(&o);
	size_t len;
	uint8_t *data = pack(c->build(), &len);
	struct batch *b = batch_new();
	struct otlp_prom_stats st = {0};
	assert_int_equal(otlp_prom_convert(cv, &o, data, len, b, &st), 0);
	char *got = format_samples(b);
	if (strcmp(got, c->want)) {
		fprintf(stderr, "%s\n--- got\n%s--- want\n%s", c->what, got, c->want);
		fail();
	}
	if (st.dropped[OTLP_PROM_DROP_DELTA] != c->delta || st.dropped[OTLP_PROM_DROP_EXPONENTIAL] != c->exponential ||
	    st.dropped[OTLP_PROM_DROP_INVALID] != c->invalid || st.points != c->points || st.samples != b->n_records)
		fail_msg("%s: delta %llu exponential %llu invalid %llu points %llu samples %llu/%zu", c->what,
			 (unsigned long long)st.dropped[0], (unsigned long long)st.dropped[1],
			 (unsigned long long)st.dropped[2], (unsigned long long)st.points,
			 (unsigned long long)st.samples, b->n_records);
	for (size_t i = 0; i < b->n_records; i++)
		assert_null(b->records[i].sample.meta); /* honor_metadata defaults to false */
	free(got);
	batch_free(b);
	free_all();
}

static void test_conversion_cases(void **state)
{
	struct otlp_prom *cv;
	assert_int_equal(otlp_prom_new(&cv), 0);
	for (size_t i = 0; i < sizeof(conv_cases) / sizeof(conv_cases[0]); i++)
		run_case(cv, &conv_cases[i]); /* one converter throughout: its scratch is reused */
	otlp_prom_free(cv);
}

static void o_meta(struct otlp_prom_options *o)
{
	o->with_metadata = true;
}

static void test_metadata(void **state)
{
	struct otlp_prom *cv;
	assert_int_equal(otlp_prom_new(&cv), 0);
	struct otlp_prom_options o;
	otlp_prom_default_options(&o);
	o_meta(&o);
	size_t len;
	uint8_t *data = pack(c_counter(), &len);
	struct batch *b = batch_new();
	struct otlp_prom_stats st = {0};
	assert_int_equal(otlp_prom_convert(cv, &o, data, len, b, &st), 0);
	assert_int_equal(b->n_records, 3);
	const struct metric_meta *ti = b->records[0].sample.meta, *io = b->records[1].sample.meta,
				 *q = b->records[2].sample.meta;
	assert_string_equal(ti->family, "target_info");
	assert_int_equal(ti->type, METRIC_TYPE_GAUGE);
	assert_string_equal(ti->help, "Target metadata");
	assert_string_equal(io->family, "io_time_seconds_total");
	assert_int_equal(io->type, METRIC_TYPE_COUNTER);
	assert_string_equal(io->unit, "seconds");
	assert_string_equal(io->help, "help text");
	assert_string_equal(q->family, "queue_size");
	assert_int_equal(q->type, METRIC_TYPE_GAUGE);
	assert_string_equal(q->unit, "");
	batch_free(b);
	free_all();

	/* histograms and summaries: one family for all their series */
	b = batch_new();
	data = pack(c_summary_exp(), &len);
	assert_int_equal(otlp_prom_convert(cv, &o, data, len, b, &st), 0);
	for (size_t i = 1; i < b->n_records; i++) {
		assert_string_equal(b->records[i].sample.meta->family, "rpc_latency_seconds");
		assert_int_equal(b->records[i].sample.meta->type, METRIC_TYPE_SUMMARY);
	}
	batch_free(b);
	free_all();
	otlp_prom_free(cv);
}

static void test_malformed(void **state)
{
	struct otlp_prom *cv;
	assert_int_equal(otlp_prom_new(&cv), 0);
	struct otlp_prom_options o;
	otlp_prom_default_options(&o);
	struct batch *b = batch_new();
	struct otlp_prom_stats st = {0};
	static const uint8_t bad[][6] = {
		{0x0a, 0x05, 0x0a, 0x10, 0x00, 0x00}, /* a length past the end */
		{0x0b, 0x00, 0x00, 0x00, 0x00, 0x00}, /* group wire type */
		{0x0a, 0x80, 0x80, 0x80, 0x80, 0x80}, /* a varint that never ends */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(otlp_prom_convert(cv, &o, bad[i], sizeof(bad[i]), b, &st), -EINVAL);
	assert_int_equal(b->n_records, 0);
	/* the converter still works afterwards, and an empty request is fine */
	assert_int_equal(otlp_prom_convert(cv, &o, "", 0, b, &st), 0);
	size_t len;
	uint8_t *data = pack(c_gauge(), &len);
	assert_int_equal(otlp_prom_convert(cv, &o, data, len, b, &st), 0);
	assert_int_equal(b->n_records, 3);
	/* every truncation of a good request either decodes or is refused, never crashes */
	for (size_t cut = 0; cut < len; cut++) {
		struct batch *t = batch_new();
		int rc = otlp_prom_convert(cv, &o, data, cut, t, &st);
		assert_true(rc == 0 || rc == -EINVAL);
		batch_free(t);
	}
	batch_free(b);
	free_all();

	/* empty points cost ~2 bytes on the wire and ~90 unpacked: refused past the cap, nothing appended */
	enum { EMPTY = 100000 };
	NumberDataPoint *pts = keep(calloc(EMPTY, sizeof(*pts)));
	void **ptrs = keep(calloc(EMPTY + 1, sizeof(*ptrs)));
	for (size_t i = 0; i < EMPTY; i++) {
		pts[i] = (NumberDataPoint)OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
		ptrs[i] = &pts[i];
	}
	data = pack(
		L(rmetrics(true, shop(), "lib", "1.0", NOA, L(gauge("g", "", (struct list){ptrs, EMPTY}), NULL)), NULL),
		&len);
	assert_true(len < 300000);
	b = batch_new();
	assert_int_equal(otlp_prom_convert(cv, &o, data, len, b, &st), -EFBIG);
	assert_int_equal(b->n_records, 0);
	batch_free(b);
	free_all();
	otlp_prom_free(cv);
}

/* ---------------- the component in the runtime ---------------- */

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

static size_t discard(char *buf, size_t size, size_t n, void *arg)
{
	return size * n;
}

static long post_metrics(int port, const uint8_t *body, size_t len)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/metrics", port);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK)
		fail_msg("curl: %s", curl_easy_strerror(cc));
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return code;
}

struct drops {
	uint64_t delta, malformed;
};

static void find_drops(void *arg, const struct component_info *info)
{
	struct drops *d = arg;
	if (strcmp(info->id, "otelcol.exporter.prometheus.p"))
		return;
	for (int i = 0; i < COMPONENT_DROP_REASONS; i++) {
		if (info->stats.dropped[i].reason && !strcmp(info->stats.dropped[i].reason, "delta"))
			d->delta = info->stats.dropped[i].records;
		if (info->stats.dropped[i].reason && !strcmp(info->stats.dropped[i].reason, "malformed"))
			d->malformed = info->stats.dropped[i].records;
	}
}

static void test_component(void **state)
{
	int port = free_port();
	char cfg[1024];
	snprintf(cfg, sizeof(cfg),
		 "otelcol.receiver.otlp \"in\" {\n"
		 "  http {\n    endpoint = \"127.0.0.1:%d\"\n  }\n"
		 "  output {\n    metrics = [otelcol.exporter.prometheus.p.input]\n  }\n}\n"
		 "otelcol.exporter.prometheus \"p\" {\n  forward_to = [test.mcapture.m.receiver]\n}\n"
		 "test.mcapture \"m\" { }\n",
		 port);
	struct harness h;
	harness_start(&h, cfg);
	size_t len, n;
	uint8_t *data = pack(c_gauge(), &len);
	assert_int_equal(post_metrics(port, data, len), 200);
	char *lines = harness_mcapture_take("m", &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(lines, "{__name__=\"queue_depth\", http_route=\"/a\", instance=\"pod-7\", "
				      "job=\"it/shop\", otel_scope_name=\"lib\", otel_scope_version=\"1.0\"} 2.5 "
				      "1700000000000\n"));
	free(lines);

	/* a refusing downstream (a full WAL) must reach the client as a retryable refusal */
	harness_mcapture_fail("m", -EAGAIN);
	assert_int_equal(post_metrics(port, data, len), 503);
	harness_mcapture_fail("m", 0);
	assert_int_equal(post_metrics(port, data, len), 200);
	lines = harness_mcapture_take("m", &n);
	assert_int_equal(n, 3);
	free(lines);
	free_all();

	/* drops are counted per reason, and only once the push was accepted */
	data = pack(c_delta(), &len);
	harness_mcapture_fail("m", -EAGAIN);
	assert_int_equal(post_metrics(port, data, len), 503);
	struct drops d = {0};
	runtime_visit(h.rt, find_drops, &d);
	assert_int_equal(d.delta, 0);
	harness_mcapture_fail("m", 0);
	assert_int_equal(post_metrics(port, data, len), 200);
	runtime_visit(h.rt, find_drops, &d);
	assert_int_equal(d.delta, 5);
	free(harness_mcapture_take("m", &n));
	assert_int_equal(n, 1); /* target_info */
	free_all();

	/* a reload changes the options of the running exporter */
	char cfg2[1200];
	snprintf(cfg2, sizeof(cfg2),
		 "otelcol.receiver.otlp \"in\" {\n"
		 "  http {\n    endpoint = \"127.0.0.1:%d\"\n  }\n"
		 "  output {\n    metrics = [otelcol.exporter.prometheus.p.input]\n  }\n}\n"
		 "otelcol.exporter.prometheus \"p\" {\n  forward_to = [test.mcapture.m.receiver]\n"
		 "  include_target_info = false\n  add_metric_suffixes = false\n}\n"
		 "test.mcapture \"m\" { }\n",
		 port);
	harness_reload(&h, cfg2);
	data = pack(c_counter(), &len);
	assert_int_equal(post_metrics(port, data, len), 200);
	lines = harness_mcapture_take("m", &n);
	assert_int_equal(n, 2);
	assert_null(strstr(lines, "target_info"));
	assert_non_null(strstr(lines, "{__name__=\"io_time\", instance=\"pod-7\""));
	free(lines);
	free_all();

	harness_stop(&h);
}

static void test_validation(void **state)
{
	static const struct {
		const char *body;
		bool ok;
	} cases[] = {
		{"forward_to = []\n", true},
		{"forward_to = []\nconvert_classic_histograms_to_nhcb = false\nstart_timestamp_zero_ingestion = "
		 "false\n",
		 true},
		{"forward_to = []\nconvert_classic_histograms_to_nhcb = true\n", false},
		{"forward_to = []\nstart_timestamp_zero_ingestion = true\n", false},
		{"forward_to = []\ngc_frequency = \"1m\"\nhonor_metadata = true\n", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "otelcol.exporter.prometheus \"p\" {\n%s}\n", cases[i].body);
		struct diag_list d;
		diag_list_init(&d);
		struct config *cfg = NULL;
		int rc = config_load_source(source_from_memory("t.alloy", text, strlen(text)), registry_components(),
					    NULL, &d, &cfg);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu: rc %d", i, rc);
		diag_list_free(&d);
		config_free(cfg);
	}
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_names), cmocka_unit_test(test_units),
		cmocka_unit_test(test_label_names),  cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_float_format), cmocka_unit_test(test_conversion_cases),
		cmocka_unit_test(test_metadata),     cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_component),    cmocka_unit_test(test_validation),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
