/*
 * otelcol.receiver.otlp — receives OTLP over gRPC (lib/grpcserver, h2c, or TLS with ALPN h2 through
 * lib/tlsconn) and OTLP/HTTP (lib/httpserver, protobuf and JSON bodies), with Alloy's arguments.
 *
 * Each request is checked (the protobuf must decode; JSON is converted to protobuf first, so nothing
 * downstream ever sees JSON) and then pushed whole, still encoded, as one payload record to the
 * signal's `output` list with PUSH_NONBLOCK. The client hears success only when that push returned 0,
 * which the component contract defines as durable in every WAL stream the data reached. A refused push
 * (a full WAL) answers gRPC UNAVAILABLE with a RetryInfo detail, or HTTP 503 with Retry-After, so the
 * client keeps the data and retries; nothing is buffered here. As in the Collector, a signal without
 * consumers is not served: gRPC UNIMPLEMENTED, HTTP 404.
 *
 * Not supported yet (refused when configured, with a log line saying so): on the gRPC server, TLS
 * arguments other than cert_file, key_file, client_ca_file (clients must then present a certificate
 * it verifies), min_version and max_version; on the HTTP server, TLS material other than
 * cert_file/key_file; `auth`; and the unix transport.
 * Keepalive: nghttp2 answers pings itself; server_parameters.max_connection_idle closes idle gRPC
 * connections, http.idle_timeout idle HTTP ones. Other tuning arguments (buffer sizes, timeouts,
 * include_metadata, compression_algorithms) are accepted and have no effect.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/common_blocks.h"
#include "lib/grpcserver.h"
#include "lib/httpserver.h"
#include "lib/log.h"
#include "lib/otlp.h"
#include "lib/metrics.h"
#include "lib/tlsconn.h"
#include "pipeline/component.h"

static const struct arg_schema enforcement_policy_args[] = {
	{"min_time", &type_duration, .def = "5m", .doc = "Minimum time between client keepalive pings."},
	{"permit_without_stream", &type_bool, .def = "false", .doc = "Allow pings without active streams."},
	{0},
};
static const struct body_schema enforcement_policy_body = {enforcement_policy_args, NULL, NULL};

static const struct arg_schema server_parameters_args[] = {
	{"max_connection_age_grace", &type_duration, .doc = "Wait before forcibly closing connections."},
	{"max_connection_age", &type_duration, .doc = "Maximum age of non-idle connections."},
	{"max_connection_idle", &type_duration, .doc = "Maximum age of idle connections."},
	{"time", &type_duration, .def = "2h", .doc = "How often to ping inactive clients."},
	{"timeout", &type_duration, .def = "20s", .doc = "Wait for a ping answer before closing."},
	{0},
};
static const struct body_schema server_parameters_body = {server_parameters_args, NULL, NULL};

static const struct block_schema keepalive_blocks[] = {
	{"enforcement_policy", &enforcement_policy_body, .doc = "Keepalive enforcement policy."},
	{"server_parameters", &server_parameters_body, .doc = "Keepalive and maximum age settings."},
	{0},
};
static const struct body_schema keepalive_body = {NULL, keepalive_blocks, NULL};

static const struct arg_schema grpc_args[] = {
	{"auth", &common_type_otel_handler, .doc = "Handler from an otelcol.auth component."},
	{"endpoint", &type_string, .def = "0.0.0.0:4317", .doc = "host:port to listen for traffic on."},
	{"include_metadata", &type_bool, .def = "false", .doc = "Propagate connection metadata downstream."},
	{"max_concurrent_streams", &type_number, .doc = "Limit of concurrent streaming RPC calls."},
	{"max_recv_msg_size", &type_bytes, .def = "4MiB", .doc = "Maximum size of messages accepted."},
	{"read_buffer_size", &type_bytes, .def = "512KiB", .doc = "Size of the read buffer."},
	{"transport", &type_string, .def = "tcp", .one_of = "tcp|tcp4|tcp6|unix", .doc = "Transport of the server."},
	{"write_buffer_size", &type_bytes, .doc = "Size of the write buffer."},
	{0},
};
static const struct block_schema grpc_blocks[] = {
	{"keepalive", &keepalive_body, .doc = "Keepalive settings."},
	{"tls", &common_otel_tls_server_body, .doc = "TLS for the gRPC server."},
	{0},
};
static const struct body_schema grpc_body = {grpc_args, grpc_blocks, NULL};

static const struct arg_schema cors_args[] = {
	{"allowed_origins", &type_list_string, .doc = "Allowed values of the Origin header."},
	{"allowed_headers", &type_list_string, .doc = "Headers accepted from CORS requests."},
	{"exposed_headers", &type_list_string, .doc = "Access-Control-Expose-Headers."},
	{"max_age", &type_number, .doc = "Access-Control-Max-Age."},
	{0},
};
static const struct body_schema cors_body = {cors_args, NULL, NULL};

static const struct arg_schema http_args[] = {
	{"auth", &common_type_otel_handler, .doc = "Handler from an otelcol.auth component."},
	{"compression_algorithms", &type_list_string, .doc = "Compression algorithms the server accepts."},
	{"endpoint", &type_string, .def = "0.0.0.0:4318", .doc = "host:port to listen for traffic on."},
	{"idle_timeout", &type_duration, .def = "1m", .doc = "Idle time before closing a keep-alive connection."},
	{"include_metadata", &type_bool, .def = "false", .doc = "Propagate connection metadata downstream."},
	{"keep_alives_enabled", &type_bool, .def = "true", .doc = "Whether HTTP keep-alives are enabled."},
	{"logs_url_path", &type_string, .def = "/v1/logs", .doc = "URL path to receive logs on."},
	{"max_request_body_size", &type_bytes, .def = "20MiB", .doc = "Maximum request body size."},
	{"metrics_url_path", &type_string, .def = "/v1/metrics", .doc = "URL path to receive metrics on."},
	{"read_header_timeout", &type_duration, .def = "1m", .doc = "Maximum time to read request headers."},
	{"read_timeout", &type_duration, .doc = "Maximum time to read a request."},
	{"traces_url_path", &type_string, .def = "/v1/traces", .doc = "URL path to receive traces on."},
	{"write_timeout", &type_duration, .def = "30s", .doc = "Maximum time to write a response."},
	{0},
};
static const struct block_schema http_blocks[] = {
	{"cors", &cors_body, .doc = "CORS for the HTTP server."},
	{"tls", &common_otel_tls_server_body, .doc = "TLS for the HTTP server."},
	{0},
};
static const struct body_schema http_body = {http_args, http_blocks, NULL};

/* The upstream receiver's own Validate: a receiver with no server would receive nothing. */
static void check(const struct cfg_body *body, struct diag_list *diags)
{
	size_t c1 = 0, c2 = 0;
	if (!cfg_next_block(body, "grpc", &c1) && !cfg_next_block(body, "http", &c2))
		diag_add(diags, DIAG_ERROR, body->src, body->off,
			 "must specify at least one protocol when using the OTLP receiver");
}

static const struct block_schema blocks[] = {
	COMMON_OTEL_OUTPUT_BLOCK,
	COMMON_OTEL_DEBUG_METRICS_BLOCK,
	{"grpc", &grpc_body, .doc = "The gRPC server (not started when absent)."},
	{"http", &http_body, .doc = "The HTTP server (not started when absent)."},
	{0},
};

const struct component_schema otelcol_receiver_otlp_schema = {
	.name = "otelcol.receiver.otlp",
	.doc = "Receives OTLP over gRPC and HTTP.",
	.args = {NULL, blocks, check},
	.runnable = true,
};

/* ---- implementation ---- */

#define RETRY_AFTER_MS 1000

struct otlp_receiver;

struct http_route_ctx {
	struct otlp_receiver *r;
	enum otlp_signal signal;
};

struct otlp_receiver {
	struct component *c;
	struct forward_list out[OTLP_SIGNALS];

	bool grpc_on;
	struct grpcserver_options grpc_opts;
	char *grpc_endpoint;
	struct grpcserver *grpc;
	struct tlsconn_server *grpc_tls; /* NULL: h2c; freed after the server stops */
	struct metric_family *fam_tls_fail; /* solder_otlp_receiver_tls_handshake_failures_total, or NULL */

	bool http_on, cors_on;
	struct httpserver_options http_opts;
	char *http_endpoint, *tls_cert, *tls_key;
	char *paths[OTLP_SIGNALS];
	struct http_route_ctx routes[OTLP_SIGNALS];
	char **origins;
	size_t norigins;
	char *allow_headers, *expose_headers; /* comma-joined */
	char max_age[24];
	struct httpserver *http;
};

static const char *const grpc_paths[OTLP_SIGNALS] = {
	"/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	"/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

static const enum payload_kind payload_kinds[OTLP_SIGNALS] = {PAYLOAD_OTLP_TRACES, PAYLOAD_OTLP_METRICS,
							      PAYLOAD_OTLP_LOGS};

/*
 * Validates one encoded Export request and pushes it as a payload record. Returns the gRPC status the
 * client gets (HTTP maps it), with a message in err for anything but OK.
 */
static enum grpc_status ingest(struct otlp_receiver *r, enum otlp_signal s, const uint8_t *msg, size_t len, char *err,
			       size_t err_len)
{
	if (!r->out[s].n) {
		snprintf(err, err_len, "no consumer for %s is configured", otlp_signal_name(s));
		return GRPC_UNIMPLEMENTED;
	}
	uint64_t items = 0;
	int rc = otlp_validate(s, msg, len, &items, err, err_len);
	if (rc == -ENOMEM) {
		snprintf(err, err_len, "out of memory decoding the request");
		return GRPC_RESOURCE_EXHAUSTED;
	}
	if (rc)
		return GRPC_INVALID_ARGUMENT;
	if (!items) /* nothing to deliver: an empty export is a success */
		return GRPC_OK;
	struct batch *b = batch_new();
	if (!b || batch_add_payload(b, payload_kinds[s], msg, len)) {
		batch_free(b);
		snprintf(err, err_len, "out of memory");
		return GRPC_RESOURCE_EXHAUSTED;
	}
	rc = forward_push(r->c, &r->out[s], b, PUSH_NONBLOCK);
	batch_free(b);
	switch (rc) {
	case 0:
		return GRPC_OK;
	case -EINVAL:
		snprintf(err, err_len, "the pipeline refused the data as invalid");
		return GRPC_INVALID_ARGUMENT;
	case -EFBIG:
		snprintf(err, err_len, "request too large for the pipeline");
		return GRPC_RESOURCE_EXHAUSTED;
	default:
		/* full WAL (-EAGAIN), stopping, re-binding…: nothing was kept, the client must retry */
		snprintf(err, err_len, "data not accepted (%s); retry later", strerror(-rc));
		return GRPC_UNAVAILABLE;
	}
}

/* ---- gRPC ---- */

static void grpc_handle(void *ctx, const struct grpc_call *call, struct grpc_reply *reply)
{
	struct otlp_receiver *r = ctx;
	for (int s = 0; s < OTLP_SIGNALS; s++) {
		if (strcmp(call->path, grpc_paths[s]))
			continue;
		reply->status =
			ingest(r, (enum otlp_signal)s, call->msg, call->len, reply->message, sizeof(reply->message));
		if (reply->status == GRPC_UNAVAILABLE)
			reply->retry_delay_ms = RETRY_AFTER_MS;
		return;
	}
	reply->status = GRPC_UNIMPLEMENTED;
	snprintf(reply->message, sizeof(reply->message), "unknown method %s", call->path);
}

/* ---- OTLP/HTTP ---- */

static int http_status_of(enum grpc_status st)
{
	switch (st) {
	case GRPC_OK:
		return 200;
	case GRPC_INVALID_ARGUMENT:
		return 400;
	case GRPC_UNIMPLEMENTED:
		return 404;
	case GRPC_RESOURCE_EXHAUSTED:
		return 413;
	case GRPC_UNAVAILABLE:
		return 503;
	default:
		return 500;
	}
}

static bool origin_allowed(const struct otlp_receiver *r, const char *origin)
{
	for (size_t i = 0; i < r->norigins; i++)
		if (!strcmp(r->origins[i], "*") || !fnmatch(r->origins[i], origin, 0))
			return true;
	return false;
}

/* Adds CORS response headers when the request comes from an allowed origin. */
static void add_cors(const struct otlp_receiver *r, const struct http_request *req, struct http_response *resp)
{
	const char *origin = http_request_header(req, "Origin");
	if (!r->cors_on || !origin || !origin_allowed(r, origin))
		return;
	http_response_add_header(resp, "Access-Control-Allow-Origin", origin);
	http_response_add_header(resp, "Vary", "Origin");
	if (r->expose_headers)
		http_response_add_header(resp, "Access-Control-Expose-Headers", r->expose_headers);
}

/* A google.rpc.Status {code, message} in the request's encoding. */
static void set_status_body(struct http_response *resp, bool json, enum grpc_status st, const char *msg)
{
	if (json) {
		resp->content_type = "application/json";
		http_response_printf(resp, "{\"code\":%d,\"message\":\"", (int)st);
		for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
			if (*p == '"' || *p == '\\')
				http_response_printf(resp, "\\%c", *p);
			else if (*p < 0x20)
				http_response_printf(resp, "\\u%04x", *p);
			else
				http_response_printf(resp, "%c", *p);
		}
		http_response_printf(resp, "\"}");
		return;
	}
	resp->content_type = "application/x-protobuf";
	size_t mlen = strlen(msg) < 1000 ? strlen(msg) : 1000;
	uint8_t buf[1024];
	size_t n = 0;
	buf[n++] = 0x08; /* Status.code */
	buf[n++] = (uint8_t)st;
	if (mlen) {
		buf[n++] = 0x12; /* Status.message; mlen < 1000 fits in two varint bytes */
		if (mlen >= 128) {
			buf[n++] = (uint8_t)(mlen | 0x80);
			buf[n++] = (uint8_t)(mlen >> 7);
		} else {
			buf[n++] = (uint8_t)mlen;
		}
		memcpy(buf + n, msg, mlen);
		n += mlen;
	}
	http_response_set_body(resp, buf, n);
}

static bool type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return ct && !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static int http_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct http_route_ctx *rc = ctx;
	struct otlp_receiver *r = rc->r;
	const char *ct = http_request_header(req, "Content-Type");
	bool json = type_is(ct, "application/json");
	char err[512] = "";
	enum grpc_status st;
	add_cors(r, req, resp);
	if (!json && !type_is(ct, "application/x-protobuf")) {
		resp->status = 415;
		http_response_printf(resp,
				     "%s is not a supported content type (application/x-protobuf, application/json)",
				     ct ? ct : "(none)");
		return 0;
	}
	if (json) {
		uint8_t *pb = NULL;
		size_t pb_len = 0;
		int e = otlp_from_json(rc->signal, req->body, req->body_len, r->http_opts.max_body_bytes, &pb, &pb_len,
				       err, sizeof(err));
		if (e == -EINVAL)
			st = GRPC_INVALID_ARGUMENT;
		else if (e)
			st = GRPC_RESOURCE_EXHAUSTED;
		else
			st = ingest(r, rc->signal, pb, pb_len, err, sizeof(err));
		free(pb);
	} else {
		st = ingest(r, rc->signal, (const uint8_t *)req->body, req->body_len, err, sizeof(err));
	}
	resp->status = http_status_of(st);
	if (st != GRPC_OK) {
		if (st == GRPC_UNAVAILABLE)
			http_response_add_header(resp, "Retry-After", "1");
		set_status_body(resp, json, st, err);
		return 0;
	}
	/* an Export<Signal>ServiceResponse without partial_success: empty */
	resp->content_type = json ? "application/json" : "application/x-protobuf";
	return json ? http_response_set_body(resp, "{}", 2) : 0;
}

static int http_preflight(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct otlp_receiver *r = ((struct http_route_ctx *)ctx)->r;
	const char *origin = http_request_header(req, "Origin");
	resp->status = 204;
	if (!origin || !origin_allowed(r, origin))
		return 0;
	http_response_add_header(resp, "Access-Control-Allow-Origin", origin);
	http_response_add_header(resp, "Vary", "Origin");
	http_response_add_header(resp, "Access-Control-Allow-Methods", "POST");
	const char *want = http_request_header(req, "Access-Control-Request-Headers");
	if (want && r->allow_headers && strstr(r->allow_headers, "*"))
		http_response_add_header(resp, "Access-Control-Allow-Headers", want);
	else
		http_response_add_header(resp, "Access-Control-Allow-Headers",
					 r->allow_headers ? r->allow_headers : "Content-Type, Content-Encoding");
	if (r->max_age[0])
		http_response_add_header(resp, "Access-Control-Max-Age", r->max_age);
	return 0;
}

/* ---- configuration ---- */

static char *join_strings(const struct value *list, const char *prefix)
{
	if (!list || list->kind != VAL_ARRAY)
		return prefix ? strdup(prefix) : NULL;
	size_t len = prefix ? strlen(prefix) + 1 : 1;
	for (size_t i = 0; i < list->array.n; i++)
		if (list->array.items[i].kind == VAL_STRING)
			len += list->array.items[i].str.len + 2;
	char *out = calloc(1, len);
	if (!out)
		return NULL;
	if (prefix)
		strcpy(out, prefix);
	for (size_t i = 0; i < list->array.n; i++) {
		if (list->array.items[i].kind != VAL_STRING)
			continue;
		if (out[0])
			strcat(out, ", ");
		strcat(out, list->array.items[i].str.s);
	}
	return out;
}

static int refuse(struct otlp_receiver *r, const char *what)
{
	char q[512];
	log_msg(LOG_ERROR, component_id(r->c), "configuration not supported by solder", "what=%s",
		log_quote(q, sizeof(q), what));
	component_set_health(r->c, HEALTH_UNHEALTHY, "not supported: %s", what);
	return -ENOTSUP;
}

/*
 * The gRPC server's TLS credentials are loaded here, at create, so a wrong file is a create error
 * naming it. TLS material given inline (*_pem), ca_file (no meaning for a server) and the tuning
 * arguments GnuTLS priorities do not map one to one (cipher_suites, curve_preferences,
 * reload_interval, the system CA pool) are refused rather than ignored.
 */

static double tls_failures(void *arg)
{
	const struct otlp_receiver *r = arg;
	return (double)tlsconn_server_failures(r->grpc_tls);
}

/* Failed handshakes (no h2, a bad or missing client certificate, a timeout, plain h2c on the TLS port). */
static void tls_metrics_init(struct otlp_receiver *r)
{
	struct metrics_registry *reg = component_metrics(r->c);
	if (!reg)
		return;
	r->fam_tls_fail = metrics_counter_family(reg, "solder_otlp_receiver_tls_handshake_failures_total",
						 "gRPC connections closed because their TLS handshake failed.",
						 "component_id", METRICS_END);
	if (r->fam_tls_fail)
		metrics_callback_child(r->fam_tls_fail, tls_failures, r, component_id(r->c));
}

static int config_grpc_tls(struct otlp_receiver *r, const struct cfg_body *tls)
{
	static const char *const unsupported[] = {"ca_file", "ca_pem", "cert_pem", "key_pem", "cipher_suites",
						  "curve_preferences"};
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (common_attr_set(tls, unsupported[i]))
			return refuse(r, "grpc tls: only cert_file, key_file, client_ca_file, min_version and "
					 "max_version are supported");
	if (cfg_duration_ns(tls, "reload_interval", 0) > 0)
		return refuse(r, "grpc tls reload_interval (restart solder to load a new certificate)");
	if (cfg_bool(tls, "include_system_ca_certs_pool", false))
		return refuse(r, "grpc tls include_system_ca_certs_pool (use client_ca_file)");
	struct tlsconn_server_options o = {
		.cert_file = cfg_string(tls, "cert_file"),
		.key_file = cfg_string(tls, "key_file"),
		.client_ca_file = cfg_string(tls, "client_ca_file"),
		.min_version = cfg_string(tls, "min_version"),
		.max_version = cfg_string(tls, "max_version"),
		.alpn = "h2",
		.log_component = component_id(r->c),
	};
	if (!o.cert_file || !o.key_file)
		return refuse(r, "grpc tls without both cert_file and key_file");
	char err[600], q[640];
	int rc = tlsconn_server_new(&o, &r->grpc_tls, err, sizeof(err));
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		log_msg(LOG_ERROR, component_id(r->c), "cannot load the gRPC server's TLS credentials", "err=%s",
			log_quote(q, sizeof(q), err));
		component_set_health(r->c, HEALTH_UNHEALTHY, "grpc tls: %s", err);
		return rc;
	}
	r->grpc_opts.tls = r->grpc_tls;
	tls_metrics_init(r);
	return 0;
}

static int config_grpc(struct otlp_receiver *r, const struct cfg_body *g)
{
	size_t cur = 0;
	const struct cfg_block *tls = cfg_next_block(g, "tls", &cur);
	if (tls) {
		int rc = config_grpc_tls(r, tls->body);
		if (rc)
			return rc;
	}
	if (cfg_get(g, "auth") && cfg_get(g, "auth")->kind != VAL_NULL)
		return refuse(r, "grpc auth");
	const char *transport = cfg_string(g, "transport");
	if (transport && !strcmp(transport, "unix"))
		return refuse(r, "grpc transport \"unix\"");
	r->grpc_on = true;
	r->grpc_endpoint = strdup(cfg_string(g, "endpoint") ? cfg_string(g, "endpoint") : "0.0.0.0:4317");
	if (!r->grpc_endpoint)
		return -ENOMEM;
	r->grpc_opts.listen = r->grpc_endpoint;
	r->grpc_opts.max_recv_msg_size = cfg_bytes(g, "max_recv_msg_size", 4 << 20);
	double streams = cfg_number(g, "max_concurrent_streams", 0);
	r->grpc_opts.max_concurrent_streams = streams > 0 && streams < 1e6 ? (unsigned)streams : 0;
	size_t cur2 = 0;
	const struct cfg_block *ka = cfg_next_block(g, "keepalive", &cur2), *sp = NULL;
	cur2 = 0;
	if (ka)
		sp = cfg_next_block(ka->body, "server_parameters", &cur2);
	int64_t idle = sp ? cfg_duration_ns(sp->body, "max_connection_idle", 0) : 0;
	if (idle > 0) /* whole seconds, at least one */
		r->grpc_opts.idle_timeout_seconds = idle < 1000000000LL ? 1 : (unsigned)(idle / 1000000000LL);
	return 0;
}

static int config_cors(struct otlp_receiver *r, const struct cfg_body *cors)
{
	const struct value *o = cfg_get(cors, "allowed_origins");
	r->cors_on = true;
	if (o && o->kind == VAL_ARRAY && o->array.n) {
		r->origins = calloc(o->array.n, sizeof(char *));
		if (!r->origins)
			return -ENOMEM;
		for (size_t i = 0; i < o->array.n; i++)
			if (o->array.items[i].kind == VAL_STRING &&
			    !(r->origins[r->norigins++] = strdup(o->array.items[i].str.s)))
				return -ENOMEM;
	}
	const struct value *h = cfg_get(cors, "allowed_headers");
	if (h && h->kind == VAL_ARRAY && h->array.n &&
	    !(r->allow_headers = join_strings(h, "Content-Type, Content-Encoding")))
		return -ENOMEM;
	const struct value *e = cfg_get(cors, "exposed_headers");
	if (e && e->kind == VAL_ARRAY && e->array.n && !(r->expose_headers = join_strings(e, NULL)))
		return -ENOMEM;
	double age = cfg_number(cors, "max_age", 0);
	if (age > 0)
		snprintf(r->max_age, sizeof(r->max_age), "%.0f", age);
	return 0;
}

static int config_http(struct otlp_receiver *r, const struct cfg_body *h)
{
	static const char *const path_args[OTLP_SIGNALS] = {"traces_url_path", "metrics_url_path", "logs_url_path"};
	static const char *const path_defaults[OTLP_SIGNALS] = {"/v1/traces", "/v1/metrics", "/v1/logs"};
	if (cfg_get(h, "auth") && cfg_get(h, "auth")->kind != VAL_NULL)
		return refuse(r, "http auth");
	size_t cur = 0;
	const struct cfg_block *tls = cfg_next_block(h, "tls", &cur);
	if (tls) {
		static const char *const unsupported[] = {"ca_file", "ca_pem", "cert_pem", "key_pem", "client_ca_file"};
		for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
			if (common_attr_set(tls->body, unsupported[i]))
				return refuse(r, "http tls: only cert_file and key_file are supported");
		const char *cert = cfg_string(tls->body, "cert_file"), *key = cfg_string(tls->body, "key_file");
		if (!cert || !key)
			return refuse(r, "http tls without both cert_file and key_file");
		if (!(r->tls_cert = strdup(cert)) || !(r->tls_key = strdup(key)))
			return -ENOMEM;
		r->http_opts.tls_cert_file = r->tls_cert;
		r->http_opts.tls_key_file = r->tls_key;
	}
	r->http_on = true;
	const char *ep = cfg_string(h, "endpoint");
	if (!(r->http_endpoint = strdup(ep ? ep : "0.0.0.0:4318")))
		return -ENOMEM;
	r->http_opts.listen = r->http_endpoint;
	r->http_opts.max_body_bytes = cfg_bytes(h, "max_request_body_size", 20 << 20);
	r->http_opts.max_decoded_body_bytes = r->http_opts.max_body_bytes;
	r->http_opts.name = "otlp";
	int64_t idle = cfg_duration_ns(h, "idle_timeout", 60000000000LL);
	r->http_opts.timeout_seconds = idle < 1000000000LL ? 1 : (unsigned)(idle / 1000000000LL);
	for (int s = 0; s < OTLP_SIGNALS; s++) {
		const char *p = cfg_string(h, path_args[s]);
		if (!(r->paths[s] = strdup(p && p[0] == '/' ? p : path_defaults[s])))
			return -ENOMEM;
		r->routes[s] = (struct http_route_ctx){r, (enum otlp_signal)s};
	}
	cur = 0;
	const struct cfg_block *cors = cfg_next_block(h, "cors", &cur);
	return cors ? config_cors(r, cors->body) : 0;
}

static int config_outputs(struct otlp_receiver *r, const struct cfg_body *args)
{
	static const char *const names[OTLP_SIGNALS] = {"traces", "metrics", "logs"};
	size_t cur = 0;
	const struct cfg_block *out = cfg_next_block(args, "output", &cur);
	if (!out)
		return 0;
	for (int s = 0; s < OTLP_SIGNALS; s++) {
		int rc = forward_list_from(cfg_get(out->body, names[s]), &r->out[s]);
		if (rc)
			return rc;
	}
	return 0;
}

static void otlp_destroy(void *state);

static int otlp_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct otlp_receiver *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->c = c;
	size_t cur = 0;
	const struct cfg_block *g = cfg_next_block(args, "grpc", &cur), *h;
	int rc = config_outputs(r, args);
	if (!rc && g)
		rc = config_grpc(r, g->body);
	cur = 0;
	if (!rc && (h = cfg_next_block(args, "http", &cur)))
		rc = config_http(r, h->body);
	if (rc) {
		otlp_destroy(r);
		return rc;
	}
	*state = r;
	return 0;
}

static int start_http(struct otlp_receiver *r)
{
	int rc = httpserver_start(&r->http_opts, &r->http);
	if (rc)
		return rc;
	for (int s = 0; s < OTLP_SIGNALS && !rc; s++) {
		rc = httpserver_route(r->http, "POST", r->paths[s], HTTP_ROUTE_EXACT, http_handle, &r->routes[s]);
		if (!rc && r->cors_on)
			rc = httpserver_route(r->http, "OPTIONS", r->paths[s], HTTP_ROUTE_EXACT, http_preflight,
					      &r->routes[s]);
		if (rc == -EEXIST) /* two signals on one path: the first keeps it, as a mux would */
			rc = 0;
	}
	return rc;
}

static int otlp_start(void *state)
{
	struct otlp_receiver *r = state;
	char q1[300], q2[100];
	int rc = 0;
	if (r->grpc_on) {
		rc = grpcserver_start(&r->grpc_opts, grpc_handle, r, &r->grpc);
		if (rc) {
			log_msg(LOG_ERROR, component_id(r->c), "cannot start the gRPC server", "endpoint=%s err=%s",
				log_quote(q1, sizeof(q1), r->grpc_endpoint), log_quote(q2, sizeof(q2), strerror(-rc)));
			return rc;
		}
		log_msg(LOG_INFO, component_id(r->c), "gRPC server listening", "endpoint=%s port=%d",
			log_quote(q1, sizeof(q1), r->grpc_endpoint), grpcserver_port(r->grpc));
	}
	if (r->http_on) {
		rc = start_http(r);
		if (rc) {
			log_msg(LOG_ERROR, component_id(r->c), "cannot start the HTTP server", "endpoint=%s err=%s",
				log_quote(q1, sizeof(q1), r->http_endpoint), log_quote(q2, sizeof(q2), strerror(-rc)));
			return rc;
		}
		log_msg(LOG_INFO, component_id(r->c), "HTTP server listening", "endpoint=%s port=%d",
			log_quote(q1, sizeof(q1), r->http_endpoint), httpserver_port(r->http));
	}
	return 0;
}

static void otlp_stop(void *state, int64_t deadline_ns)
{
	struct otlp_receiver *r = state;
	grpcserver_stop(r->grpc);
	r->grpc = NULL;
	httpserver_stop(r->http);
	r->http = NULL;
}

static void otlp_destroy(void *state)
{
	struct otlp_receiver *r = state;
	otlp_stop(r, 0);
	for (int s = 0; s < OTLP_SIGNALS; s++) {
		forward_list_free(&r->out[s]);
		free(r->paths[s]);
	}
	for (size_t i = 0; i < r->norigins; i++)
		free(r->origins[i]);
	free(r->origins);
	free(r->allow_headers);
	free(r->expose_headers);
	free(r->grpc_endpoint);
	free(r->http_endpoint);
	free(r->tls_cert);
	free(r->tls_key);
	if (r->fam_tls_fail) { /* before the server it reads goes */
		metrics_family_remove_by_label(r->fam_tls_fail, "component_id", component_id(r->c));
		metrics_family_unregister(r->fam_tls_fail);
	}
	tlsconn_server_free(r->grpc_tls); /* after otlp_stop: no connection uses it any more */
	free(r);
}

const struct component_ops otelcol_receiver_otlp_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_receiver_otlp_schema,
	.create = otlp_create,
	.start = otlp_start,
	.stop = otlp_stop,
	.destroy = otlp_destroy,
};
