/*
 * bench/journal/journal_bench — loki.source.journal reading a prepared journal directory from the
 * start (max_age long enough to take everything) in the real runtime with a WAL (fsync "group"):
 * every batch is pushed into loki.write (durable in its WAL stream before the cursor is committed),
 * and loki.write delivers to a loopback lib/httpserver that answers 204 without decoding.
 *
 * Prints: entries/s (wall, from start until the source has forwarded all N entries into the WAL),
 * entries per CPU-second of the agent's threads (reader, pusher, WAL writer, loki.write lane — the per-core
 * figure; the receiver runs in a forked child and the bench's polling main thread is left out, see
 * bench/tail/benchutil.h), the CPU by thread, the load average, and peak RSS (VmHWM; sd-journal's
 * mmap windows of the journal file count in it, so RssFile is printed apart from RssAnon).
 *
 * Usage: journal_bench DIR N [ARGS]   (ARGS: extra loki.source.journal arguments, e.g. format_as_json;
 *                                     `relabel_rules = loki.relabel.r.rules` maps unit and level)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/tail/benchutil.h"
#include "cmd/registry.h"
#include "config/config.h"
#include "lib/metrics.h"
#include "pipeline/runtime.h"
#include "wal/wal.h"

#define now_s bench_now_s

struct progress {
	uint64_t out;
	char health[256];
};

static void out_cb(void *arg, const struct component_info *info)
{
	struct progress *p = arg;
	if (strcmp(info->id, "loki.source.journal.bench") == 0) {
		p->out = info->stats.out_records;
		snprintf(p->health, sizeof(p->health), "%s", info->message ? info->message : "");
	}
}

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0)
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* CPU seconds of the threads named `name` (from /proc/self/task/N/stat, in clock ticks). */
static double thread_cpu(const char *name)
{
	double total = 0;
	DIR *d = opendir("/proc/self/task");
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		int tid = atoi(e->d_name);
		char path[64], comm[32] = "", stat[1024];
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
		if (!(f = fopen(path, "r")))
			continue;
		size_t n = fread(stat, 1, sizeof(stat) - 1, f);
		fclose(f);
		stat[n] = 0;
		char *p = strrchr(stat, ')');
		unsigned long ut = 0, st = 0;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
			total += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	if (d)
		closedir(d);
	return total;
}

/* The component's own metrics, as /metrics shows them (non-zero samples only). */
static void print_self_metrics(struct metrics_registry *reg)
{
	char *text = NULL;
	size_t len = 0;
	if (metrics_expose_text(reg, &text, &len) < 0)
		return;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "solder_journal_", 15) == 0 && strcmp(line + strlen(line) - 2, " 0") != 0)
			printf("journal:   %s\n", line);
	free(text);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR N [ARGS]\n", argv[0]);
		return 2;
	}
	uint64_t total = strtoull(argv[2], NULL, 10);
	char dir[] = "/tmp/bench-journal-XXXXXX", text[2048], cmd[64];
	if (!mkdtemp(dir))
		return 1;
	struct bench_receiver recv;
	if (bench_receiver_start(&recv, "/loki/api/v1/push") < 0)
		return 1;
	snprintf(
		text, sizeof(text),
		"loki.source.journal \"bench\" {\n  path = \"%s\"\n  max_age = \"1000000h\"\n"
		"  labels = { job = \"systemd-journal\" }\n  %s\n  forward_to = [loki.write.bench.receiver]\n}\n"
		"loki.relabel \"r\" {\n  forward_to = []\n"
		"  rule {\n    source_labels = [\"__journal__systemd_unit\"]\n    target_label = \"unit\"\n  }\n"
		"  rule {\n    source_labels = [\"__journal_priority_keyword\"]\n    target_label = \"level\"\n  }\n}\n"
		"loki.write \"bench\" {\n  endpoint {\n    url = \"http://127.0.0.1:%d/loki/api/v1/push\"\n  }\n}\n",
		argv[1], argc > 3 ? argv[3] : "", recv.port);
	struct diag_list d;
	diag_list_init(&d);
	struct config *cfg = NULL;
	struct wal *wal;
	struct wal_options wo = {.dir = dir, .fsync = WAL_FSYNC_GROUP};
	struct runtime *rt;
	struct runtime_options ro = {.find_ops = registry_find_ops};
	if (config_load_source(source_from_memory("bench.alloy", text, strlen(text)), registry_components(), NULL, &d,
			       &cfg) != 0 ||
	    wal_open(&wo, &wal) < 0) {
		fprintf(stderr, "config or WAL failed\n");
		return 1;
	}
	ro.wal = wal;
	struct metrics_registry *metrics = NULL;
	if (metrics_registry_new(&metrics) < 0)
		return 1;
	ro.metrics = metrics;
	bench_print_load("journal", "at start");
	double t0 = now_s(), c0 = bench_cpu_s(), main0 = bench_main_thread_cpu(), r0 = bench_receiver_cpu(&recv);
	if (runtime_new(&ro, &rt) < 0 || runtime_apply(rt, cfg, &d) < 0)
		return 1;
	struct progress p = {0};
	while (p.out < total && now_s() - t0 < 600) {
		usleep(2000);
		runtime_visit(rt, out_cb, &p);
		if (getenv("JOURNAL_BENCH_DEBUG"))
			fprintf(stderr, "out=%llu health=%s\n", (unsigned long long)p.out, p.health);
	}
	double t = now_s() - t0, reader_cpu = thread_cpu("journal");
	double cpu = bench_cpu_s() - c0 - (bench_main_thread_cpu() - main0), rcpu = bench_receiver_cpu(&recv) - r0;
	printf("journal: %llu of %llu entries into the WAL in %.2f s: %.0f entries/s wall, %.0f entries per CPU-second "
	       "(%.2f s CPU, agent threads; receiver apart: %.2f s)\n",
	       (unsigned long long)p.out, (unsigned long long)total, t, p.out / t, p.out / cpu, cpu, rcpu);
	bench_print_threads("journal", main0);
	/* The figure is "through loki.source.journal into the WAL": loki.write's lane (decode, protobuf,
	 * snappy, HTTP) reads the WAL afterwards and is the output's cost, as Fluent Bit's is left out when it
	 * is measured into a null output. */
	double lane_cpu = thread_cpu("wal-lane");
	printf("journal: into the WAL alone (agent CPU without loki.write's lane, %.2f s): %.0f entries per CPU-second "
	       "(%.2f s)\n",
	       lane_cpu, cpu - lane_cpu > 0 ? p.out / (cpu - lane_cpu) : 0.0, cpu - lane_cpu);
	printf("journal: the reader thread alone (sd-journal, mapping, batching; the push is journal-push's): %.0f entries per CPU-second "
	       "(%.2f s)\n",
	       reader_cpu > 0 ? p.out / reader_cpu : 0.0, reader_cpu);
	printf("journal: peak RSS %.1f MiB (VmHWM); now RssAnon %.1f MiB, RssFile %.1f MiB (journal mmap windows)\n",
	       status_kib("VmHWM") / 1024.0, status_kib("RssAnon") / 1024.0, status_kib("RssFile") / 1024.0);
	if (p.out < total)
		printf("journal: health: %s\n", p.health);
	print_self_metrics(metrics);
	bench_print_load("journal", "at end");
	runtime_stop(rt, 1000000000LL);
	runtime_free(rt);
	wal_close(wal);
	bench_receiver_stop(&recv);
	diag_list_free(&d);
	metrics_registry_free(metrics);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 && p.out == total ? 0 : 1;
}
