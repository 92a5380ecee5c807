/*
 * otelcol.processor.memory_limiter — refuses data while the process uses too much memory, as the
 * Collector's memory_limiter does, so clients back off instead of the agent being OOM-killed.
 *
 * The measure is the process's resident set (lib/procstats), the figure the kernel's OOM killer and a
 * container's memory limit see (the Collector reads the Go heap; solder has no garbage collector).
 * Limits follow the Collector: the hard limit is `limit`, or `limit_percentage` of the memory
 * available (the cgroup's memory.max when set, else physical RAM); the spike is `spike_limit` /
 * `spike_limit_percentage`, 20% of the hard limit when unset; the soft limit is hard − spike.
 *
 * Sampling is lazy: a push more than `check_interval` after the last sample takes a new one (one
 * pusher samples, the others go on with the last verdict), so an idle agent does no work and there is
 * no thread to own. At or above the soft limit every push is refused with -EAGAIN — the receiver
 * answers UNAVAILABLE / 503 with a retry delay and the client keeps its data — and the refused items
 * are counted. Where the Collector forces a GC, we ask glibc to return free heap to the system
 * (malloc_trim) and sample again: at most once per `min_gc_interval_when_soft_limited` at or above the
 * soft limit and per `min_gc_interval_when_hard_limited` above the hard one. The max_gc_interval_*
 * arguments are accepted; they bound GC tuning solder does not have.
 *
 * Below the soft limit payloads go at once to the `output` list of their signal (routing as in
 * otelcol.processor.batch). Self-metrics: solder_memory_limiter_{rss_bytes, soft_limit_bytes,
 * hard_limit_bytes, refusing, heap_trims_total, refused_items_total{signal}} per component_id.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/otlp.h"
#include "lib/procstats.h"
#include "pipeline/component.h"
#include "pipeline/otel_output.h"

static void check_limits(const struct cfg_body *body, struct diag_list *diags)
{
	const struct cfg_attr *limit = common_attr_set(body, "limit");
	const struct cfg_attr *pct = common_attr_set(body, "limit_percentage");
	const struct cfg_attr *spike = common_attr_set(body, "spike_limit");
	const struct cfg_attr *spike_pct = common_attr_set(body, "spike_limit_percentage");
	int64_t p = cfg_int(body, "limit_percentage", 0), sp = cfg_int(body, "spike_limit_percentage", 0);
	if (limit && pct)
		diag_add(diags, DIAG_ERROR, body->src, pct->off,
			 "limit and limit_percentage are mutually exclusive; set one of them");
	else if (!limit && !pct)
		diag_add(diags, DIAG_ERROR, body->src, body->off, "either limit or limit_percentage must be set");
	else if (limit && !cfg_bytes(body, "limit", 0))
		diag_add(diags, DIAG_ERROR, body->src, limit->off, "limit must be greater than zero");
	else if (limit && spike && cfg_bytes(body, "spike_limit", 0) >= cfg_bytes(body, "limit", 0))
		diag_add(diags, DIAG_ERROR, body->src, spike->off, "spike_limit must be less than limit");
	if (pct && (p <= 0 || p > 100))
		diag_add(diags, DIAG_ERROR, body->src, pct->off, "limit_percentage must be between 1 and 100");
	if (spike_pct && (sp < 0 || sp >= 100 || (pct && p > 0 && sp >= p)))
		diag_add(diags, DIAG_ERROR, body->src, spike_pct->off,
			 "spike_limit_percentage must be at least 0 and less than limit_percentage");
}

static void check(const struct cfg_body *body, struct diag_list *diags)
{
	check_limits(body, diags);
	const struct cfg_attr *interval = common_attr_set(body, "check_interval");
	if (interval && cfg_duration_ns(body, "check_interval", 0) <= 0)
		diag_add(diags, DIAG_ERROR, body->src, interval->off, "check_interval must be greater than zero");
	const struct cfg_attr *soft = common_attr_set(body, "min_gc_interval_when_soft_limited");
	if (cfg_duration_ns(body, "min_gc_interval_when_soft_limited", 0) <
	    cfg_duration_ns(body, "min_gc_interval_when_hard_limited", 0))
		diag_add(diags, DIAG_ERROR, body->src, soft ? soft->off : body->off,
			 "min_gc_interval_when_soft_limited must be greater than or equal to "
			 "min_gc_interval_when_hard_limited");
}

static const struct arg_schema args[] = {
	{"check_interval", &type_duration, .required = true, .doc = "How often to check memory usage."},
	{"limit_percentage", &type_int, .def = "0", .doc = "Hard limit as a percentage of total memory."},
	{"limit", &type_bytes, .def = "0MiB", .doc = "Hard limit on memory (resident set)."},
	{"max_gc_interval_when_hard_limited", &type_duration, .def = "30s", .doc = "Accepted; no GC to tune."},
	{"max_gc_interval_when_soft_limited", &type_duration, .def = "30s", .doc = "Accepted; no GC to tune."},
	{"min_gc_interval_when_hard_limited", &type_duration, .def = "0s",
	 .doc = "Least time between heap trims above the hard limit."},
	{"min_gc_interval_when_soft_limited", &type_duration, .def = "10s",
	 .doc = "Least time between heap trims on crossing the soft limit."},
	{"spike_limit_percentage", &type_int, .def = "0", .doc = "Expected spike as a percentage of total memory."},
	{"spike_limit", &type_bytes, .doc = "Expected spike between measurements (default 20% of limit)."},
	{0},
};

static const struct block_schema blocks[] = {
	COMMON_OTEL_OUTPUT_BLOCK,
	COMMON_OTEL_DEBUG_METRICS_BLOCK,
	{0},
};

static const struct export_schema exports[] = {
	{"input", &type_otel_consumer, .doc = "Where telemetry to guard is sent."},
	{0},
};

const struct component_schema otelcol_processor_memory_limiter_schema = {
	.name = "otelcol.processor.memory_limiter",
	.doc = "Refuses data (the client retries) while the process's resident memory is above the soft limit.",
	.args = {args, blocks, check},
	.exports = exports,
	.runnable = true,
};

/* ---- memory ---- */

/* Memory this process may use: the cgroup's limit when there is one, else physical RAM. */
static uint64_t total_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t total = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
	static const char *const files[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		FILE *f = fopen(files[i], "re");
		unsigned long long v = 0;
		int n = f ? fscanf(f, "%llu", &v) : 0; /* "max" reads as no number: no limit */
		if (f)
			fclose(f);
		if (n == 1 && v > 0 && (!total || v < total))
			total = v;
	}
	return total;
}

struct limits {
	uint64_t hard, soft;
};

/* The Collector's limits from the arguments; -EINVAL when they leave no room (spike ≥ limit, 0 limit). */
static int limits_from(const struct cfg_body *args, struct limits *out)
{
	uint64_t hard, spike;
	int64_t pct = cfg_int(args, "limit_percentage", 0);
	if (!common_attr_set(args, "limit_percentage") || pct <= 0) {
		hard = cfg_bytes(args, "limit", 0);
		spike = cfg_bytes(args, "spike_limit", 0);
	} else {
		uint64_t total = total_memory();
		int64_t spike_pct = cfg_int(args, "spike_limit_percentage", 0);
		hard = total / 100 * (uint64_t)(pct > 100 ? 100 : pct);
		spike = total / 100 * (uint64_t)(spike_pct > 0 && spike_pct < 100 ? spike_pct : 0);
	}
	if (!spike)
		spike = hard / 5;
	if (!hard || spike >= hard)
		return -EINVAL;
	*out = (struct limits){hard, hard - spike};
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the component ---- */

struct memory_limiter {
	struct component *c;
	struct otel_output out;
	struct limits lim;
	int64_t interval_ns, trim_soft_ns, trim_hard_ns;

	pthread_mutex_t lock; /* one sampler at a time; pushers never wait on it */
	int64_t next_check_ns, last_trim_ns;
	bool refusing; /* read and written atomically */

	struct metric_family *fam[6];
	struct metric_gauge *rss, *refusing_g;
	struct metric_counter *trims, *refused[OTLP_SIGNALS];
};

static uint64_t read_rss(struct memory_limiter *m)
{
	struct procstats ps;
	uint64_t rss = procstats_read(&ps) == 0 ? ps.resident_bytes : 0;
	metric_gauge_set(m->rss, (double)rss);
	return rss;
}

static uint64_t trim(struct memory_limiter *m, int64_t now)
{
	malloc_trim(0);
	m->last_trim_ns = now;
	metric_counter_inc(m->trims);
	return read_rss(m);
}

/*
 * One sample and the verdict, under m->lock: the Collector's CheckMemLimits with malloc_trim for its
 * forced GC. Unlike Go's collector, glibc never hands free heap back on its own, so the trim is retried
 * at every sample at or above the soft limit (at most once per its interval), not only on crossing it:
 * otherwise RSS could stay above the limit after the memory was freed and the limiter refuse forever.
 */
static void sample(struct memory_limiter *m, int64_t now)
{
	const char *id = component_id(m->c);
	uint64_t rss = read_rss(m);
	if (!rss) {
		log_warn(id, "cannot read the resident set size; not limiting", NULL);
		return;
	}
	int64_t since = now - m->last_trim_ns;
	if (rss >= m->lim.hard ? since >= m->trim_hard_ns : rss >= m->lim.soft && since >= m->trim_soft_ns)
		rss = trim(m, now);
	bool was = __atomic_load_n(&m->refusing, __ATOMIC_RELAXED), must = rss >= m->lim.soft;
	if (was && !must)
		log_info(id, "memory usage back within limits; accepting data again", "rss=%" PRIu64, rss);
	if (!was && must)
		log_warn(id, "memory usage above the soft limit; refusing data", "rss=%" PRIu64 " soft_limit=%" PRIu64,
			 rss, m->lim.soft);
	__atomic_store_n(&m->refusing, must, __ATOMIC_RELAXED);
	metric_gauge_set(m->refusing_g, must);
}

/* Samples when the last sample is older than check_interval and no other pusher is sampling. */
static void maybe_sample(struct memory_limiter *m)
{
	int64_t now = mono_ns();
	if (now < __atomic_load_n(&m->next_check_ns, __ATOMIC_RELAXED) || pthread_mutex_trylock(&m->lock))
		return;
	if (now >= m->next_check_ns) {
		sample(m, now);
		__atomic_store_n(&m->next_check_ns, now + m->interval_ns, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&m->lock);
}

static void count_refused(struct memory_limiter *m, const struct batch *b)
{
	for (size_t i = 0; i < b->n_records; i++) {
		int s = otel_record_signal(&b->records[i]);
		uint64_t items = 0;
		if (s >= 0 && otlp_validate((enum otlp_signal)s, b->records[i].payload.data, b->records[i].payload.len,
					    &items, NULL, 0) == 0)
			metric_counter_add(m->refused[s], items);
	}
}

static int limiter_push(void *arg, struct batch *b, unsigned flags)
{
	struct memory_limiter *m = arg;
	maybe_sample(m);
	if (__atomic_load_n(&m->refusing, __ATOMIC_RELAXED)) {
		count_refused(m, b);
		return -EAGAIN;
	}
	return otel_output_route(m->c, &m->out, b, flags);
}

static void metrics_init(struct memory_limiter *m)
{
	struct metrics_registry *reg = component_metrics(m->c);
	const char *id = component_id(m->c);
	if (!reg)
		return;
	m->fam[0] = metrics_gauge_family(reg, "solder_memory_limiter_rss_bytes",
					 "Resident set size at the last sample.", "component_id", METRICS_END);
	m->fam[1] =
		metrics_gauge_family(reg, "solder_memory_limiter_soft_limit_bytes",
				     "Resident size at and above which data is refused.", "component_id", METRICS_END);
	m->fam[2] = metrics_gauge_family(reg, "solder_memory_limiter_hard_limit_bytes",
					 "Resident size above which the heap is trimmed.", "component_id", METRICS_END);
	m->fam[3] = metrics_gauge_family(reg, "solder_memory_limiter_refusing", "1 while data is refused.",
					 "component_id", METRICS_END);
	m->fam[4] =
		metrics_counter_family(reg, "solder_memory_limiter_heap_trims_total",
				       "malloc_trim calls made to get under the limits.", "component_id", METRICS_END);
	m->fam[5] = metrics_counter_family(reg, "solder_memory_limiter_refused_items_total",
					   "Spans, log records and data points refused (the client retries them).",
					   "component_id", "signal", METRICS_END);
	m->rss = metrics_gauge_child(m->fam[0], id);
	metric_gauge_set(metrics_gauge_child(m->fam[1], id), (double)m->lim.soft);
	metric_gauge_set(metrics_gauge_child(m->fam[2], id), (double)m->lim.hard);
	m->refusing_g = metrics_gauge_child(m->fam[3], id);
	m->trims = metrics_counter_child(m->fam[4], id);
	for (int s = 0; s < OTLP_SIGNALS; s++)
		m->refused[s] = metrics_counter_child(m->fam[5], id, otlp_signal_name((enum otlp_signal)s));
}

static void limiter_destroy(void *state)
{
	struct memory_limiter *m = state;
	for (int i = 0; i < 6; i++)
		if (m->fam[i]) {
			metrics_family_remove_by_label(m->fam[i], "component_id", component_id(m->c));
			metrics_family_unregister(m->fam[i]);
		}
	otel_output_free(&m->out);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static int limiter_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct memory_limiter *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->c = c;
	pthread_mutex_init(&m->lock, NULL);
	m->interval_ns = cfg_duration_ns(args, "check_interval", 1000000000LL);
	m->trim_soft_ns = cfg_duration_ns(args, "min_gc_interval_when_soft_limited", 10000000000LL);
	m->trim_hard_ns = cfg_duration_ns(args, "min_gc_interval_when_hard_limited", 0);
	m->last_trim_ns = INT64_MIN / 2; /* no trim yet: the first crossing may trim */
	int rc = limits_from(args, &m->lim);
	if (rc)
		log_error(component_id(c), "memory limits leave no room (spike_limit >= limit, or a zero limit)", NULL);
	if (!rc)
		rc = otel_output_from(args, &m->out);
	if (!rc) {
		metrics_init(m);
		rc = component_export_receiver(c, "input", limiter_push, m);
	}
	if (rc) {
		limiter_destroy(m);
		return rc;
	}
	log_info(component_id(c), "memory limits",
		 "hard_limit=%" PRIu64 " soft_limit=%" PRIu64 " check_interval_ms=%" PRId64, m->lim.hard, m->lim.soft,
		 m->interval_ns / 1000000);
	*state = m;
	return 0;
}

const struct component_ops otelcol_processor_memory_limiter_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_processor_memory_limiter_schema,
	.create = limiter_create,
	.destroy = limiter_destroy,
};
