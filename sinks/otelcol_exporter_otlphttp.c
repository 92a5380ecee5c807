/*
 * otelcol.exporter.otlphttp — sends OTLP/HTTP (protobuf) with Alloy's arguments: POST to
 * `<endpoint>/v1/traces|metrics|logs` or to traces_endpoint / metrics_endpoint / logs_endpoint,
 * Content-Type application/x-protobuf, Content-Encoding gzip (default), zstd or none.
 *
 * Sending is sinks/otlp_export.c over lib/sender (zone-aware endpoints, TLS, headers, proxy); the
 * mapping of `sending_queue` (the WAL is the queue), `retry_on_failure` and `timeout` is described in
 * sinks/otlp_export_component.c. encoding = "json" writes OTLP/JSON (sinks/otlp_export_json.c: the
 * merged protobuf request is unpacked and written out, costlier than protobuf); the connection-pool arguments (max_idle_conns…, http2_* timeouts, cookies) are
 * accepted and have no effect: one kept-alive connection per endpoint serves the one request in
 * flight.
 */
#include "config/common_blocks.h"
#include "pipeline/component.h"
#include "sinks/otlp_export.h"

static const struct arg_schema client_args[] = {
	{ "endpoint", &type_string, .required = true, .doc = "The target URL to send telemetry data to." },
	{ "proxy_url", &type_string, .doc = "HTTP proxy to send requests through." },
	{ "read_buffer_size", &type_bytes, .def = "0", .doc = "Size of the read buffer." },
	{ "write_buffer_size", &type_bytes, .def = "512KiB", .doc = "Size of the write buffer." },
	{ "timeout", &type_duration, .def = "30s", .doc = "Time to wait before marking a request as failed." },
	{ "headers", &type_map_string, .doc = "Additional headers to send with the request." },
	{ "compression", &type_string, .def = "gzip", .one_of = "gzip|zstd|none",
	  .doc = "Compression mechanism to use for requests." },
	{ "max_idle_conns", &type_int, .def = "100", .doc = "Idle HTTP connections the client keeps open." },
	{ "max_idle_conns_per_host", &type_int, .def = "0", .doc = "Idle connections per host." },
	{ "max_conns_per_host", &type_int, .def = "0", .doc = "Total connections per host." },
	{ "idle_conn_timeout", &type_duration, .def = "90s", .doc = "Time before an idle connection closes." },
	{ "disable_keep_alives", &type_bool, .def = "false", .doc = "Disable HTTP keep-alive." },
	{ "http2_read_idle_timeout", &type_duration, .def = "0s", .doc = "Ping after this long without a frame." },
	{ "http2_ping_timeout", &type_duration, .def = "15s", .doc = "Close when a ping is not answered in time." },
	{ "auth", &common_type_otel_handler, .doc = "Handler from an otelcol.auth component." },
	COMMON_ZONE_ENDPOINT_ARGS,
	{ 0 },
};

static const struct arg_schema cookies_args[] = {
	{ "enabled", &type_bool, .def = "false", .doc = "Store and resend cookies from responses." },
	{ 0 },
};
static const struct body_schema cookies_body = { cookies_args, NULL, NULL };

static const struct block_schema client_blocks[] = {
	{ "tls", &common_otel_tls_client_body, .doc = "TLS for the HTTP client." },
	{ "cookies", &cookies_body, .doc = "Cookie handling." },
	COMMON_ZONE_ENDPOINT_BLOCKS,
	{ 0 },
};
static const struct body_schema client_body = { client_args, client_blocks, common_zone_endpoints_check };

static const struct arg_schema args[] = {
	{ "metrics_endpoint", &type_string, .doc = "Endpoint for metrics (default client.endpoint + \"/v1/metrics\")." },
	{ "logs_endpoint", &type_string, .doc = "Endpoint for logs (default client.endpoint + \"/v1/logs\")." },
	{ "traces_endpoint", &type_string, .doc = "Endpoint for traces (default client.endpoint + \"/v1/traces\")." },
	{ "encoding", &type_string, .def = "proto", .one_of = "proto|json", .doc = "Encoding of the messages." },
	{ 0 },
};

static const struct block_schema blocks[] = {
	{ "client", &client_body, .required = true, .doc = "The HTTP server to send telemetry data to." },
	COMMON_OTEL_DEBUG_METRICS_BLOCK,
	{ "retry_on_failure", &common_otel_retry_body, .doc = "Retry of failed requests." },
	{ "sending_queue", &common_otel_queue_body, .doc = "Buffer before sending (mapped to the WAL)." },
	{ 0 },
};

static const struct export_schema exports[] = {
	{ "input", &type_otel_consumer, .doc = "Where other components send logs, metrics and traces to." },
	{ 0 },
};

const struct component_schema otelcol_exporter_otlphttp_schema = {
	.name = "otelcol.exporter.otlphttp",
	.doc = "Sends OTLP over HTTP.",
	.args = { args, blocks, NULL },
	.exports = exports,
	.runnable = true,
};

static int exp_create(struct component *c, const struct cfg_body *args, void **state)
{
	return otlp_exporter_create(c, args, false, (struct otlp_exporter **)state);
}

static int exp_start(void *state) { return otlp_exporter_start(state); }
static void exp_stop(void *state, int64_t deadline_ns) { otlp_exporter_stop(state, deadline_ns); }
static void exp_destroy(void *state) { otlp_exporter_free(state); }

const struct component_ops otelcol_exporter_otlphttp_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_exporter_otlphttp_schema,
	.create = exp_create,
	.start = exp_start,
	.stop = exp_stop,
	.destroy = exp_destroy,
};
