/*
 * wal_sink — see wal_sink.h. One sender thread per lane; the only state shared between a lane and
 * pushers is the WAL itself, so a slow lane never blocks a push beyond the WAL's own backpressure.
 */
#include "pipeline/wal_sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "wal/wal.h"

struct lane {
	struct wal_sink *sink;
	char *stream_name;
	void *arg;
	struct wal_sink_options opts; /* defaults filled in */
	struct wal_stream *stream;
	pthread_t thread;
	bool running;
	int failures; /* consecutive */
};

struct wal_sink {
	struct component *c;
	struct wal *wal;
	const struct wal_sink_lane_ops *ops;
	struct wal_sink_options opts;
	struct lane *lanes;
	size_t nlanes;
	struct wal_stream **streams; /* for the fan-out append */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	int64_t deadline_ns; /* lanes give up after this once stopping */
	bool accepting;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void batch_time_range(const struct batch *b, int64_t *lo, int64_t *hi)
{
	*lo = INT64_MAX;
	*hi = INT64_MIN;
	for (size_t i = 0; i < b->n_records; i++) {
		const struct record *r = &b->records[i];
		int64_t t = r->kind == RECORD_LOG ? r->log.ts_ns : r->kind == RECORD_SAMPLE ? r->sample.ts_ms * 1000000LL : 0;
		if (r->kind == RECORD_PAYLOAD)
			continue;
		if (t < *lo)
			*lo = t;
		if (t > *hi)
			*hi = t;
	}
	if (*lo > *hi)
		*lo = *hi = 0;
}

int wal_sink_push(void *sink, struct batch *b, unsigned flags)
{
	struct wal_sink *s = sink;
	if (!s->accepting)
		return -ECANCELED;
	if (b->n_records == 0)
		return 0;
	struct batch_buf buf = { 0 };
	int rc = batch_encode(b, &buf);
	if (rc < 0)
		return rc;
	struct wal_append_req req = {
		.streams = s->streams, .nstreams = s->nlanes, .payload = buf.data, .len = buf.len,
		.meta = { .records = (uint32_t)b->n_records },
		.flags = (flags & PUSH_NONBLOCK) ? WAL_APPEND_NONBLOCK : 0,
	};
	batch_time_range(b, &req.meta.ts_min, &req.meta.ts_max);
	rc = wal_append_sync(s->wal, &req);
	free(buf.data);
	return rc;
}

/* Sleeps until `until_ns` unless the sink is stopping past its deadline. False: give up now. */
static bool lane_sleep(struct lane *l, int64_t until_ns)
{
	struct wal_sink *s = l->sink;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		int64_t now = mono_ns();
		if (s->stopping && now >= s->deadline_ns) {
			pthread_mutex_unlock(&s->lock);
			return false;
		}
		int64_t wake = until_ns;
		if (s->stopping && s->deadline_ns < wake)
			wake = s->deadline_ns;
		if (now >= wake)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (wake - now);
		ts.tv_sec += ns / 1000000000LL;
		ts.tv_nsec = ns % 1000000000LL;
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return true;
}

static bool lane_should_exit(struct lane *l, bool idle)
{
	struct wal_sink *s = l->sink;
	pthread_mutex_lock(&s->lock);
	/* Stopping: leave at once when there is nothing to send, else at the deadline. */
	bool out = s->stopping && (idle || mono_ns() >= s->deadline_ns);
	pthread_mutex_unlock(&s->lock);
	return out;
}

#define RETRY_AFTER_MAX_NS (15 * 60 * 1000000000LL)

static int64_t backoff_ns(const struct wal_sink_options *o, int failures, int64_t retry_after_ms)
{
	/* The server's Retry-After wins over max_backoff, as Prometheus honours it: it knows when it can take
	 * data again, and coming back sooner only earns another refusal. A ceiling keeps a bogus value from
	 * parking the lane for days. */
	if (retry_after_ms > 0) {
		int64_t ra = retry_after_ms * 1000000LL;
		return ra < RETRY_AFTER_MAX_NS ? ra : RETRY_AFTER_MAX_NS;
	}
	int64_t b = o->min_backoff_ns;
	for (int i = 1; i < failures && b < o->max_backoff_ns; i++)
		b *= 2;
	if (b > o->max_backoff_ns)
		b = o->max_backoff_ns;
	return b / 2 + (int64_t)((double)(b / 2) * ((double)rand() / RAND_MAX)); /* jitter in [b/2, b] */
}

static void note_failure(struct lane *l, const struct wal_sink_outcome *o)
{
	struct wal_sink *s = l->sink;
	l->failures++;
	char q[300];
	log_warn(component_id(s->c), "delivery failed, will retry", "stream=%s attempt=%d error=%s", l->stream_name,
		 l->failures, log_quote(q, sizeof(q), o->message));
	if (l->failures >= 3)
		component_set_health(s->c, HEALTH_UNHEALTHY, "%s: %d failed attempts, last: %s", l->stream_name, l->failures,
				     o->message);
}

/* Delivers `acc` until it is accepted or dropped (true) or the sink stops first (false). */
static bool deliver_until_done(struct lane *l, struct batch *acc)
{
	struct wal_sink *s = l->sink;
	for (int attempt = 1;; attempt++) {
		struct wal_sink_outcome o = { 0 };
		enum wal_sink_result r = s->ops->deliver(l->arg, acc, &o);
		if (r == WAL_SINK_OK) {
			if (l->failures >= 3)
				component_set_health(s->c, HEALTH_HEALTHY, "%s: delivering again", l->stream_name);
			l->failures = 0;
			component_count_out(s->c, acc->n_records, acc->bytes);
			return true;
		}
		if (r == WAL_SINK_DROP || (l->opts.max_retries > 0 && attempt > l->opts.max_retries)) {
			const char *reason = r == WAL_SINK_DROP && o.drop_reason ? o.drop_reason : "max_retries";
			component_count_dropped(s->c, reason, acc->n_records, acc->bytes);
			char q[300];
			log_warn(component_id(s->c), "batch dropped", "stream=%s reason=%s records=%zu error=%s",
				 l->stream_name, reason, acc->n_records, log_quote(q, sizeof(q), o.message));
			return true;
		}
		note_failure(l, &o);
		if (!lane_sleep(l, mono_ns() + backoff_ns(&l->opts, l->failures, o.retry_after_ms)))
			return false;
	}
}

static void *lane_thread(void *arg)
{
	struct lane *l = arg;
	struct wal_sink *s = l->sink;
	struct batch *acc = batch_new(), *entry = batch_new();
	uint64_t read_seq = wal_cursor(l->stream), acc_last = 0;
	int64_t acc_since = 0;
	for (;;) {
		struct wal_entry e;
		int64_t wait_ms = acc->n_records ? (acc_since + l->opts.max_wait_ns - mono_ns()) / 1000000 : 200;
		int rc = wal_read(l->stream, read_seq, &e, wait_ms < 0 ? 0 : (int)(wait_ms < 200 ? wait_ms : 200));
		if (rc == 0) {
			read_seq = e.seq;
			/* The first entry is decoded straight into acc: when entries are as large as a
			 * delivery (the usual case under load) nothing is copied or interned twice. */
			struct batch *dst = acc->n_records ? entry : acc;
			if (batch_decode_into(dst, e.payload, e.len) < 0) {
				component_count_dropped(s->c, "undecodable", e.meta.records, e.len);
				if (!acc->n_records)
					wal_ack(l->stream, e.seq);
				continue;
			}
			if (dst == acc)
				acc_since = mono_ns();
			else if (batch_append(acc, entry) < 0)
				log_warn(component_id(s->c), "cannot merge WAL entries", "stream=%s", l->stream_name);
			acc_last = e.seq;
		}
		bool full = acc->bytes >= l->opts.max_bytes;
		bool due = acc->n_records && (mono_ns() - acc_since >= l->opts.max_wait_ns || s->stopping);
		if (acc->n_records && (full || due || (rc != 0 && s->stopping))) {
			if (!deliver_until_done(l, acc))
				break;
			wal_ack(l->stream, acc_last);
			batch_reset(acc);
			continue;
		}
		if (lane_should_exit(l, rc != 0 && acc->n_records == 0))
			break;
	}
	batch_free(acc);
	batch_free(entry);
	return NULL;
}

static void options_defaults(struct wal_sink_options *o)
{
	if (!o->max_bytes)
		o->max_bytes = 1 << 20;
	if (!o->max_wait_ns)
		o->max_wait_ns = 1000000000LL;
	if (!o->min_backoff_ns)
		o->min_backoff_ns = 500000000LL;
	if (!o->max_backoff_ns)
		o->max_backoff_ns = 300000000000LL;
}

int wal_sink_new(struct component *c, const struct wal_sink_lane *lanes, size_t nlanes,
		 const struct wal_sink_lane_ops *ops, const struct wal_sink_options *opts, struct wal_sink **out)
{
	struct wal *wal = component_wal(c);
	if (!wal)
		return -ENODEV;
	struct wal_sink *s = calloc(1, sizeof(*s));
	s->c = c;
	s->wal = wal;
	s->ops = ops;
	s->opts = *opts;
	options_defaults(&s->opts);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->lanes = calloc(nlanes, sizeof(*s->lanes));
	s->streams = calloc(nlanes, sizeof(*s->streams));
	s->nlanes = nlanes;
	for (size_t i = 0; i < nlanes; i++) {
		struct lane *l = &s->lanes[i];
		l->sink = s;
		l->arg = lanes[i].arg;
		l->opts = lanes[i].opts ? *lanes[i].opts : s->opts;
		options_defaults(&l->opts);
		if (lanes[i].name && asprintf(&l->stream_name, "%s/%s", component_id(c), lanes[i].name) < 0)
			abort();
		if (!lanes[i].name)
			l->stream_name = strdup(component_id(c));
		int rc = wal_stream(wal, l->stream_name, &l->stream);
		if (rc < 0) {
			wal_sink_free(s);
			return rc;
		}
		s->streams[i] = l->stream;
		component_claim_stream(c, l->stream_name);
	}
	s->accepting = true;
	*out = s;
	return 0;
}

int wal_sink_start(struct wal_sink *s)
{
	for (size_t i = 0; i < s->nlanes; i++) {
		int rc = pthread_create(&s->lanes[i].thread, NULL, lane_thread, &s->lanes[i]);
		if (rc) {
			wal_sink_stop(s, 0);
			return -rc;
		}
		pthread_setname_np(s->lanes[i].thread, "wal-lane"); /* ps/top and the benches' per-thread CPU */
		s->lanes[i].running = true;
	}
	return 0;
}

static int push_nowhere(void *arg, struct batch *b, unsigned flags) { return 0; }

int wal_sink_export(struct component *c, const struct wal_sink_lane *lanes, size_t nlanes,
		    const struct wal_sink_lane_ops *ops, const struct wal_sink_options *opts, struct wal_sink **out)
{
	*out = NULL;
	if (!nlanes)
		return component_export_receiver(c, "receiver", push_nowhere, NULL);
	int rc = wal_sink_new(c, lanes, nlanes, ops, opts, out);
	if (rc < 0) {
		log_error(component_id(c), "cannot open the WAL streams", "error=%s", strerror(-rc));
		return rc;
	}
	return component_export_receiver(c, "receiver", wal_sink_push, *out);
}

int wal_sink_start_or_idle(struct component *c, struct wal_sink *s, const char *what)
{
	if (s)
		return wal_sink_start(s);
	component_set_health(c, HEALTH_HEALTHY, "no endpoint: %s are accepted and sent nowhere", what);
	return 0;
}

void wal_sink_stop(struct wal_sink *s, int64_t deadline_ns)
{
	if (!s)
		return;
	s->accepting = false;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	s->deadline_ns = deadline_ns;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->nlanes; i++) {
		if (s->lanes[i].running)
			pthread_join(s->lanes[i].thread, NULL);
		s->lanes[i].running = false;
	}
}

void wal_sink_free(struct wal_sink *s)
{
	if (!s)
		return;
	wal_sink_stop(s, 0);
	for (size_t i = 0; i < s->nlanes; i++)
		free(s->lanes[i].stream_name);
	free(s->lanes);
	free(s->streams);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	free(s);
}

/* ---- what the sinks with `endpoint` blocks share at create ---- */

/* FNV-1a: fixed here (not a hash the project may tune) because WAL stream names derive from it. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

const char *wal_sink_lane_name(const struct cfg_body *endpoint, size_t nendpoints, char *buf, size_t len)
{
	const char *name = cfg_string(endpoint, "name");
	if (name && *name) {
		snprintf(buf, len, "%s", name);
		return buf;
	}
	if (nendpoints == 1)
		return NULL;
	snprintf(buf, len, "url-%016llx", (unsigned long long)fnv1a(cfg_string(endpoint, "url")));
	return buf;
}

static int label_name_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	return labels_strcmp(x->name, x->name_len, y->name, y->name_len);
}

int wal_sink_external_labels(const struct cfg_body *args, struct label **out, uint32_t *n)
{
	const struct value *m = cfg_get(args, "external_labels");
	size_t cap = m && m->kind == VAL_OBJECT ? m->object.n : 0;
	*n = 0;
	if (!(*out = calloc(cap ? cap : 1, sizeof(**out))))
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++) {
		const struct value_field *f = &m->object.fields[i];
		if (f->value.kind != VAL_STRING || !f->value.str.len)
			continue;
		struct label *l = &(*out)[(*n)++];
		l->name = strdup(f->key);
		l->value = strndup(f->value.str.s, f->value.str.len);
		if (!l->name || !l->value)
			return -ENOMEM;
		l->name_len = (uint32_t)strlen(f->key);
		l->value_len = (uint32_t)f->value.str.len;
	}
	qsort(*out, *n, sizeof(**out), label_name_cmp);
	return 0;
}
