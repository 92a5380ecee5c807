/*
 * bench/tail/benchutil.h — what the node-log benches (bench/tail, bench/journal) share so their CPU
 * figures mean the same thing: the loopback Loki receiver runs in a forked child process, so its CPU
 * (HTTP parsing, the socket's receive side) is not charged to solder's getrusage; the agent's CPU is
 * broken down per thread name (the product names its threads: solder-tail, solder-push, wal-writer,
 * wal-lane, journal, …) from /proc/self/task; and the machine's load average is printed with the
 * figures, because on a shared 2-core host wall-clock rates depend on it and CPU-second rates less so.
 *
 * Header-only (static functions): every .c under bench/NAME/ becomes a program of its own.
 */
#ifndef SOLDER_BENCH_BENCHUTIL_H
#define SOLDER_BENCH_BENCHUTIL_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/httpserver.h"

struct bench_receiver {
	pid_t pid;
	int port;
	int ctl;      /* write end: closing it tells the child to exit */
	double cpu_s; /* the child's user+sys, known after bench_receiver_stop */
};

static __attribute__((unused)) int bench_receive_204(void *ctx, const struct http_request *req,
						     struct http_response *resp)
{
	(void)ctx;
	(void)req;
	resp->status = 204;
	return 0;
}

static __attribute__((unused)) double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((unused)) double bench_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Forks the receiver (POST path answers 204). Call before any thread exists. 0 or -1. */
static __attribute__((unused)) int bench_receiver_start(struct bench_receiver *r, const char *path)
{
	int portp[2], ctlp[2];
	if (pipe(portp) < 0 || pipe(ctlp) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(portp[0]);
		close(ctlp[1]);
		struct httpserver_options ho = {.listen = "127.0.0.1:0"};
		struct httpserver *srv;
		int port = -1;
		if (httpserver_start(&ho, &srv) == 0 &&
		    httpserver_route(srv, "POST", path, HTTP_ROUTE_EXACT, bench_receive_204, NULL) == 0)
			port = httpserver_port(srv);
		if (write(portp[1], &port, sizeof(port)) != sizeof(port) || port < 0)
			_exit(1);
		char c;
		while (read(ctlp[0], &c, 1) > 0)
			;
		httpserver_stop(srv);
		_exit(0);
	}
	close(portp[1]);
	close(ctlp[0]);
	r->pid = pid;
	r->ctl = ctlp[1];
	r->cpu_s = 0;
	int port = -1;
	if (read(portp[0], &port, sizeof(port)) != sizeof(port) || port < 0) {
		close(portp[0]);
		return -1;
	}
	close(portp[0]);
	r->port = port;
	return 0;
}

static __attribute__((unused)) void bench_receiver_stop(struct bench_receiver *r)
{
	close(r->ctl);
	struct rusage ru;
	int status;
	if (wait4(r->pid, &status, 0, &ru) == r->pid)
		r->cpu_s =
			ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The receiver's CPU so far (from /proc/PID/stat, every thread), for printing before it stops. */
static __attribute__((unused)) double bench_receiver_cpu(const struct bench_receiver *r)
{
	char path[64], stat[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)r->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = 0;
	char *p = strrchr(stat, ')');
	unsigned long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct bench_thread_cpu {
	char name[32];
	double cpu_s;
};

/* CPU seconds per thread name of this process, summed over threads of the same name; returns n. */
static __attribute__((unused)) double bench_main_thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((unused)) size_t bench_threads(struct bench_thread_cpu *out, size_t cap)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/task");
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[32] = "", stat[1024];
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
		if (atoi(e->d_name) == (int)getpid())
			snprintf(comm, sizeof(comm), "main");
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		size_t len = fread(stat, 1, sizeof(stat) - 1, f);
		fclose(f);
		stat[len] = 0;
		char *p = strrchr(stat, ')');
		unsigned long ut = 0, st = 0;
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
			continue;
		double s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		size_t i = 0;
		while (i < n && strcmp(out[i].name, comm) != 0)
			i++;
		if (i == n) {
			if (n == cap)
				continue;
			snprintf(out[n].name, sizeof(out[n].name), "%s", comm);
			out[n++].cpu_s = 0;
		}
		out[i].cpu_s += s;
	}
	if (d)
		closedir(d);
	return n;
}

/* One line: "<prefix>: CPU by thread (s): name 0.12, …" (clock ticks; threads still alive). The main
 * thread's CPU before the clock started (since_main_s) is taken off. */
static __attribute__((unused)) void bench_print_threads(const char *prefix, double since_main_s)
{
	struct bench_thread_cpu t[32];
	size_t n = bench_threads(t, 32);
	printf("%s: CPU by thread (s):", prefix);
	for (size_t i = 0; i < n; i++) {
		double s = t[i].cpu_s;
		if (strcmp(t[i].name, "main") == 0) /* it also built the input before the clock started */
			s -= since_main_s;
		printf(" %s %.2f%s", t[i].name, s > 0 ? s : 0.0, i + 1 < n ? "," : "\n");
	}
	if (!n)
		printf(" (unavailable)\n");
}

static __attribute__((unused)) void bench_print_load(const char *prefix, const char *when)
{
	double la[3] = {0, 0, 0};
	if (getloadavg(la, 3) < 0)
		return;
	printf("%s: load average %s: %.2f %.2f %.2f (%ld CPUs)\n", prefix, when, la[0], la[1], la[2],
	       sysconf(_SC_NPROCESSORS_ONLN));
}

#endif
