/*
 * writer — the WAL's one writer thread: group commit, segment rotation, retention, drop_oldest.
 *
 * A group is whatever was queued within max_commit_delay of its first append (or ~1 MiB, whichever
 * comes first). For it the writer: makes room (drop_oldest only), appends each stream's frames to that
 * stream's write buffer and then its active segment with one pwrite, fdatasyncs every touched segment
 * (fsync=group) and the stream directory when a segment was created, and commits ONE LMDB transaction
 * with the new high-water marks, the segment index, the source positions and the acked cursors. Only
 * after that commit are the new frames visible to readers and the appenders' callbacks called.
 *
 * The gather wait pays off only when appenders run concurrently. When SOLO_GROUPS groups in a row
 * each held a single append even though they waited (one source pushing, waiting for each commit
 * before its next append), the writer stops waiting and commits at once whenever an append is
 * queued (position-only requests still wait, to ride with the next append); appends that arrive
 * during a commit still form the next group by themselves. Every PROBE_EVERY-th group
 * waits again, and any group that finds several appends turns the wait back on.
 *
 * Acks alone (no data queued) are persisted at most every CURSOR_DELAY_NS: a busy sink acks every
 * request, and one synced LMDB transaction per ack was most of this thread's work. Cursors also ride
 * every data group, and wal_close persists them; a crash in between resends at most that much
 * (duplicates, never loss: a cursor only ever lags what the backend acknowledged).
 *
 * Failure never leaves a half state behind: the group's bytes are cut back (or, when even that fails,
 * the segment is abandoned at its committed size and a new one started — the index, not the file
 * length, says what is committed). ENOSPC (from a write or from LMDB) is "full", not an error: the
 * group is kept and retried once space appears (an ack, or drop_oldest). Other errors fail the group
 * and everything queued behind it (their sequence numbers are handed out again).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "wal/wal_int.h"

#define GATHER_BYTES (1u << 20)
#define GROUP_MAX_BYTES (8u << 20)
#define WBUF_FLUSH (4u << 20)
#define IDLE_WAKE_NS 100000000LL
#define CURSOR_DELAY_NS 50000000LL
#define SOLO_GROUPS	4
#define PROBE_EVERY	16

struct group {
	struct pending *head, *tail;
	uint64_t bytes;
	struct wal_stream **touched;
	size_t ntouched, touchcap;
	struct seg *retire;          /* segments to delete after the commit */
	struct wal_stream **retire_s;
	size_t nretire, retirecap;
	struct wal_stream **all; /* streams at the start of the commit (the array may grow meanwhile) */
	size_t nall, allcap;
	bool sync_due;
};

static void cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *m, int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += ts.tv_nsec;
	ts.tv_sec += ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	pthread_cond_timedwait(cv, m, &ts);
}

static int timed_sync(struct wal *w, int fd)
{
	int64_t t0 = wal_now_ns();
	int rc = w->io->fdatasync(w->io->ctx, fd);
	int64_t dt = wal_now_ns() - t0;
	pthread_mutex_lock(&w->lock);
	wal_histogram_add(&w->stats.fsync_latency, dt);
	if (w->opts.on_latency)
		w->opts.on_latency(w->opts.on_latency_arg, WAL_LATENCY_FSYNC, dt);
	w->stats.fsyncs++;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int touch(struct group *g, struct wal_stream *s)
{
	if (s->touched)
		return 0;
	if (g->ntouched == g->touchcap) {
		size_t cap = g->touchcap ? g->touchcap * 2 : 8;
		struct wal_stream **n = realloc(g->touched, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->touched = n;
		g->touchcap = cap;
	}
	g->touched[g->ntouched++] = s;
	s->touched = true;
	s->wlen = 0;
	s->g_first_new = SIZE_MAX;
	s->g_first_touched = s->nsegs;
	if (s->wfd >= 0 && !s->need_new_seg && s->nsegs) {
		struct seg *a = &s->segs[s->nsegs - 1];
		s->g_first_touched = s->nsegs - 1;
		a->p_last = a->last_seq;
		a->p_size = a->size;
		a->p_records = a->records;
		a->p_ts_min = a->ts_min;
		a->p_ts_max = a->ts_max;
	}
	return 0;
}

static int flush(struct wal *w, struct wal_stream *s)
{
	if (!s->wlen)
		return 0;
	int rc = fileio_write_full(w->io, s->wfd, s->wbuf, s->wlen, (off_t)s->wsize);
	if (rc == 0) {
		s->wsize += s->wlen;
		s->wlen = 0;
		s->unsynced = true;
	}
	return rc;
}

static int rotate(struct wal *w, struct wal_stream *s, uint64_t first_seq)
{
	int rc;
	if (s->wfd >= 0) {
		if ((rc = flush(w, s)) < 0)
			return rc;
		if (w->opts.fsync != WAL_FSYNC_NEVER && (rc = timed_sync(w, s->wfd)) < 0)
			return rc;
		w->io->close(w->io->ctx, s->wfd);
		s->wfd = -1;
	}
	char path[WAL_PATH_MAX];
	int fd = -EEXIST;
	for (int i = 0; i < 1000 && fd == -EEXIST; i++) {
		segment_path(path, sizeof(path), s->dir, ++s->last_segno);
		fd = w->io->open(w->io->ctx, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	}
	if (fd < 0)
		return fd;
	struct seg g = { .segno = s->last_segno, .first_seq = first_seq, .last_seq = first_seq - 1,
			 .p_last = first_seq - 1 };
	pthread_mutex_lock(&w->lock);
	rc = wal_seg_push(s, &g);
	if (rc == 0) {
		if (s->g_first_new == SIZE_MAX)
			s->g_first_new = s->nsegs - 1;
		w->stats.segments++;
	}
	pthread_mutex_unlock(&w->lock);
	if (rc < 0) {
		w->io->close(w->io->ctx, fd);
		w->io->unlink(w->io->ctx, path);
		return rc;
	}
	s->wfd = fd;
	s->wsegno = g.segno;
	s->wsize = 0;
	s->need_new_seg = false;
	s->created_seg = true;
	return 0;
}

static int stage(struct wal *w, struct group *g, struct wal_stream *s, const struct pending *p, uint64_t seq)
{
	uint64_t fsz = SEGMENT_HDR_SIZE + (uint64_t)p->payload_len;
	int rc = touch(g, s);
	if (rc < 0)
		return rc;
	if (s->wfd < 0 || s->need_new_seg || (s->wsize + s->wlen > 0 && s->wsize + s->wlen + fsz > w->opts.segment_size))
		if ((rc = rotate(w, s, seq)) < 0)
			return rc;
	if (s->wlen + fsz > s->wcap) {
		size_t cap = s->wcap ? s->wcap : 1 << 16;
		while (cap < s->wlen + fsz)
			cap *= 2;
		uint8_t *n = realloc(s->wbuf, cap);
		if (!n)
			return -ENOMEM;
		s->wbuf = n;
		s->wcap = cap;
	}
	segment_header_fill(s->wbuf + s->wlen, seq, p->codec, p->payload, p->payload_len);
	memcpy(s->wbuf + s->wlen + SEGMENT_HDR_SIZE, p->payload, p->payload_len);
	s->wlen += fsz;
	struct seg *a = &s->segs[s->nsegs - 1];
	if (a->p_size == 0 || p->ts_min < a->p_ts_min)
		a->p_ts_min = p->ts_min;
	if (a->p_size == 0 || p->ts_max > a->p_ts_max)
		a->p_ts_max = p->ts_max;
	a->p_last = seq;
	a->p_size += fsz;
	a->p_records += p->records;
	s->g_last = seq;
	if (s->wlen >= WBUF_FLUSH)
		return flush(w, s);
	return 0;
}

static int add_retire(struct group *g, struct wal_stream *s, const struct seg *seg)
{
	if (g->nretire == g->retirecap) {
		size_t cap = g->retirecap ? g->retirecap * 2 : 8;
		struct seg *n = realloc(g->retire, cap * sizeof(*n));
		struct wal_stream **ns = realloc(g->retire_s, cap * sizeof(*ns));
		if (n)
			g->retire = n;
		if (ns)
			g->retire_s = ns;
		if (!n || !ns)
			return -ENOMEM;
		g->retirecap = cap;
	}
	g->retire[g->nretire] = *seg;
	g->retire_s[g->nretire++] = s;
	return 0;
}

static bool is_active(const struct wal_stream *s, const struct seg *seg)
{
	return s->wfd >= 0 && !s->need_new_seg && seg->segno == s->wsegno;
}

/* drop_oldest: deletes oldest segments of the fullest stream until the group fits (and one more when
 * the disk itself is full). Lock held. */
static void make_room(struct wal *w, struct group *g, struct meta_batch *b, bool disk_full)
{
	uint8_t key[WAL_KEY_MAX + 16];
	while (disk_full || w->stats.disk_bytes + g->bytes > w->opts.max_size) {
		disk_full = false;
		struct wal_stream *victim = NULL;
		uint64_t most = 0;
		for (size_t i = 0; i < w->nstreams; i++) {
			struct wal_stream *s = w->streams[i];
			uint64_t bytes = 0;
			for (size_t j = 0; j < s->nsegs; j++)
				bytes += s->segs[j].size;
			if (!s->dropped && s->nsegs && bytes > most)
				most = bytes, victim = s;
		}
		if (!victim)
			return;
		struct seg *old = &victim->segs[0];
		if (is_active(victim, old)) {
			w->io->close(w->io->ctx, victim->wfd);
			victim->wfd = -1;
			victim->need_new_seg = true;
		}
		uint64_t frames = old->last_seq >= old->first_seq ? old->last_seq - old->first_seq + 1 : 0;
		w->stats.dropped_frames[WAL_DROP_FULL] += frames;
		w->stats.dropped_records[WAL_DROP_FULL] += old->records;
		victim->dropped_records[WAL_DROP_FULL] += old->records;
		if (old->last_seq > victim->cursor) {
			victim->cursor = old->last_seq;
			w->cursors_dirty = true;
		}
		log_warn("wal", "WAL full, dropped oldest segment", "stream=%s segment=%08u records=%llu", victim->name,
			 old->segno, (unsigned long long)old->records);
		char path[WAL_PATH_MAX];
		segment_path(path, sizeof(path), victim->dir, old->segno);
		w->io->unlink(w->io->ctx, path);
		meta_batch_del(b, key, recover_seg_key(victim->name, old->segno, key));
		w->stats.disk_bytes -= old->size < w->stats.disk_bytes ? old->size : w->stats.disk_bytes;
		w->stats.segments--;
		memmove(victim->segs, victim->segs + 1, (victim->nsegs - 1) * sizeof(*victim->segs));
		victim->nsegs--;
	}
}

/* Segments every frame of which is acked (by the cursor this commit persists). Lock held. */
static void plan_retention(struct wal *w, struct group *g, struct meta_batch *b)
{
	uint8_t key[WAL_KEY_MAX + 16];
	for (size_t i = 0; i < w->nstreams; i++) {
		struct wal_stream *s = w->streams[i];
		for (size_t j = 0; j < s->nsegs; j++) {
			struct seg *seg = &s->segs[j];
			if (seg->last_seq > s->c_snap || is_active(s, seg) || (s->touched && j >= s->g_first_touched))
				break;
			if (add_retire(g, s, seg) == 0)
				meta_batch_del(b, key, recover_seg_key(s->name, seg->segno, key));
		}
	}
}

static int build_meta(struct wal *w, struct group *g, struct meta_batch *b)
{
	uint8_t key[WAL_KEY_MAX + 16], val[52];
	int rc = 0;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->nstreams && rc == 0; i++) {
		struct wal_stream *s = w->streams[i];
		if (s->dropped || (!s->touched && s->c_snap == s->cursor_saved))
			goto segs;
		uint64_t head = s->head;
		if (s->touched)
			s->head = s->g_last; /* value for the record only; restored below */
		recover_stream_val(s, s->c_snap, val);
		s->head = head;
		rc = meta_batch_put(b, key, recover_stream_key(s->name, key), val, 20);
segs:
		for (size_t j = 0; j < s->nsegs && rc == 0; j++) {
			struct seg c = s->segs[j];
			bool in_group = s->touched && j >= s->g_first_touched;
			if (!in_group && !c.dirty)
				continue;
			if (in_group) {
				c.last_seq = c.p_last, c.size = c.p_size, c.records = c.p_records;
				c.ts_min = c.p_ts_min, c.ts_max = c.p_ts_max;
			}
			recover_seg_val(&c, val);
			rc = meta_batch_put(b, key, recover_seg_key(s->name, c.segno, key), val, 52);
		}
	}
	pthread_mutex_unlock(&w->lock);
	for (struct pending *p = g->head; p && rc == 0; p = p->next) {
		if (!p->source_key)
			continue;
		key[0] = 'p', key[1] = '/';
		size_t n = strlen(p->source_key);
		memcpy(key + 2, p->source_key, n);
		rc = meta_batch_put(b, key, n + 2, p->pos, p->pos_len);
	}
	return rc;
}

static int write_and_sync(struct wal *w, struct group *g)
{
	int rc = 0;
	for (struct pending *p = g->head; p && rc == 0; p = p->next)
		for (size_t i = 0; i < p->ntargets && rc == 0; i++)
			if (!p->targets[i].s->dropped)
				rc = stage(w, g, p->targets[i].s, p, p->targets[i].seq);
	for (size_t i = 0; i < g->ntouched && rc == 0; i++)
		rc = flush(w, g->touched[i]);
	if (rc < 0 || !g->sync_due)
		return rc;
	for (size_t i = 0; i < g->nall && rc == 0; i++) {
		struct wal_stream *s = g->all[i];
		if (s->unsynced && s->wfd >= 0 && (rc = timed_sync(w, s->wfd)) == 0)
			s->unsynced = false;
		if (rc == 0 && s->created_seg && (rc = w->io->fsync_dir(w->io->ctx, s->dir)) == 0)
			s->created_seg = false;
	}
	return rc;
}

/* Makes the group's frames visible and the retired segments go. */
static void publish(struct wal *w, struct group *g)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < g->ntouched; i++) {
		struct wal_stream *s = g->touched[i];
		for (size_t j = s->g_first_touched; j < s->nsegs; j++) {
			struct seg *c = &s->segs[j];
			w->stats.disk_bytes += c->p_size - c->size;
			c->last_seq = c->p_last, c->size = c->p_size, c->records = c->p_records;
			c->ts_min = c->p_ts_min, c->ts_max = c->p_ts_max;
		}
		s->head = s->g_last;
		s->touched = false;
	}
	for (size_t i = 0; i < w->nstreams; i++) {
		struct wal_stream *s = w->streams[i];
		s->cursor_saved = s->c_snap;
		for (size_t j = 0; j < s->nsegs; j++)
			s->segs[j].dirty = false;
	}
	for (size_t i = 0; i < g->nretire; i++) {
		struct wal_stream *s = g->retire_s[i];
		if (s->nsegs && s->segs[0].segno == g->retire[i].segno) {
			memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(*s->segs));
			s->nsegs--;
			w->stats.disk_bytes -= g->retire[i].size < w->stats.disk_bytes ? g->retire[i].size : w->stats.disk_bytes;
			w->stats.segments--;
		}
	}
	for (struct pending *p = g->head; p; p = p->next) {
		if (p->source_key)
			wal_source_set(w, p->source_key, p->pos, p->pos_len);
		for (size_t i = 0; i < p->ntargets; i++) {
			w->stats.appended_frames++;
			w->stats.appended_records += p->records;
			w->stats.appended_bytes += SEGMENT_HDR_SIZE + (uint64_t)p->payload_len;
			w->stats.appended_raw_bytes += p->raw_len;
		}
	}
	w->disk_full = false;
	pthread_cond_broadcast(&w->read_cv);
	pthread_cond_broadcast(&w->space_cv);
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < g->nretire; i++) {
		char path[WAL_PATH_MAX];
		segment_path(path, sizeof(path), g->retire_s[i]->dir, g->retire[i].segno);
		w->io->unlink(w->io->ctx, path);
	}
}

/* Undoes the group's writes: new segments go, the old active one is cut to its committed size and
 * abandoned (a fresh segment is started on the next write). */
static void rollback(struct wal *w, struct group *g)
{
	for (size_t i = 0; i < g->ntouched; i++) {
		struct wal_stream *s = g->touched[i];
		char path[WAL_PATH_MAX];
		if (s->wfd >= 0) {
			w->io->close(w->io->ctx, s->wfd);
			s->wfd = -1;
		}
		pthread_mutex_lock(&w->lock);
		while (s->g_first_new != SIZE_MAX && s->nsegs > s->g_first_new) {
			segment_path(path, sizeof(path), s->dir, s->segs[s->nsegs - 1].segno);
			w->io->unlink(w->io->ctx, path);
			s->nsegs--;
			w->stats.segments--;
		}
		struct seg old = s->g_first_touched < s->nsegs ? s->segs[s->g_first_touched] : (struct seg){ 0 };
		s->touched = false;
		pthread_mutex_unlock(&w->lock);
		if (old.segno) {
			segment_path(path, sizeof(path), s->dir, old.segno);
			int fd = w->io->open(w->io->ctx, path, O_WRONLY, 0);
			if (fd >= 0) {
				w->io->ftruncate(w->io->ctx, fd, (off_t)old.size);
				w->io->close(w->io->ctx, fd);
			}
		}
		s->wlen = 0;
		s->need_new_seg = true;
		s->unsynced = false;
		s->created_seg = false;
	}
	g->ntouched = 0;
}

static int commit_group(struct wal *w, struct group *g)
{
	struct meta_batch b;
	meta_batch_init(&b);
	int64_t t0 = wal_now_ns();
	pthread_mutex_lock(&w->lock);
	w->cursors_dirty = false;
	if (w->nstreams > g->allcap) {
		struct wal_stream **n = realloc(g->all, w->nstreams * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&w->lock);
			return -ENOMEM;
		}
		g->all = n;
		g->allcap = w->nstreams;
	}
	if (w->nstreams) /* a WAL with no stream yet can still commit source positions */
		memcpy(g->all, w->streams, w->nstreams * sizeof(*g->all));
	g->nall = w->nstreams;
	for (size_t i = 0; i < w->nstreams; i++) {
		struct wal_stream *s = w->streams[i];
		s->c_snap = s->cursor;
		if (s->force_rotate) {
			s->force_rotate = false;
			s->need_new_seg = true;
		}
	}
	if (w->opts.full_policy == WAL_FULL_DROP_OLDEST && g->head)
		make_room(w, g, &b, w->disk_full);
	pthread_mutex_unlock(&w->lock);
	int rc = write_and_sync(w, g);
	if (rc == 0) {
		pthread_mutex_lock(&w->lock);
		plan_retention(w, g, &b);
		pthread_mutex_unlock(&w->lock);
		rc = build_meta(w, g, &b);
	}
	if (rc == 0 && b.nops)
		rc = meta_commit(w->meta, &b);
	if (rc == 0 && g->sync_due && w->opts.fsync == WAL_FSYNC_INTERVAL)
		rc = meta_sync(w->meta);
	meta_batch_free(&b);
	if (rc < 0) {
		rollback(w, g);
		pthread_mutex_lock(&w->lock);
		for (size_t i = 0; i < g->nall; i++)
			if (g->all[i]->c_snap != g->all[i]->cursor_saved)
				w->cursors_dirty = true; /* try again with the next commit */
		pthread_mutex_unlock(&w->lock);
		return rc;
	}
	publish(w, g);
	pthread_mutex_lock(&w->lock);
	w->stats.groups++;
	w->stats.meta_map_grows = meta_map_grows(w->meta);
	int64_t commit_ns = wal_now_ns() - t0;
	wal_histogram_add(&w->stats.commit_latency, commit_ns);
	if (w->opts.on_latency)
		w->opts.on_latency(w->opts.on_latency_arg, WAL_LATENCY_COMMIT, commit_ns);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void complete(struct pending *p, int err)
{
	while (p) {
		struct pending *n = p->next;
		if (p->done)
			p->done(p->arg, err);
		free(p->payload);
		free(p->source_key);
		free(p->pos);
		free(p);
		p = n;
	}
}

/* Takes the next group off the queue; lock held. */
static void take_group(struct wal *w, struct group *g)
{
	g->head = g->tail = NULL;
	g->bytes = 0;
	while (w->qhead && (g->bytes == 0 || g->bytes + w->qhead->bytes <= GROUP_MAX_BYTES)) {
		struct pending *p = w->qhead;
		w->qhead = p->next;
		p->next = NULL;
		if (g->tail)
			g->tail->next = p;
		else
			g->head = p;
		g->tail = p;
		g->bytes += p->bytes;
	}
	if (!w->qhead)
		w->qtail = NULL;
	else
		w->first_enqueue_ns = wal_now_ns();
}

/* A failed group fails everything queued after it too: their seqs follow the failed ones. Lock held;
 * returns the list to complete outside the lock. */
static struct pending *fail_all(struct wal *w, struct group *g)
{
	if (g->tail)
		g->tail->next = w->qhead;
	else
		g->head = w->qhead;
	w->qhead = w->qtail = NULL;
	w->queued_bytes = 0;
	for (size_t i = 0; i < w->nstreams; i++)
		w->streams[i]->next_seq = w->streams[i]->head + 1;
	pthread_cond_broadcast(&w->space_cv);
	struct pending *all = g->head;
	g->head = g->tail = NULL;
	g->bytes = 0;
	return all;
}

/* Whether the idle writer must commit now; *wait_ns: how long it may sleep otherwise. */
static bool housekeeping_due(struct wal *w, int64_t last_sync, int64_t last_commit, int64_t *wait_ns)
{
	*wait_ns = IDLE_WAKE_NS;
	if (w->cursors_dirty) {
		int64_t left = last_commit + CURSOR_DELAY_NS - wal_now_ns();
		if (w->closing || left <= 0)
			return true;
		*wait_ns = left;
	}
	for (size_t i = 0; i < w->nstreams; i++)
		if (w->streams[i]->force_rotate)
			return true;
	if (w->opts.fsync != WAL_FSYNC_INTERVAL)
		return false;
	for (size_t i = 0; i < w->nstreams; i++)
		if (w->streams[i]->unsynced)
			return wal_now_ns() - last_sync >= (int64_t)w->opts.fsync_interval_ms * 1000000;
	return false;
}

/* Appends (not position-only requests) in the group just taken. */
static size_t group_appends(const struct group *g)
{
	size_t n = 0;
	for (const struct pending *p = g->head; p; p = p->next)
		n += p->ntargets > 0;
	return n;
}

static bool append_queued(const struct wal *w)
{
	for (const struct pending *p = w->qhead; p; p = p->next)
		if (p->ntargets)
			return true;
	return false;
}

static void gather(struct wal *w)
{
	int64_t deadline = w->first_enqueue_ns + (int64_t)w->opts.max_commit_delay_us * 1000;
	while (!w->closing && w->queued_bytes < GATHER_BYTES) {
		int64_t left = deadline - wal_now_ns();
		if (left <= 0)
			break;
		cond_wait_ns(&w->writer_cv, &w->lock, left);
	}
}

void *writer_main(void *arg)
{
	struct wal *w = arg;
	struct group g = { 0 };
	int64_t last_sync = wal_now_ns(), last_commit = 0;
	bool retrying = false;
	unsigned solo = 0, groups = 0; /* groups in a row that held one append; groups taken */
	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (!retrying && !w->qhead) {
			int64_t wait_ns;
			bool due = housekeeping_due(w, last_sync, last_commit, &wait_ns);
			if (!due && w->closing)
				break;
			if (!due) {
				cond_wait_ns(&w->writer_cv, &w->lock, wait_ns);
				continue;
			}
		} else if (!retrying) {
			if (solo < SOLO_GROUPS || !append_queued(w) || ++groups % PROBE_EVERY == 0)
				gather(w);
			take_group(w, &g);
			solo = group_appends(&g) > 1 ? 0 : solo + (solo < SOLO_GROUPS);
		}
		g.sync_due = w->opts.fsync == WAL_FSYNC_GROUP ||
			     (w->opts.fsync == WAL_FSYNC_INTERVAL &&
			      wal_now_ns() - last_sync >= (int64_t)w->opts.fsync_interval_ms * 1000000);
		w->writer_busy = true;
		pthread_mutex_unlock(&w->lock);
		int rc = commit_group(w, &g);
		pthread_mutex_lock(&w->lock);
		w->writer_busy = false;
		pthread_cond_broadcast(&w->space_cv);
		if (rc == 0) {
			last_commit = wal_now_ns();
			if (g.sync_due)
				last_sync = last_commit;
			retrying = false;
			w->queued_bytes -= g.bytes < w->queued_bytes ? g.bytes : w->queued_bytes;
			struct pending *done = g.head;
			g.head = g.tail = NULL;
			g.bytes = 0;
			g.nretire = 0;
			g.ntouched = 0;
			pthread_mutex_unlock(&w->lock);
			complete(done, 0);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		g.nretire = 0;
		if (rc == -ENOSPC && !w->closing) {
			if (!w->disk_full)
				log_warn("wal", "disk full: appends wait until space is freed", "dir=%s", w->dir);
			w->disk_full = true;
			w->stats.disk_full_events++;
			retrying = g.head != NULL;
			cond_wait_ns(&w->writer_cv, &w->lock, IDLE_WAKE_NS);
			continue;
		}
		if (rc != -ENOSPC) {
			w->stats.io_errors++;
			log_error("wal", "WAL write failed; batches rejected", "err=%d", rc);
		}
		retrying = false;
		struct pending *failed = fail_all(w, &g);
		pthread_mutex_unlock(&w->lock);
		complete(failed, rc == -ENOSPC ? -ECANCELED : rc);
		pthread_mutex_lock(&w->lock);
		if (w->closing && !w->qhead)
			break; /* cursors that could not be saved are resent after restart: duplicates only */
		cond_wait_ns(&w->writer_cv, &w->lock, 10000000); /* do not spin on a dead disk */
	}
	pthread_mutex_unlock(&w->lock);
	free(g.touched);
	free(g.retire);
	free(g.retire_s);
	free(g.all);
	return NULL;
}

void writer_close_files(struct wal *w)
{
	for (size_t i = 0; i < w->nstreams; i++) {
		struct wal_stream *s = w->streams[i];
		if (s->wfd >= 0) {
			if (w->opts.fsync != WAL_FSYNC_NEVER && s->unsynced)
				w->io->fdatasync(w->io->ctx, s->wfd);
			w->io->close(w->io->ctx, s->wfd);
			s->wfd = -1;
		}
	}
	if (w->meta && w->opts.fsync != WAL_FSYNC_NEVER)
		meta_sync(w->meta);
}
