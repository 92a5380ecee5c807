/*
 * test_wal_corrupt — bit flips and truncation at random offsets of segments and of meta.lmdb.
 *
 * For every damage: wal_open succeeds; every frame not in the damaged segment, and every frame of the
 * damaged segment before the damaged one, is still readable and correct; frames come out in order; the
 * damage is counted (stats) and the bad segment ends up in corrupt/ (at open, or at the next open when
 * a reader found it lazily); `wal verify` exits 1 naming the file. meta.lmdb damage may go unnoticed
 * (a flip in free space) or make the WAL rebuild from segments; either way no data frame is lost.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "wal/segment.h"
#include "wal/wal.h"

#define NFRAMES 60
#define NSTREAMS 2

struct frame_loc {
	uint32_t segno;
	uint64_t off, end, seq;
};

static char template_dir[256];
static struct frame_loc locs[NSTREAMS][NFRAMES + 1];

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void copy_dir(const char *from, const char *to)
{
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
	assert_int_equal(system(cmd), 0);
}

static size_t payload(char *buf, size_t cap, int stream, uint64_t seq)
{
	int n = snprintf(buf, cap, "stream=%d seq=%llu ", stream, (unsigned long long)seq);
	uint64_t r = seq * 2654435761u + (uint64_t)stream;
	size_t len = 200 + r % 700;
	for (size_t i = (size_t)n; i < len; i++) {
		r = r * 6364136223846793005ULL + 1;
		buf[i] = (char)('a' + (r >> 59));
	}
	return len;
}

static struct wal *open_dir(const char *dir, bool verify)
{
	struct wal_options o = { .dir = dir, .segment_size = 8192, .max_commit_delay_us = 100, .verify_on_open = verify };
	struct wal *w = NULL;
	assert_int_equal(wal_open(&o, &w), 0);
	return w;
}

static void stream_name(int i, char *buf)
{
	sprintf(buf, "sink%d", i);
}

/* Builds the template WAL once and records where each frame lives. */
static int setup(void **state)
{
	strcpy(template_dir, "/tmp/test_wal_corrupt.XXXXXX");
	assert_non_null(mkdtemp(template_dir));
	strcat(template_dir, "/wal");
	struct wal *w = open_dir(template_dir, false);
	struct wal_stream *s[NSTREAMS];
	char name[16], buf[1000];
	for (int i = 0; i < NSTREAMS; i++) {
		stream_name(i, name);
		assert_int_equal(wal_stream(w, name, &s[i]), 0);
	}
	for (uint64_t seq = 1; seq <= NFRAMES; seq++)
		for (int i = 0; i < NSTREAMS; i++) {
			size_t n = payload(buf, sizeof(buf), i, seq);
			struct wal_stream *ss[] = { s[i] };
			struct wal_append_req r = { .streams = ss, .nstreams = 1, .payload = buf, .len = n,
						    .meta = { .records = 3, .ts_min = 1700000000000000000LL,
							      .ts_max = 1700000001000000000LL } };
			assert_int_equal(wal_append_sync(w, &r), 0);
		}
	wal_close(w);
	for (int i = 0; i < NSTREAMS; i++) {
		char dir[512];
		snprintf(dir, sizeof(dir), "%s/streams/sink%d", template_dir, i);
		for (uint32_t segno = 1; segno < 1000; segno++) {
			char path[600];
			segment_path(path, sizeof(path), dir, segno);
			int fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			struct segment_reader r;
			segment_reader_init(&r, fileio_default(), fd, 0, (uint64_t)fileio_size(fd));
			struct segment_frame f;
			uint64_t off;
			while (segment_reader_next(&r, &f, &off) == SEGMENT_FRAME)
				locs[i][f.seq] = (struct frame_loc){ .segno = segno, .off = off, .end = r.off, .seq = f.seq };
			segment_reader_free(&r);
			close(fd);
		}
		for (uint64_t seq = 1; seq <= NFRAMES; seq++)
			assert_int_not_equal(locs[i][seq].segno, 0);
	}
	return 0;
}

static int teardown(void **state)
{
	char *slash = strrchr(template_dir, '/');
	*slash = 0;
	rm_rf(template_dir);
	return 0;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void flip_bit(const char *path, uint64_t off, int bit)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c;
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= (unsigned char)(1u << bit);
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

static int count_corrupt_files(const char *dir)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/corrupt", dir);
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".seg."))
			n++;
	if (d)
		closedir(d);
	return n;
}

/*
 * Reads every stream; frames of (dstream, dsegno) at or after offset doff may be missing, all others
 * must be present and byte-exact. Returns how many frames were missing.
 */
static int check_content(struct wal *w, int dstream, uint32_t dsegno, uint64_t doff)
{
	int missing = 0;
	for (int i = 0; i < NSTREAMS; i++) {
		char name[16], buf[1000];
		stream_name(i, name);
		struct wal_stream *s;
		assert_int_equal(wal_stream(w, name, &s), 0);
		bool seen[NFRAMES + 2] = { 0 };
		struct wal_entry e;
		uint64_t last = 0;
		while (wal_read(s, last, &e, 0) == 0) {
			assert_true(e.seq > last && e.seq <= NFRAMES);
			size_t n = payload(buf, sizeof(buf), i, e.seq);
			assert_int_equal(e.len, n);
			assert_memory_equal(e.payload, buf, n);
			seen[e.seq] = true;
			last = e.seq;
		}
		for (uint64_t seq = 1; seq <= NFRAMES; seq++) {
			if (seen[seq])
				continue;
			missing++;
			const struct frame_loc *l = &locs[i][seq];
			bool may_miss = i == dstream && l->segno == dsegno && l->end > doff;
			if (!may_miss)
				fail_msg("stream %d seq %llu lost (damage in sink%d segment %u at %llu)", i,
					 (unsigned long long)seq, dstream, dsegno, (unsigned long long)doff);
		}
	}
	return missing;
}

static int run_cli(const char *verb, const char *dir)
{
	char *argv[] = { "wal", (char *)verb, (char *)dir, NULL };
	fflush(stdout);
	int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 1);
	int rc = wal_cli_main(3, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(devnull);
	return rc;
}

static void damage_segments(bool cut, bool verify_on_open)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s.work", template_dir);
	uint64_t rng = cut ? 77 : 99;
	int iterations = 60, detected = 0;
	for (int it = 0; it < iterations; it++) {
		copy_dir(template_dir, dir);
		int i = (int)(rnd(&rng) % NSTREAMS);
		uint64_t seq = 1 + rnd(&rng) % NFRAMES;
		const struct frame_loc *l = &locs[i][seq];
		char path[600];
		snprintf(path, sizeof(path), "%s/streams/sink%d/%08u.seg", dir, i, l->segno);
		uint64_t size = file_size(path);
		uint64_t off = l->off + rnd(&rng) % (l->end - l->off);
		if (cut)
			assert_int_equal(truncate(path, (off_t)off), 0);
		else
			flip_bit(path, off, (int)(rnd(&rng) % 8));
		assert_int_equal(run_cli("verify", dir), 1);
		struct wal *w = open_dir(dir, verify_on_open);
		int missing = check_content(w, i, l->segno, off);
		assert_true(missing >= 1);
		struct wal_stats st;
		wal_stats(w, &st);
		assert_true(st.corrupt_frames >= 1);
		wal_close(w);
		/* the next open quarantines what a reader found (or what the first open did) */
		w = open_dir(dir, false);
		assert_int_equal(count_corrupt_files(dir), 1);
		assert_int_equal(check_content(w, i, l->segno, off), missing);
		wal_close(w);
		assert_int_equal(run_cli("verify", dir), 0);
		detected++;
		(void)size;
	}
	assert_int_equal(detected, iterations);
}

static void test_segment_bit_flips(void **state)
{
	damage_segments(false, false);
}

static void test_segment_bit_flips_verify_on_open(void **state)
{
	damage_segments(false, true);
}

static void test_segment_truncation(void **state)
{
	damage_segments(true, false);
}

static void test_meta_damage(void **state)
{
	char dir[300], meta[400];
	snprintf(dir, sizeof(dir), "%s.meta", template_dir);
	snprintf(meta, sizeof(meta), "%s/meta.lmdb", dir);
	uint64_t rng = 4242;
	int rebuilt = 0, lmdb_crashes = 0;
	for (int it = 0; it < 300; it++) {
		copy_dir(template_dir, dir);
		uint64_t size = file_size(meta);
		/* the interesting bytes are in the first pages; aim there most of the time */
		uint64_t span = it % 3 == 0 ? size : (size < 4 * 4096 ? size : 4 * 4096);
		uint64_t off = rnd(&rng) % span;
		if (it % 10 == 9)
			assert_int_equal(unlink(meta), 0);
		else if (it % 5 == 4)
			assert_int_equal(truncate(meta, (off_t)off), 0);
		else
			for (int k = 0; k < 1 + (int)(rnd(&rng) % 4); k++)
				flip_bit(meta, (off + (uint64_t)k * 97) % size, (int)(rnd(&rng) % 8));
		/*
		 * Each open runs in a child so that a crash inside LMDB is a counted failure, not a dead test
		 * run. LMDB trusts page numbers: a damaged page the start-up probe's read walk never follows
		 * (free list, a branch only a write descends) could make recovery's first write read outside the
		 * map. meta_open therefore rewrites a probed file from a walk before writing to it; none of
		 * these opens may crash.
		 */
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			/* cmocka's handlers would catch a crash here and go on running tests in this child */
			signal(SIGSEGV, SIG_DFL);
			signal(SIGBUS, SIG_DFL);
			signal(SIGABRT, SIG_DFL);
			struct wal_options o = { .dir = dir, .segment_size = 8192, .max_commit_delay_us = 100 };
			struct wal *w = NULL;
			if (wal_open(&o, &w) != 0)
				_exit(3); /* no cmocka assert here: its longjmp would resume the runner in this child */
			struct wal_stats st;
			wal_stats(w, &st);
			/* cursors were 0 in the template, so every frame must be there either way */
			int lost = check_content(w, -1, 0, 0);
			wal_close(w);
			_exit(lost ? 1 : st.meta_rebuilds > 0 ? 2 : 0);
		}
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			fail_msg("case %d: frames lost after meta.lmdb damage", it);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
			fail_msg("case %d: the WAL did not open after meta.lmdb damage", it);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
			rebuilt++;
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			lmdb_crashes++;
	}
	printf("meta.lmdb damage: 300 cases, %d detected and rebuilt from segments, 0 frames lost; "
	       "%d opens crashed\n",
	       rebuilt, lmdb_crashes);
	assert_true(rebuilt > 10);
	assert_int_equal(lmdb_crashes, 0);
}

/* A reader finding a bad frame in the segment being written: skips it, counts it, and the writer
 * starts a new segment so later appends are readable. */
static void test_runtime_corruption_of_active_segment(void **state)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s.live", template_dir);
	rm_rf(dir);
	struct wal_options o = { .dir = dir, .max_commit_delay_us = 100 };
	struct wal *w;
	assert_int_equal(wal_open(&o, &w), 0);
	struct wal_stream *s;
	assert_int_equal(wal_stream(w, "live", &s), 0);
	struct wal_stream *ss[] = { s };
	char buf[1000];
	for (int i = 1; i <= 5; i++) {
		size_t n = payload(buf, sizeof(buf), 0, (uint64_t)i);
		struct wal_append_req r = { .streams = ss, .nstreams = 1, .payload = buf, .len = n };
		assert_int_equal(wal_append_sync(w, &r), 0);
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/streams/live/00000001.seg", dir);
	flip_bit(path, file_size(path) / 2, 3); /* somewhere in frame 3 */
	struct wal_entry e;
	uint64_t last = 0;
	int got = 0;
	while (wal_read(s, last, &e, 0) == 0)
		last = e.seq, got++;
	assert_true(got >= 1 && got < 5);
	for (int i = 6; i <= 8; i++) {
		size_t n = payload(buf, sizeof(buf), 0, (uint64_t)i);
		struct wal_append_req r = { .streams = ss, .nstreams = 1, .payload = buf, .len = n };
		assert_int_equal(wal_append_sync(w, &r), 0);
	}
	for (int i = 6; i <= 8; i++) {
		assert_int_equal(wal_read(s, last, &e, 1000), 0);
		assert_int_equal(e.seq, (uint64_t)i);
		last = e.seq;
	}
	struct wal_stats st;
	wal_stats(w, &st);
	assert_int_equal(st.corrupt_frames, 1);
	wal_close(w);
	assert_int_equal(wal_open(&o, &w), 0); /* flagged suspect: quarantined now */
	assert_int_equal(count_corrupt_files(dir), 1);
	wal_close(w);
	rm_rf(dir);
}

static void test_cli_inspect(void **state)
{
	assert_int_equal(run_cli("inspect", template_dir), 0);
	assert_int_equal(run_cli("verify", template_dir), 0);
	assert_int_equal(run_cli("verify", "/nonexistent/dir"), 2);
	char *argv[] = { "wal", "inspect", NULL };
	assert_int_equal(wal_cli_main(2, argv), 2);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	log_set_stream(fopen("/dev/null", "w"));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_inspect),
		cmocka_unit_test(test_runtime_corruption_of_active_segment),
		cmocka_unit_test(test_segment_bit_flips),
		cmocka_unit_test(test_segment_bit_flips_verify_on_open),
		cmocka_unit_test(test_segment_truncation),
		cmocka_unit_test(test_meta_damage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
