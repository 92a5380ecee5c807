/*
 * sender — the one HTTP client every sink posts through (loki.write, prometheus.remote_write, the
 * OTLP/HTTP exporters), so TLS, authentication, headers, timeouts and the reading of an answer live
 * in one place and each sink only encodes a body and maps the verdict to its own result.
 *
 * A sender belongs to one sink lane and is used from that lane's thread only: it keeps one libcurl
 * easy handle, so connections stay alive between requests (and HTTP/2 is negotiated where offered).
 * The retry loop is NOT here: the sink's lane (pipeline/wal_sink) owns backoff and Retry-After; this
 * module only reports what happened (status, Retry-After, the start of the body) and classifies it.
 *
 * Endpoint choice is lib/endpoints' (DESIGN §7): a sender owns one endpoint set — the endpoint's `url`
 * and its `zone_endpoint`s, or the addresses a DNS name or a Kubernetes Service resolves to — and asks it
 * before every request which endpoint to use (same zone first, least outstanding, circuits, failover and
 * failback), then reports how the request went: an answer that is 2xx or the data's own 4xx is OK; no
 * answer, 5xx and 429 are FAIL. An address from DNS or EndpointSlices is connected to with
 * CURLOPT_CONNECT_TO, so the Host header and the TLS name stay the configured URL's. When every circuit
 * is open, sender_post returns -EAGAIN without sending, with retry_after_ms set to the first probe time.
 * Failover never reorders data: the sink's lane still has one WAL cursor and one request in flight.
 */
#ifndef SOLDER_LIB_SENDER_H
#define SOLDER_LIB_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct agent_zone;
struct cfg_body;
struct endpoints;
struct metrics_registry;
struct sender;

struct sender_header {
	char *name;
	char *value;
};

/* Everything the client needs, parsed once from an endpoint block (strings owned, freed together). */
struct sender_config {
	char **urls;  /* url, then every zone_endpoint's */
	char **zones; /* parallel to urls: the URL's zone, or NULL */
	size_t nurls;
	int64_t dns_refresh_ns; /* dns_refresh_interval: urls[0]'s host is resolved on this interval; 0: never */
	char *kube_namespace, *kube_service, *kube_port; /* kubernetes_service { namespace, name, port } */
	unsigned failure_threshold;                      /* circuit: 0 = 5 */
	int64_t open_min_ns, open_max_ns;                /* circuit: 0 = 1 s, 60 s */
	int64_t timeout_ns;       /* remote_timeout; 0 = 10 s */
	bool http2;               /* enable_http2: offer h2 over TLS (ALPN), else HTTP/1.1 */
	bool follow_redirects;
	char *proxy_url, *no_proxy;
	bool proxy_from_environment;
	struct {
		char *ca_file, *cert_file, *key_file, *server_name;
		char *ca_pem, *cert_pem, *key_pem;
		bool insecure_skip_verify;
		char *min_version; /* "TLS12"… */
	} tls;
	char *basic_username, *basic_password, *basic_password_file;
	/* authorization, bearer_token(_file): "Authorization: <type> <credentials>" */
	char *auth_type, *auth_credentials, *auth_credentials_file;
	struct sender_header *headers; /* `headers` and `http_headers`, sent with every request */
	size_t nheaders;
	char *user_agent; /* NULL = "solder" */
	bool grpc;        /* gRPC over HTTP/2 (sender_post_grpc): h2c by prior knowledge for http://, ALPN h2 for https:// */
};

/*
 * Fills cfg from an endpoint body holding `url` (or `endpoint`) plus COMMON_HTTP_CLIENT_ARGS/_BLOCKS,
 * `headers` and `remote_timeout` (or `timeout`). Returns 0, -EINVAL with a message in err (an oauth2
 * block: not supported) or -ENOMEM. cfg is zeroed first and must be freed with sender_config_free.
 */
int sender_config_from_body(const struct cfg_body *body, struct sender_config *cfg, char *err, size_t errlen);
void sender_config_free(struct sender_config *cfg);
/* Fills cfg->tls from a `tls_config`-shaped body (ca/cert/key files and PEMs, server_name, min_version,
 * insecure_skip_verify); the OTel exporters' `tls` block uses the same names. */
void sender_config_tls(const struct cfg_body *tls, struct sender_config *cfg);

/*
 * Optional self-metrics — requests by status class and body bytes by endpoint; requests and bytes by
 * locality (same-zone/cross-zone); each endpoint's circuit state; failovers; the endpoint chosen last —
 * all labelled component_id; and the agent's zone (NULL: unknown, every endpoint alike) with the
 * directory the status page lists the endpoint set in.
 */
struct sender_metrics_opts {
	struct metrics_registry *registry; /* NULL: no metrics */
	const char *component_id;
	struct agent_zone *zone;
};

/* Takes over cfg's contents (cfg is zeroed, also on failure). -EINVAL (no URL), -ENOMEM. */
int sender_new(struct sender_config *cfg, const struct sender_metrics_opts *m, struct sender **out);
void sender_free(struct sender *s);

#define SENDER_BODY_PREFIX 512

struct sender_response {
	long status;            /* HTTP status; 0 when no answer came (transport error, see error) */
	int64_t retry_after_ms; /* from Retry-After (seconds or HTTP date); 0 when absent */
	char body[SENDER_BODY_PREFIX]; /* first bytes of the answer, NUL-terminated */
	size_t body_len;
	char error[256];        /* transport error text, or "" */
	const char *url;        /* the URL the request went to (owned by the sender, valid until its next post) */
	char address[64];       /* the address connected to instead of the URL's host, or "" */
	char zone[64];          /* the endpoint's zone, or "" */
	bool same_zone, failover;
	double seconds;         /* request duration */
	/* The whole answer body up to SENDER_DATA_MAX bytes (data_truncated when it was longer), owned by the
	 * sender and valid until its next post: an OTLP answer's partial_success is read from it. */
	const uint8_t *data;
	size_t data_len;
	bool data_truncated;
	/* sender_post_grpc: grpc-status from the headers or the trailers (-1: none came), grpc-message
	 * (percent-decoded), the RetryInfo delay of grpc-status-details-bin (0: none) and whether the answer
	 * message is gzip-compressed (grpc-encoding: gzip). */
	int grpc_status;
	char grpc_message[256];
	int64_t grpc_retry_delay_ms;
	bool grpc_gzip;
	/* The answer's header lines ("Name: value\r\n"…) as far as they fit: read with sender_response_header. */
	char headers[1024];
	size_t headers_len;
};

/* The trimmed value of response header `name` (case-insensitive) copied into buf, or NULL when absent. */
const char *sender_response_header(const struct sender_response *resp, const char *name, char *buf, size_t len);

#define SENDER_DATA_MAX (256u << 10)

/*
 * POSTs body to the chosen endpoint with the configured headers plus `extra` (may be NULL). Returns 0
 * when an HTTP answer came (whatever its status), or a negative errno with resp->error set when none did
 * (connect refused, timeout, reset…; -EAGAIN: every circuit is open, nothing was sent, retry_after_ms
 * says when one may be probed; -ENOENT: no endpoint known yet). Never retries by itself.
 */
int sender_post(struct sender *s, const void *body, size_t len, const struct sender_header *extra, size_t nextra,
		struct sender_response *resp);

/*
 * Like sender_post, to the chosen endpoint's URL with `path` appended ("/v1/traces"; NULL or "": the
 * URL as it is). A trailing '/' of the URL is dropped first, so "http://h:4318/" + "/v1/logs" works.
 */
int sender_post_path(struct sender *s, const char *path, const void *body, size_t len,
		     const struct sender_header *extra, size_t nextra, struct sender_response *resp);

/*
 * One unary gRPC call (the sender must be made with cfg.grpc): POSTs `framed` (the 5-byte header and
 * the message, see lib/grpc) to the endpoint's URL + method path ("/pkg.Service/Method") with
 * content-type application/grpc, te: trailers and grpc-timeout from the timeout; `extra` carries
 * grpc-encoding when the message is compressed. Returns as sender_post; resp->grpc_* hold the status.
 * An endpoint's circuit counts no answer, a non-200 and grpc-status UNAVAILABLE, RESOURCE_EXHAUSTED or
 * DEADLINE_EXCEEDED as failures.
 */
int sender_post_grpc(struct sender *s, const char *method_path, const void *framed, size_t len,
		     const struct sender_header *extra, size_t nextra, struct sender_response *resp);

enum sender_verdict { SENDER_OK = 0, SENDER_RETRY, SENDER_DROP };

/* 2xx ok; no answer, 5xx and 429 (when retry_429) retry; every other status drops. */
enum sender_verdict sender_classify(const struct sender_response *resp, bool retry_429);

/* Retry-After value (delta-seconds or an HTTP date) in ms from `now`; 0 when absent/invalid/past. */
int64_t sender_parse_retry_after(const char *value, time_t now);

/* The configured URLs (index < nurls), or NULL. */
const char *sender_url(const struct sender *s, size_t index);
/* The sender's endpoint set, for figures (endpoints_get_totals, endpoints_snapshot). */
struct endpoints *sender_endpoints(struct sender *s);

#endif
