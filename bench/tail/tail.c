/*
 * bench/tail — the container log path in one process: a kubelet-layout CRI file of ~200-byte JSON
 * lines is tailed by solder.source.container_logs, passed through loki.process (stage.cri) into the
 * WAL (fsync "group"), read back by loki.write and POSTed to a loopback lib/httpserver answering 204.
 * Prints lines/s until every line was durable in the WAL (the source's own rate) and until loki.write
 * had every line acknowledged (end to end), lines per CPU-second and CPU seconds per GiB of log
 * (user+sys of every agent thread: tailer, pusher, WAL writer, loki.write's lane), the CPU by thread,
 * the receiver's CPU apart (it runs in a forked child: benchutil.h), the load average, and peak RSS.
 *
 * The file is written before the clock starts (page cache warm, as for a file being followed live).
 * container_logs already parses CRI, so stage.cri sees parsed lines and passes them through: the
 * stage's cost on a non-matching line is what is measured for it.
 *
 * Usage: tail [MiB]   (default 256)
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
#define cpu_s bench_cpu_s

static void out_cb(void *arg, const struct component_info *info)
{
	uint64_t *out = arg;
	if (strcmp(info->id, "loki.write.bench") == 0)
		out[0] = info->stats.out_records;
	if (strcmp(info->id, "solder.source.container_logs.bench") == 0)
		out[1] = info->stats.out_records;
}

/* Writes `mib` MiB of CRI lines; returns how many lines. */
static uint64_t write_log(const char *path, uint64_t mib)
{
	FILE *f = fopen(path, "w");
	if (!f)
		exit(1);
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	uint64_t bytes = 0, n = 0;
	while (bytes < mib << 20) {
		int len = fprintf(
			f,
			"2023-11-14T22:13:%02llu.%09lluZ stdout F {\"level\":\"info\",\"msg\":\"request completed\","
			"\"method\":\"GET\",\"path\":\"/api/v1/orders\",\"status\":200,\"duration_ms\":%llu.%03llu,"
			"\"request_id\":\"%016llx\",\"ua\":\"kube-probe/1.29\"}\n",
			(unsigned long long)(n / 1000000 % 60), (unsigned long long)(n % 1000000000),
			(unsigned long long)(n * 31 % 900), (unsigned long long)(n * 17 % 1000),
			(unsigned long long)(n * 0x9E3779B97F4A7C15ULL));
		bytes += (uint64_t)len;
		n++;
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
	struct bench_receiver recv;
	if (bench_receiver_start(&recv, "/loki/api/v1/push") < 0)
		return 1;
	char dir[] = "/tmp/bench-tail-XXXXXX", pods[128], path[256], wald[128], text[2048], cmd[512];
	if (!mkdtemp(dir))
		return 1;
	snprintf(pods, sizeof(pods), "%s/pods", dir);
	snprintf(wald, sizeof(wald), "%s/wal", dir);
	snprintf(path, sizeof(path), "%s/shop_checkout-1_0a1b/app", pods);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
	if (system(cmd) != 0)
		return 1;
	strcat(path, "/0.log");
	uint64_t total = write_log(path, mib);
	snprintf(text, sizeof(text),
		 "solder.source.container_logs \"bench\" {\n  path = \"%s\"\n  forward_to = "
		 "[loki.process.bench.receiver]\n}\n"
		 "loki.process \"bench\" {\n  forward_to = [loki.write.bench.receiver]\n  stage.cri { }\n}\n"
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
	bench_print_load("tail", "at start");
	double c0 = cpu_s(), main0 = bench_main_thread_cpu(), r0 = bench_receiver_cpu(&recv), t0 = now_s();
	if (runtime_new(&ro, &rt) < 0 || runtime_apply(rt, cfg, &d) < 0)
		return 1;
	uint64_t outs[2] = {0, 0}, out = 0;
	double t_wal = 0;
	while (out < total && now_s() - t0 < 600) {
		usleep(2000);
		runtime_visit(rt, out_cb, outs);
		out = outs[0];
		if (!t_wal && outs[1] >= total)
			t_wal = now_s() - t0;
	}
	/* the main thread only polls progress here (runtime_visit every 2 ms): not the agent's work */
	double t = now_s() - t0, cpu = cpu_s() - c0 - (bench_main_thread_cpu() - main0);
	double rcpu = bench_receiver_cpu(&recv) - r0;
	struct wal_stats ws;
	wal_stats(wal, &ws);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double gib = (double)(mib << 20) / (1 << 30);
	printf("tail: %llu MiB, %llu CRI lines of ~200 B: container_logs -> loki.process(stage.cri) -> WAL -> "
	       "loki.write -> 204\n",
	       (unsigned long long)mib, (unsigned long long)total);
	printf("tail: read, parsed and durable in the WAL in %.2f s: %.0f lines/s; the last line was acknowledged\n"
	       "tail:   %.2f s later (a last WAL entry smaller than batch_size waits up to batch_wait, 1 s)\n",
	       t_wal, total / (t_wal > 0 ? t_wal : t), t_wal > 0 ? t - t_wal : 0.0);
	printf("tail: delivered %llu lines in %.2f s: %.0f lines/s; %.2f CPU s (agent threads): %.0f lines per "
	       "CPU-second, %.2f CPU s per GiB; peak RSS %.1f MiB\n",
	       (unsigned long long)out, t, out / t, cpu, out / cpu, cpu / gib, ru.ru_maxrss / 1024.0);
	bench_print_threads("tail", main0);
	printf("tail: receiver (child process, not counted above): %.2f CPU s; WAL: %llu frames, %.1f MiB raw -> %.1f "
	       "MiB on disk, %llu group commits, %llu fsyncs\n",
	       rcpu, (unsigned long long)ws.appended_frames, ws.appended_raw_bytes / 1048576.0,
	       ws.appended_bytes / 1048576.0, (unsigned long long)ws.groups, (unsigned long long)ws.fsyncs);
	bench_print_load("tail", "at end");
	runtime_stop(rt, 1000000000LL);
	runtime_free(rt);
	wal_close(wal);
	bench_receiver_stop(&recv);
	diag_list_free(&d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 && out == total ? 0 : 1;
}
