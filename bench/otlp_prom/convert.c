/*
 * bench/otlp_prom — OTLP data points converted to Prometheus samples per second of CPU (one core):
 * otlp_prom_convert on encoded ExportMetricsServiceRequests shaped like an instrumented HTTP service's
 * export (a resource with 8 attributes, one scope, points with 3 attributes), into a reused batch, the
 * protobuf decode included. Three shapes: counters and gauges only, histograms only (15 bounds, the
 * SDK's default, so 19 samples per point), and a mix. CPU time of this process is the denominator, so
 * other load on the machine does not skew the figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/proto/otlp/metrics_service.pb-c.h"
#include "pipeline/otlp_metrics_prom.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;

#define POINTS_PER_METRIC 25

static const double bounds[] = {0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000};
#define NB (sizeof(bounds) / sizeof(bounds[0]))

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		exit(1);
	return p;
}

static KeyValue *kv_s(const char *key, const char *value)
{
	KeyValue *kv = xcalloc(1, sizeof(*kv));
	AnyValue *v = xcalloc(1, sizeof(*v));
	*kv = (KeyValue)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	*v = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = strdup(value);
	kv->key = strdup(key);
	kv->value = v;
	return kv;
}

static KeyValue *kv_i(const char *key, int64_t i)
{
	KeyValue *kv = kv_s(key, "");
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = i;
	return kv;
}

/* route, method and status code of point j */
static KeyValue **point_attrs(int j, size_t *n)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	char route[64];
	snprintf(route, sizeof(route), "/api/v1/resource%d/{id}", j);
	KeyValue **a = xcalloc(3, sizeof(*a));
	a[0] = kv_s("http.route", route);
	a[1] = kv_s("http.request.method", methods[j % 4]);
	a[2] = kv_i("http.response.status_code", 200 + (j % 3) * 100);
	*n = 3;
	return a;
}

static Metric *number_metric(int i, bool counter, uint64_t ts)
{
	Metric *m = xcalloc(1, sizeof(*m));
	*m = (Metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
	char name[64];
	snprintf(name, sizeof(name), counter ? "http.server.requests.%d" : "process.memory.usage.%d", i);
	m->name = strdup(name);
	m->unit = counter ? "{request}" : "By";
	m->description = "a metric";
	Opentelemetry__Proto__Metrics__V1__NumberDataPoint **pts = xcalloc(POINTS_PER_METRIC, sizeof(*pts));
	for (int j = 0; j < POINTS_PER_METRIC; j++) {
		pts[j] = xcalloc(1, sizeof(**pts));
		*pts[j] = (Opentelemetry__Proto__Metrics__V1__NumberDataPoint)
			OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
		pts[j]->attributes = point_attrs(j, &pts[j]->n_attributes);
		pts[j]->time_unix_nano = ts, pts[j]->start_time_unix_nano = ts - 60000000000ull;
		pts[j]->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
		pts[j]->as_int = 1000 + j;
	}
	if (counter) {
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
		m->sum = xcalloc(1, sizeof(*m->sum));
		*m->sum = (Opentelemetry__Proto__Metrics__V1__Sum)OPENTELEMETRY__PROTO__METRICS__V1__SUM__INIT;
		m->sum->aggregation_temporality =
			OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		m->sum->is_monotonic = 1;
		m->sum->data_points = pts, m->sum->n_data_points = POINTS_PER_METRIC;
	} else {
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
		m->gauge = xcalloc(1, sizeof(*m->gauge));
		*m->gauge = (Opentelemetry__Proto__Metrics__V1__Gauge)OPENTELEMETRY__PROTO__METRICS__V1__GAUGE__INIT;
		m->gauge->data_points = pts, m->gauge->n_data_points = POINTS_PER_METRIC;
	}
	return m;
}

static Metric *histogram_metric(int i, uint64_t ts)
{
	Metric *m = xcalloc(1, sizeof(*m));
	*m = (Metric)OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
	char name[64];
	snprintf(name, sizeof(name), "http.server.request.duration.%d", i);
	m->name = strdup(name);
	m->unit = "ms";
	m->description = "a histogram";
	m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
	m->histogram = xcalloc(1, sizeof(*m->histogram));
	*m->histogram =
		(Opentelemetry__Proto__Metrics__V1__Histogram)OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM__INIT;
	m->histogram->aggregation_temporality =
		OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
	Opentelemetry__Proto__Metrics__V1__HistogramDataPoint **pts = xcalloc(POINTS_PER_METRIC, sizeof(*pts));
	for (int j = 0; j < POINTS_PER_METRIC; j++) {
		pts[j] = xcalloc(1, sizeof(**pts));
		*pts[j] = (Opentelemetry__Proto__Metrics__V1__HistogramDataPoint)
			OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__INIT;
		pts[j]->attributes = point_attrs(j, &pts[j]->n_attributes);
		pts[j]->time_unix_nano = ts, pts[j]->start_time_unix_nano = ts - 60000000000ull;
		pts[j]->explicit_bounds = (double *)bounds, pts[j]->n_explicit_bounds = NB;
		pts[j]->bucket_counts = xcalloc(NB + 1, sizeof(uint64_t)), pts[j]->n_bucket_counts = NB + 1;
		for (size_t k = 0; k <= NB; k++)
			pts[j]->bucket_counts[k] = k + j, pts[j]->count += k + j;
		pts[j]->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
		pts[j]->sum = 12345.5;
	}
	m->histogram->data_points = pts, m->histogram->n_data_points = POINTS_PER_METRIC;
	return m;
}

/* An encoded request with n_counter counters, n_gauge gauges and n_hist histograms. */
static uint8_t *make_request(int n_counter, int n_gauge, int n_hist, size_t *len, size_t *points)
{
	uint64_t ts = 1700000000000000000ull;
	KeyValue *res[] = {kv_s("service.name", "checkout"),
			   kv_s("service.namespace", "shop"),
			   kv_s("service.instance.id", "checkout-7d9f8-abcde"),
			   kv_s("k8s.pod.name", "checkout-7d9f8-abcde"),
			   kv_s("k8s.namespace.name", "shop"),
			   kv_s("host.name", "node-12"),
			   kv_s("telemetry.sdk.language", "nodejs"),
			   kv_s("telemetry.sdk.version", "2.12.1")};
	Opentelemetry__Proto__Resource__V1__Resource resource = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	resource.attributes = res, resource.n_attributes = sizeof(res) / sizeof(res[0]);
	Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
		OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	scope.name = "@opentelemetry/instrumentation-http", scope.version = "0.223.0";
	int n = n_counter + n_gauge + n_hist, k = 0;
	Metric **metrics = xcalloc((size_t)n, sizeof(*metrics));
	for (int i = 0; i < n_counter; i++)
		metrics[k++] = number_metric(i, true, ts);
	for (int i = 0; i < n_gauge; i++)
		metrics[k++] = number_metric(i, false, ts);
	for (int i = 0; i < n_hist; i++)
		metrics[k++] = histogram_metric(i, ts);
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
	sm.scope = &scope, sm.metrics = metrics, sm.n_metrics = (size_t)n;
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sms[] = {&sm};
	Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
		OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
	rm.resource = &resource, rm.scope_metrics = sms, rm.n_scope_metrics = 1;
	Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rms[] = {&rm};
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	req.resource_metrics = rms, req.n_resource_metrics = 1;
	*len = protobuf_c_message_get_packed_size(&req.base);
	uint8_t *buf = xcalloc(1, *len);
	protobuf_c_message_pack(&req.base, buf);
	*points = (size_t)n * POINTS_PER_METRIC;
	return buf; /* the structs above leak: built once per shape */
}

static void run(const char *what, int n_counter, int n_gauge, int n_hist)
{
	size_t len, points;
	uint8_t *data = make_request(n_counter, n_gauge, n_hist, &len, &points);
	struct otlp_prom *cv;
	struct batch *b = batch_new();
	if (!b || otlp_prom_new(&cv))
		exit(1);
	struct otlp_prom_options o;
	otlp_prom_default_options(&o);
	o.now_ms = 1700000000000;
	struct otlp_prom_stats st = {0};
	size_t requests = 0;
	double start = cpu_seconds(), spent = 0;
	while (spent < 2.0) {
		for (int i = 0; i < 20; i++, requests++) {
			batch_reset(b);
			if (otlp_prom_convert(cv, &o, data, len, b, &st)) {
				fprintf(stderr, "convert failed\n");
				exit(1);
			}
		}
		spent = cpu_seconds() - start;
	}
	printf("otlp_prom %-26s %5zu points/request (%6zu B): %9.0f points/s  %9.0f samples/s  %6.1f MB/s  "
	       "(%zu requests, %.2f s CPU)\n",
	       what, points, len, (double)st.points / spent, (double)st.samples / spent,
	       (double)len * (double)requests / spent / 1e6, requests, spent);
	otlp_prom_free(cv);
	batch_free(b);
	free(data);
}

int main(void)
{
	run("counters+gauges", 20, 10, 0);
	run("histograms (15 bounds)", 0, 0, 8);
	run("mix", 20, 10, 5);
	return 0;
}
