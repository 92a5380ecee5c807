/*
 * tail_source — worker thread, batching, push and positions around the tailer (see tail_source.h).
 *
 * Decisions:
 * - One worker thread per component drives the tailer; the component's lock is held while it reads,
 *   so an update (adding or removing files) waits at most one read turn.
 * - A batch is handed to the pusher when it holds BATCH_RECORDS records, BATCH_BYTES bytes or
 *   BATCH_SETS label sets, when the tailer has nothing more to read, or when the pusher is idle. So
 *   while one batch waits for its group commit the next grows (up to full): the batch size adapts to
 *   the WAL's latency instead of paying one commit per few thousand lines. The label-set cap keeps a
 *   batch's interning tables (and every copy downstream: WAL entry, loki.write's request) the same
 *   size with 5,000 files as with 50. Push with PUSH_NONBLOCK; any refusal pauses and retries the
 *   same batch (the file offsets already moved past it, so dropping it would lose lines).
 * - Each file's label sets are interned into the batch once: a small memo maps the caller's set
 *   (stable per file) to the batch's copy, so a line costs a pointer compare instead of a full
 *   labels_equal. The memo is cleared whenever the batch is handed over or a file is let go.
 * - After a push returned 0 the offset of every file in the batch is committed as a WAL source
 *   position (pipelined: the worker does not wait for the group commit; a crash before it resends).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "sources/tail_source.h"
#include "wal/wal.h"

#define BATCH_RECORDS 16384
#define BATCH_BYTES   (3u << 19)
#define BATCH_SETS    256
#define MEMO_SIZE     64 /* direct-mapped by the caller's label array address */
#define READ_BUDGET   (4u << 20)
#define RECENT_MAX    1024 /* positions of files recently let go, newer than what the WAL may hold */

/* A dropped file's last read position: a file re-added soon after (kubelet rotation seen as delete
 * then create) must not be resumed from an older committed position and re-send lines. */
struct recent {
	char *key;
	uint8_t pos[TAILER_POS_MAX];
	size_t len;
};

static const char *const error_names[TAIL_ERR_N] = {"cri", "docker", "line_too_long", "partial_too_long"};

/* A caller's label set (its array address, hash and size) and its interned copy in ts->b. */
struct set_memo {
	const struct label *in;
	uint64_t hash;
	uint32_t n;
	struct labels out;
};

struct pos_entry {
	char *key;
	uint8_t pos[TAILER_POS_MAX];
	size_t len;
};

/* A batch handed to the pusher with the positions it makes durable. */
struct handoff {
	struct batch *b;
	struct pos_entry *pos;
	size_t n, cap;
};

static void drop_positions(struct handoff *h);

struct tail_source {
	struct component *c;
	struct tail_source_cfg cfg;
	struct tailer *t;
	struct wal *wal;
	pthread_mutex_t lock;
	int waiters; /* threads waiting in tail_source_lock */
	/* the pusher thread: one batch in flight while the worker fills the next */
	pthread_mutex_t push_lock, fl_lock; /* fl_lock: fl, replaced by updates while the pusher pushes */
	pthread_cond_t push_cond;
	pthread_t push_thread;
	bool pusher_running, pusher_stop, busy;
	struct handoff inflight;
	pthread_t thread;
	bool running, stopping;
	struct forward_list fl;
	struct batch *b;
	struct set_memo memo[MEMO_SIZE]; /* valid for ts->b only */
	struct tail_file *touched;
	struct tail_file *all; /* every file, for destroy */
	char *alive_key;       /* "<component id>:alive": when positions were last committed */
	int64_t last_alive_ns, alive_committed_ns;
	struct recent recent[RECENT_MAX];
	size_t recent_next;
	/* metrics */
	struct metric_family *fam[7];
	struct metric_counter *bytes, *lines, *positions, *errors[TAIL_ERR_N];
	struct tailer_stats snap; /* copied under lock for the gauges */
	uint64_t last_bytes;
};

static double snap_files(void *arg)
{
	struct tail_source *ts = arg;
	return (double)__atomic_load_n(&ts->snap.files, __ATOMIC_RELAXED);
}

static double snap_lag_bytes(void *arg)
{
	struct tail_source *ts = arg;
	return (double)__atomic_load_n(&ts->snap.lag_bytes, __ATOMIC_RELAXED);
}

static double snap_lag_seconds(void *arg)
{
	struct tail_source *ts = arg;
	double v;
	__atomic_load(&ts->snap.lag_seconds, &v, __ATOMIC_RELAXED);
	return v;
}

static void metrics_init(struct tail_source *ts)
{
	struct metrics_registry *reg = component_metrics(ts->c);
	if (!reg)
		return;
	const char *p = ts->cfg.metrics_prefix, *id = component_id(ts->c);
	char n[7][128];
	static const char *const suffix[7] = {"files_tailed",	   "read_bytes_total", "lines_total",
					      "lag_bytes",	   "lag_seconds",      "positions_committed_total",
					      "parse_errors_total"};
	for (int i = 0; i < 7; i++)
		snprintf(n[i], sizeof(n[i]), "solder_%s_%s", p, suffix[i]);
	ts->fam[0] = metrics_gauge_family(reg, n[0], "Files being tailed.", "component_id", METRICS_END);
	ts->fam[1] = metrics_counter_family(reg, n[1], "Bytes read from files.", "component_id", METRICS_END);
	ts->fam[2] = metrics_counter_family(reg, n[2], "Log lines read.", "component_id", METRICS_END);
	ts->fam[3] = metrics_gauge_family(reg, n[3], "Bytes written to files but not read yet.", "component_id",
					  METRICS_END);
	ts->fam[4] =
		metrics_gauge_family(reg, n[4], "Age of the oldest write not read yet.", "component_id", METRICS_END);
	ts->fam[5] = metrics_counter_family(reg, n[5], "Source positions committed to the WAL.", "component_id",
					    METRICS_END);
	ts->fam[6] = metrics_counter_family(reg, n[6], "Lines that could not be parsed as expected, by reason.",
					    "component_id", "reason", METRICS_END);
	metrics_callback_child(ts->fam[0], snap_files, ts, id);
	metrics_callback_child(ts->fam[3], snap_lag_bytes, ts, id);
	metrics_callback_child(ts->fam[4], snap_lag_seconds, ts, id);
	ts->bytes = metrics_counter_child(ts->fam[1], id);
	ts->lines = metrics_counter_child(ts->fam[2], id);
	ts->positions = metrics_counter_child(ts->fam[5], id);
	for (int i = 0; i < TAIL_ERR_N; i++)
		ts->errors[i] = metrics_counter_child(ts->fam[6], id, error_names[i]);
}

static void metrics_fini(struct tail_source *ts)
{
	for (int i = 0; i < 7; i++)
		if (ts->fam[i]) {
			metrics_family_remove_by_label(ts->fam[i], "component_id", component_id(ts->c));
			metrics_family_unregister(ts->fam[i]);
		}
}

static void on_line(void *arg, struct tailer_file *tf, void *user, const char *line, size_t len, uint64_t end,
		    bool split)
{
	struct tail_source *ts = arg;
	if (split)
		metric_counter_inc(ts->errors[TAIL_ERR_SPLIT]);
	ts->cfg.line(ts->cfg.arg, user, line, len, end, split);
}

static void remember(struct tail_source *ts, struct tail_file *f)
{
	struct recent *r = NULL;
	for (size_t i = 0; i < RECENT_MAX && !r; i++)
		if (ts->recent[i].key && strcmp(ts->recent[i].key, f->key) == 0)
			r = &ts->recent[i];
	if (!r) {
		r = &ts->recent[ts->recent_next];
		ts->recent_next = (ts->recent_next + 1) % RECENT_MAX;
		free(r->key);
		if (!(r->key = strdup(f->key)))
			return;
	}
	r->len = tailer_position(f->tf, tailer_file_offset(f->tf), r->pos);
}

static void forget(struct tail_source *ts, struct tail_file *f, bool tailer_removes);

static void on_gone(void *arg, struct tailer_file *tf, void *user)
{
	forget(arg, user, true); /* the tailer removes tf itself on return */
}

static void touch(struct tail_source *ts, struct tail_file *f, uint64_t commit_off);

/* Lines of the previous file are in the batch up to its end: what is committed now is the new file's. */
static void on_switch(void *arg, struct tailer_file *tf, void *user)
{
	struct tail_source *ts = arg;
	struct tail_file *f = user;
	touch(ts, f, 0);
	if (ts->cfg.switched)
		ts->cfg.switched(ts->cfg.arg, f);
}

static void on_dir_event(void *arg, const char *dir, const char *name, uint32_t mask)
{
	struct tail_source *ts = arg;
	if (ts->cfg.dir_event)
		ts->cfg.dir_event(ts->cfg.arg, dir, name, mask);
}

int tail_source_new(struct component *c, const struct tail_source_cfg *cfg, struct tail_source **out)
{
	struct tail_source *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	ts->c = c;
	ts->cfg = *cfg;
	ts->wal = component_wal(c);
	pthread_mutex_init(&ts->lock, NULL);
	pthread_mutex_init(&ts->push_lock, NULL);
	pthread_mutex_init(&ts->fl_lock, NULL);
	pthread_cond_init(&ts->push_cond, NULL);
	struct tailer_opts o = {.max_line = cfg->max_line,
				.encoding = cfg->encoding,
				.decompress_gz = cfg->decompress_gz,
				.poll_ns = cfg->poll_ns,
				.on_line = on_line,
				.on_gone = on_gone,
				.on_switch = on_switch,
				.on_dir_event = on_dir_event,
				.arg = ts};
	int rc = tailer_new(&o, &ts->t);
	if (rc < 0 || !(ts->b = batch_new()) || !(ts->inflight.b = batch_new())) {
		tail_source_free(ts);
		return rc < 0 ? rc : -ENOMEM;
	}
	metrics_init(ts);
	if (asprintf(&ts->alive_key, "%s:alive", component_id(c)) < 0)
		ts->alive_key = NULL;
	uint8_t buf[8];
	size_t len = sizeof(buf);
	if (ts->wal && ts->alive_key && wal_source_position(ts->wal, ts->alive_key, buf, &len) == 0 && len == 8)
		memcpy(&ts->last_alive_ns, buf, 8);
	*out = ts;
	return 0;
}

static void file_free(struct tail_file *f)
{
	free(f->key);
	arena_free(&f->arena);
	free(f);
}

void tail_source_free(struct tail_source *ts)
{
	if (!ts)
		return;
	tail_source_stop(ts);
	metrics_fini(ts);
	while (ts->all) {
		struct tail_file *f = ts->all;
		ts->all = f->lnext;
		if (ts->cfg.gone)
			ts->cfg.gone(ts->cfg.arg, f);
		file_free(f);
	}
	tailer_free(ts->t);
	free(ts->alive_key);
	for (size_t i = 0; i < RECENT_MAX; i++)
		free(ts->recent[i].key);
	batch_free(ts->b);
	batch_free(ts->inflight.b);
	drop_positions(&ts->inflight);
	free(ts->inflight.pos);
	pthread_mutex_destroy(&ts->push_lock);
	pthread_mutex_destroy(&ts->fl_lock);
	pthread_cond_destroy(&ts->push_cond);
	forward_list_free(&ts->fl);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

int tail_source_set_forward(struct tail_source *ts, const struct value *forward_to)
{
	struct forward_list fl = {0};
	int rc = forward_list_from(forward_to, &fl);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ts->fl_lock); /* the pusher may be using the old list */
	forward_list_free(&ts->fl);
	ts->fl = fl;
	pthread_mutex_unlock(&ts->fl_lock);
	return 0;
}

void tail_source_lock(struct tail_source *ts)
{
	__atomic_add_fetch(&ts->waiters, 1, __ATOMIC_RELAXED); /* the busy worker steps aside */
	pthread_mutex_lock(&ts->lock);
	__atomic_sub_fetch(&ts->waiters, 1, __ATOMIC_RELAXED);
}
void tail_source_unlock(struct tail_source *ts)
{
	pthread_mutex_unlock(&ts->lock);
}

static void noop_done(void *arg, int err) {}

/* Snapshots the positions of the files in the batch (their keys copied: a file may go meanwhile). */
static int snapshot_positions(struct tail_source *ts, struct handoff *h)
{
	h->n = 0;
	for (struct tail_file *f = ts->touched, *next; f; f = next) {
		next = f->next_touched;
		f->touched = false;
		f->next_touched = NULL;
		if (!ts->wal || !f->tf)
			continue;
		if (h->n == h->cap) {
			size_t cap = h->cap ? h->cap * 2 : 64;
			struct pos_entry *v = realloc(h->pos, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			h->pos = v;
			h->cap = cap;
		}
		struct pos_entry *e = &h->pos[h->n];
		if (!(e->key = strdup(f->key)))
			return -ENOMEM;
		e->len = tailer_position(f->tf, f->commit_off, e->pos);
		h->n++;
	}
	ts->touched = NULL;
	return 0;
}

static void commit_positions(struct tail_source *ts, struct handoff *h)
{
	for (size_t i = 0; i < h->n; i++) {
		if (wal_commit_position(ts->wal, h->pos[i].key, h->pos[i].pos, h->pos[i].len, noop_done, NULL) == 0)
			metric_counter_inc(ts->positions);
		free(h->pos[i].key);
	}
	h->n = 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
	if (ts->wal && ts->alive_key && ns - ts->alive_committed_ns >= 1000000000LL &&
	    wal_commit_position(ts->wal, ts->alive_key, &ns, sizeof(ns), noop_done, NULL) == 0)
		ts->alive_committed_ns = ns;
}

static void drop_positions(struct handoff *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->pos[i].key);
	h->n = 0;
}

int64_t tail_source_last_alive(struct tail_source *ts)
{
	return ts->last_alive_ns;
}

static int push_once(struct tail_source *ts, struct batch *b)
{
	pthread_mutex_lock(&ts->fl_lock);
	int rc = forward_push(ts->c, &ts->fl, b, PUSH_NONBLOCK);
	pthread_mutex_unlock(&ts->fl_lock);
	return rc;
}

/* Pushes h's batch until accepted (or stopping), then commits its positions. */
static void push_handoff(struct tail_source *ts, struct handoff *h)
{
	int rc = 0;
	bool warned = false;
	while (h->b->n_records && (rc = push_once(ts, h->b)) < 0) {
		if (__atomic_load_n(&ts->stopping, __ATOMIC_RELAXED))
			break; /* not durable: the positions stay behind it and it is read again */
		if (!warned && rc != -EAGAIN) {
			component_set_health(ts->c, HEALTH_UNHEALTHY, "push refused (%s); retrying", strerror(-rc));
			warned = true;
		}
		nanosleep(&(struct timespec){0, 20000000}, NULL);
	}
	if (warned && rc == 0)
		component_set_health(ts->c, HEALTH_HEALTHY, "tailing");
	if (rc == 0) {
		metric_counter_add(ts->lines, h->b->n_records);
		commit_positions(ts, h); /* lines held or dropped still move the position */
	} else {
		drop_positions(h);
	}
	batch_reset(h->b);
}

/* The pusher: while it waits for one batch to become durable the worker reads the next. */
static void *pusher(void *arg)
{
	struct tail_source *ts = arg;
	pthread_mutex_lock(&ts->push_lock);
	for (;;) {
		while (!ts->busy && !ts->pusher_stop)
			pthread_cond_wait(&ts->push_cond, &ts->push_lock);
		if (!ts->busy)
			break;
		pthread_mutex_unlock(&ts->push_lock); /* the worker fills the other batch meanwhile */
		push_handoff(ts, &ts->inflight);
		pthread_mutex_lock(&ts->push_lock);
		__atomic_store_n(&ts->busy, false, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&ts->push_cond);
	}
	pthread_mutex_unlock(&ts->push_lock);
	return NULL;
}

/* Hands the current batch and its positions to the pusher (waiting for the previous one first). */
int tail_source_flush(struct tail_source *ts)
{
	if (!ts->b->n_records && !ts->touched)
		return 0;
	pthread_mutex_lock(&ts->push_lock);
	while (ts->busy)
		pthread_cond_wait(&ts->push_cond, &ts->push_lock);
	struct batch *b = ts->inflight.b;
	ts->inflight.b = ts->b;
	ts->b = b;
	memset(ts->memo, 0, sizeof(ts->memo));
	int rc = snapshot_positions(ts, &ts->inflight);
	if (!ts->pusher_running) {
		push_handoff(ts, &ts->inflight); /* before start or after stop: inline */
	} else {
		__atomic_store_n(&ts->busy, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&ts->push_cond);
	}
	pthread_mutex_unlock(&ts->push_lock);
	return rc;
}

static void touch(struct tail_source *ts, struct tail_file *f, uint64_t commit_off)
{
	f->commit_off = commit_off;
	if (!f->touched) {
		f->touched = true;
		f->next_touched = ts->touched;
		ts->touched = f;
	}
}

static struct set_memo *memo_slot(struct tail_source *ts, const struct labels *in)
{
	return &ts->memo[((uintptr_t)in->v >> 4) & (MEMO_SIZE - 1)];
}

/* The batch's own copy of `in` when it was interned before, else `in` itself (interned as usual). */
static const struct labels *memo_get(struct tail_source *ts, const struct labels *in)
{
	if (!in || !in->n)
		return in;
	struct set_memo *m = memo_slot(ts, in);
	return m->in == in->v && m->hash == in->hash && m->n == in->n ? &m->out : in;
}

static void memo_put(struct tail_source *ts, const struct labels *in, const struct labels *out)
{
	if (in && in->n && in->v != out->v)
		*memo_slot(ts, in) = (struct set_memo){in->v, in->hash, in->n, *out};
}

int tail_source_emit(struct tail_source *ts, struct tail_file *f, const struct labels *labels, int64_t ts_ns,
		     const char *line, size_t len, const struct labels *metadata, uint64_t commit_off)
{
	const struct labels *ls = memo_get(ts, labels), *md = memo_get(ts, metadata);
	int rc = batch_add_log(ts->b, ls, ts_ns, line, len, md);
	if (rc < 0)
		return rc;
	const struct record *r = &ts->b->records[ts->b->n_records - 1];
	memo_put(ts, ls, &r->log.labels);
	memo_put(ts, md, &r->log.metadata);
	touch(ts, f, commit_off);
	if (ts->b->n_records >= BATCH_RECORDS || ts->b->bytes >= BATCH_BYTES || ts->b->n_sets >= BATCH_SETS)
		return tail_source_flush(ts);
	return 0;
}

void tail_source_advance(struct tail_source *ts, struct tail_file *f, uint64_t commit_off)
{
	touch(ts, f, commit_off);
}

void tail_source_parse_error(struct tail_source *ts, enum tail_parse_error reason)
{
	metric_counter_inc(ts->errors[reason]);
}

int tail_source_add(struct tail_source *ts, const char *path, const char *key, const struct labels *labels,
		    bool from_end, bool drop_when_gone, void *priv, struct tail_file **out)
{
	struct tail_file *f = calloc(1, sizeof(*f));
	if (!f || !(f->key = strdup(key))) {
		free(f);
		return -ENOMEM;
	}
	arena_init(&f->arena, 256);
	f->priv = priv;
	int rc = labels_copy(labels, &f->arena, &f->labels);
	uint8_t pos[TAILER_POS_MAX];
	size_t pos_len = sizeof(pos);
	bool have = false;
	for (size_t i = 0; i < RECENT_MAX && !have; i++)
		if (ts->recent[i].key && strcmp(ts->recent[i].key, key) == 0) {
			memcpy(pos, ts->recent[i].pos, ts->recent[i].len);
			pos_len = ts->recent[i].len;
			have = true;
		}
	if (!have)
		have = ts->wal && wal_source_position(ts->wal, key, pos, &pos_len) == 0;
	f->resumed = have;
	if (rc < 0 || (rc = tailer_add(ts->t, path, have ? pos : NULL, have ? pos_len : 0, from_end, drop_when_gone, f,
				       &f->tf)) < 0) {
		file_free(f);
		return rc;
	}
	f->lnext = ts->all;
	if (ts->all)
		ts->all->lprev = f;
	ts->all = f;
	if (out)
		*out = f;
	return 0;
}

struct tail_file *tail_source_find(struct tail_source *ts, const char *path)
{
	struct tailer_file *tf = tailer_find(ts->t, path);
	return tf ? tailer_file_user(tf) : NULL;
}

struct tail_file *tail_source_first(struct tail_source *ts)
{
	return ts->all;
}

/* Unlinks f from the touched list (its batch lines stay; only its position is not committed). */
static void untouch(struct tail_source *ts, struct tail_file *f)
{
	for (struct tail_file **pp = &ts->touched; *pp; pp = &(*pp)->next_touched)
		if (*pp == f) {
			*pp = f->next_touched;
			return;
		}
}

/* The owner's last word first (it may still emit a held partial line), then the push that makes
 * f's lines durable, then f's last position kept in memory, then f itself. */
static void forget(struct tail_source *ts, struct tail_file *f, bool tailer_removes)
{
	if (ts->cfg.gone)
		ts->cfg.gone(ts->cfg.arg, f);
	if (f->touched)
		tail_source_flush(ts); /* its position still counts: push before forgetting it */
	untouch(ts, f);
	memset(ts->memo, 0, sizeof(ts->memo)); /* its label arrays are freed below: no stale address */
	remember(ts, f);
	if (!tailer_removes)
		tailer_remove(ts->t, f->tf);
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		ts->all = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	file_free(f);
}

void tail_source_remove(struct tail_source *ts, struct tail_file *f)
{
	forget(ts, f, false);
}

int tail_source_watch_dir(struct tail_source *ts, const char *dir)
{
	return tailer_watch_dir(ts->t, dir);
}

int tail_source_rotated(struct tail_source *ts, struct tail_file *f, const char *rotated_path)
{
	return f->tf ? tailer_rotated(ts->t, f->tf, rotated_path) : 0;
}

static void publish_stats(struct tail_source *ts)
{
	struct tailer_stats st;
	tailer_stats(ts->t, &st);
	metric_counter_add(ts->bytes, st.bytes_read - ts->last_bytes);
	ts->last_bytes = st.bytes_read;
	__atomic_store_n(&ts->snap.files, st.files, __ATOMIC_RELAXED);
	__atomic_store_n(&ts->snap.lag_bytes, st.lag_bytes, __ATOMIC_RELAXED);
	__atomic_store(&ts->snap.lag_seconds, &st.lag_seconds, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	struct tail_source *ts = arg;
	pthread_mutex_lock(&ts->lock);
	int more = 1;
	while (!__atomic_load_n(&ts->stopping, __ATOMIC_RELAXED)) {
		if (!more) { /* idle: wait for inotify outside the lock so updates get in */
			pthread_mutex_unlock(&ts->lock);
			tailer_wait(ts->t, 100);
			pthread_mutex_lock(&ts->lock);
		} else if (__atomic_load_n(&ts->waiters, __ATOMIC_RELAXED)) {
			/* busy, and an update waits: mutexes are not fair, so let it in explicitly */
			pthread_mutex_unlock(&ts->lock);
			while (__atomic_load_n(&ts->waiters, __ATOMIC_RELAXED))
				sched_yield();
			pthread_mutex_lock(&ts->lock);
		}
		more = tailer_run(ts->t, 0, READ_BUDGET);
		if (!more || !__atomic_load_n(&ts->busy, __ATOMIC_RELAXED))
			tail_source_flush(ts); /* else the batch grows while the pusher waits on the WAL */
		publish_stats(ts);
	}
	tail_source_flush(ts);
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

/* Lets the pusher finish what is in flight, then ends it; later flushes push inline. */
static void stop_pusher(struct tail_source *ts)
{
	if (!ts->pusher_running)
		return;
	pthread_mutex_lock(&ts->push_lock);
	ts->pusher_stop = true;
	pthread_cond_broadcast(&ts->push_cond);
	pthread_mutex_unlock(&ts->push_lock);
	pthread_join(ts->push_thread, NULL);
	ts->pusher_running = false;
}

int tail_source_start(struct tail_source *ts)
{
	ts->pusher_stop = false;
	int rc = pthread_create(&ts->push_thread, NULL, pusher, ts);
	if (rc)
		return -rc;
	pthread_setname_np(ts->push_thread, "solder-push"); /* ps/top and the benches' per-thread CPU */
	ts->pusher_running = true;
	if ((rc = pthread_create(&ts->thread, NULL, worker, ts))) {
		stop_pusher(ts);
		return -rc;
	}
	pthread_setname_np(ts->thread, "solder-tail");
	ts->running = true;
	component_set_health(ts->c, HEALTH_HEALTHY, "tailing");
	return 0;
}

void tail_source_stop(struct tail_source *ts)
{
	__atomic_store_n(&ts->stopping, true, __ATOMIC_RELAXED);
	if (ts->running)
		pthread_join(ts->thread, NULL); /* its last flush is handed to the pusher */
	ts->running = false;
	stop_pusher(ts);
}
