/*
 * otlp_export_component — the component half of otelcol.exporter.otlp and otelcol.exporter.otlphttp:
 * Alloy's arguments turned into a lib/sender (one per distinct URL), an otlp_export client, and one
 * wal_sink lane whose WAL stream is named after the component.
 *
 * How the Collector's exporter helper settings map onto solder:
 *   - `sending_queue`: the WAL is the queue. `input` is wal_sink_push — a push returns once the payload
 *     is durable in the exporter's WAL stream (a full WAL refuses it, and the receiver tells its client
 *     to retry), so queue_size, sizer, num_consumers, block_on_overflow and storage are accepted and
 *     have no further effect: wal.max_size bounds the backlog, on disk, and survives restarts. One
 *     request is in flight per exporter, which keeps the WAL cursor exact.
 *   - `retry_on_failure`: initial_interval and max_interval are the lane's backoff bounds (doubling,
 *     with jitter; a server's Retry-After or RetryInfo delay wins); enabled = false drops a batch at
 *     its first retryable failure. max_elapsed_time drops a batch still failing after that long only
 *     when it is written in the config: by default solder retries for ever, as its other sinks do —
 *     the WAL, not memory, holds the backlog, so waiting costs nothing but disk.
 *   - `timeout` (otlp: top level; otlphttp: in `client`) is each request's deadline, sent to gRPC
 *     servers as grpc-timeout.
 * The `client` block takes solder's zone-aware endpoint arguments (zone, zone_endpoint,
 * kubernetes_service, dns_refresh_interval, circuit settings) for both exporters; for gRPC a URL
 * without a scheme ("tempo:4317", Alloy's form) gets http:// when tls.insecure is true, https://
 * (HTTP/2 by ALPN) otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "lib/sender.h"
#include "pipeline/component.h"
#include "pipeline/wal_sink.h"
#include "sinks/otlp_export.h"

struct otlp_exporter {
	struct component *c;
	struct otlp_export_client *cl;
	struct wal_sink *sink; /* NULL without a WAL: pushes are delivered at once */
	pthread_mutex_t lock;  /* serializes direct delivery */
};

static const struct cfg_body *client_body(const struct cfg_body *args)
{
	size_t cur = 0;
	const struct cfg_block *b = cfg_next_block(args, "client", &cur);
	return b ? b->body : NULL;
}

/* OTel's "1.2" → the sender's "TLS12". */
static char *tls_version(const char *v)
{
	if (!v)
		return NULL;
	char out[8];
	snprintf(out, sizeof(out), "TLS1%c", strlen(v) == 3 && v[0] == '1' && v[1] == '.' ? v[2] : '2');
	return strdup(out);
}

/* The OTel `tls` block has the sender's names; only min_version is written "1.2" rather than "TLS12". */
static void parse_otel_tls(const struct cfg_body *tls, struct sender_config *cfg)
{
	sender_config_tls(tls, cfg);
	free(cfg->tls.min_version);
	cfg->tls.min_version = tls_version(cfg_string(tls, "min_version"));
}

/* "host:port" → "<scheme>://host:port"; URLs with a scheme stay as they are. */
static int with_scheme(char **url, bool insecure)
{
	if (strstr(*url, "://"))
		return 0;
	char *u;
	if (asprintf(&u, "%s://%s", insecure ? "http" : "https", *url) < 0)
		return -ENOMEM;
	free(*url);
	*url = u;
	return 0;
}

int otlp_exporter_sender_config(const struct cfg_body *args, bool grpc, struct sender_config *cfg, char *err,
				size_t errlen)
{
	const struct cfg_body *client = client_body(args);
	memset(cfg, 0, sizeof(*cfg));
	if (!client) {
		snprintf(err, errlen, "no client block");
		return -EINVAL;
	}
	int rc = sender_config_from_body(client, cfg, err, errlen);
	if (rc < 0)
		return rc;
	size_t cur = 0;
	const struct cfg_block *tls = cfg_next_block(client, "tls", &cur);
	bool insecure = tls && cfg_bool(tls->body, "insecure", false);
	if (tls)
		parse_otel_tls(tls->body, cfg);
	cfg->user_agent = strdup("solder");
	const char *authority = cfg_string(client, "authority");
	if (grpc && authority && *authority) {
		struct sender_header *h = realloc(cfg->headers, (cfg->nheaders + 1) * sizeof(*h));
		if (!h)
			return -ENOMEM;
		cfg->headers = h;
		h[cfg->nheaders].name = strdup("Host");
		h[cfg->nheaders++].value = strdup(authority);
	}
	if (!grpc)
		return cfg->user_agent ? 0 : -ENOMEM;
	cfg->grpc = true;
	cfg->timeout_ns = cfg_duration_ns(args, "timeout", 5000000000LL);
	for (size_t i = 0; i < cfg->nurls; i++)
		if ((rc = with_scheme(&cfg->urls[i], insecure)) < 0)
			return rc;
	return cfg->user_agent ? 0 : -ENOMEM;
}

static int compression_of(const struct cfg_body *client, enum otlp_export_compression *out)
{
	const char *c = client ? cfg_string(client, "compression") : NULL;
	if (!c || !strcmp(c, "gzip"))
		*out = OTLP_COMPRESS_GZIP;
	else if (!strcmp(c, "zstd"))
		*out = OTLP_COMPRESS_ZSTD;
	else if (!strcmp(c, "none") || !*c)
		*out = OTLP_COMPRESS_NONE;
	else
		return -EINVAL;
	return 0;
}

/* otlphttp's traces_endpoint, metrics_endpoint, logs_endpoint: a sender for that URL alone. */
static int signal_sender(struct otlp_exporter *e, const struct cfg_body *args, const char *url, struct sender **out)
{
	struct sender_config cfg;
	char err[160];
	int rc = otlp_exporter_sender_config(args, false, &cfg, err, sizeof(err));
	if (rc == 0) {
		for (size_t i = 0; i < cfg.nurls; i++) {
			free(cfg.urls[i]);
			free(cfg.zones[i]);
			cfg.urls[i] = cfg.zones[i] = NULL;
		}
		free(cfg.kube_service);
		cfg.kube_service = NULL;
		cfg.dns_refresh_ns = 0;
		cfg.nurls = 1;
		rc = (cfg.urls[0] = strdup(url)) ? 0 : -ENOMEM;
	}
	if (rc < 0) {
		sender_config_free(&cfg);
		return rc;
	}
	struct sender_metrics_opts m = {component_metrics(e->c), component_id(e->c), component_agent_zone(e->c)};
	return sender_new(&cfg, &m, out);
}

static int make_client(struct otlp_exporter *e, const struct cfg_body *args, bool grpc)
{
	const struct cfg_body *client = client_body(args);
	struct otlp_export_opts o = {.grpc = grpc,
				     .retry = true,
				     .registry = component_metrics(e->c),
				     .component_id = component_id(e->c),
				     .c = e->c};
	const char *id = component_id(e->c);
	if (compression_of(client, &o.compression) < 0) {
		log_error(id, "unsupported compression (solder sends gzip, zstd or none)", "compression=%s",
			  cfg_string(client, "compression"));
		return -EINVAL;
	}
	const char *enc = cfg_string(args, "encoding");
	o.json = !grpc && enc && !strcmp(enc, "json");
	size_t cur = 0;
	const struct cfg_block *retry = cfg_next_block(args, "retry_on_failure", &cur);
	if (retry) {
		o.retry = cfg_bool(retry->body, "enabled", true);
		if (common_attr_set(retry->body, "max_elapsed_time"))
			o.max_elapsed_ns = cfg_duration_ns(retry->body, "max_elapsed_time", 0);
	}
	struct sender_config cfg;
	char err[160];
	int rc = otlp_exporter_sender_config(args, grpc, &cfg, err, sizeof(err));
	if (rc < 0) {
		sender_config_free(&cfg);
		log_error(id, "invalid client", "error=%s", rc == -ENOMEM ? "out of memory" : err);
		return rc;
	}
	struct sender_metrics_opts m = {component_metrics(e->c), id, component_agent_zone(e->c)};
	struct sender *def = NULL, *per[OTLP_SIGNALS] = {NULL};
	if ((rc = sender_new(&cfg, &m, &def)) < 0) {
		log_error(id, "cannot create the client", "endpoint=%s", cfg_string(client, "endpoint"));
		return rc;
	}
	static const char *const keys[OTLP_SIGNALS] = {"traces_endpoint", "metrics_endpoint", "logs_endpoint"};
	for (int i = 0; !grpc && i < OTLP_SIGNALS; i++) {
		const char *url = cfg_string(args, keys[i]);
		if (url && *url && (rc = signal_sender(e, args, url, &per[i])) < 0) {
			log_error(id, "cannot create the client", "%s=%s", keys[i], url);
			sender_free(def);
			for (int j = 0; j < i; j++)
				sender_free(per[j]);
			return rc;
		}
	}
	return otlp_export_client_new(&o, def, per, &e->cl);
}

/* Without a WAL (unit tests, tools), a push is delivered at once: OK and DROP accept, RETRY refuses. */
static int direct_push(void *arg, struct batch *b, unsigned flags)
{
	struct otlp_exporter *e = arg;
	struct wal_sink_outcome o = {0};
	pthread_mutex_lock(&e->lock);
	enum wal_sink_result r = otlp_export_deliver(e->cl, b, &o);
	pthread_mutex_unlock(&e->lock);
	if (r == WAL_SINK_DROP)
		component_count_dropped(e->c, o.drop_reason ? o.drop_reason : "rejected", b->n_records, b->bytes);
	else if (r == WAL_SINK_OK)
		component_count_out(e->c, b->n_records, b->bytes);
	return r == WAL_SINK_RETRY ? -EAGAIN : 0;
}

static const struct wal_sink_lane_ops lane_ops = {otlp_export_deliver};

int otlp_exporter_create(struct component *c, const struct cfg_body *args, bool grpc, struct otlp_exporter **out)
{
	struct otlp_exporter *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->c = c;
	pthread_mutex_init(&e->lock, NULL);
	int rc = make_client(e, args, grpc);
	if (rc < 0)
		goto fail;
	if (component_wal(c)) {
		size_t cur = 0;
		const struct cfg_block *retry = cfg_next_block(args, "retry_on_failure", &cur);
		struct wal_sink_options wo = {
			.max_bytes = 2 << 20,
			.max_wait_ns = 200000000LL,
			.min_backoff_ns =
				retry ? cfg_duration_ns(retry->body, "initial_interval", 5000000000LL) : 5000000000LL,
			.max_backoff_ns =
				retry ? cfg_duration_ns(retry->body, "max_interval", 30000000000LL) : 30000000000LL,
		};
		struct wal_sink_lane lane = {NULL, e->cl, NULL};
		if ((rc = wal_sink_new(c, &lane, 1, &lane_ops, &wo, &e->sink)) < 0) {
			log_error(component_id(c), "cannot open the WAL stream", "error=%s", strerror(-rc));
			goto fail;
		}
		rc = component_export_receiver(c, "input", wal_sink_push, e->sink);
	} else {
		rc = component_export_receiver(c, "input", direct_push, e);
	}
	if (rc < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	otlp_exporter_free(e);
	return rc;
}

int otlp_exporter_start(struct otlp_exporter *e)
{
	return e->sink ? wal_sink_start(e->sink) : 0;
}

void otlp_exporter_stop(struct otlp_exporter *e, int64_t deadline_ns)
{
	wal_sink_stop(e->sink, deadline_ns);
}

void otlp_exporter_free(struct otlp_exporter *e)
{
	if (!e)
		return;
	wal_sink_free(e->sink);
	otlp_export_client_free(e->cl);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
