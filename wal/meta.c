/*
 * meta — LMDB wrapper for meta.lmdb: CRC'd values, batched commits, map growth, forked probe.
 *
 * One unnamed database, MDB_NOSUBDIR (meta.lmdb plus meta.lmdb-lock). The WAL writes from one thread
 * at a time (its writer, or open/close) so no reader slots are held across calls, which is what makes
 * mdb_env_set_mapsize safe when the map is full. See meta.h for the contract.
 */
#include "wal/meta.h"

#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "wal/crc32c.h"

#define META_DEFAULT_MAP (8u << 20)
#define META_MAX_MAP ((size_t)1 << 34)
#define META_OP_PUT 1
#define META_OP_DEL 2

struct meta {
	MDB_env *env;
	MDB_dbi dbi;
	size_t map_size;
	uint64_t grows;
};

static int mdb_to_errno(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == ENOSPC || rc == MDB_MAP_FULL)
		return -ENOSPC;
	if (rc == ENOENT)
		return -ENOENT;
	if (rc == ENOMEM)
		return -ENOMEM;
	return rc > 0 ? -rc : -EIO;
}

static int env_open(const char *path, unsigned flags, size_t map_size, struct meta **out)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	MDB_txn *txn = NULL;
	int rc = mdb_env_create(&m->env);
	if (rc)
		goto fail;
	m->map_size = map_size ? map_size : META_DEFAULT_MAP;
	if ((rc = mdb_env_set_mapsize(m->env, m->map_size)) != 0)
		goto fail;
	if ((rc = mdb_env_open(m->env, path, flags | MDB_NOSUBDIR | MDB_NOTLS, 0644)) != 0)
		goto fail;
	/* A file written with a bigger map than ours: adopt its size. */
	MDB_envinfo info;
	if (mdb_env_info(m->env, &info) == 0 && info.me_mapsize > m->map_size)
		m->map_size = info.me_mapsize;
	if ((rc = mdb_txn_begin(m->env, NULL, flags & MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &m->dbi)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	if (m->env)
		mdb_env_close(m->env);
	free(m);
	return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ? -EBADMSG : mdb_to_errno(rc);
}

static int walk(struct meta *m, int (*fn)(void *, const void *, size_t, const void *, size_t), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return mdb_to_errno(rc);
	if ((rc = mdb_cursor_open(txn, m->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return mdb_to_errno(rc);
	}
	MDB_val k, v;
	int ret = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size < 4) {
			ret = -EBADMSG;
			break;
		}
		size_t n = v.mv_size - 4;
		uint32_t want;
		memcpy(&want, (const uint8_t *)v.mv_data + n, 4);
		if (crc32c_update(crc32c_update(0, k.mv_data, k.mv_size), v.mv_data, n) != want) {
			ret = -EBADMSG;
			break;
		}
		if (fn && (ret = fn(arg, k.mv_data, k.mv_size, v.mv_data, n)) != 0)
			break;
	}
	if (ret == 0 && rc != MDB_NOTFOUND)
		ret = rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? -EBADMSG : mdb_to_errno(rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return ret;
}

/* What the child checks: the file is as long as LMDB thinks, every entry walks and CRC-checks, and a
 * write transaction can allocate pages (which reads the free list the walk does not touch). */
static int probe_child(const char *path)
{
	struct stat st;
	struct meta *m;
	if (stat(path, &st) < 0 || st.st_size < 2 * 4096)
		return 1;
	if (env_open(path, MDB_NOLOCK, 0, &m) != 0)
		return 1;
	MDB_envinfo info;
	MDB_stat ms;
	if (mdb_env_info(m->env, &info) != 0 || mdb_env_stat(m->env, &ms) != 0 ||
	    (uint64_t)st.st_size < ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize)
		return 1;
	if (walk(m, NULL, NULL) != 0)
		return 1;
	MDB_txn *txn;
	if (mdb_txn_begin(m->env, NULL, 0, &txn) != 0)
		return 1;
	char big[2048] = { 0 };
	MDB_val k = { .mv_size = 6, .mv_data = "\xffprobe" }, v = { .mv_size = sizeof(big), .mv_data = big };
	int rc = mdb_put(txn, m->dbi, &k, &v, 0);
	mdb_txn_abort(txn); /* nothing reaches the file */
	return rc == 0 || rc == MDB_MAP_FULL ? 0 : 1;
}

int meta_probe(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -ENOENT;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* A crash must kill the child: handlers inherited from the parent (a test framework's, a crash
		 * logger's) would otherwise catch it and carry on in the parent's code. */
		static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
			signal(fatal[i], SIG_DFL);
		_exit(probe_child(path));
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBADMSG;
}

static void move_aside(const char *path, const char *corrupt_dir)
{
	char dst[4096], lock[4096];
	snprintf(dst, sizeof(dst), "%s/meta.lmdb.%lld", corrupt_dir, (long long)time(NULL));
	if (rename(path, dst) < 0)
		unlink(path);
	snprintf(lock, sizeof(lock), "%s-lock", path);
	unlink(lock);
	log_warn("wal", "meta.lmdb unreadable, moved aside; rebuilding from segments", "moved_to=%s", dst);
}

struct copy_ctx {
	MDB_txn *txn;
	MDB_dbi dbi;
};

/* walk() hands the value without its CRC trailer; the trailer follows it in the map, so copy both. */
static int copy_entry(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct copy_ctx *cx = arg;
	MDB_val k = { .mv_size = klen, .mv_data = (void *)key }, v = { .mv_size = vlen + 4, .mv_data = (void *)val };
	int rc = mdb_put(cx->txn, cx->dbi, &k, &v, MDB_APPEND);
	return rc ? mdb_to_errno(rc) : 0;
}

static void unlink_with_lock(const char *path)
{
	char lock[4096 + 8];
	snprintf(lock, sizeof(lock), "%s-lock", path);
	unlink(path);
	unlink(lock);
}

/*
 * Rebuilds a probed meta.lmdb as a fresh file from a walk of its entries, then renames it over the old
 * one. The probe proves that a read walk of the file is safe, but LMDB trusts page numbers and a write
 * descends pages no walk follows (free list, branch splits): a damaged page there could make recovery's
 * first write read outside the map. A file written here holds only pages LMDB has just built, so every
 * later write works on a sound tree. The file is small (stream cursors), so this costs milliseconds.
 */
static int rewrite_fresh(const char *path, size_t map_size)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.fresh", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink_with_lock(tmp);
	struct meta *src = NULL, *dst = NULL;
	MDB_txn *txn = NULL;
	int rc = env_open(path, MDB_RDONLY | MDB_NOLOCK, 0, &src);
	if (rc)
		return rc;
	if ((rc = env_open(tmp, 0, src->map_size > map_size ? src->map_size : map_size, &dst)) != 0)
		goto out;
	if ((rc = mdb_txn_begin(dst->env, NULL, 0, &txn)) != 0) {
		rc = mdb_to_errno(rc);
		goto out;
	}
	struct copy_ctx cx = { txn, dst->dbi };
	if ((rc = walk(src, copy_entry, &cx)) != 0) {
		rc = rc == -ENOSPC ? rc : -EBADMSG; /* the probe walked it: failing now means it is inconsistent */
		goto out;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc || (rc = mdb_env_sync(dst->env, 1)) != 0) {
		rc = mdb_to_errno(rc);
		goto out;
	}
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (txn)
		mdb_txn_abort(txn);
	meta_close(dst);
	meta_close(src);
	if (rc)
		unlink_with_lock(tmp);
	else {
		char lock[4096 + 16];
		snprintf(lock, sizeof(lock), "%s.fresh-lock", path);
		unlink(lock);
	}
	return rc;
}

int meta_open(const char *path, const char *corrupt_dir, bool nosync, size_t map_size, struct meta **out,
	      bool *rebuilt)
{
	unsigned flags = nosync ? MDB_NOSYNC : 0;
	*rebuilt = false;
	int rc = meta_probe(path);
	if (rc == 0 && (rc = rewrite_fresh(path, map_size)) != 0 && rc != -EBADMSG) {
		/* No room or no permission for a copy: keep the probed file rather than refuse to start. */
		log_warn("wal", "could not rewrite meta.lmdb; using it as it is", "error=%s", strerror(-rc));
		rc = 0;
	}
	if (rc == 0) {
		rc = env_open(path, flags, map_size, out);
		if (rc == 0 || (rc != -EBADMSG && rc != -EINVAL))
			return rc;
	}
	if (rc == -ENOENT)
		return env_open(path, flags, map_size, out);
	move_aside(path, corrupt_dir);
	*rebuilt = true;
	return env_open(path, flags, map_size, out);
}

int meta_open_readonly(const char *path, struct meta **out)
{
	int rc = meta_probe(path);
	if (rc < 0)
		return rc;
	return env_open(path, MDB_RDONLY | MDB_NOLOCK, 0, out);
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	mdb_env_close(m->env);
	free(m);
}

int meta_load(struct meta *m, int (*fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen),
	      void *arg)
{
	return walk(m, fn, arg);
}

void meta_batch_init(struct meta_batch *b)
{
	*b = (struct meta_batch){ 0 };
}

static int batch_add(struct meta_batch *b, uint8_t op, const void *key, size_t klen, const void *val, size_t vlen)
{
	size_t need = 9 + klen + vlen;
	if (klen == 0 || klen > 511 || vlen > (1u << 24))
		return -EINVAL;
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + need)
			cap *= 2;
		uint8_t *nb = realloc(b->buf, cap);
		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		b->cap = cap;
	}
	uint8_t *p = b->buf + b->len;
	uint32_t k32 = (uint32_t)klen, v32 = (uint32_t)vlen;
	p[0] = op;
	memcpy(p + 1, &k32, 4);
	memcpy(p + 5, &v32, 4);
	memcpy(p + 9, key, klen);
	if (vlen)
		memcpy(p + 9 + klen, val, vlen);
	b->len += need;
	b->nops++;
	return 0;
}

int meta_batch_put(struct meta_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	return batch_add(b, META_OP_PUT, key, klen, val, vlen);
}

int meta_batch_del(struct meta_batch *b, const void *key, size_t klen)
{
	return batch_add(b, META_OP_DEL, key, klen, NULL, 0);
}

void meta_batch_reset(struct meta_batch *b)
{
	b->len = 0;
	b->nops = 0;
}

void meta_batch_free(struct meta_batch *b)
{
	free(b->buf);
	meta_batch_init(b);
}

static int apply(struct meta *m, MDB_txn *txn, const struct meta_batch *b)
{
	for (size_t at = 0; at < b->len;) {
		const uint8_t *p = b->buf + at;
		uint32_t klen, vlen;
		memcpy(&klen, p + 1, 4);
		memcpy(&vlen, p + 5, 4);
		MDB_val k = { .mv_size = klen, .mv_data = (void *)(p + 9) };
		int rc;
		if (p[0] == META_OP_DEL) {
			rc = mdb_del(txn, m->dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			MDB_val v = { .mv_size = vlen + 4 };
			if ((rc = mdb_put(txn, m->dbi, &k, &v, MDB_RESERVE)) == 0) {
				memcpy(v.mv_data, p + 9 + klen, vlen);
				uint32_t crc = crc32c_update(crc32c_update(0, p + 9, klen), p + 9 + klen, vlen);
				memcpy((uint8_t *)v.mv_data + vlen, &crc, 4);
			}
		}
		if (rc)
			return rc;
		at += 9 + klen + vlen;
	}
	return 0;
}

int meta_commit(struct meta *m, const struct meta_batch *b)
{
	for (;;) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			mdb_env_set_mapsize(m->env, 0);
			continue;
		}
		if (rc)
			return mdb_to_errno(rc);
		rc = apply(m, txn, b);
		if (rc) {
			mdb_txn_abort(txn);
		} else {
			rc = mdb_txn_commit(txn);
		}
		if (rc != MDB_MAP_FULL)
			return mdb_to_errno(rc);
		if (m->map_size >= META_MAX_MAP)
			return -ENOSPC;
		size_t bigger = m->map_size * 2;
		if ((rc = mdb_env_set_mapsize(m->env, bigger)) != 0)
			return mdb_to_errno(rc);
		m->map_size = bigger;
		m->grows++;
	}
}

int meta_sync(struct meta *m)
{
	return mdb_to_errno(mdb_env_sync(m->env, 1));
}

uint64_t meta_map_grows(const struct meta *m)
{
	return m->grows;
}
