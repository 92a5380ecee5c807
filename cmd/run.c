/*
 * run — `solder run CONFIG`: the agent. Loads and validates the config (nothing starts if it is
 * invalid), serves the self-observability endpoints, starts the component graph and then waits on the
 * main thread for signals, reload requests and changed exports.
 *
 * Signals are blocked in every thread and taken synchronously here with sigtimedwait, so a signal
 * never interrupts a component: SIGTERM/SIGINT stop sources and let sinks drain up to
 * --shutdown-timeout; SIGHUP and POST /-/reload load the file again, and an invalid file keeps the
 * running graph (logged, solder_config_last_load_successful 0, and the reload request gets a 400 with
 * the diagnostics).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/registry.h"
#include "cmd/status_http.h"
#include "cmd/wal_block.h"
#include "cmd/wal_metrics.h"
#include "cmd/zone_block.h"
#include "config/types.h"
#include "lib/agent_zone.h"
#include "lib/httpserver.h"
#include "lib/kube.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/procstats.h"
#include "lib/selfaddr.h"
#include "pipeline/runtime.h"
#include "wal/wal.h"

struct run_options {
	const char *config_path;
	const char *storage_path;
	const char *listen;
	const char *log_level;
	int64_t shutdown_timeout_ns;
};

struct agent {
	struct run_options opts;
	struct runtime *rt;
	struct wal *wal;
	struct metrics_registry *metrics;
	struct kube_client *kube;   /* NULL outside a cluster without a kubeconfig */
	struct zone_watcher *zones; /* the agent's zone, refreshed on solder.zone's interval */
	struct agent_zone *zone;    /* what senders see: zone, failover order, kube, endpoint directory */
	struct httpserver *http;
	struct status_ctx status;
	pthread_mutex_t lock;
	pthread_cond_t reloaded;
	uint64_t reload_requested, reload_done; /* sequence numbers */
	int reload_rc;
	char reload_message[4096];
	bool ready;
	struct metric_gauge *last_load_ok, *last_load_ts;
	struct metric_counter *load_failures;
};

static void usage(FILE *out)
{
	fputs("usage: solder run [options] CONFIG.alloy\n\n"
	      "Runs the agent. The config is validated first; nothing starts when it is invalid.\n\n"
	      "  --server.http.listen-addr ADDR  self-metrics, status page and /-/reload (default 127.0.0.1:12345)\n"
	      "  --storage.path DIR              write-ahead log directory (default ./data-solder)\n"
	      "  --log.level LEVEL               debug, info, warn or error (default info)\n"
	      "  --shutdown-timeout DURATION     how long sinks may drain on SIGTERM (default 30s)\n\n"
	      "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads the config (as does POST /-/reload).\n",
	      out);
}

/* Accepts `--name value` and `--name=value`; returns the value or NULL (advancing *i when it used the next). */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static int parse_args(int argc, char **argv, struct run_options *o)
{
	*o = (struct run_options){ NULL, "./data-solder", "127.0.0.1:12345", NULL, 30000000000LL };
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (cmd_is_help(argv[i])) {
			usage(stdout);
			return 1;
		} else if ((v = flag_value(argc, argv, &i, "--server.http.listen-addr"))) {
			o->listen = v;
		} else if ((v = flag_value(argc, argv, &i, "--storage.path"))) {
			o->storage_path = v;
		} else if ((v = flag_value(argc, argv, &i, "--log.level"))) {
			o->log_level = v;
		} else if ((v = flag_value(argc, argv, &i, "--shutdown-timeout"))) {
			if (parse_duration(v, &o->shutdown_timeout_ns) < 0 || o->shutdown_timeout_ns < 0) {
				fprintf(stderr, "solder run: invalid --shutdown-timeout \"%s\"\n", v);
				return -EINVAL;
			}
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "solder run: unknown or incomplete option %s\n", argv[i]);
			return -EINVAL;
		} else if (!o->config_path) {
			o->config_path = argv[i];
		} else {
			fprintf(stderr, "solder run: one config file only (got %s and %s)\n", o->config_path, argv[i]);
			return -EINVAL;
		}
	}
	if (!o->config_path) {
		usage(stderr);
		return -EINVAL;
	}
	if (o->log_level && log_set_level_name(o->log_level) < 0) {
		fprintf(stderr, "solder run: unknown --log.level \"%s\"\n", o->log_level);
		return -EINVAL;
	}
	if (o->log_level)
		log_pin_level(); /* the flag wins over the config's logging block */
	return 0;
}

static int open_wal(struct agent *a, const struct config *cfg)
{
	struct wal_options wo = { .dir = a->opts.storage_path };
	long idx = config_find(cfg, "wal");
	if (idx >= 0 && cfg->components[idx].args)
		wal_block_options(cfg->components[idx].args, &wo);
	else
		wo.max_size = 1ULL << 30;
	wal_metrics_latency_hook(a->metrics, &wo);
	int rc = wal_open(&wo, &a->wal);
	if (rc < 0)
		return rc;
	wal_metrics_register(a->metrics, a->wal);
	log_info("agent", "WAL open", "path=%s max_size=%llu", a->opts.storage_path, (unsigned long long)wo.max_size);
	return 0;
}

/* The Kubernetes API client, when there is one to be had (in-cluster, $KUBECONFIG, ~/.kube/config): the
 * node's zone label and kubernetes_service endpoints need it; without it both are simply not used. */
static void open_kube(struct agent *a)
{
	struct kube_config *kc = NULL;
	int rc = kube_config_auto(&kc);
	if (rc == 0)
		rc = kube_client_new(kc, NULL, &a->kube);
	kube_config_free(kc);
	if (rc < 0)
		log_debug("agent", "no Kubernetes API client", "error=%s", strerror(-rc));
}

/* At start, before any sink: the agent's zone (logged and published as solder_agent_zone_info by the
 * watcher) and the agent_zone senders read it through. An unknown zone is not an error: zone-aware
 * endpoints then send to every zone alike, and each says so once. */
static int start_zone(struct agent *a, const struct config *cfg)
{
	long idx = config_find(cfg, "solder.zone");
	struct zone_opts zo;
	const char *pref[ZONE_BLOCK_MAX_PREFERENCE + 1];
	zone_block_options(idx >= 0 ? cfg->components[idx].args : NULL, &zo, pref);
	/* EC2's metadata service is asked only when the zone matters (an endpoint names zones) or the
	 * config names the service: an agent with no zone-aware endpoint sends nothing off the host. */
	if (!zone_block_config_zone_aware(cfg)) {
		zo.quiet_unknown = true;
		if (!zo.imds_url)
			zo.imds_url = "";
	}
	open_kube(a);
	zo.kube = a->kube;
	int rc = zone_watcher_start(&zo, a->metrics, &a->zones);
	if (rc == 0)
		rc = agent_zone_new(a->zones, a->kube, pref, &a->zone);
	return rc;
}

/* At start only: streams of sinks no longer in the config are dropped (the WAL logs each). */
static void drop_unclaimed_streams(struct agent *a)
{
	const char *claimed[512];
	size_t n = runtime_claimed_streams(a->rt, claimed, 512);
	if (n > 512)
		return; /* more sinks than we can list: keep everything rather than guess */
	wal_drop_streams_except(a->wal, claimed, n);
}

/* Loads the config file and, if valid, applies it. Fills msg with the diagnostics on failure. */
static int load_and_apply(struct agent *a, char *msg, size_t msglen)
{
	struct diag_list diags;
	diag_list_init(&diags);
	struct config *cfg = NULL;
	int rc = config_load(a->opts.config_path, registry_components(), NULL, &diags, &cfg);
	if (rc == 0 && !a->wal) { /* first load: the WAL opens with the config's settings, before any sink */
		rc = open_wal(a, cfg);
		if (rc < 0)
			snprintf(msg, msglen, "cannot open the WAL at %s: %s\n", a->opts.storage_path, strerror(-rc));
	}
	if (rc == 0 && !a->zone && (rc = start_zone(a, cfg)) < 0)
		snprintf(msg, msglen, "cannot start the zone watcher: %s\n", strerror(-rc));
	if (rc == 0 && !a->rt) {
		struct runtime_options ro = { registry_find_ops, NULL, a->metrics, a->wal, a->zone };
		rc = runtime_new(&ro, &a->rt);
		a->status.rt = a->rt;
		a->status.zone = a->zone;
	}
	if (rc == 0) {
		rc = runtime_apply(a->rt, cfg, &diags);
		if (rc == 0)
			cfg = NULL; /* the runtime owns it now */
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	diag_print_brief(&diags, f);
	fclose(f);
	if (len || !msg[0])
		snprintf(msg, msglen, "%s", text ? text : "");
	if (diags.n && (rc < 0 || len))
		fputs(text, stderr);
	if (rc == 0)
		wal_metrics_register_streams(a->metrics, a->wal);
	free(text);
	config_free(cfg);
	diag_list_free(&diags);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	metric_gauge_set(a->last_load_ok, rc == 0 ? 1 : 0);
	if (rc == 0)
		metric_gauge_set(a->last_load_ts, (double)now.tv_sec);
	else
		metric_counter_inc(a->load_failures);
	return rc;
}

static void do_reload(struct agent *a, const char *why)
{
	char msg[4096];
	int rc = load_and_apply(a, msg, sizeof(msg));
	if (rc == 0)
		log_info("agent", "config reloaded", "trigger=%s path=%s", why, a->opts.config_path);
	else
		log_error("agent", "config reload failed; the running configuration is kept", "trigger=%s path=%s", why,
			  a->opts.config_path);
	pthread_mutex_lock(&a->lock);
	a->reload_rc = rc;
	snprintf(a->reload_message, sizeof(a->reload_message), "%s", msg);
	pthread_mutex_unlock(&a->lock);
}

static int reload_handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct agent *a = ctx;
	pthread_mutex_lock(&a->lock);
	uint64_t mine = ++a->reload_requested;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	while (a->reload_done < mine)
		if (pthread_cond_timedwait(&a->reloaded, &a->lock, &deadline) != 0)
			break;
	bool done = a->reload_done >= mine;
	int rc = a->reload_rc;
	char msg[4096];
	snprintf(msg, sizeof(msg), "%s", a->reload_message);
	pthread_mutex_unlock(&a->lock);
	if (!done)
		return -EAGAIN;
	resp->status = rc == 0 ? 200 : 400;
	return http_response_printf(resp, "%s%s", rc == 0 ? "config reloaded\n" : "config is invalid; kept the running one\n",
				    msg);
}

static int ready_check(void *ctx, char *why, size_t why_len)
{
	struct agent *a = ctx;
	if (!a->ready)
		snprintf(why, why_len, "starting");
	return a->ready ? 1 : 0;
}

static int start_http(struct agent *a, struct httpserver_ready_check *ready)
{
	struct httpserver_options ho = { .listen = a->opts.listen, .max_connections = 64, .metrics = a->metrics,
					 .name = "agent" };
	int rc = httpserver_start(&ho, &a->http);
	if (rc < 0) {
		log_error("agent", "cannot serve HTTP", "listen=%s error=\"%s\"", a->opts.listen, strerror(-rc));
		return rc;
	}
	httpserver_route(a->http, "GET", "/metrics", HTTP_ROUTE_EXACT, httpserver_metrics_handler, a->metrics);
	httpserver_route(a->http, "GET", "/-/healthy", HTTP_ROUTE_EXACT, httpserver_healthy_handler, NULL);
	httpserver_route(a->http, "GET", "/-/ready", HTTP_ROUTE_EXACT, httpserver_ready_handler, ready);
	httpserver_route(a->http, "POST", "/-/reload", HTTP_ROUTE_EXACT, reload_handler, a);
	httpserver_route(a->http, "GET", "/-/reload", HTTP_ROUTE_EXACT, reload_handler, a);
	httpserver_route(a->http, "GET", "/api/v0/components", HTTP_ROUTE_EXACT, status_components_handler, &a->status);
	httpserver_route(a->http, "GET", "/", HTTP_ROUTE_EXACT, status_page_handler, &a->status);
	log_info("agent", "serving HTTP", "listen=%s port=%d", a->opts.listen, httpserver_port(a->http));
	return 0;
}

static void register_agent_metrics(struct agent *a)
{
	procstats_register(a->metrics, solder_version(), solder_version(), __VERSION__);
	a->last_load_ok = metrics_gauge_child(metrics_gauge_family(a->metrics, "solder_config_last_load_successful",
								   "1 if the last config load succeeded.", METRICS_END));
	a->last_load_ts = metrics_gauge_child(metrics_gauge_family(a->metrics,
								   "solder_config_last_load_success_timestamp_seconds",
								   "When the config last loaded successfully.", METRICS_END));
	a->load_failures = metrics_counter_child(metrics_counter_family(a->metrics, "solder_config_load_failures_total",
									"Config loads that failed.", METRICS_END));
}

/* The main loop: one place for signals, HTTP reload requests and dirty exports. */
static void main_loop(struct agent *a, const sigset_t *signals)
{
	struct timespec tick = { 0, 100000000L };
	for (;;) {
		siginfo_t info;
		int sig = sigtimedwait(signals, &info, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("agent", "shutting down", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		if (sig == SIGHUP)
			do_reload(a, "SIGHUP");
		pthread_mutex_lock(&a->lock);
		uint64_t wanted = a->reload_requested;
		pthread_mutex_unlock(&a->lock);
		if (wanted > a->reload_done) {
			do_reload(a, "http");
			pthread_mutex_lock(&a->lock);
			a->reload_done = wanted;
			pthread_cond_broadcast(&a->reloaded);
			pthread_mutex_unlock(&a->lock);
		}
		if (runtime_wait_dirty(a->rt, 0))
			runtime_process_dirty(a->rt);
	}
}

int cmd_run(int argc, char **argv)
{
	struct agent a = { 0 };
	int prc = parse_args(argc, argv, &a.opts);
	if (prc)
		return prc > 0 ? EXIT_OK : EXIT_USAGE;
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL); /* before any thread exists, so all inherit it */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.reloaded, NULL);
	int exit_code = EXIT_INVALID;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	a.status = (struct status_ctx){ NULL, a.opts.config_path, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, NULL };
	if (metrics_registry_new(&a.metrics) < 0)
		return EXIT_INVALID;
	register_agent_metrics(&a);
	selfaddr_set(a.opts.listen); /* prometheus.exporter.self targets the agent's own /metrics */
	char msg[4096] = "";
	if (load_and_apply(&a, msg, sizeof(msg)) < 0) {
		if (msg[0] && !a.wal)
			fputs(msg, stderr);
		log_error("agent", "not starting", "path=%s", a.opts.config_path);
		goto out;
	}
	drop_unclaimed_streams(&a);
	struct httpserver_ready_check ready = { ready_check, &a };
	if (start_http(&a, &ready) < 0)
		goto out;
	a.ready = true;
	log_info("agent", "started", "config=%s version=%s", a.opts.config_path, solder_version());
	main_loop(&a, &signals);
	runtime_stop(a.rt, a.opts.shutdown_timeout_ns);
	exit_code = EXIT_OK;
out:
	httpserver_stop(a.http);
	runtime_free(a.rt);
	agent_zone_free(a.zone);
	zone_watcher_stop(a.zones);
	kube_client_free(a.kube);
	wal_close(a.wal);
	metrics_registry_free(a.metrics);
	pthread_mutex_destroy(&a.lock);
	pthread_cond_destroy(&a.reloaded);
	if (exit_code == EXIT_OK)
		log_info("agent", "stopped", NULL);
	return exit_code;
}
