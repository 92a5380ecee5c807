/*
 * wal_dump — prints every record a WAL directory holds as acknowledged, for the SIGKILL loops.
 *
 *   wal_dump DIR [STREAM_PREFIX]
 *
 * "Acknowledged into the WAL" is exactly this: an append's done() fires only after the group commit
 * that raised its stream's high-water mark in meta.lmdb (wal/wal.h). So after a SIGKILL, every frame
 * with seq <= the stream's committed high-water mark was acknowledged to its source, and the agent
 * must deliver it (again, if it is at or before the sink's cursor and the segment still exists: those
 * were delivered already). Frames past the mark are left out: nobody was told they were stored.
 *
 * Read-only, like `solder wal inspect`: meta.lmdb is opened without its lock and the segments are
 * read with the same frame reader, so the next `solder run` still does its own recovery of what the
 * kill left. Frames are decoded with batch_decode; one line per record:
 *   S <stream> <seq> <ts_ms> <value %.17g, or NaN:<bits in hex>> <labels {a="b",...}>
 *   L <stream> <seq> <ts_ns> <labels> <line, with \n and \\ escaped>
 *   P <stream> <seq> <payload kind> <len>
 * a header per stream "# stream <name> cursor <c> hwm <h>" and a trailer "# stream <name> frames past
 * hwm <n>" (whole frames written but never committed). Exit 0, or 2 on an I/O or decode error
 * (an undecodable frame under the mark is itself a finding: the caller fails on it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "pipeline/batch.h"
#include "wal/meta.h"
#include "wal/segment.h"
#include "wal/wal_int.h"

struct mark {
	char name[WAL_NAME_MAX + 1];
	uint64_t hwm, cursor;
};

struct marks {
	struct mark *v;
	size_t n;
};

static int load_mark(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct marks *m = arg;
	const uint8_t *k = key;
	if (klen < 3 || k[0] != 's' || k[1] != '/' || vlen != 20 || klen - 2 > WAL_NAME_MAX)
		return 0;
	struct mark *n = realloc(m->v, (m->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	m->v = n;
	struct mark *s = &n[m->n++];
	memcpy(s->name, k + 2, klen - 2);
	s->name[klen - 2] = 0;
	memcpy(&s->hwm, val, 8);
	memcpy(&s->cursor, (const uint8_t *)val + 8, 8);
	return 0;
}

static void put_labels(const struct labels *ls)
{
	putchar('{');
	for (uint32_t i = 0; i < ls->n; i++)
		printf("%s%s=\"%.*s\"", i ? "," : "", ls->v[i].name, (int)ls->v[i].value_len, ls->v[i].value);
	putchar('}');
}

static void put_record(const char *stream, uint64_t seq, const struct record *r)
{
	if (r->kind == RECORD_SAMPLE && isnan(r->sample.value)) {
		uint64_t bits;
		memcpy(&bits, &r->sample.value, 8);
		printf("S %s %" PRIu64 " %" PRId64 " NaN:%016" PRIx64 " ", stream, seq, r->sample.ts_ms, bits);
		put_labels(&r->sample.labels);
	} else if (r->kind == RECORD_SAMPLE) {
		printf("S %s %" PRIu64 " %" PRId64 " %.17g ", stream, seq, r->sample.ts_ms, r->sample.value);
		put_labels(&r->sample.labels);
	} else if (r->kind == RECORD_LOG) {
		printf("L %s %" PRIu64 " %" PRId64 " ", stream, seq, r->log.ts_ns);
		put_labels(&r->log.labels);
		putchar(' ');
		for (uint32_t i = 0; i < r->log.line_len; i++) {
			char c = r->log.line[i];
			if (c == '\n')
				fputs("\\n", stdout);
			else if (c == '\\')
				fputs("\\\\", stdout);
			else
				putchar(c);
		}
	} else {
		printf("P %s %" PRIu64 " %u %u", stream, seq, r->payload.kind, r->payload.len);
	}
	putchar('\n');
}

static int dump_frame(const char *stream, const struct segment_frame *f, void *dctx, struct batch *b)
{
	uint8_t *raw = malloc(f->raw_len ? f->raw_len : 1);
	if (!raw)
		return -ENOMEM;
	int64_t n = segment_decode(dctx, f, raw, f->raw_len);
	int rc = n < 0 ? (int)n : batch_decode_into(b, raw, (size_t)n);
	if (rc == 0)
		for (size_t i = 0; i < b->n_records; i++)
			put_record(stream, f->seq, &b->records[i]);
	free(raw);
	return rc;
}

static int dump_segment(const char *path, const struct mark *m, void *dctx, struct batch *b, uint64_t *past)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	off_t size = lseek(fd, 0, SEEK_END);
	struct segment_reader r;
	int rc = size < 0 ? -errno : segment_reader_init(&r, fileio_default(), fd, 0, (uint64_t)size);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	for (;;) {
		struct segment_frame f;
		uint64_t off;
		rc = segment_reader_next(&r, &f, &off);
		if (rc != SEGMENT_FRAME)
			break;
		if (f.seq > m->hwm) {
			(*past)++; /* never acknowledged (recovery keeps it if whole: duplicates at most) */
			continue;
		}
		rc = dump_frame(m->name, &f, dctx, b);
		if (rc < 0) {
			fprintf(stderr, "wal_dump: %s offset %" PRIu64 ": undecodable frame seq %" PRIu64 ": %s\n", path,
				off, f.seq, strerror(-rc));
			break;
		}
	}
	/* a torn or bad frame is only acceptable past the mark; the frames under it were all read */
	segment_reader_free(&r);
	close(fd);
	return rc < 0 && rc != -ENODATA && rc != -EBADMSG ? rc : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int dump_stream(const char *dir, const struct mark *m, void *dctx, struct batch *b)
{
	char esc[WAL_NAME_MAX * 3 + 1], sdir[WAL_PATH_MAX + WAL_NAME_MAX * 3 + 16];
	wal_escape_name(m->name, esc, sizeof(esc));
	snprintf(sdir, sizeof(sdir), "%s/streams/%s", dir, esc);
	printf("# stream %s cursor %" PRIu64 " hwm %" PRIu64 "\n", m->name, m->cursor, m->hwm);
	DIR *d = opendir(sdir);
	if (!d)
		return 0;
	uint64_t past = 0;
	uint32_t *segnos = NULL;
	size_t n = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		uint32_t segno;
		if (!segment_parse_name(de->d_name, &segno))
			continue;
		uint32_t *nb = realloc(segnos, (n + 1) * sizeof(*nb));
		if (!nb) {
			rc = -ENOMEM;
			break;
		}
		segnos = nb;
		segnos[n++] = segno;
	}
	closedir(d);
	qsort(segnos, n, sizeof(*segnos), cmp_u32);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[WAL_PATH_MAX];
		segment_path(path, sizeof(path), sdir, segnos[i]);
		rc = dump_segment(path, m, dctx, b, &past);
	}
	free(segnos);
	printf("# stream %s frames past hwm %" PRIu64 "\n", m->name, past);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: wal_dump DIR [STREAM_PREFIX]\n");
		return 2;
	}
	const char *dir = argv[1], *prefix = argc == 3 ? argv[2] : "";
	char path[WAL_PATH_MAX];
	snprintf(path, sizeof(path), "%s/meta.lmdb", dir);
	struct marks marks = { 0 };
	struct meta *mt;
	if (access(path, F_OK) != 0)
		return 0; /* nothing was ever committed */
	if (meta_open_readonly(path, &mt) < 0 || meta_load(mt, load_mark, &marks) < 0) {
		fprintf(stderr, "wal_dump: %s unreadable\n", path);
		return 2;
	}
	meta_close(mt);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	struct batch *b = batch_new();
	int rc = dctx && b ? 0 : -ENOMEM;
	for (size_t i = 0; i < marks.n && rc == 0; i++)
		if (strncmp(marks.v[i].name, prefix, strlen(prefix)) == 0)
			rc = dump_stream(dir, &marks.v[i], dctx, b);
	batch_free(b);
	ZSTD_freeDCtx(dctx);
	free(marks.v);
	if (fflush(stdout) != 0)
		rc = -EIO;
	return rc < 0 ? 2 : 0;
}
