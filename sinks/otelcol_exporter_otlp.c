/*
 * otelcol.exporter.otlp — sends OTLP over gRPC (to Tempo, a collector, …) with Alloy's arguments.
 *
 * The transport is libcurl's HTTP/2 through lib/sender (h2c by prior knowledge for http:// or
 * tls.insecure, ALPN h2 over TLS), so zone-aware endpoint choice, TLS and headers are the ones every
 * sink shares; the OTLP-specific part (merging payloads, gRPC framing and compression, reading
 * grpc-status, RetryInfo and partial_success) is sinks/otlp_export.c, and the mapping of
 * `sending_queue` (the WAL is the queue), `retry_on_failure` and `timeout` is described in
 * sinks/otlp_export_component.c. The client's zone-endpoint arguments are solder's (DESIGN §7; a
 * zone_endpoint's url carries its scheme, http:// for h2c);
 * `balancer_name`, `keepalive`, `wait_for_ready` and the buffer sizes are accepted and have no effect
 * (one HTTP/2 connection per endpoint, kept alive by libcurl over TLS; h2c connects per call on libcurl
 * before 8.0, whose h2c connection reuse is broken — see lib/sender.c). `auth` needs an otelcol.auth component,
 * which solder does not have, so no valid config can set it. From `tls`: ca/cert/key (file or PEM),
 * server_name, insecure, insecure_skip_verify and min_version apply; max_version, cipher_suites,
 * curve_preferences, reload_interval and include_system_ca_certs_pool are accepted and not applied.
 */
#include "config/common_blocks.h"
#include "pipeline/component.h"
#include "sinks/otlp_export.h"

static const struct arg_schema keepalive_args[] = {
	{ "ping_wait", &type_duration, .doc = "How often to ping the server after no activity." },
	{ "ping_response_timeout", &type_duration, .doc = "Wait for a ping response before closing." },
	{ "ping_without_stream", &type_bool, .doc = "Send pings even without an active stream." },
	{ 0 },
};
static const struct body_schema keepalive_body = { keepalive_args, NULL, NULL };

static const struct arg_schema client_args[] = {
	{ "endpoint", &type_string, .required = true, .doc = "host:port to send telemetry data to." },
	{ "auth", &common_type_otel_handler, .doc = "Handler from an otelcol.auth component." },
	{ "authority", &type_string, .doc = "Overrides the :authority header of gRPC requests." },
	{ "balancer_name", &type_string, .def = "round_robin", .one_of = "round_robin|pick_first",
	  .doc = "gRPC client-side load balancer." },
	{ "compression", &type_string, .def = "gzip", .one_of = "gzip|zstd|none",
	  .doc = "Compression mechanism to use for requests." },
	{ "headers", &type_map_string, .doc = "Additional headers to send with the request." },
	{ "read_buffer_size", &type_bytes, .doc = "Size of the read buffer." },
	{ "wait_for_ready", &type_bool, .def = "false", .doc = "Wait for the connection to be READY before sending." },
	{ "write_buffer_size", &type_bytes, .def = "512KiB", .doc = "Size of the write buffer." },
	COMMON_ZONE_ENDPOINT_ARGS,
	{ 0 },
};
static const struct block_schema client_blocks[] = {
	{ "keepalive", &keepalive_body, .doc = "Keepalive settings for the gRPC client." },
	{ "tls", &common_otel_tls_client_body, .doc = "TLS for the gRPC client." },
	COMMON_ZONE_ENDPOINT_BLOCKS,
	{ 0 },
};
static const struct body_schema client_body = { client_args, client_blocks, common_zone_endpoints_check };

static const struct arg_schema args[] = {
	{ "timeout", &type_duration, .def = "5s", .doc = "Time to wait before marking a request as failed." },
	{ 0 },
};

static const struct block_schema blocks[] = {
	{ "client", &client_body, .required = true, .doc = "The gRPC server to send telemetry data to." },
	COMMON_OTEL_DEBUG_METRICS_BLOCK,
	{ "retry_on_failure", &common_otel_retry_body, .doc = "Retry of failed requests." },
	{ "sending_queue", &common_otel_queue_body, .doc = "Buffer before sending (mapped to the WAL)." },
	{ 0 },
};

static const struct export_schema exports[] = {
	{ "input", &type_otel_consumer, .doc = "Where other components send logs, metrics and traces to." },
	{ 0 },
};

const struct component_schema otelcol_exporter_otlp_schema = {
	.name = "otelcol.exporter.otlp",
	.doc = "Sends OTLP over gRPC.",
	.args = { args, blocks, NULL },
	.exports = exports,
	.runnable = true,
};

static int exp_create(struct component *c, const struct cfg_body *args, void **state)
{
	return otlp_exporter_create(c, args, true, (struct otlp_exporter **)state);
}

static int exp_start(void *state) { return otlp_exporter_start(state); }
static void exp_stop(void *state, int64_t deadline_ns) { otlp_exporter_stop(state, deadline_ns); }
static void exp_destroy(void *state) { otlp_exporter_free(state); }

const struct component_ops otelcol_exporter_otlp_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_exporter_otlp_schema,
	.create = exp_create,
	.start = exp_start,
	.stop = exp_stop,
	.destroy = exp_destroy,
};
