/*
 * bench/tail/files — memory with many files: N pods of one container each, every 0.log holding a few
 * CRI lines, all tailed by one solder.source.container_logs into the WAL and loki.write (204
 * receiver, forked so its memory and CPU are not the agent's: benchutil.h). Prints peak RSS once
 * every line was delivered and after more lines were appended to every file, so runs with 500 and
 * 5,000 files show what each followed file costs, and the load average.
 *
 * Usage: files [N]   (default 5000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/tail/benchutil.h"
#include "cmd/registry.h"
#include "config/config.h"
#include "pipeline/runtime.h"
#include "wal/wal.h"

#define now_s bench_now_s

static void out_cb(void *arg, const struct component_info *info)
{
	if (strcmp(info->id, "loki.write.bench") == 0)
		*(uint64_t *)arg = info->stats.out_records;
}

static uint64_t write_lines(const char *path, uint64_t from, int n)
{
	FILE *f = fopen(path, "a");
	if (!f)
		exit(1);
	for (int i = 0; i < n; i++)
		fprintf(f, "2023-11-14T22:13:00.%09lluZ stdout F {\"msg\":\"line %llu\"}\n",
			(unsigned long long)(from + i), (unsigned long long)(from + i));
	fclose(f);
	return (uint64_t)n;
}

static uint64_t wait_out(struct runtime *rt, uint64_t total)
{
	uint64_t out = 0;
	double t0 = now_s();
	while (out < total && now_s() - t0 < 120) {
		usleep(5000);
		runtime_visit(rt, out_cb, &out);
	}
	return out;
}

static double rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
	int nfiles = argc > 1 ? atoi(argv[1]) : 5000;
	struct bench_receiver recv;
	if (bench_receiver_start(&recv, "/loki/api/v1/push") < 0)
		return 1;
	char dir[] = "/tmp/bench-tail-files-XXXXXX", pods[128], wald[128], text[2048], cmd[512];
	if (!mkdtemp(dir))
		return 1;
	snprintf(pods, sizeof(pods), "%s/pods", dir);
	snprintf(wald, sizeof(wald), "%s/wal", dir);
	uint64_t total = 0;
	for (int i = 0; i < nfiles; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/ns_pod-%d_uid%d/app", pods, i, i);
		snprintf(cmd, sizeof(cmd), "%s", p);
		for (char *s = cmd + strlen(dir) + 1; (s = strchr(s + 1, '/'));) {
			*s = 0;
			mkdir(cmd, 0755);
			*s = '/';
		}
		mkdir(cmd, 0755);
		strcat(p, "/0.log");
		total += write_lines(p, 0, 4);
	}
	snprintf(text, sizeof(text),
		 "solder.source.container_logs \"bench\" {\n  path = \"%s\"\n  forward_to = "
		 "[loki.write.bench.receiver]\n}\n"
		 "loki.write \"bench\" {\n  endpoint {\n    url = \"http://127.0.0.1:%d/loki/api/v1/push\"\n  }\n}\n",
		 pods, recv.port);
	struct diag_list d;
	diag_list_init(&d);
	struct config *cfg = NULL;
	struct wal *wal;
	struct wal_options wo = {.dir = wald, .fsync = WAL_FSYNC_GROUP};
	struct runtime *rt;
	struct runtime_options ro = {.find_ops = registry_find_ops};
	if (config_load_source(source_from_memory("bench.alloy", text, strlen(text)), registry_components(), NULL, &d,
			       &cfg) != 0 ||
	    wal_open(&wo, &wal) < 0) {
		diag_print(&d, stderr, false);
		return 1;
	}
	ro.wal = wal;
	double before = rss_mib(), t0 = now_s();
	if (runtime_new(&ro, &rt) < 0 || runtime_apply(rt, cfg, &d) < 0)
		return 1;
	uint64_t out = wait_out(rt, total);
	double t1 = now_s() - t0, first = rss_mib();
	for (int i = 0; i < nfiles; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/ns_pod-%d_uid%d/app/0.log", pods, i, i);
		total += write_lines(p, 4, 4);
	}
	out = wait_out(rt, total);
	bench_print_load("tail files", "at end");
	printf("tail files: %d files followed, %llu lines delivered (first pass %.2f s); peak RSS %.1f MiB before "
	       "start, %.1f MiB after the first pass, %.1f MiB after appending to every file\n",
	       nfiles, (unsigned long long)out, t1, before, first, rss_mib());
	runtime_stop(rt, 1000000000LL);
	runtime_free(rt);
	wal_close(wal);
	bench_receiver_stop(&recv);
	diag_list_free(&d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 && out == total ? 0 : 1;
}
