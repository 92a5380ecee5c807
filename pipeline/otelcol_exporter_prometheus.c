/*
 * otelcol.exporter.prometheus — converts OTLP metrics into Prometheus samples and forwards them to
 * Prometheus receivers (prometheus.remote_write, prometheus.relabel, …). The conversion rules are
 * pipeline/otlp_metrics_prom's; this file holds the schema, the options and the push.
 *
 * A push converts every OTLP metrics payload of the batch into one batch of samples and returns what
 * forward_push returns, so a full WAL behind prometheus.remote_write reaches the OTLP client as
 * UNAVAILABLE / 503 and it retries; nothing is acknowledged that did not become durable. Points the
 * rules drop (delta temporality, exponential histograms, invalid points) and payloads that do not
 * decode (or would take more memory to decode than otlp_metrics_prom allows) are counted per reason
 * once the rest was accepted (a refused push is retried whole), and such a payload is logged
 * (rate-limited); it never fails the push, since retrying it could not help.
 *
 * Unlike Alloy, nothing is cached between pushes: Alloy keeps a series cache to skip out-of-order
 * points and to emit metadata, and gc_frequency cleans it; here each payload converts on its own (the
 * backend rejects out-of-order samples), so gc_frequency has nothing to collect. The two
 * experimental arguments that need state or native histograms (convert_classic_histograms_to_nhcb,
 * start_timestamp_zero_ingestion) are refused by validation rather than ignored.
 *
 * Pushes may come from several receiver threads at once: each takes a converter (scratch arenas) from
 * a small pool, and the options and forward list are read under a read lock that update swaps under.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "pipeline/component.h"
#include "pipeline/otlp_metrics_prom.h"

static void check(const struct cfg_body *body, struct diag_list *diags)
{
	static const char *const refused[] = {"convert_classic_histograms_to_nhcb", "start_timestamp_zero_ingestion"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const struct cfg_attr *a = common_attr_set(body, refused[i]);
		if (a && cfg_bool(body, refused[i], false))
			diag_add(diags, DIAG_ERROR, body->src, a->off,
				 "%s = true is not supported: solder's samples carry no native histograms and its "
				 "conversion keeps no per-series state",
				 refused[i]);
	}
}

static const struct arg_schema args[] = {
	{"forward_to", &type_list_metrics_receiver, .required = true, .doc = "Where to forward converted metrics."},
	{"add_metric_suffixes", &type_bool, .def = "true", .doc = "Add type and unit suffixes to metric names."},
	{"convert_classic_histograms_to_nhcb", &type_bool, .def = "false",
	 .doc = "Convert histograms to NHCB (not supported: must stay false)."},
	{"start_timestamp_zero_ingestion", &type_bool, .def = "false",
	 .doc = "Inject a zero at the start timestamp (not supported: must stay false)."},
	{"gc_frequency", &type_duration, .def = "5m",
	 .doc = "Accepted for Alloy compatibility; solder keeps no series cache to collect."},
	{"honor_metadata", &type_bool, .def = "false", .doc = "Send metric type, help and unit downstream."},
	{"include_scope_info", &type_bool, .def = "false", .doc = "Include otel_scope_info metrics."},
	{"include_scope_labels", &type_bool, .def = "true", .doc = "Add otel_scope_name/version labels."},
	{"include_target_info", &type_bool, .def = "true", .doc = "Include target_info metrics."},
	{"keep_identifying_resource_attributes", &type_bool, .def = "false",
	 .doc = "Keep service.* attributes on target_info."},
	{"resource_to_telemetry_conversion", &type_bool, .def = "false", .doc = "Resource attributes become labels."},
	{0},
};

static const struct block_schema blocks[] = {
	COMMON_OTEL_DEBUG_METRICS_BLOCK,
	{0},
};

static const struct export_schema exports[] = {
	{"input", &type_otel_metrics, .doc = "Where OTLP metrics to convert are sent."},
	{0},
};

const struct component_schema otelcol_exporter_prometheus_schema = {
	.name = "otelcol.exporter.prometheus",
	.doc = "Converts OTLP metrics to Prometheus samples.",
	.args = {args, blocks, check},
	.exports = exports,
	.runnable = true,
};

#define POOL_MAX 8 /* idle converters kept; more concurrent pushes make (and free) their own */

struct otelprom {
	struct component *c;
	pthread_rwlock_t lock; /* pushes read; update swaps opts and fl */
	struct otlp_prom_options opts;
	struct forward_list fl;
	pthread_mutex_t pool_lock;
	struct otlp_prom *pool[POOL_MAX];
	size_t n_pool;
};

static struct otlp_prom *take_converter(struct otelprom *e)
{
	struct otlp_prom *cv = NULL;
	pthread_mutex_lock(&e->pool_lock);
	if (e->n_pool)
		cv = e->pool[--e->n_pool];
	pthread_mutex_unlock(&e->pool_lock);
	if (!cv && otlp_prom_new(&cv))
		return NULL;
	return cv;
}

static void give_converter(struct otelprom *e, struct otlp_prom *cv)
{
	pthread_mutex_lock(&e->pool_lock);
	if (e->n_pool < POOL_MAX) {
		e->pool[e->n_pool++] = cv;
		cv = NULL;
	}
	pthread_mutex_unlock(&e->pool_lock);
	otlp_prom_free(cv);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct outcome {
	struct otlp_prom_stats st;
	uint64_t malformed, malformed_bytes, too_large, too_large_bytes;
};

/* Converts every metrics payload of b into out. */
static int convert_batch(struct otelprom *e, struct otlp_prom *cv, const struct otlp_prom_options *o,
			 const struct batch *b, struct batch *out, struct outcome *res)
{
	for (size_t i = 0; i < b->n_records; i++) {
		const struct record *r = &b->records[i];
		if (r->kind != RECORD_PAYLOAD || r->payload.kind != PAYLOAD_OTLP_METRICS)
			continue; /* the input's signal type keeps traces and logs away */
		int rc = otlp_prom_convert(cv, o, r->payload.data, r->payload.len, out, &res->st);
		if (rc == -EINVAL) {
			res->malformed++;
			res->malformed_bytes += r->payload.len;
			log_warn("otelcol.exporter.prometheus", "OTLP metrics payload does not decode, dropped",
				 "component=%s bytes=%u", component_id(e->c), r->payload.len);
		} else if (rc == -EFBIG) {
			res->too_large++;
			res->too_large_bytes += r->payload.len;
			log_warn("otelcol.exporter.prometheus", "OTLP metrics payload would decode too large, dropped",
				 "component=%s bytes=%u", component_id(e->c), r->payload.len);
		} else if (rc < 0) {
			return rc;
		}
	}
	return 0;
}

static void count_drops(struct otelprom *e, const struct outcome *res)
{
	for (int d = 0; d < OTLP_PROM_DROPS; d++)
		if (res->st.dropped[d])
			component_count_dropped(e->c, otlp_prom_drop_reason((enum otlp_prom_drop)d), res->st.dropped[d],
						0);
	if (res->malformed)
		component_count_dropped(e->c, "malformed", res->malformed, res->malformed_bytes);
	if (res->too_large)
		component_count_dropped(e->c, "too_large", res->too_large, res->too_large_bytes);
}

static int push(void *arg, struct batch *b, unsigned flags)
{
	struct otelprom *e = arg;
	struct otlp_prom *cv = take_converter(e);
	struct batch *out = batch_new();
	struct outcome res = {0};
	int rc = cv && out ? 0 : -ENOMEM;
	pthread_rwlock_rdlock(&e->lock);
	struct otlp_prom_options o = e->opts;
	o.now_ms = now_ms();
	if (rc == 0)
		rc = convert_batch(e, cv, &o, b, out, &res);
	if (rc == 0 && out->n_records)
		rc = forward_push(e->c, &e->fl, out, flags);
	pthread_rwlock_unlock(&e->lock);
	if (rc == 0)
		count_drops(e, &res);
	batch_free(out);
	if (cv)
		give_converter(e, cv);
	return rc;
}

/* Options and forward list from args into *o and *fl. */
static int build(const struct cfg_body *args, struct otlp_prom_options *o, struct forward_list *fl)
{
	otlp_prom_default_options(o);
	o->add_metric_suffixes = cfg_bool(args, "add_metric_suffixes", o->add_metric_suffixes);
	o->include_target_info = cfg_bool(args, "include_target_info", o->include_target_info);
	o->include_scope_info = cfg_bool(args, "include_scope_info", o->include_scope_info);
	o->include_scope_labels = cfg_bool(args, "include_scope_labels", o->include_scope_labels);
	o->keep_identifying_resource_attributes =
		cfg_bool(args, "keep_identifying_resource_attributes", o->keep_identifying_resource_attributes);
	o->resource_to_telemetry_conversion =
		cfg_bool(args, "resource_to_telemetry_conversion", o->resource_to_telemetry_conversion);
	o->with_metadata = cfg_bool(args, "honor_metadata", false);
	return forward_list_from(cfg_get(args, "forward_to"), fl);
}

static void destroy(void *state)
{
	struct otelprom *e = state;
	forward_list_free(&e->fl);
	for (size_t i = 0; i < e->n_pool; i++)
		otlp_prom_free(e->pool[i]);
	pthread_rwlock_destroy(&e->lock);
	pthread_mutex_destroy(&e->pool_lock);
	free(e);
}

static int create(struct component *c, const struct cfg_body *args, void **state)
{
	struct otelprom *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->c = c;
	pthread_rwlock_init(&e->lock, NULL);
	pthread_mutex_init(&e->pool_lock, NULL);
	int rc = build(args, &e->opts, &e->fl);
	if (rc < 0) {
		destroy(e);
		return rc;
	}
	*state = e;
	return component_export_receiver(c, "input", push, e);
}

static int update(void *state, const struct cfg_body *args)
{
	struct otelprom *e = state;
	struct otlp_prom_options o;
	struct forward_list fl = {0}, old;
	int rc = build(args, &o, &fl);
	if (rc < 0) {
		forward_list_free(&fl);
		return rc;
	}
	pthread_rwlock_wrlock(&e->lock);
	old = e->fl;
	e->fl = fl;
	e->opts = o;
	pthread_rwlock_unlock(&e->lock);
	forward_list_free(&old);
	return 0;
}

const struct component_ops otelcol_exporter_prometheus_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_exporter_prometheus_schema,
	.create = create,
	.update = update,
	.destroy = destroy,
};
