/*
 * wal — the public face of the WAL: open/close, streams, appends, reads, acks, stats (design in wal.h).
 *
 * Appenders compress in their own thread (zstd contexts are pooled), take the lock only to get their
 * sequence numbers and queue the frame, and leave all I/O to the writer thread (writer.c). That keeps
 * the expensive part parallel and the ordering trivially right: a stream's frames reach the file in
 * the order their seqs were handed out. Readers never wait on the writer except for new data; they
 * read committed bytes of segment files directly with their own descriptor.
 */
#include "wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/log.h"
#include "wal/wal_int.h"

#define QUEUE_MAX_BYTES (64u << 20)

const uint32_t wal_latency_bounds_us[WAL_LATENCY_BUCKETS - 1] = { 50,	100,   250,    500,    1000,   2500,  5000,
								  10000, 25000, 50000, 100000, 250000, 1000000 };

int64_t wal_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void wal_histogram_add(struct wal_histogram *h, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
	int i = 0;
	while (i < WAL_LATENCY_BUCKETS - 1 && us > wal_latency_bounds_us[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum_us += us;
}

/* Sink names become directory names: [A-Za-z0-9_-] and inner dots kept, everything else %XX. */
void wal_escape_name(const char *name, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; name[i] && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)name[i];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			    c == '-' || (c == '.' && i > 0);
		if (keep) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wal_unescape_name(const char *esc, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; esc[i]; i++) {
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		if (esc[i] == '%') {
			int hi = hexval(esc[i + 1]), lo = hi >= 0 ? hexval(esc[i + 2]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = esc[i];
		}
	}
	out[o] = 0;
	return o ? 0 : -EINVAL;
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= WAL_NAME_MAX;
}

int wal_seg_push(struct wal_stream *s, const struct seg *seg)
{
	if (s->nsegs == s->segcap) {
		size_t cap = s->segcap ? s->segcap * 2 : 16;
		struct seg *n = realloc(s->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->segcap = cap;
	}
	s->segs[s->nsegs++] = *seg;
	return 0;
}

static void stream_free(struct wal_stream *s)
{
	if (!s)
		return;
	if (s->rd_open) {
		segment_reader_free(&s->rd);
		s->wal->io->close(s->wal->io->ctx, s->rfd);
	}
	ZSTD_freeDCtx(s->dctx);
	free(s->out);
	free(s->wbuf);
	free(s->segs);
	free(s->name);
	free(s->dir);
	free(s);
}

/* Finds or creates the stream; caller holds the lock or runs before the writer starts. */
int wal_stream_get(struct wal *w, const char *name, bool create_dir, struct wal_stream **out)
{
	for (size_t i = 0; i < w->nstreams; i++) {
		if (strcmp(w->streams[i]->name, name) == 0) {
			*out = w->streams[i];
			return w->streams[i]->dropped ? -ENOENT : 0;
		}
	}
	if (!name_ok(name))
		return -EINVAL;
	if (w->nstreams == w->streamcap) {
		size_t cap = w->streamcap ? w->streamcap * 2 : 8;
		struct wal_stream **n = realloc(w->streams, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		w->streams = n;
		w->streamcap = cap;
	}
	struct wal_stream *s = calloc(1, sizeof(*s));
	char esc[3 * WAL_NAME_MAX + 1];
	wal_escape_name(name, esc, sizeof(esc));
	if (!s || !(s->name = strdup(name)) || asprintf(&s->dir, "%s/%s", w->streams_dir, esc) < 0) {
		if (s)
			s->dir = NULL;
		stream_free(s);
		return -ENOMEM;
	}
	s->wal = w;
	s->wfd = s->rfd = -1;
	s->need_new_seg = true;
	s->next_seq = 1;
	int rc = fileio_mkdir_p(w->io, s->dir);
	if (rc == 0 && create_dir)
		rc = w->io->fsync_dir(w->io->ctx, w->streams_dir);
	if (rc < 0) {
		stream_free(s);
		return rc;
	}
	w->streams[w->nstreams++] = s;
	*out = s;
	return 0;
}

void wal_source_set(struct wal *w, const char *key, const uint8_t *pos, size_t len)
{
	for (size_t i = 0; i < w->nsources; i++) {
		struct source_pos *p = &w->sources[i];
		if (strcmp(p->key, key) == 0) {
			uint8_t *np = malloc(len ? len : 1);
			if (!np)
				return;
			memcpy(np, pos, len);
			free(p->pos);
			p->pos = np;
			p->len = len;
			return;
		}
	}
	if (w->nsources == w->sourcecap) {
		size_t cap = w->sourcecap ? w->sourcecap * 2 : 8;
		struct source_pos *n = realloc(w->sources, cap * sizeof(*n));
		if (!n)
			return;
		w->sources = n;
		w->sourcecap = cap;
	}
	struct source_pos p = { .key = strdup(key), .pos = malloc(len ? len : 1), .len = len };
	if (!p.key || !p.pos) {
		free(p.key);
		free(p.pos);
		return;
	}
	memcpy(p.pos, pos, len);
	w->sources[w->nsources++] = p;
}

static void wal_free(struct wal *w)
{
	for (size_t i = 0; i < w->nstreams; i++)
		stream_free(w->streams[i]);
	for (size_t i = 0; i < w->nsources; i++) {
		free(w->sources[i].key);
		free(w->sources[i].pos);
	}
	for (struct cctx_slot *c = w->cctx_free, *n; c; c = n) {
		n = c->next;
		ZSTD_freeCCtx(c->cctx);
		free(c);
	}
	meta_close(w->meta);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w->streams);
	free(w->sources);
	free(w->dir);
	free(w->streams_dir);
	free(w->corrupt_dir);
	free(w->meta_path);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->writer_cv);
	pthread_cond_destroy(&w->space_cv);
	pthread_cond_destroy(&w->read_cv);
	pthread_cond_destroy(&w->done_cv);
	free(w);
}

static void apply_defaults(struct wal_options *o)
{
	if (!o->max_size)
		o->max_size = 1ull << 30;
	if (!o->segment_size)
		o->segment_size = 64ull << 20;
	if (!o->fsync_interval_ms)
		o->fsync_interval_ms = 1000;
	if (!o->max_commit_delay_us)
		o->max_commit_delay_us = 5000;
	if (!o->zstd_level)
		o->zstd_level = 1;
	if (!o->lock_wait_ms)
		o->lock_wait_ms = 10000;
}

/*
 * Two processes appending to one directory would interleave frames, so the directory is locked. A
 * kill -9 releases the lock with the process; a pod being replaced gets 10 s to let go.
 */
static int lock_dir(struct wal *w)
{
	char path[WAL_PATH_MAX];
	snprintf(path, sizeof(path), "%s/wal.lock", w->dir);
	w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->lock_fd < 0)
		return -errno;
	for (uint32_t waited = 0;; waited += 10) {
		if (flock(w->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= w->opts.lock_wait_ms)
			return -EBUSY;
		if (waited == 0)
			log_warn("wal", "WAL directory in use by another process, waiting", "dir=%s", w->dir);
		usleep(10000);
	}
}

int wal_open(const struct wal_options *opts, struct wal **out)
{
	if (!opts || !opts->dir || !*opts->dir)
		return -EINVAL;
	struct wal *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->opts = *opts;
	apply_defaults(&w->opts);
	w->io = opts->io ? opts->io : fileio_default();
	w->lock_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->writer_cv, &ca);
	pthread_cond_init(&w->space_cv, &ca);
	pthread_cond_init(&w->read_cv, &ca);
	pthread_cond_init(&w->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = -ENOMEM;
	if (!(w->dir = strdup(opts->dir)) || asprintf(&w->streams_dir, "%s/streams", w->dir) < 0 ||
	    asprintf(&w->corrupt_dir, "%s/corrupt", w->dir) < 0 || asprintf(&w->meta_path, "%s/meta.lmdb", w->dir) < 0)
		goto fail;
	w->opts.dir = w->dir;
	if ((rc = fileio_mkdir_p(w->io, w->dir)) < 0 || (rc = fileio_mkdir_p(w->io, w->streams_dir)) < 0 ||
	    (rc = fileio_mkdir_p(w->io, w->corrupt_dir)) < 0)
		goto fail;
	w->io->fsync_dir(w->io->ctx, w->dir);
	if ((rc = lock_dir(w)) < 0 || (rc = recover_run(w)) < 0)
		goto fail;
	for (size_t i = 0; i < w->nstreams; i++)
		for (size_t j = 0; j < w->streams[i]->nsegs; j++) {
			w->stats.disk_bytes += w->streams[i]->segs[j].size;
			w->stats.segments++;
		}
	if ((rc = -pthread_create(&w->writer, NULL, writer_main, w)) < 0)
		goto fail;
	pthread_setname_np(w->writer, "wal-writer"); /* ps/top and the benches' per-thread CPU */
	w->writer_started = true;
	*out = w;
	return 0;
fail:
	log_error("wal", "cannot open WAL directory", "dir=%s err=%d", opts->dir, rc);
	wal_free(w);
	return rc;
}

void wal_shutdown(struct wal *w)
{
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_broadcast(&w->writer_cv);
	pthread_cond_broadcast(&w->space_cv);
	pthread_cond_broadcast(&w->read_cv);
	pthread_mutex_unlock(&w->lock);
}

void wal_close(struct wal *w)
{
	if (!w)
		return;
	wal_shutdown(w);
	if (w->writer_started)
		pthread_join(w->writer, NULL);
	writer_close_files(w);
	wal_free(w);
}

int wal_stream(struct wal *w, const char *sink_name, struct wal_stream **out)
{
	if (!sink_name)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	int rc = wal_stream_get(w, sink_name, true, out);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

const char *wal_stream_name(const struct wal_stream *s)
{
	return s->name;
}

static void *cctx_get(struct wal *w)
{
	pthread_mutex_lock(&w->lock);
	struct cctx_slot *c = w->cctx_free;
	if (c)
		w->cctx_free = c->next;
	pthread_mutex_unlock(&w->lock);
	if (c) {
		void *cctx = c->cctx;
		free(c);
		return cctx;
	}
	return ZSTD_createCCtx();
}

static void cctx_put(struct wal *w, void *cctx)
{
	struct cctx_slot *c = malloc(sizeof(*c));
	if (!c) {
		ZSTD_freeCCtx(cctx);
		return;
	}
	c->cctx = cctx;
	pthread_mutex_lock(&w->lock);
	c->next = w->cctx_free;
	w->cctx_free = c;
	pthread_mutex_unlock(&w->lock);
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	free(p->payload);
	free(p->source_key);
	free(p->pos);
	free(p);
}

static int check_req(struct wal *w, const struct wal_append_req *req)
{
	/* No streams is allowed for a position alone (wal_commit_position): no payload then. */
	bool position_only = req && !req->nstreams && req->source_key && !req->len;
	if (!req || (!req->nstreams && !position_only) || (req->nstreams && !req->streams) ||
	    (!req->payload && req->len) || req->len > SEGMENT_MAX_RAW)
		return req && req->len > SEGMENT_MAX_RAW ? -E2BIG : -EINVAL;
	if (req->source_key && (strlen(req->source_key) == 0 || strlen(req->source_key) > WAL_KEY_MAX ||
				req->pos_len > WAL_POS_MAX || (!req->pos && req->pos_len)))
		return -EINVAL;
	for (size_t i = 0; i < req->nstreams; i++) {
		if (!req->streams[i] || req->streams[i]->wal != w)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (req->streams[j] == req->streams[i])
				return -EINVAL;
	}
	return 0;
}

static struct pending *pending_build(struct wal *w, const struct wal_append_req *req, int *err)
{
	struct pending *p = calloc(1, sizeof(*p) + req->nstreams * sizeof(p->targets[0]));
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	size_t plen = 0;
	int codec = 0;
	if (req->nstreams) { /* a position-only request has nothing to frame */
		void *cctx = cctx_get(w);
		codec = segment_payload_build(cctx, w->opts.zstd_level, req->payload, req->len, req->meta.records,
					      req->meta.ts_min, req->meta.ts_max, &p->payload, &plen);
		if (cctx)
			cctx_put(w, cctx);
		if (codec < 0) {
			*err = codec;
			free(p);
			return NULL;
		}
	}
	p->codec = (uint8_t)codec;
	p->payload_len = (uint32_t)plen;
	p->records = req->meta.records;
	p->raw_len = req->len;
	p->ts_min = req->meta.ts_min;
	p->ts_max = req->meta.ts_max;
	p->ntargets = req->nstreams;
	p->bytes = req->nstreams * (SEGMENT_HDR_SIZE + (uint64_t)plen);
	p->done = req->done;
	p->arg = req->arg;
	if (req->source_key) {
		p->source_key = strdup(req->source_key);
		p->pos = malloc(req->pos_len ? req->pos_len : 1);
		p->pos_len = req->pos_len;
		if (!p->source_key || !p->pos) {
			pending_free(p);
			*err = -ENOMEM;
			return NULL;
		}
		memcpy(p->pos, req->pos, req->pos_len);
	}
	return p;
}

/* True while this append must wait for space (caller holds the lock). */
static bool must_wait(struct wal *w, uint64_t bytes)
{
	if (w->qhead && w->queued_bytes + bytes > QUEUE_MAX_BYTES)
		return true; /* memory bound of the queue */
	if (w->opts.full_policy != WAL_FULL_BACKPRESSURE)
		return false;
	if (w->disk_full)
		return true;
	uint64_t used = w->stats.disk_bytes + w->queued_bytes;
	return used > 0 && used + bytes > w->opts.max_size;
}

static void timespec_in(struct timespec *ts, int64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += ts->tv_nsec;
	ts->tv_sec += ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

int wal_append(struct wal *w, const struct wal_append_req *req)
{
	int rc = check_req(w, req);
	if (rc < 0)
		return rc;
	struct pending *p = pending_build(w, req, &rc);
	if (!p)
		return rc;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < req->nstreams; i++)
		if (req->streams[i]->dropped) {
			rc = -ENOENT;
			goto fail;
		}
	while (!w->closing && must_wait(w, p->bytes)) {
		if (req->flags & WAL_APPEND_NONBLOCK) {
			rc = -EAGAIN;
			goto fail;
		}
		w->stats.full = true;
		struct timespec ts;
		timespec_in(&ts, 100000000);
		pthread_cond_timedwait(&w->space_cv, &w->lock, &ts);
	}
	if (w->closing) {
		rc = -ECANCELED;
		goto fail;
	}
	w->stats.full = false;
	for (size_t i = 0; i < req->nstreams; i++) {
		struct wal_stream *s = req->streams[i];
		p->targets[i] = (struct pending_target){ .s = s, .seq = s->next_seq++ };
		if (req->seqs)
			req->seqs[i] = p->targets[i].seq;
	}
	if (w->qtail)
		w->qtail->next = p;
	else
		w->qhead = p, w->first_enqueue_ns = wal_now_ns();
	w->qtail = p;
	w->queued_bytes += p->bytes;
	if (w->queued_bytes >= (1u << 20) || w->qhead == p)
		pthread_cond_signal(&w->writer_cv);
	pthread_mutex_unlock(&w->lock);
	return 0;
fail:
	pthread_mutex_unlock(&w->lock);
	pending_free(p);
	return rc;
}

struct sync_wait {
	struct wal *w;
	bool fired;
	int err;
};

static void sync_done(void *arg, int err)
{
	struct sync_wait *sw = arg;
	pthread_mutex_lock(&sw->w->lock);
	sw->fired = true;
	sw->err = err;
	pthread_cond_broadcast(&sw->w->done_cv);
	pthread_mutex_unlock(&sw->w->lock);
}

int wal_append_sync(struct wal *w, const struct wal_append_req *req)
{
	if (!req)
		return -EINVAL;
	struct sync_wait sw = { .w = w };
	struct wal_append_req r = *req;
	r.done = sync_done;
	r.arg = &sw;
	int rc = wal_append(w, &r);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&w->lock);
	while (!sw.fired)
		pthread_cond_wait(&w->done_cv, &w->lock);
	pthread_mutex_unlock(&w->lock);
	return sw.err;
}

int wal_commit_position(struct wal *w, const char *source_key, const void *pos, size_t pos_len,
			void (*done)(void *arg, int err), void *arg)
{
	struct wal_append_req req = { .source_key = source_key, .pos = pos, .pos_len = pos_len, .done = done, .arg = arg };
	return done ? wal_append(w, &req) : wal_append_sync(w, &req);
}

int wal_source_position(struct wal *w, const char *source_key, void *buf, size_t *len)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->nsources; i++) {
		struct source_pos *p = &w->sources[i];
		if (strcmp(p->key, source_key) != 0)
			continue;
		rc = *len < p->len ? -ENOBUFS : 0;
		if (rc == 0 && p->len)
			memcpy(buf, p->pos, p->len);
		*len = p->len;
		break;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void wal_stats(struct wal *w, struct wal_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	out->meta_map_grows = w->stats.meta_map_grows;
	pthread_mutex_unlock(&w->lock);
}

void wal_stream_stats(struct wal_stream *s, struct wal_stream_stats *out)
{
	struct wal *w = s->wal;
	pthread_mutex_lock(&w->lock);
	*out = (struct wal_stream_stats){ .head = s->head, .cursor = s->cursor, .segments = s->nsegs };
	out->backlog_frames = s->head > s->cursor ? s->head - s->cursor : 0;
	for (size_t i = 0; i < s->nsegs; i++) {
		const struct seg *g = &s->segs[i];
		if (g->last_seq <= s->cursor || g->last_seq < g->first_seq)
			continue;
		uint64_t frames = g->last_seq - g->first_seq + 1;
		uint64_t unacked = g->first_seq > s->cursor ? frames : g->last_seq - s->cursor;
		/* the segment the cursor is in counts pro rata: the index keeps no per-frame sizes */
		out->backlog_bytes += g->size / frames * unacked;
		out->backlog_records += g->records / frames * unacked;
		if (!out->oldest_ts || g->ts_min < out->oldest_ts)
			out->oldest_ts = g->ts_min;
	}
	pthread_mutex_unlock(&w->lock);
}

size_t wal_streams(struct wal *w, struct wal_stream **out, size_t cap)
{
	pthread_mutex_lock(&w->lock);
	size_t n = 0;
	for (size_t i = 0; i < w->nstreams; i++) {
		if (w->streams[i]->dropped)
			continue;
		if (n < cap)
			out[n] = w->streams[i];
		n++;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}

static bool kept(const char *name, const char *const *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] && strcmp(keep[i], name) == 0)
			return true;
	return false;
}

/* Deletes the stream's files and keys; lock held, writer idle. */
static int drop_stream(struct wal *w, struct wal_stream *s)
{
	struct meta_batch b;
	uint8_t key[WAL_KEY_MAX + 16];
	meta_batch_init(&b);
	int rc = meta_batch_del(&b, key, recover_stream_key(s->name, key));
	for (size_t i = 0; i < s->nsegs && rc == 0; i++)
		rc = meta_batch_del(&b, key, recover_seg_key(s->name, s->segs[i].segno, key));
	if (rc == 0)
		rc = meta_commit(w->meta, &b);
	meta_batch_free(&b);
	if (rc < 0)
		return rc;
	if (s->wfd >= 0) {
		w->io->close(w->io->ctx, s->wfd);
		s->wfd = -1;
	}
	uint64_t records = 0;
	for (size_t i = 0; i < s->nsegs; i++) {
		char path[WAL_PATH_MAX];
		segment_path(path, sizeof(path), s->dir, s->segs[i].segno);
		w->io->unlink(w->io->ctx, path);
		w->stats.disk_bytes -= s->segs[i].size < w->stats.disk_bytes ? s->segs[i].size : w->stats.disk_bytes;
		w->stats.segments--;
		records += s->segs[i].records;
	}
	rmdir(s->dir);
	log_info("wal", "stream of a removed sink dropped", "stream=%s segments=%zu records=%llu", s->name, s->nsegs,
		 (unsigned long long)records);
	s->nsegs = 0;
	s->dropped = true;
	return 0;
}

int wal_drop_streams_except(struct wal *w, const char *const *keep, size_t n)
{
	int dropped = 0, rc = 0;
	pthread_mutex_lock(&w->lock);
	while (w->qhead || w->writer_busy)
		pthread_cond_wait(&w->space_cv, &w->lock);
	for (size_t i = 0; i < w->nstreams && rc == 0; i++) {
		struct wal_stream *s = w->streams[i];
		if (s->dropped || kept(s->name, keep, n))
			continue;
		if ((rc = drop_stream(w, s)) == 0)
			dropped++;
	}
	pthread_cond_broadcast(&w->read_cv);
	pthread_cond_broadcast(&w->space_cv);
	pthread_mutex_unlock(&w->lock);
	return rc < 0 ? rc : dropped;
}
