/*
 * grpc_sink — the far end of bench/otlp: a loopback OTLP/gRPC trace receiver on solder's lib/grpcserver
 * (h2c, gzip) that checks each Export request with otlp_validate, counts its spans and answers OK at
 * once, so the benchmark measures the agent, not a backend. Every 100 ms it writes "spans calls bad" to
 * STATS_FILE (replaced atomically), and the bound port to PORT_FILE once listening. SIGTERM stops it;
 * SIGSTOP makes it a stalled backend.
 *   grpc_sink PORT_FILE STATS_FILE
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/grpcserver.h"
#include "lib/otlp.h"

static atomic_ulong spans, calls, bad;
static volatile sig_atomic_t stop;

static void handler(void *ctx, const struct grpc_call *call, struct grpc_reply *reply)
{
	uint64_t items = 0;
	if (strstr(call->path, "TraceService") &&
	    otlp_validate(OTLP_TRACES, call->msg, call->len, &items, NULL, 0) == 0) {
		atomic_fetch_add(&spans, items);
		atomic_fetch_add(&calls, 1);
		return;
	}
	atomic_fetch_add(&bad, 1);
	reply->status = GRPC_INVALID_ARGUMENT;
	snprintf(reply->message, sizeof(reply->message), "not a valid trace export");
}

static void on_term(int sig)
{
	stop = 1;
}

static void write_file(const char *path, const char *text)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: grpc_sink PORT_FILE STATS_FILE\n");
		return 2;
	}
	struct grpcserver_options o = {.listen = "127.0.0.1:0", .max_recv_msg_size = 64u << 20};
	struct grpcserver *srv;
	if (grpcserver_start(&o, handler, NULL, &srv) < 0) {
		fprintf(stderr, "grpc_sink: cannot listen\n");
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	char text[128];
	snprintf(text, sizeof(text), "%d\n", grpcserver_port(srv));
	write_file(argv[1], text);
	while (!stop) {
		snprintf(text, sizeof(text), "%lu %lu %lu\n", atomic_load(&spans), atomic_load(&calls),
			 atomic_load(&bad));
		write_file(argv[2], text);
		usleep(100000);
	}
	grpcserver_stop(srv);
	return 0;
}
