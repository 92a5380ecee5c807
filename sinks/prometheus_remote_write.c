/*
 * prometheus.remote_write — sends samples to Prometheus, Mimir or any Remote Write 1.0 or 2.0
 * receiver, as Alloy's prometheus.remote_write does, through the WAL.
 *
 * Each `endpoint` block is one wal_sink lane (its own WAL stream, cursor, thread and sender): every
 * endpoint gets every sample and a dead one never stalls a healthy one. Alloy's shards are replaced
 * by the lane: one sender per endpoint keeps every series in order without any hashing of series to
 * shards, so `capacity`, `max_shards` and `min_shards` are accepted and have no effect (the WAL is
 * the queue). The receiver is wal_sink_push: a sample is accepted once it is durable.
 *
 * A lane merges WAL entries up to batch_send_deadline and hands them to rw_deliver, which encodes
 * (prw_encoder_*) and classifies; backoff, acks, health and drop counters are wal_sink's, HTTP is
 * lib/sender's. The merged batch is cut into requests of max_samples_per_send samples; when request
 * k fails with a retryable error, the retry resumes at request k (the lane hands the same batch
 * again), because resending requests 0..k-1 would turn into "out of order sample" rejections for
 * series with several samples.
 *
 * The encoder (sinks/prometheus_remote_write_encoder.c) groups samples into series, applies
 * write_relabel_config once per series, merges external_labels without overriding, orders samples
 * by timestamp and sends each family's metadata once per metadata_config.send_interval, side by side
 * in the first requests of a delivery (1.0; in 2.0 every series carries its own). A rejected
 * request (4xx) drops and counts its own samples only.
 *
 * Remote Write 2.0 (protobuf_message = "io.prometheus.write.v2.Request") is per endpoint: a 415 means
 * the receiver does not take 2.0, so the endpoint falls back to 1.0 (logged once, counted in
 * solder_prometheus_remote_write_v1_fallbacks_total) and the same request is sent again as 1.0 — the
 * cut into requests is the same in both versions. A 2xx to a 2.0 request is read with its
 * X-Prometheus-Remote-Write-*-Written headers: fewer written than sent is a partial write, counted as
 * dropped ("partial_write") and not retried; no such header means a 1.0-only receiver that ignored the
 * Content-Type (Prometheus 2.42 answers 204 to a 2.0 body and stores nothing of it), so the endpoint
 * falls back to 1.0 and resends the request, as after a 415.
 */
#include "sinks/prometheus_remote_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/sender.h"
#include "pipeline/component.h"
#include "pipeline/relabel.h"
#include "pipeline/relabel_config.h"
#include "pipeline/wal_sink.h"

/* ---- the component ---- */

/* Bound on what one delivery merges, whatever max_samples_per_send says: memory stays bounded. */
#define MAX_DELIVERY_BYTES (64u << 20)

struct rw_endpoint {
	struct component *c;
	struct sender *sender;
	struct relabel_rules *relabel; /* write_relabel_config; NULL when none */
	struct prw_encoder *enc;
	bool retry_429;
	bool v2;            /* protobuf_message is io.prometheus.write.v2.Request and no 415 came yet */
	struct metric_family *fam_fallback;
	const char *url; /* the endpoint's url (owned by the sender) */
	size_t resume; /* requests of the batch being retried that were already accepted */
	int64_t cut_ms; /* the batch's "now" for sample_age_limit, fixed while resuming so requests stay the same */
	char lane_name[72];
	struct wal_sink_options opts;
};

struct remote_write {
	struct component *c;
	struct wal_sink *sink;
	struct rw_endpoint *eps;
	size_t neps;
	struct label *external;
	uint32_t next;
	char user_agent[64];
};

static void describe(struct wal_sink_outcome *out, const struct sender_response *r)
{
	if (r->status == 0)
		snprintf(out->message, sizeof(out->message), "%.120s: %.120s", r->url, r->error);
	else
		snprintf(out->message, sizeof(out->message), "%.100s: HTTP %ld: %.*s", r->url, r->status,
			 (int)strcspn(r->body, "\n"), r->body);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_skipped(struct rw_endpoint *ep, const struct prw_stats *st)
{
	if (st->no_name)
		component_count_dropped(ep->c, "no_name", st->no_name, 0);
	if (st->too_old)
		component_count_dropped(ep->c, "sample_age_limit", st->too_old, 0);
	if (st->relabel_dropped)
		component_count_dropped(ep->c, "write_relabel", st->relabel_dropped, 0);
}

static const struct sender_header v1_headers[] = {
	{ "Content-Encoding", "snappy" },
	{ "Content-Type", "application/x-protobuf" },
	{ "X-Prometheus-Remote-Write-Version", "0.1.0" },
};

static const struct sender_header v2_headers[] = {
	{ "Content-Encoding", "snappy" },
	{ "Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request" },
	{ "X-Prometheus-Remote-Write-Version", "2.0.0" },
};

/* A receiver that does not speak 2.0: this endpoint speaks 1.0 from now on (until the component is re-created). */
static void fall_back(struct rw_endpoint *ep, const struct sender_response *r, const char *why)
{
	ep->v2 = false;
	metric_counter_inc(metrics_counter_child(ep->fam_fallback, component_id(ep->c), ep->url));
	log_warn(component_id(ep->c), "falling back to Remote Write 1.0", "url=%s why=\"%s\"", r->url ? r->url : ep->url,
		 why);
}

/*
 * A 2.0 write that succeeded: the *-Written headers say how much of it the receiver kept. A shortfall
 * is a partial write: counted as rejected and not retried (resending would duplicate what was written).
 * No header at all is how a 1.0-only receiver answers (Prometheus before 3 decodes a 2.0 body as an
 * empty 1.0 request and says 204): the caller falls back to 1.0 and sends the same samples again.
 */
static enum prw_written check_written(struct rw_endpoint *ep, const struct prw_request *req,
				      const struct sender_response *r)
{
	char sb[32], hb[32], xb[32];
	size_t rejected;
	enum prw_written w = prw_written_check(
		req, sender_response_header(r, "X-Prometheus-Remote-Write-Samples-Written", sb, sizeof(sb)),
		sender_response_header(r, "X-Prometheus-Remote-Write-Histograms-Written", hb, sizeof(hb)),
		sender_response_header(r, "X-Prometheus-Remote-Write-Exemplars-Written", xb, sizeof(xb)), &rejected);
	if (w == PRW_WRITTEN_PARTIAL) {
		component_count_dropped(ep->c, "partial_write", rejected, 0);
		log_warn(component_id(ep->c), "receiver wrote part of a request", "sent=%zu rejected=%zu", req->samples,
			 rejected);
	}
	return w;
}

/* Encodes request i in the endpoint's current version and posts it. */
static int post_request(struct rw_endpoint *ep, size_t i, struct prw_request *req, struct sender_response *resp,
			struct wal_sink_outcome *out)
{
	int rc = ep->v2 ? prw_encoder_request_v2(ep->enc, i, req) : prw_encoder_request(ep->enc, i, req);
	if (rc < 0) {
		snprintf(out->message, sizeof(out->message), "encoding failed: %s", strerror(-rc));
		return rc;
	}
	sender_post(ep->sender, req->body, req->body_len, ep->v2 ? v2_headers : v1_headers, 3, resp);
	return 0;
}

/*
 * Sends requests from ep->resume on; RETRY keeps ep->resume at the failed one. A rejected request
 * (4xx) is counted here with its samples and its reason, and the others still go: the batch as a
 * whole is then OK, so wal_sink does not count the accepted samples as dropped too. A 415 to a 2.0
 * request switches the endpoint to 1.0 and sends the same request again, at once.
 */
static enum wal_sink_result send_requests(struct rw_endpoint *ep, size_t n, struct wal_sink_outcome *out)
{
	while (ep->resume < n) {
		struct prw_request req;
		struct sender_response resp;
		bool v2 = ep->v2;
		if (post_request(ep, ep->resume, &req, &resp, out) < 0)
			return WAL_SINK_RETRY;
		if (v2 && resp.status == 415) {
			fall_back(ep, &resp, "415 to a 2.0 request");
			continue;
		}
		enum sender_verdict v = sender_classify(&resp, ep->retry_429);
		if (v == SENDER_RETRY) {
			out->retry_after_ms = resp.retry_after_ms;
			describe(out, &resp);
			return WAL_SINK_RETRY;
		}
		if (v == SENDER_OK && v2 && check_written(ep, &req, &resp) == PRW_WRITTEN_ABSENT) {
			fall_back(ep, &resp, "a 2.0 write answered without X-Prometheus-Remote-Write-*-Written headers");
			continue;
		}
		if (v == SENDER_DROP) {
			const char *reason = prw_drop_reason(resp.status, resp.body);
			char q[300];
			describe(out, &resp);
			component_count_dropped(ep->c, reason, req.samples, req.body_len);
			log_warn(component_id(ep->c), "request rejected, samples dropped", "reason=%s samples=%zu error=%s",
				 reason, req.samples, log_quote(q, sizeof(q), out->message));
		}
		ep->resume++;
	}
	return WAL_SINK_OK;
}

static enum wal_sink_result rw_deliver(void *arg, struct batch *b, struct wal_sink_outcome *out)
{
	struct rw_endpoint *ep = arg;
	struct prw_stats st;
	if (ep->resume == 0) {
		ep->cut_ms = now_ms();
		prw_encoder_set_version(ep->enc, ep->v2 ? 2 : 1); /* kept while resuming: the same requests */
	}
	int n = prw_encoder_prepare(ep->enc, b, ep->cut_ms, &st);
	if (n < 0) {
		snprintf(out->message, sizeof(out->message), "encoding failed: %s", strerror(-n));
		out->drop_reason = "too_big";
		if (n == -E2BIG)
			ep->resume = 0;
		/* out of memory: try again later rather than lose the batch; too big never gets better */
		return n == -E2BIG ? WAL_SINK_DROP : WAL_SINK_RETRY;
	}
	enum wal_sink_result res = send_requests(ep, (size_t)n, out);
	if (res != WAL_SINK_RETRY) {
		count_skipped(ep, &st);
		ep->resume = 0;
	}
	return res;
}

static const struct wal_sink_lane_ops lane_ops = { .deliver = rw_deliver };

/* What the endpoint asks for that solder does not do: refused at create rather than ignored. */
const char *prw_endpoint_unsupported(const struct cfg_body *body)
{
	const char *msg = cfg_string(body, "protobuf_message");
	if (msg && strcmp(msg, PRW_V1_MESSAGE) != 0 && strcmp(msg, PRW_V2_MESSAGE) != 0)
		return "protobuf_message: must be \"" PRW_V1_MESSAGE "\" or \"" PRW_V2_MESSAGE "\"";
	return NULL;
}

/* Compiles the endpoint's write_relabel_config blocks, in order; *out stays NULL when there are none. */
static int compile_write_relabel(struct remote_write *rw, const struct cfg_body *body, struct relabel_rules **out)
{
	size_t cur = 0;
	if (!cfg_next_block(body, "write_relabel_config", &cur))
		return 0;
	struct relabel_error err = { 0 };
	int rc = relabel_config_compile_blocks(body, "write_relabel_config", out, &err);
	if (rc == -EINVAL)
		log_error(component_id(rw->c), "invalid write_relabel_config", "rule=%zu error=%s", err.rule + 1,
			  err.message);
	return rc;
}

static int endpoint_init(struct remote_write *rw, struct rw_endpoint *ep, const struct cfg_body *body)
{
	struct sender_config cfg;
	char err[160];
	ep->c = rw->c;
	const char *no = prw_endpoint_unsupported(body);
	if (no) {
		log_error(component_id(rw->c), "unsupported endpoint setting", "error=%s", no);
		return -ENOTSUP;
	}
	int rc = sender_config_from_body(body, &cfg, err, sizeof(err));
	if (rc < 0) {
		sender_config_free(&cfg);
		log_error(component_id(rw->c), "invalid endpoint", "error=%s", err);
		return rc;
	}
	cfg.user_agent = strdup(rw->user_agent);
	struct sender_metrics_opts m = { component_metrics(rw->c), component_id(rw->c) };
	if ((rc = sender_new(&cfg, &m, &ep->sender)) < 0) {
		log_error(component_id(rw->c), "cannot create the HTTP client", "url=%s", cfg_string(body, "url"));
		return rc;
	}
	size_t cur = 0;
	const struct cfg_block *q = cfg_next_block(body, "queue_config", &cur);
	cur = 0;
	const struct cfg_block *md = cfg_next_block(body, "metadata_config", &cur);
	const struct cfg_body *qb = q ? q->body : NULL;
	int64_t max_samples = qb ? cfg_int(qb, "max_samples_per_send", 2000) : 2000;
	if (max_samples < 1)
		max_samples = 1;
	int64_t md_max = md ? cfg_int(md->body, "max_samples_per_send", 2000) : 2000;
	if ((rc = compile_write_relabel(rw, body, &ep->relabel)) < 0)
		return rc;
	struct labels ext = { rw->external, rw->next, 0 };
	struct prw_encoder_options eo = {
		.relabel = ep->relabel,
		.external = &ext,
		.max_samples_per_send = (size_t)max_samples,
		.sample_age_limit_ms = qb ? cfg_duration_ns(qb, "sample_age_limit", 0) / 1000000 : 0,
		.send_metadata = md ? cfg_bool(md->body, "send", true) : true,
		.metadata_interval_ms = md ? cfg_duration_ns(md->body, "send_interval", 60000000000LL) / 1000000 : 60000,
		.metadata_max_per_request = (size_t)(md_max < 1 ? 1 : md_max),
	};
	if ((rc = prw_encoder_new(&eo, &ep->enc)) < 0)
		return rc;
	ep->retry_429 = qb ? cfg_bool(qb, "retry_on_http_429", true) : true;
	const char *msg = cfg_string(body, "protobuf_message");
	ep->v2 = msg && strcmp(msg, PRW_V2_MESSAGE) == 0;
	ep->url = sender_url(ep->sender, 0);
	ep->fam_fallback = metrics_counter_family(component_metrics(rw->c), "solder_prometheus_remote_write_v1_fallbacks_total",
						  "Endpoints that answered 415 to Remote Write 2.0 and now get 1.0.",
						  "component_id", "url", METRICS_END);
	/* One delivery holds about 20 requests' worth of samples (~100 bytes each, labels included): the
	 * encoder cuts it into requests of max_samples_per_send, so only the last one is short. Bigger
	 * deliveries (a whole 100k-series scrape) mean fewer short requests but cost 45 MB more RSS on the
	 * bench and compressed worse there (16.9 against 16.2 bytes per sample): with more families per
	 * target in one delivery, a family's next series lies beyond snappy's 64 KiB window. */
	uint64_t merge = (uint64_t)max_samples * 2000;
	if (merge > MAX_DELIVERY_BYTES)
		merge = MAX_DELIVERY_BYTES;
	ep->opts = (struct wal_sink_options){
		.max_bytes = merge,
		.max_wait_ns = qb ? cfg_duration_ns(qb, "batch_send_deadline", 5000000000LL) : 5000000000LL,
		.min_backoff_ns = qb ? cfg_duration_ns(qb, "min_backoff", 30000000LL) : 30000000LL,
		.max_backoff_ns = qb ? cfg_duration_ns(qb, "max_backoff", 5000000000LL) : 5000000000LL,
	};
	return 0;
}

static void rw_free(struct remote_write *rw)
{
	wal_sink_free(rw->sink);
	for (size_t i = 0; i < rw->neps; i++) {
		sender_free(rw->eps[i].sender);
		metrics_family_unregister(rw->eps[i].fam_fallback);
		prw_encoder_free(rw->eps[i].enc);
		relabel_rules_free(rw->eps[i].relabel);
	}
	free(rw->eps);
	for (uint32_t i = 0; rw->external && i < rw->next; i++) {
		free((char *)rw->external[i].name);
		free((char *)rw->external[i].value);
	}
	free(rw->external);
	free(rw);
}

/* With no endpoint, Alloy's prometheus.remote_write accepts samples and sends them nowhere. */
static int rw_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct remote_write *rw = calloc(1, sizeof(*rw));
	struct wal_sink_lane *lanes = NULL;
	int rc = -ENOMEM;
	if (!rw)
		return -ENOMEM;
	rw->c = c;
	snprintf(rw->user_agent, sizeof(rw->user_agent), "solder");
	size_t cur = 0;
	while (cfg_next_block(args, "endpoint", &cur))
		rw->neps++;
	rw->eps = calloc(rw->neps ? rw->neps : 1, sizeof(*rw->eps));
	lanes = calloc(rw->neps ? rw->neps : 1, sizeof(*lanes));
	if (!rw->eps || !lanes || (rc = wal_sink_external_labels(args, &rw->external, &rw->next)) < 0)
		goto fail;
	cur = 0;
	for (size_t i = 0; i < rw->neps; i++) {
		const struct cfg_block *blk = cfg_next_block(args, "endpoint", &cur);
		if ((rc = endpoint_init(rw, &rw->eps[i], blk->body)) < 0)
			goto fail;
		lanes[i] = (struct wal_sink_lane){ wal_sink_lane_name(blk->body, rw->neps, rw->eps[i].lane_name, sizeof(rw->eps[i].lane_name)), &rw->eps[i], &rw->eps[i].opts };
	}
	if ((rc = wal_sink_export(c, lanes, rw->neps, &lane_ops, rw->neps ? &rw->eps[0].opts : NULL, &rw->sink)) < 0)
		goto fail;
	free(lanes);
	*state = rw;
	return 0;
fail:
	free(lanes);
	rw_free(rw);
	return rc;
}

static int rw_start(void *state)
{
	struct remote_write *rw = state;
	return wal_sink_start_or_idle(rw->c, rw->sink, "samples");
}

static void rw_stop(void *state, int64_t deadline_ns)
{
	wal_sink_stop(((struct remote_write *)state)->sink, deadline_ns);
}

static void rw_destroy(void *state) { rw_free(state); }

/* ---- schema ---- */

static void endpoint_check(const struct cfg_body *body, struct diag_list *diags)
{
	common_http_client_check(body, diags);
	common_zone_endpoints_check(body, diags);
}

static const struct arg_schema endpoint_args[] = {
	{ "url", &type_string, .required = true, .doc = "Full URL to send metrics to." },
	COMMON_HTTP_CLIENT_ARGS("false"),
	COMMON_ZONE_ENDPOINT_ARGS,
	{ "headers", &type_map_string, .doc = "Extra headers to deliver with the request." },
	{ "name", &type_string, .doc = "Optional name to identify the endpoint in metrics." },
	{ "protobuf_message", &type_string, .def = "prometheus.WriteRequest",
	  .one_of = "prometheus.WriteRequest|io.prometheus.write.v2.Request",
	  .doc = "Remote Write 1.0 (prometheus.WriteRequest) or 2.0 (io.prometheus.write.v2.Request; 1.0 again after a 415)." },
	{ "remote_timeout", &type_duration, .def = "30s", .doc = "Timeout for requests made to the URL." },
	{ "round_robin_dns", &type_bool, .def = "false", .doc = "Round-robin requests across resolved addresses." },
	{ "send_exemplars", &type_bool, .def = "true", .doc = "Accepted; solder's batches carry no exemplars yet, so none are sent." },
	{ "send_native_histograms", &type_bool, .def = "false", .doc = "Accepted; solder's batches carry no native histograms yet." },
	{ 0 },
};

static const struct arg_schema queue_config_args[] = {
	{ "batch_send_deadline", &type_duration, .def = "5s", .doc = "Maximum time samples wait before sending." },
	{ "capacity", &type_number, .def = "10000", .doc = "Accepted for Alloy compatibility; no effect: the WAL is the queue." },
	{ "max_backoff", &type_duration, .def = "5s", .doc = "Maximum retry delay." },
	{ "max_samples_per_send", &type_number, .def = "2000", .doc = "Maximum number of samples per send." },
	{ "max_shards", &type_number, .def = "50", .doc = "Accepted; no effect: one lane per endpoint keeps every series in order." },
	{ "min_backoff", &type_duration, .def = "30ms", .doc = "Initial retry delay, doubled on each retry." },
	{ "min_shards", &type_number, .def = "1", .doc = "Accepted; no effect: one lane per endpoint keeps every series in order." },
	{ "retry_on_http_429", &type_bool, .def = "true", .doc = "Retry when an HTTP 429 status code is received." },
	{ "sample_age_limit", &type_duration, .def = "0s", .doc = "Maximum age of samples to send (0s: no limit)." },
	{ 0 },
};
static const struct body_schema queue_config_body = { queue_config_args, NULL, NULL };

static const struct arg_schema metadata_config_args[] = {
	{ "max_samples_per_send", &type_number, .def = "2000", .doc = "Metadata entries per request: a delivery's metadata (each family once per send_interval) ride in its first requests." },
	{ "send_interval", &type_duration, .def = "1m", .doc = "How often a family's metadata is sent again." },
	{ "send", &type_bool, .def = "true", .doc = "Whether metadata is sent." },
	{ 0 },
};
static const struct body_schema metadata_config_body = { metadata_config_args, NULL, NULL };

static const struct block_schema endpoint_blocks[] = {
	COMMON_HTTP_CLIENT_BLOCKS,
	COMMON_ZONE_ENDPOINT_BLOCKS,
	{ "metadata_config", &metadata_config_body, .doc = "How metric metadata is sent." },
	{ "queue_config", &queue_config_body, .doc = "How samples are batched before sending." },
	{ "write_relabel_config", &common_rule_body, .repeatable = true, .doc = "Relabeling applied to each series before sending." },
	{ 0 },
};
static const struct body_schema endpoint_body = { endpoint_args, endpoint_blocks, endpoint_check };

static const struct arg_schema wal_args[] = {
	{ "truncate_frequency", &type_duration, .def = "2h", .doc = "How often to clean up the WAL." },
	{ "min_keepalive_time", &type_duration, .def = "5m", .doc = "Minimum time data stays in the WAL." },
	{ "max_keepalive_time", &type_duration, .def = "8h", .doc = "Maximum time data stays in the WAL." },
	{ 0 },
};
static const struct body_schema wal_body = { wal_args, NULL, NULL };

static const struct arg_schema args[] = {
	{ "external_labels", &type_map_string, .doc = "Labels to add to metrics sent over the network." },
	{ 0 },
};

/* Each endpoint has its own WAL stream, named after it: two endpoints must not share a name. */
static void remote_write_check(const struct cfg_body *body, struct diag_list *diags)
{
	size_t outer = 0;
	const struct cfg_block *a, *b;
	while ((a = cfg_next_block(body, "endpoint", &outer))) {
		size_t inner = outer;
		const char *na = cfg_string(a->body, "name"), *ua = cfg_string(a->body, "url");
		while ((b = cfg_next_block(body, "endpoint", &inner))) {
			const char *nb = cfg_string(b->body, "name"), *ub = cfg_string(b->body, "url");
			bool same = na && *na ? nb && !strcmp(na, nb) : !(nb && *nb) && ua && ub && !strcmp(ua, ub);
			if (same)
				diag_add(diags, DIAG_ERROR, body->src, b->off,
					 na && *na ? "duplicate endpoint name \"%s\"" : "duplicate endpoint url \"%s\" (give one a name)",
					 na && *na ? na : ua);
		}
	}
}

static const struct block_schema blocks[] = {
	{ "endpoint", &endpoint_body, .repeatable = true, .doc = "Location to send metrics to." },
	{ "wal", &wal_body, .doc = "Accepted for Alloy compatibility and mapped to solder's WAL." },
	{ 0 },
};

static const struct export_schema exports[] = {
	{ "receiver", &type_metrics_receiver, .doc = "Where other components send metrics to." },
	{ 0 },
};

const struct component_schema prometheus_remote_write_schema = {
	.name = "prometheus.remote_write",
	.doc = "Sends metrics with the Prometheus Remote Write protocol.",
	.args = { args, blocks, remote_write_check },
	.exports = exports,
	.runnable = true,
};

const struct component_ops prometheus_remote_write_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &prometheus_remote_write_schema,
	.create = rw_create,
	.start = rw_start,
	.stop = rw_stop,
	.destroy = rw_destroy,
};
