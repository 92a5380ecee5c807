/*
 * tailer — follows files by inode from one thread (see tailer.h for the contract).
 *
 * Decisions:
 * - Directories are watched, not files: one watch per directory reports writes, creations, renames
 *   and deletions of every file in it, so 5,000 files in 5,000 pod directories cost 5,000 watches
 *   and no thread each. Watches are found by wd and by directory through two small hash indexes
 *   (rebuilt when one goes): an event costs the same with 10,000 watches as with 10. Events only
 *   mark files dirty; what happened is found by fstat/stat, which is also what the safety-net poll
 *   does, so a lost event (queue overflow) costs latency, not data.
 * - Reads use pread at the file's offset into one shared buffer: the offset is always the end of the
 *   last line handed out, so an unterminated tail is simply read again next time and nothing per file
 *   is buffered. Only gzip streams (not seekable) keep a small per-file carry of their unfinished line.
 * - Rotation: after reading to EOF, stat(path) names another inode (or nothing): the open fd is the
 *   rotated file and has been drained, so it is closed and the new file at path read from 0.
 * - Identity = device, inode and a hash of the first FP_MAX bytes (fewer while the file is shorter).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/log.h"
#include "pipeline/labels.h"
#include "sources/tailer.h"

#define BUF_SIZE    (256u << 10)
#define FP_MAX	    128
#define QUEUE_MAX   4
#define POS_VERSION 1
#define WATCH_MASK                                                                                                     \
	(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |             \
	 IN_CLOSE_WRITE | IN_ATTRIB)

struct tailer_file {
	char *path;
	void *user;
	struct tailer_file *hnext; /* path hash chain */
	uint64_t dev, ino, off, fp_hash;
	uint32_t fp_len;
	int fd;
	bool dirty, drop_when_gone, gz, known, finished;
	bool zmode;
		/* the open fd is read through zlib (every file with gz, or a rotated file compressed meanwhile) */ /* known:
														       dev/ino describe a file we read */
	gzFile z;
	char *carry; /* gz: bytes of an unfinished line */
	size_t carry_len;
	uint64_t zoff;		/* gz: decompressed bytes consumed from z */
	size_t idx;		/* in t->files */
	uint64_t seen_ino[4];	/* inodes read before, so a late rename event does not queue one again */
	char *queue[QUEUE_MAX]; /* rotated files never opened, oldest first: read before the live one */
	size_t nq;
};

struct watch {
	int wd;
	char *dir;
};

struct tailer {
	struct tailer_opts o;
	int ifd;
	char *buf, *conv;
	size_t conv_cap;
	iconv_t cd;
	int unit; /* newline width: 1, or 2 for UTF-16 */
	bool big_endian;
	struct tailer_file **files;
	size_t n_files, cap_files;
	struct tailer_file **buckets;
	size_t n_buckets;
	struct watch *watches;
	size_t n_watches, cap_watches;
	uint32_t *by_wd, *by_dir; /* open addressing: watch index + 1, 0 = empty */
	size_t index_cap;
	int64_t next_poll_ns;
	struct tailer_stats st;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t path_hash(const char *p)
{
	return labels_hash_bytes(p, strlen(p), 0);
}

static struct tailer_file *find_file(struct tailer *t, const char *path)
{
	if (!t->n_buckets)
		return NULL;
	for (struct tailer_file *f = t->buckets[path_hash(path) & (t->n_buckets - 1)]; f; f = f->hnext)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

static int rehash(struct tailer *t)
{
	size_t nb = t->n_buckets ? t->n_buckets * 2 : 64;
	struct tailer_file **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_files; i++) {
		struct tailer_file *f = t->files[i];
		size_t h = path_hash(f->path) & (nb - 1);
		f->hnext = b[h];
		b[h] = f;
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = nb;
	return 0;
}

static void unhash(struct tailer *t, struct tailer_file *f)
{
	struct tailer_file **pp = &t->buckets[path_hash(f->path) & (t->n_buckets - 1)];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
}

int tailer_new(const struct tailer_opts *o, struct tailer **out)
{
	struct tailer *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->o = *o;
	if (!t->o.max_line)
		t->o.max_line = 256u << 10;
	if (t->o.max_line > BUF_SIZE / 2)
		t->o.max_line = BUF_SIZE / 2;
	if (t->o.poll_ns <= 0)
		t->o.poll_ns = 1000000000LL;
	t->cd = (iconv_t)-1;
	t->unit = 1;
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	t->buf = malloc(BUF_SIZE);
	if (t->ifd < 0 || !t->buf)
		goto fail;
	const char *enc = o->encoding;
	if (enc && *enc && strcasecmp(enc, "UTF-8") && strcasecmp(enc, "UTF8")) {
		t->cd = iconv_open("UTF-8", enc);
		if (t->cd == (iconv_t)-1) {
			tailer_free(t);
			return -EINVAL;
		}
		if (strncasecmp(enc, "UTF-16", 6) == 0 || strncasecmp(enc, "UTF16", 5) == 0 ||
		    strncasecmp(enc, "UCS-2", 5) == 0) {
			t->unit = 2;
			t->big_endian = strcasestr(enc, "BE") != NULL;
		}
		t->conv_cap = t->o.max_line * 4 + 16;
		if (!(t->conv = malloc(t->conv_cap)))
			goto fail;
	}
	/* Live files keep an fd: make room for thousands of them, as far as the hard limit allows. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	t->next_poll_ns = now_ns() + t->o.poll_ns;
	*out = t;
	return 0;
fail:
	tailer_free(t);
	return -ENOMEM;
}

static void file_close(struct tailer *t, struct tailer_file *f)
{
	if (f->z) {
		gzclose(f->z); /* closes f->fd too */
		f->z = NULL;
		f->fd = -1;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	free(f->carry);
	f->carry = NULL;
	f->carry_len = 0;
	f->zoff = 0;
	f->zmode = false;
	t->st.open_fds--;
}

static void file_free(struct tailer *t, struct tailer_file *f)
{
	if (f->fd >= 0)
		file_close(t, f);
	for (size_t i = 0; i < f->nq; i++)
		free(f->queue[i]);
	free(f->path);
	free(f);
}

void tailer_free(struct tailer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_files; i++)
		file_free(t, t->files[i]);
	free(t->files);
	free(t->buckets);
	for (size_t i = 0; i < t->n_watches; i++)
		free(t->watches[i].dir);
	free(t->watches);
	free(t->by_wd);
	free(t->by_dir);
	if (t->ifd >= 0)
		close(t->ifd);
	if (t->cd != (iconv_t)-1)
		iconv_close(t->cd);
	free(t->buf);
	free(t->conv);
	free(t);
}

static size_t wd_slot(int wd, size_t cap)
{
	return ((uint32_t)wd * 2654435761u) & (cap - 1);
}

static void index_put(struct tailer *t, size_t i)
{
	size_t mask = t->index_cap - 1, s = wd_slot(t->watches[i].wd, t->index_cap);
	while (t->by_wd[s])
		s = (s + 1) & mask;
	t->by_wd[s] = (uint32_t)i + 1;
	s = path_hash(t->watches[i].dir) & mask;
	while (t->by_dir[s])
		s = (s + 1) & mask;
	t->by_dir[s] = (uint32_t)i + 1;
}

/* Rebuilds both indexes for n_watches + room (after a removal or to grow). */
static int index_rebuild(struct tailer *t, size_t room)
{
	size_t cap = 64;
	while (cap < 2 * (t->n_watches + room))
		cap *= 2;
	uint32_t *a = calloc(cap, sizeof(*a)), *b = calloc(cap, sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	free(t->by_wd);
	free(t->by_dir);
	t->by_wd = a;
	t->by_dir = b;
	t->index_cap = cap;
	for (size_t i = 0; i < t->n_watches; i++)
		index_put(t, i);
	return 0;
}

static struct watch *watch_by_wd(struct tailer *t, int wd)
{
	if (!t->index_cap)
		return NULL;
	for (size_t s = wd_slot(wd, t->index_cap); t->by_wd[s]; s = (s + 1) & (t->index_cap - 1))
		if (t->watches[t->by_wd[s] - 1].wd == wd)
			return &t->watches[t->by_wd[s] - 1];
	return NULL;
}

static struct watch *watch_by_dir(struct tailer *t, const char *dir)
{
	if (!t->index_cap)
		return NULL;
	for (size_t s = path_hash(dir) & (t->index_cap - 1); t->by_dir[s]; s = (s + 1) & (t->index_cap - 1))
		if (strcmp(t->watches[t->by_dir[s] - 1].dir, dir) == 0)
			return &t->watches[t->by_dir[s] - 1];
	return NULL;
}

/* The kernel dropped wd (its directory went): forget it. */
static void watch_remove(struct tailer *t, int wd)
{
	struct watch *w = watch_by_wd(t, wd);
	if (!w)
		return;
	free(w->dir);
	*w = t->watches[--t->n_watches];
	index_rebuild(t, 0); /* on failure lookups fall back to nothing found: events are re-polled */
}

int tailer_watch_dir(struct tailer *t, const char *dir)
{
	if (watch_by_dir(t, dir))
		return 0;
	int wd = inotify_add_watch(t->ifd, dir, WATCH_MASK | IN_ONLYDIR);
	if (wd < 0)
		return -errno;
	struct watch *same = watch_by_wd(t, wd);
	if (same) { /* same directory by another name */
		char *d = strdup(dir);
		if (!d)
			return -ENOMEM;
		free(same->dir);
		same->dir = d;
		return index_rebuild(t, 0);
	}
	if (2 * (t->n_watches + 1) > t->index_cap && index_rebuild(t, t->n_watches + 1) < 0)
		return -ENOMEM;
	if (t->n_watches == t->cap_watches) {
		size_t cap = t->cap_watches ? t->cap_watches * 2 : 16;
		struct watch *w = realloc(t->watches, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		t->watches = w;
		t->cap_watches = cap;
	}
	char *d = strdup(dir);
	if (!d)
		return -ENOMEM;
	struct watch *w = &t->watches[t->n_watches++];
	w->wd = wd;
	w->dir = d; /* owned by the watch from here */
	index_put(t, t->n_watches - 1);
	return 0;
}

/* Hash of the first n bytes of the open file (n <= FP_MAX). */
static int fingerprint(struct tailer_file *f, uint32_t n, uint64_t *out)
{
	char b[FP_MAX];
	ssize_t r = pread(f->fd, b, n, 0);
	if (r != (ssize_t)n)
		return -EIO;
	*out = labels_hash_bytes(b, n, 0x5eed);
	return 0;
}

/* Refreshes the fingerprint while the file is shorter than FP_MAX bytes. */
static void update_fingerprint(struct tailer_file *f)
{
	if (f->zmode || f->fd < 0 || f->fp_len >= FP_MAX || f->off <= f->fp_len)
		return;
	uint32_t n = f->off < FP_MAX ? (uint32_t)f->off : FP_MAX;
	if (fingerprint(f, n, &f->fp_hash) == 0)
		f->fp_len = n;
}

struct pos {
	uint64_t dev, ino, off, fp_hash;
	uint32_t fp_len;
};

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t tailer_position(const struct tailer_file *f, uint64_t off, void *buf)
{
	uint8_t *p = buf;
	p[0] = POS_VERSION;
	put64(p + 1, f->dev);
	put64(p + 9, f->ino);
	put64(p + 17, off);
	put64(p + 25, f->fp_hash);
	uint32_t fl = f->fp_len < off ? f->fp_len : (uint32_t)off;
	if (fl != f->fp_len)
		fl = 0; /* the fingerprint covers bytes past off: not yet safe to claim */
	put64(p + 33, fl);
	return 41;
}

static bool decode_pos(const void *buf, size_t len, struct pos *out)
{
	const uint8_t *p = buf;
	if (!buf || len != 41 || p[0] != POS_VERSION)
		return false;
	out->dev = get64(p + 1);
	out->ino = get64(p + 9);
	out->off = get64(p + 17);
	out->fp_hash = get64(p + 25);
	out->fp_len = (uint32_t)get64(p + 33);
	return out->fp_len <= FP_MAX;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Opens path as f's file; identity is taken from the new fd. */
static int file_open(struct tailer *t, struct tailer_file *f, const char *path, struct stat *st, bool z)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	f->fd = fd;
	f->zmode = z;
	t->st.open_fds++;
	if (z) {
		f->z = gzdopen(fd, "rb");
		if (!f->z) {
			file_close(t, f);
			return -ENOMEM;
		}
		gzbuffer(f->z, 64u << 10);
	}
	return 0;
}

/* Does the open file match pos (same inode, or same fingerprint), so reading may resume there? */
static bool same_file(struct tailer_file *f, const struct stat *st, const struct pos *p)
{
	if (!f->gz && (uint64_t)st->st_size < p->off)
		return false;
	uint64_t h;
	if (p->fp_len && (f->gz || fingerprint(f, p->fp_len, &h) < 0 || h != p->fp_hash))
		return false;
	/* inode and content both: a new file with the same header lines is not taken for the old one */
	return (uint64_t)st->st_dev == p->dev && (uint64_t)st->st_ino == p->ino;
}

static void set_identity(struct tailer_file *f, const struct stat *st, uint64_t off)
{
	if (f->known && f->ino != (uint64_t)st->st_ino) {
		memmove(f->seen_ino + 1, f->seen_ino, sizeof(f->seen_ino) - sizeof(f->seen_ino[0]));
		f->seen_ino[0] = f->ino;
	}
	f->dev = (uint64_t)st->st_dev;
	f->ino = (uint64_t)st->st_ino;
	f->off = off;
	f->fp_len = 0;
	f->fp_hash = 0;
	f->known = true;
	update_fingerprint(f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does the gzip file at path decompress to content starting with pos's fingerprint? Opens it into f. */
static bool open_gz_match(struct tailer *t, struct tailer_file *f, const char *path, const struct pos *p)
{
	struct stat st;
	char b[FP_MAX];
	if (!p->fp_len || file_open(t, f, path, &st, true) < 0)
		return false;
	if (gzread(f->z, b, p->fp_len) == (int)p->fp_len && labels_hash_bytes(b, p->fp_len, 0x5eed) == p->fp_hash) {
		gzrewind(f->z);
		return true;
	}
	file_close(t, f);
	return false;
}

/*
 * After a restart, the file of pos is no longer at f->path: kubelet rotated it to path.<time> (found by
 * inode) or has compressed it since to path.<time>.gz (found by the fingerprint of its first bytes).
 * Opened into f at pos's offset; newer rotated siblings are queued so they are read before the live file.
 */
static bool open_rotated(struct tailer *t, struct tailer_file *f, const struct pos *p)
{
	char *dir = strdup(f->path);
	if (!dir)
		return false;
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	const char *dname = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
	size_t blen = strlen(base);
	char *names[64], match[NAME_MAX + 1] = "";
	size_t n = 0;
	bool found = false;
	DIR *d = opendir(dname);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, base, blen) || de->d_name[blen] != '.' || ends_with(de->d_name, ".tmp"))
			continue;
		if (!found && !ends_with(de->d_name, ".gz") && (uint64_t)de->d_ino == p->ino) {
			char full[PATH_MAX];
			struct stat st;
			snprintf(full, sizeof(full), "%s/%s", dname, de->d_name);
			if (file_open(t, f, full, &st, false) == 0) {
				if ((uint64_t)st.st_dev == p->dev && same_file(f, &st, p)) {
					found = true;
					snprintf(match, sizeof(match), "%s", de->d_name);
					continue;
				}
				file_close(t, f);
			}
		}
		if (n < 64 && (names[n] = strdup(de->d_name)))
			n++;
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && !found; i++) {
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", dname, names[i]);
		if (ends_with(names[i], ".gz") && open_gz_match(t, f, full, p)) {
			found = true;
			snprintf(match, sizeof(match), "%.*s", (int)(strlen(names[i]) - 3), names[i]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* plain rotated files newer than the one resumed (names carry the rotation time) */
		if (found && f->nq < QUEUE_MAX && !ends_with(names[i], ".gz") && strcmp(names[i], match) > 0) {
			char full[PATH_MAX];
			snprintf(full, sizeof(full), "%s/%s", dname, names[i]);
			if ((f->queue[f->nq] = strdup(full)))
				f->nq++;
		}
		free(names[i]);
	}
	if (found) {
		f->dev = p->dev;
		f->ino = p->ino;
		f->off = p->off;
		f->fp_len = p->fp_len;
		f->fp_hash = p->fp_hash;
		f->known = true;
	}
	free(dir);
	return found;
}

int tailer_add(struct tailer *t, const char *path, const void *pos, size_t pos_len, bool from_end, bool drop_when_gone,
	       void *user, struct tailer_file **out)
{
	if (find_file(t, path))
		return -EEXIST;
	struct tailer_file *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	f->fd = -1;
	f->user = user;
	f->drop_when_gone = drop_when_gone;
	f->gz = t->o.decompress_gz;
	f->dirty = true;
	if (t->n_files == t->cap_files) {
		size_t cap = t->cap_files ? t->cap_files * 2 : 64;
		struct tailer_file **v = realloc(t->files, cap * sizeof(*v));
		if (!v) {
			file_free(t, f);
			return -ENOMEM;
		}
		t->files = v;
		t->cap_files = cap;
	}
	f->idx = t->n_files;
	t->files[t->n_files++] = f;
	if (t->n_files > t->n_buckets) {
		if (rehash(t) < 0) { /* rehash inserted nobody: the table is unchanged */
			t->n_files--;
			file_free(t, f);
			return -ENOMEM;
		}
	} else {
		size_t h = path_hash(path) & (t->n_buckets - 1);
		f->hnext = t->buckets[h];
		t->buckets[h] = f;
	}
	t->st.files++;
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash) {
		*slash = 0;
		tailer_watch_dir(t, *dir ? dir : "/");
	}
	free(dir);

	struct pos p;
	bool have = decode_pos(pos, pos_len, &p);
	struct stat st;
	if (file_open(t, f, path, &st, f->gz) == 0) {
		if (have && same_file(f, &st, &p)) {
			set_identity(f, &st, 0);
			f->off = p.off;
			f->fp_len = p.fp_len;
			f->fp_hash = p.fp_hash;
		} else if (have && open_rotated(t, f, &p)) {
			/* the rotated file is drained first; the live one follows at offset 0 */
		} else {
			set_identity(f, &st, from_end && !have && !f->gz ? (uint64_t)st.st_size : 0);
		}
	} else if (have) {
		f->known = false; /* not there now; resumed if it comes back as the same file */
		f->dev = p.dev;
		f->ino = p.ino;
		f->off = p.off;
		f->fp_len = p.fp_len;
		f->fp_hash = p.fp_hash;
	}
	if (out)
		*out = f;
	return 0;
}

void tailer_remove(struct tailer *t, struct tailer_file *f)
{
	unhash(t, f);
	t->files[f->idx] = t->files[--t->n_files];
	t->files[f->idx]->idx = f->idx;
	t->st.files--;
	file_free(t, f);
}

const char *tailer_file_path(const struct tailer_file *f)
{
	return f->path;
}
uint64_t tailer_file_offset(const struct tailer_file *f)
{
	return f->off;
}

/* Hands one line to the owner, converting its encoding first when one is set. */
static void emit(struct tailer *t, struct tailer_file *f, const char *line, size_t len, uint64_t end, bool split)
{
	t->st.lines++;
	if (split)
		t->st.split_lines++;
	if (t->cd == (iconv_t)-1) {
		t->o.on_line(t->o.arg, f, f->user, line, len, end, split);
		return;
	}
	if (len >= 2 && t->unit == 2 && end - len - t->unit == 0) { /* a byte order mark starts the file */
		unsigned char a = (unsigned char)line[0], b = (unsigned char)line[1];
		if ((a == 0xFF && b == 0xFE) || (a == 0xFE && b == 0xFF)) {
			t->big_endian = a == 0xFE;
			line += 2;
			len -= 2;
		}
	}
	iconv(t->cd, NULL, NULL, NULL, NULL);
	char *in = (char *)line, *o = t->conv;
	size_t inl = len, outl = t->conv_cap;
	while (inl && iconv(t->cd, &in, &inl, &o, &outl) == (size_t)-1) {
		if (errno == E2BIG || outl < 3)
			break;
		/* invalid or incomplete input: U+FFFD and skip one unit, as Go's decoders do */
		memcpy(o, "\xEF\xBF\xBD", 3);
		o += 3;
		outl -= 3;
		size_t skip = inl < (size_t)t->unit ? inl : (size_t)t->unit;
		in += skip;
		inl -= skip;
	}
	size_t n = (size_t)(o - t->conv);
	if (n && t->conv[n - 1] == '\r')
		n--;
	t->o.on_line(t->o.arg, f, f->user, t->conv, n, end, split);
}

/* Offset of the first newline unit in b[0..n) (unit-aligned), or -1. */
static ssize_t find_nl(const struct tailer *t, const char *b, size_t n)
{
	if (t->unit == 1) {
		const char *q = memchr(b, '\n', n);
		return q ? q - b : -1;
	}
	for (size_t i = 0; i + 1 < n; i += 2)
		if ((t->big_endian ? b[i] == 0 && b[i + 1] == '\n' : b[i] == '\n' && b[i + 1] == 0))
			return (ssize_t)i;
	return -1;
}

/* Splits b[0..n) (starting at file offset base) into lines; returns the bytes consumed. */
static size_t split_lines(struct tailer *t, struct tailer_file *f, const char *b, size_t n, uint64_t base, bool final)
{
	size_t start = 0;
	while (start < n) {
		ssize_t nl = find_nl(t, b + start, n - start);
		if (nl < 0) {
			size_t rest = n - start;
			if (rest >= t->o.max_line) {
				size_t cut = t->o.max_line - t->o.max_line % (size_t)t->unit;
				emit(t, f, b + start, cut, base + start + cut, true);
				start += cut;
				continue;
			}
			if (final && rest) { /* a finished file's last, unterminated line */
				emit(t, f, b + start, rest, base + n, false);
				start = n;
			}
			break;
		}
		size_t len = (size_t)nl;
		if (len > t->o.max_line) {
			size_t cut = t->o.max_line - t->o.max_line % (size_t)t->unit;
			emit(t, f, b + start, cut, base + start + cut, true);
			start += cut;
			continue;
		}
		const char *line = b + start;
		size_t ll = len;
		if (t->unit == 1 && ll && line[ll - 1] == '\r')
			ll--;
		emit(t, f, line, ll, base + start + len + (size_t)t->unit, false);
		start += len + (size_t)t->unit;
	}
	return start;
}

/* Reads one buffer from a gzip file; returns bytes decompressed (0 at the end) or -EIO. */
static ssize_t read_gz(struct tailer *t, struct tailer_file *f, bool *eof)
{
	if (f->zoff < f->off) { /* resuming: skip what was read before */
		if (gzseek(f->z, (z_off_t)f->off, SEEK_SET) < 0)
			return -EIO;
		f->zoff = f->off;
	}
	if (f->carry_len)
		memcpy(t->buf, f->carry, f->carry_len);
	int r = gzread(f->z, t->buf + f->carry_len, (unsigned)(BUF_SIZE - f->carry_len));
	if (r < 0)
		return -EIO;
	*eof = r == 0;
	f->zoff += (uint64_t)r;
	t->st.bytes_read += (uint64_t)r;
	size_t n = f->carry_len + (size_t)r;
	size_t used = split_lines(t, f, t->buf, n, f->off, *eof);
	f->off += used;
	free(f->carry);
	f->carry = NULL;
	f->carry_len = n - used;
	if (f->carry_len && !(f->carry = malloc(f->carry_len)))
		return -ENOMEM;
	if (f->carry_len)
		memcpy(f->carry, t->buf + used, f->carry_len);
	return r;
}

/* f now reads another file (or the same one again from 0): offsets handed out before are not its. */
static void switched(struct tailer *t, struct tailer_file *f)
{
	if (t->o.on_switch)
		t->o.on_switch(t->o.arg, f, f->user);
}

/* Opens the oldest queued rotated file (from offset 0); false when none could be. */
static bool open_queued(struct tailer *t, struct tailer_file *f)
{
	while (f->nq) {
		char *p = f->queue[0];
		memmove(f->queue, f->queue + 1, (f->nq - 1) * sizeof(*f->queue));
		f->nq--;
		struct stat st;
		int rc = file_open(t, f, p, &st, f->gz || ends_with(p, ".gz"));
		free(p);
		if (rc == 0) {
			t->st.rotations++;
			set_identity(f, &st, 0);
			switched(t, f);
			f->dirty = true;
			return true;
		}
	}
	return false;
}

int tailer_rotated(struct tailer *t, struct tailer_file *f, const char *rotated_path)
{
	struct stat st;
	if (f->gz || stat(rotated_path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	uint64_t ino = (uint64_t)st.st_ino;
	if (f->known && ino == f->ino)
		return 0; /* the file being read: drained through its fd as usual */
	for (size_t i = 0; i < 4; i++)
		if (f->seen_ino[i] == ino)
			return 0;
	if (f->nq == QUEUE_MAX)
		return -ENOSPC;
	char *p = strdup(rotated_path);
	if (!p)
		return -ENOMEM;
	f->queue[f->nq++] = p;
	if (f->fd >= 0 && f->off == 0) {
		/* the live file was opened before its predecessor was seen and nothing was read from it:
		 * read the predecessor first so lines stay in order; the live one follows from 0 */
		file_close(t, f);
		f->known = false;
	}
	f->dirty = true;
	return 1;
}

/* The open fd reached EOF: if the path now names another file (or none), the fd was rotated away. */
static void check_rotation(struct tailer *t, struct tailer_file *f, bool *gone)
{
	struct stat st;
	int rc = stat(f->path, &st);
	if (rc == 0 && (uint64_t)st.st_ino == f->ino && (uint64_t)st.st_dev == f->dev)
		return;
	if (f->gz)
		return; /* a compressed file is read once; its replacement is another target */
	file_close(t, f);
	if (open_queued(t, f))
		return;
	if (rc < 0) {
		*gone = f->drop_when_gone;
		return;
	}
	t->st.rotations++;
	if (file_open(t, f, f->path, &st, f->gz) == 0) {
		set_identity(f, &st, 0);
		switched(t, f);
		f->dirty = true;
	}
}

/* Reopens a file whose fd was closed, if it is back. */
static int reopen(struct tailer *t, struct tailer_file *f, bool *gone)
{
	struct stat st;
	if (file_open(t, f, f->path, &st, f->gz) < 0) {
		*gone = f->drop_when_gone && f->known;
		return 0;
	}
	struct pos p = {f->dev, f->ino, f->off, f->fp_hash, f->fp_len};
	if (f->known && same_file(f, &st, &p)) {
		f->dev = (uint64_t)st.st_dev;
		f->ino = (uint64_t)st.st_ino;
	} else {
		set_identity(f, &st, 0);
		switched(t, f);
	}
	return 1;
}

/* A compressed predecessor was read to its end: the queued rotated files, then the live file. */
static int next_after_gz(struct tailer *t, struct tailer_file *f, bool *gone)
{
	file_close(t, f);
	if (open_queued(t, f))
		return 1;
	struct stat st;
	if (file_open(t, f, f->path, &st, false) < 0) {
		*gone = f->drop_when_gone;
		return 0;
	}
	t->st.rotations++;
	set_identity(f, &st, 0);
	switched(t, f);
	return 1;
}

/* Reads what f has (one buffer). Returns 1 if more may follow, 0 if drained. */
static int read_file(struct tailer *t, struct tailer_file *f, bool *gone)
{
	if (f->gz && f->finished) {
		struct stat st;
		if (stat(f->path, &st) == 0 && (uint64_t)st.st_ino == f->ino && (uint64_t)st.st_dev == f->dev)
			return 0;
		f->finished = false; /* another file under that name */
	}
	if (f->fd < 0 && !open_queued(t, f) && !reopen(t, f, gone))
		return 0;
	if (f->zmode) {
		bool eof = false;
		ssize_t r = read_gz(t, f, &eof);
		if ((r < 0 || eof) && !f->gz) /* a rotated file found compressed: on to the next one */
			return next_after_gz(t, f, gone);
		if (r < 0 || eof) {
			if (r < 0)
				log_warn("tailer", "cannot decompress", "path=%s", f->path);
			file_close(t, f); /* done with it; kept known so it is not read again */
			f->finished = true;
			*gone = f->drop_when_gone;
			return 0;
		}
		return 1;
	}
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return 0;
	if ((uint64_t)st.st_size < f->off) { /* copytruncate */
		t->st.truncations++;
		set_identity(f, &st, 0);
		switched(t, f);
	}
	ssize_t n = 0;
	if ((uint64_t)st.st_size > f->off) {
		n = pread(f->fd, t->buf, BUF_SIZE, (off_t)f->off);
		if (n < 0)
			return 0;
		t->st.bytes_read += (uint64_t)n;
		f->off += split_lines(t, f, t->buf, (size_t)n, f->off, false);
		update_fingerprint(f);
		if (n == BUF_SIZE)
			return 1;
	}
	uint64_t before = f->ino;
	check_rotation(t, f, gone);
	return f->fd >= 0 && f->ino != before; /* switched: read the new file at once */
}

static void handle_events(struct tailer *t)
{
	char ev[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(t->ifd, ev, sizeof(ev));
		if (n <= 0)
			return;
		for (char *p = ev; p < ev + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				t->next_poll_ns = 0;
				continue;
			}
			struct watch *w = watch_by_wd(t, e->wd);
			if (!w)
				continue;
			if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
				if (t->o.on_dir_event)
					t->o.on_dir_event(t->o.arg, w->dir, "", e->mask);
				if (e->mask & IN_IGNORED)
					watch_remove(t, e->wd); /* found again: the callback may have added watches */
				continue;
			}
			if (!e->len)
				continue;
			char full[PATH_MAX];
			snprintf(full, sizeof(full), "%s/%s", w->dir, e->name);
			struct tailer_file *f = find_file(t, full);
			if (f)
				f->dirty = true;
			else if (t->o.on_dir_event)
				t->o.on_dir_event(t->o.arg, w->dir, e->name, e->mask);
		}
	}
}

/* The safety net: every file dirty, and lag measured. */
static void poll_all(struct tailer *t)
{
	uint64_t lag = 0;
	double oldest = 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (size_t i = 0; i < t->n_files; i++) {
		struct tailer_file *f = t->files[i];
		f->dirty = true;
		struct stat st;
		if (f->fd < 0 || f->zmode || fstat(f->fd, &st) < 0 || (uint64_t)st.st_size <= f->off)
			continue;
		lag += (uint64_t)st.st_size - f->off;
		double age = (double)(now.tv_sec - st.st_mtim.tv_sec) + (now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
		if (age > oldest)
			oldest = age;
	}
	t->st.lag_bytes = lag;
	t->st.lag_seconds = oldest;
}

void tailer_wait(struct tailer *t, int timeout_ms)
{
	int64_t until_poll = (t->next_poll_ns - now_ns()) / 1000000;
	if (until_poll < timeout_ms)
		timeout_ms = until_poll > 0 ? (int)until_poll : 0;
	struct pollfd pfd = {t->ifd, POLLIN, 0};
	if (timeout_ms > 0)
		poll(&pfd, 1, timeout_ms);
}

struct tailer_file *tailer_find(struct tailer *t, const char *path)
{
	return find_file(t, path);
}
void *tailer_file_user(const struct tailer_file *f)
{
	return f->user;
}

int tailer_run(struct tailer *t, int timeout_ms, size_t budget)
{
	if (timeout_ms > 0)
		tailer_wait(t, timeout_ms);
	int64_t now = now_ns();
	handle_events(t);
	if (now >= t->next_poll_ns) {
		poll_all(t);
		t->next_poll_ns = now + t->o.poll_ns;
	}
	uint64_t start = t->st.bytes_read;
	bool more = false;
	for (size_t i = 0; i < t->n_files;) {
		struct tailer_file *f = t->files[i];
		if (!f->dirty || (budget && t->st.bytes_read - start >= budget)) {
			more |= f->dirty;
			i++;
			continue;
		}
		bool gone = false;
		int r = read_file(t, f, &gone);
		f->dirty = r > 0;
		more |= r > 0;
		if (gone) {
			if (t->o.on_gone)
				t->o.on_gone(t->o.arg, f, f->user); /* f still valid: its final position can be read */
			tailer_remove(t, f);
			continue; /* files[i] is now another file */
		}
		i++;
	}
	return more;
}

void tailer_stats(struct tailer *t, struct tailer_stats *out)
{
	*out = t->st;
}
