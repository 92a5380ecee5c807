/*
 * sender — see sender.h. One libcurl easy handle per sender, reused for every request so the
 * connection (and its TLS session, and HTTP/2 when the server offers it over ALPN) stays alive; a
 * sender serves one lane's thread, so no locking is needed around the handle.
 *
 * Credentials read from files (bearer_token_file, credentials_file, password_file) are re-read when
 * the file changes (inode, size or mtime), so a rotated token is picked up at the next request
 * without a reload. `tls_config.server_name` is done the way Go's client does it: the TLS name and
 * the Host header come from server_name's twin (the URL host), while the TCP connection goes to the
 * URL's address (libcurl's CONNECT_TO).
 *
 * Endpoint choice is lib/endpoints' (see sender.h); the connection target is built per request from the
 * pick (url, address) and server_name, since DNS and EndpointSlice sources change the set at any time.
 * Metric children are looked up per request and never cached, so a sender freed while its successor
 * (same component id, after a reload) runs can remove its children without leaving anyone a dangling
 * pointer: the successor's next request creates them again.
 *
 * gRPC (otelcol.exporter.otlp) rides the same handle: HTTP/2 by prior knowledge on http:// (h2c) and
 * by ALPN on https://, the method path appended to the endpoint's URL, and grpc-status read in the
 * header callback, which libcurl also calls for HTTP/2 trailers — so zone choice, circuits, TLS,
 * credentials and headers stay here for both protocols. One call at a time per sender, as for HTTP.
 */
#include "lib/sender.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "config/config.h"
#include "lib/agent_zone.h"
#include "lib/endpoints.h"
#include "lib/grpc.h"
#include "lib/log.h"
#include "lib/metrics.h"

/* A secret read from a file, re-read when the file changes. */
struct file_secret {
	const char *path; /* borrowed from the config */
	char *value;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

enum status_class { CLASS_2XX, CLASS_4XX, CLASS_429, CLASS_5XX, CLASS_OTHER, CLASS_ERROR, CLASS_N };
static const char *const class_names[CLASS_N] = { "2xx", "4xx", "429", "5xx", "other", "error" };

/* Where one request goes: built from the pick (url, address) and tls.server_name. */
struct req_target {
	char *request_url; /* url with the host replaced by tls.server_name, or NULL: the url itself */
	char *host_header; /* "Host: …" when the URL was rewritten */
	char *connect_to;  /* "name:port:address:port", or NULL */
};

enum { FAM_REQUESTS, FAM_BYTES, FAM_LOC_REQUESTS, FAM_LOC_BYTES, FAM_CIRCUIT, FAM_FAILOVERS, FAM_FAILBACKS,
       FAM_CHOSEN, FAM_N };

struct sender {
	struct sender_config cfg;
	CURL *curl;
	struct endpoints *set;
	struct endpoints_source *src;
	struct agent_zone *az;
	struct file_secret token_file, password_file;
	struct metric_family *fam[FAM_N];
	char *component_id;
	uint64_t failovers, failbacks;        /* endpoint totals already added to the counters */
	uint64_t posts;                       /* requests sent, to refresh circuit gauges now and then */
	char *last_url;                       /* resp->url of the last request */
	char chosen[3][256];                  /* url, address, zone of the endpoint chosen last */
	uint8_t *data;                        /* the answer body (resp->data) */
	size_t data_cap;
	/* per request */
	struct sender_response *resp;
};

/* ---- configuration ---- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int add_header(struct sender_config *cfg, const char *name, const char *value)
{
	struct sender_header *h = realloc(cfg->headers, (cfg->nheaders + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	cfg->headers = h;
	h[cfg->nheaders].name = strdup(name);
	h[cfg->nheaders].value = strdup(value);
	cfg->nheaders++;
	return 0;
}

/* `headers` (map(string)) and `http_headers` (map(list(secret))) become plain header lines. */
static int parse_headers(const struct cfg_body *body, struct sender_config *cfg)
{
	const struct value *h = cfg_get(body, "headers");
	for (size_t i = 0; h && h->kind == VAL_OBJECT && i < h->object.n; i++)
		if (h->object.fields[i].value.kind == VAL_STRING &&
		    add_header(cfg, h->object.fields[i].key, h->object.fields[i].value.str.s) < 0)
			return -ENOMEM;
	const struct value *hh = cfg_get(body, "http_headers");
	for (size_t i = 0; hh && hh->kind == VAL_OBJECT && i < hh->object.n; i++) {
		const struct value *list = &hh->object.fields[i].value;
		for (size_t j = 0; list->kind == VAL_ARRAY && j < list->array.n; j++)
			if (list->array.items[j].kind == VAL_STRING &&
			    add_header(cfg, hh->object.fields[i].key, list->array.items[j].str.s) < 0)
				return -ENOMEM;
	}
	return 0;
}

void sender_config_tls(const struct cfg_body *tls, struct sender_config *cfg)
{
	cfg->tls.ca_file = dup_or_null(cfg_string(tls, "ca_file"));
	cfg->tls.cert_file = dup_or_null(cfg_string(tls, "cert_file"));
	cfg->tls.key_file = dup_or_null(cfg_string(tls, "key_file"));
	cfg->tls.ca_pem = dup_or_null(cfg_string(tls, "ca_pem"));
	cfg->tls.cert_pem = dup_or_null(cfg_string(tls, "cert_pem"));
	cfg->tls.key_pem = dup_or_null(cfg_string(tls, "key_pem"));
	cfg->tls.server_name = dup_or_null(cfg_string(tls, "server_name"));
	cfg->tls.min_version = dup_or_null(cfg_string(tls, "min_version"));
	cfg->tls.insecure_skip_verify = cfg_bool(tls, "insecure_skip_verify", false);
}

static void parse_auth(const struct cfg_body *body, struct sender_config *cfg)
{
	size_t cur = 0;
	const struct cfg_block *b;
	if ((b = cfg_next_block(body, "basic_auth", &cur))) {
		cfg->basic_username = strdup(cfg_string(b->body, "username") ? cfg_string(b->body, "username") : "");
		cfg->basic_password = dup_or_null(cfg_string(b->body, "password"));
		cfg->basic_password_file = dup_or_null(cfg_string(b->body, "password_file"));
	}
	cur = 0;
	if ((b = cfg_next_block(body, "authorization", &cur))) {
		const char *type = cfg_string(b->body, "type");
		cfg->auth_type = strdup(type && *type ? type : "Bearer");
		cfg->auth_credentials = dup_or_null(cfg_string(b->body, "credentials"));
		cfg->auth_credentials_file = dup_or_null(cfg_string(b->body, "credentials_file"));
	}
	if (cfg_string(body, "bearer_token") || cfg_string(body, "bearer_token_file")) {
		cfg->auth_type = strdup("Bearer");
		cfg->auth_credentials = dup_or_null(cfg_string(body, "bearer_token"));
		cfg->auth_credentials_file = dup_or_null(cfg_string(body, "bearer_token_file"));
	}
}

/* url with its zone, every zone_endpoint, the Service or DNS source and the circuit settings. */
static int parse_endpoints(const struct cfg_body *body, const char *url, struct sender_config *cfg)
{
	size_t n = 1, cur = 0;
	const struct cfg_block *b;
	while (cfg_next_block(body, "zone_endpoint", &cur))
		n++;
	cfg->urls = calloc(n, sizeof(char *));
	cfg->zones = calloc(n, sizeof(char *));
	if (!cfg->urls || !cfg->zones)
		return -ENOMEM;
	cfg->urls[0] = strdup(url);
	cfg->zones[0] = dup_or_null(cfg_string(body, "zone"));
	cfg->nurls = 1;
	cur = 0;
	while ((b = cfg_next_block(body, "zone_endpoint", &cur)) && cfg_string(b->body, "url")) {
		cfg->urls[cfg->nurls] = strdup(cfg_string(b->body, "url"));
		cfg->zones[cfg->nurls++] = dup_or_null(cfg_string(b->body, "zone"));
	}
	cur = 0;
	if ((b = cfg_next_block(body, "kubernetes_service", &cur))) {
		cfg->kube_namespace = dup_or_null(cfg_string(b->body, "namespace"));
		cfg->kube_service = dup_or_null(cfg_string(b->body, "name"));
		cfg->kube_port = dup_or_null(cfg_string(b->body, "port"));
	}
	cfg->dns_refresh_ns = cfg_duration_ns(body, "dns_refresh_interval", 0);
	int64_t ft = cfg_int(body, "failure_threshold", 5);
	cfg->failure_threshold = ft < 1 ? 1 : ft > 1000000 ? 1000000 : (unsigned)ft;
	cfg->open_min_ns = cfg_duration_ns(body, "open_min", 1000000000LL);
	cfg->open_max_ns = cfg_duration_ns(body, "open_max", 60000000000LL);
	for (size_t i = 0; i < cfg->nurls; i++)
		if (!cfg->urls[i])
			return -ENOMEM;
	return 0;
}

int sender_config_from_body(const struct cfg_body *body, struct sender_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *url = cfg_string(body, "url") ? cfg_string(body, "url") : cfg_string(body, "endpoint");
	size_t cur = 0;
	if (!url) {
		snprintf(err, errlen, "no url");
		return -EINVAL;
	}
	if (cfg_next_block(body, "oauth2", &cur)) {
		snprintf(err, errlen, "oauth2 is not supported by solder's HTTP client yet");
		return -EINVAL;
	}
	int rc = parse_endpoints(body, url, cfg);
	if (rc < 0)
		return rc;
	int64_t def_timeout = cfg_duration_ns(body, "timeout", 10000000000LL);
	cfg->timeout_ns = cfg_duration_ns(body, "remote_timeout", def_timeout);
	cfg->http2 = cfg_bool(body, "enable_http2", true);
	cfg->follow_redirects = cfg_bool(body, "follow_redirects", true);
	cfg->proxy_url = dup_or_null(cfg_string(body, "proxy_url"));
	cfg->no_proxy = dup_or_null(cfg_string(body, "no_proxy"));
	cfg->proxy_from_environment = cfg_bool(body, "proxy_from_environment", false);
	cur = 0;
	const struct cfg_block *tls = cfg_next_block(body, "tls_config", &cur);
	if (tls)
		sender_config_tls(tls->body, cfg);
	parse_auth(body, cfg);
	return parse_headers(body, cfg);
}

void sender_config_free(struct sender_config *cfg)
{
	for (size_t i = 0; i < cfg->nurls; i++) {
		free(cfg->urls[i]);
		free(cfg->zones ? cfg->zones[i] : NULL);
	}
	free(cfg->urls);
	free(cfg->zones);
	for (size_t i = 0; i < cfg->nheaders; i++) {
		free(cfg->headers[i].name);
		free(cfg->headers[i].value);
	}
	free(cfg->headers);
	char *strs[] = { cfg->proxy_url, cfg->no_proxy, cfg->tls.ca_file, cfg->tls.cert_file, cfg->tls.key_file,
			 cfg->tls.server_name, cfg->tls.ca_pem, cfg->tls.cert_pem, cfg->tls.key_pem, cfg->tls.min_version,
			 cfg->basic_username, cfg->basic_password, cfg->basic_password_file, cfg->auth_type,
			 cfg->auth_credentials, cfg->auth_credentials_file, cfg->user_agent, cfg->kube_namespace,
			 cfg->kube_service, cfg->kube_port };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(strs[i]);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- answers ---- */

int64_t sender_parse_retry_after(const char *value, time_t now)
{
	while (value && isspace((unsigned char)*value))
		value++;
	if (!value || !*value)
		return 0;
	if (isdigit((unsigned char)*value)) {
		char *end;
		long long secs = strtoll(value, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (*end || secs < 0)
			return 0;
		return secs > 86400 ? 86400000LL : secs * 1000LL;
	}
	time_t at = curl_getdate(value, NULL);
	if (at == (time_t)-1 || at <= now)
		return 0;
	return at - now > 86400 ? 86400000LL : (int64_t)(at - now) * 1000LL;
}

enum sender_verdict sender_classify(const struct sender_response *resp, bool retry_429)
{
	long st = resp->status;
	if (st >= 200 && st < 300)
		return SENDER_OK;
	if (st == 0 || st >= 500 || (st == 429 && retry_429))
		return SENDER_RETRY;
	return SENDER_DROP;
}

static enum status_class class_of(long status)
{
	if (status == 0)
		return CLASS_ERROR;
	if (status == 429)
		return CLASS_429;
	if (status >= 200 && status < 300)
		return CLASS_2XX;
	if (status >= 400 && status < 500)
		return CLASS_4XX;
	return status >= 500 ? CLASS_5XX : CLASS_OTHER;
}

/* A header line's value without the name, the colon and surrounding white space. */
static const char *header_value(const char *buf, size_t len, size_t name_len, size_t *vlen)
{
	const char *v = buf + name_len, *end = buf + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

/* grpc-status, grpc-message, grpc-status-details-bin, grpc-encoding: in headers or trailers. */
static void on_grpc_header(struct sender_response *r, const char *buf, size_t len)
{
	size_t vl;
	const char *v;
	if (len > 12 && strncasecmp(buf, "grpc-status:", 12) == 0) {
		v = header_value(buf, len, 12, &vl);
		char num[16];
		snprintf(num, sizeof(num), "%.*s", (int)(vl < 15 ? vl : 15), v);
		char *e;
		long code = strtol(num, &e, 10);
		r->grpc_status = *num && !*e && code >= 0 && code < 1000 ? (int)code : GRPC_UNKNOWN;
	} else if (len > 13 && strncasecmp(buf, "grpc-message:", 13) == 0) {
		v = header_value(buf, len, 13, &vl);
		grpc_message_decode(v, vl, r->grpc_message, sizeof(r->grpc_message));
	} else if (len > 24 && strncasecmp(buf, "grpc-status-details-bin:", 24) == 0) {
		v = header_value(buf, len, 24, &vl);
		int64_t ms = 0;
		if (grpc_status_details_retry_delay(v, vl, &ms) == 0)
			r->grpc_retry_delay_ms = ms > 0 ? ms : 1;
	} else if (len > 14 && strncasecmp(buf, "grpc-encoding:", 14) == 0) {
		v = header_value(buf, len, 14, &vl);
		r->grpc_gzip = vl == 4 && strncasecmp(v, "gzip", 4) == 0;
	}
}

/* Appends a whole header line to resp->headers when it fits (a line that does not is left out). */
static void keep_header(struct sender_response *r, const char *buf, size_t len)
{
	if (r->headers_len + len < sizeof(r->headers)) {
		memcpy(r->headers + r->headers_len, buf, len);
		r->headers_len += len;
		r->headers[r->headers_len] = 0;
	}
}

const char *sender_response_header(const struct sender_response *resp, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);
	const char *p = resp->headers, *end = resp->headers + resp->headers_len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t line = eol ? (size_t)(eol + 1 - p) : (size_t)(end - p);
		if (line > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0 && len) {
			size_t vl;
			const char *v = header_value(p, line, nl + 1, &vl);
			if (vl >= len)
				vl = len - 1;
			memcpy(buf, v, vl);
			buf[vl] = 0;
			return buf;
		}
		p += line;
	}
	return NULL;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct sender *s = arg;
	size_t len = size * n;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		s->resp->retry_after_ms = 0; /* a new response (after 100 Continue or a redirect) */
		s->resp->grpc_status = -1;
		s->resp->grpc_message[0] = 0;
		s->resp->grpc_retry_delay_ms = 0;
		s->resp->grpc_gzip = false;
		s->resp->data_len = 0;
		s->resp->data_truncated = false;
		s->resp->headers_len = 0;
		return len;
	}
	keep_header(s->resp, buf, len);
	if (s->cfg.grpc && len > 5 && strncasecmp(buf, "grpc-", 5) == 0) {
		on_grpc_header(s->resp, buf, len);
		return len;
	}
	if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		char v[128];
		size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		memcpy(v, buf + 12, vl);
		v[vl] = 0;
		while (vl && isspace((unsigned char)v[vl - 1]))
			v[--vl] = 0;
		s->resp->retry_after_ms = sender_parse_retry_after(v, time(NULL));
	}
	return len;
}

/* Keeps the answer whole (up to SENDER_DATA_MAX) in the sender's buffer. */
static void keep_data(struct sender *s, const char *buf, size_t len)
{
	struct sender_response *r = s->resp;
	size_t take = r->data_len + len > SENDER_DATA_MAX ? SENDER_DATA_MAX - r->data_len : len;
	if (take < len)
		r->data_truncated = true;
	if (r->data_len + take > s->data_cap) {
		size_t cap = s->data_cap ? s->data_cap : 4096;
		while (cap < r->data_len + take)
			cap *= 2;
		uint8_t *d = realloc(s->data, cap);
		if (!d) {
			r->data_truncated = true;
			return;
		}
		s->data = d;
		s->data_cap = cap;
	}
	memcpy(s->data + r->data_len, buf, take);
	r->data_len += take;
	r->data = s->data;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct sender *s = arg;
	struct sender_response *r = s->resp;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->body_len;
	size_t take = len < room ? len : room;
	memcpy(r->body + r->body_len, buf, take);
	r->body_len += take;
	r->body[r->body_len] = 0;
	keep_data(s, buf, len);
	return len;
}

/* ---- credentials ---- */

/* The file's content without trailing whitespace; re-read only when the file changed. NULL if unreadable. */
static const char *file_secret_get(struct file_secret *f)
{
	struct stat st;
	if (stat(f->path, &st) < 0) {
		log_warn("sender", "cannot stat credentials file", "path=%s error=%s", f->path, strerror(errno));
		return f->value; /* keep the last good value through a rotation's rename gap */
	}
	if (f->value && st.st_ino == f->ino && st.st_dev == f->dev && st.st_size == f->size &&
	    st.st_mtim.tv_sec == f->mtime.tv_sec && st.st_mtim.tv_nsec == f->mtime.tv_nsec)
		return f->value;
	FILE *fp = fopen(f->path, "r");
	if (!fp || st.st_size > (1 << 20)) {
		log_warn("sender", "cannot read credentials file", "path=%s", f->path);
		if (fp)
			fclose(fp);
		return f->value;
	}
	char *v = calloc(1, (size_t)st.st_size + 1);
	size_t got = v ? fread(v, 1, (size_t)st.st_size, fp) : 0;
	fclose(fp);
	if (!v)
		return f->value;
	while (got && isspace((unsigned char)v[got - 1]))
		got--;
	v[got] = 0;
	free(f->value);
	f->value = v;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	return v;
}

/* ---- requests ---- */

static void once_global_init(void) { curl_global_init(CURL_GLOBAL_ALL); }

static struct curl_slist *append_header(struct curl_slist *l, const char *name, const char *value)
{
	char *line;
	if (asprintf(&line, "%s: %s", name, value) < 0)
		return l;
	struct curl_slist *n = curl_slist_append(l, line);
	free(line);
	return n ? n : l;
}

static struct curl_slist *build_headers(struct sender *s, const struct req_target *t,
					const struct sender_header *extra, size_t nextra)
{
	struct curl_slist *l = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
	if (t->host_header)
		l = curl_slist_append(l, t->host_header);
	for (size_t i = 0; i < s->cfg.nheaders; i++)
		l = append_header(l, s->cfg.headers[i].name, s->cfg.headers[i].value);
	for (size_t i = 0; i < nextra; i++)
		l = append_header(l, extra[i].name, extra[i].value);
	if (s->cfg.grpc) {
		char tmo[32];
		int64_t ms = (s->cfg.timeout_ns ? s->cfg.timeout_ns : 10000000000LL) / 1000000;
		snprintf(tmo, sizeof(tmo), "%lldm", (long long)(ms > 99999999 ? 99999999 : ms)); /* 8 digits at most */
		l = curl_slist_append(l, "Content-Type: application/grpc");
		l = curl_slist_append(l, "TE: trailers");
		l = append_header(l, "grpc-timeout", tmo);
	}
	const char *cred = s->cfg.auth_credentials;
	if (s->cfg.auth_credentials_file)
		cred = file_secret_get(&s->token_file);
	if (s->cfg.auth_type && cred) {
		char *v;
		if (asprintf(&v, "%s %s", s->cfg.auth_type, cred) >= 0) {
			l = append_header(l, "Authorization", v);
			free(v);
		}
	}
	return l;
}

static void set_basic_auth(struct sender *s)
{
	if (!s->cfg.basic_username)
		return;
	const char *pw = s->cfg.basic_password;
	if (s->cfg.basic_password_file)
		pw = file_secret_get(&s->password_file);
	curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->cfg.basic_username);
	curl_easy_setopt(s->curl, CURLOPT_PASSWORD, pw ? pw : "");
}

static long tls_version(const char *v)
{
	if (!v)
		return CURL_SSLVERSION_DEFAULT;
	if (!strcmp(v, "TLS13"))
		return CURL_SSLVERSION_TLSv1_3;
	if (!strcmp(v, "TLS12"))
		return CURL_SSLVERSION_TLSv1_2;
	if (!strcmp(v, "TLS11"))
		return CURL_SSLVERSION_TLSv1_1;
	return CURL_SSLVERSION_TLSv1_0;
}

static void set_blob(CURL *c, CURLoption opt, const char *pem)
{
	struct curl_blob blob = { .data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY };
	curl_easy_setopt(c, opt, &blob);
}

/* Options that never change between requests. */
static void setup_handle(struct sender *s)
{
	CURL *c = s->curl;
	const struct sender_config *cfg = &s->cfg;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)((cfg->timeout_ns ? cfg->timeout_ns : 10000000000LL) / 1000000));
	long version = cfg->grpc ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
		       : cfg->http2 ? (long)CURL_HTTP_VERSION_2TLS
				    : (long)CURL_HTTP_VERSION_1_1;
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, version);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, cfg->follow_redirects ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	curl_easy_setopt(c, CURLOPT_USERAGENT, cfg->user_agent ? cfg->user_agent : "solder");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	/* Go's client ignores *_proxy variables unless asked; libcurl reads them unless told otherwise. */
	curl_easy_setopt(c, CURLOPT_PROXY, cfg->proxy_url ? cfg->proxy_url : cfg->proxy_from_environment ? NULL : "");
	if (cfg->no_proxy)
		curl_easy_setopt(c, CURLOPT_NOPROXY, cfg->no_proxy);
	if (cfg->tls.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->tls.ca_file);
	if (cfg->tls.ca_pem)
		set_blob(c, CURLOPT_CAINFO_BLOB, cfg->tls.ca_pem);
	if (cfg->tls.cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->tls.cert_file);
	if (cfg->tls.cert_pem)
		set_blob(c, CURLOPT_SSLCERT_BLOB, cfg->tls.cert_pem);
	if (cfg->tls.key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->tls.key_file);
	if (cfg->tls.key_pem)
		set_blob(c, CURLOPT_SSLKEY_BLOB, cfg->tls.key_pem);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, tls_version(cfg->tls.min_version));
	if (cfg->tls.insecure_skip_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

static void target_free(struct req_target *t)
{
	curl_free(t->request_url);
	free(t->host_header);
	free(t->connect_to);
	memset(t, 0, sizeof(*t));
}

/*
 * With tls.server_name (https), the request names server_name (TLS SNI and verification) and the Host
 * header keeps the URL's host. With an address (DNS, EndpointSlices), the TCP connection goes there
 * instead of to the URL's host, which stays the request's name. Both: connect to the address.
 */
static int target_build(struct sender *s, const char *url, const char *address, struct req_target *t)
{
	const char *sn = s->cfg.tls.server_name;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *scheme = NULL, *given_port = NULL;
	int rc = -EINVAL;
	memset(t, 0, sizeof(*t));
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	rc = 0;
	bool rewrite = sn && *sn && !strcasecmp(scheme, "https");
	bool v6 = address && strchr(address, ':');
	if (!rewrite && !(address && *address))
		goto out; /* the URL as it is */
	const char *dest = address && *address ? address : host;
	if (asprintf(&t->connect_to, "%s:%s:%s%s%s:%s", rewrite ? sn : host, port, v6 ? "[" : "", dest, v6 ? "]" : "",
		     port) < 0) {
		t->connect_to = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if (!rewrite)
		goto out;
	bool explicit_port = curl_url_get(u, CURLUPART_PORT, &given_port, 0) == CURLUE_OK;
	if (asprintf(&t->host_header, "Host: %s%s%s", host, explicit_port ? ":" : "", explicit_port ? port : "") < 0) {
		t->host_header = NULL;
		rc = -ENOMEM;
	} else if (curl_url_set(u, CURLUPART_HOST, sn, 0) != CURLUE_OK ||
		   curl_url_get(u, CURLUPART_URL, &t->request_url, 0) != CURLUE_OK) {
		rc = -ENOMEM;
	}
out:
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_free(given_port);
	curl_url_cleanup(u);
	if (rc < 0)
		target_free(t);
	return rc;
}

static void register_families(struct sender *s, struct metrics_registry *reg)
{
	s->fam[FAM_REQUESTS] = metrics_counter_family(reg, "solder_sender_requests_total",
						      "HTTP requests sent by sinks, by endpoint and status class.",
						      "component_id", "endpoint", "status", METRICS_END);
	s->fam[FAM_BYTES] = metrics_counter_family(reg, "solder_sender_sent_bytes_total",
						   "Request body bytes sent by sinks (as on the wire), by endpoint.",
						   "component_id", "endpoint", METRICS_END);
	s->fam[FAM_LOC_REQUESTS] = metrics_counter_family(
		reg, "solder_sender_zone_requests_total",
		"Requests that got an answer, by endpoint and whether it is in the agent's zone.", "component_id",
		"endpoint", "address", "locality", METRICS_END);
	s->fam[FAM_LOC_BYTES] = metrics_counter_family(
		reg, "solder_sender_zone_sent_bytes_total",
		"Body bytes of requests that got an answer, by endpoint and same-zone/cross-zone.", "component_id",
		"endpoint", "address", "locality", METRICS_END);
	s->fam[FAM_CIRCUIT] = metrics_gauge_family(reg, "solder_sender_endpoint_circuit_state",
						   "Circuit of each endpoint: 0 closed, 1 open, 2 half-open.",
						   "component_id", "endpoint", "address", "zone", METRICS_END);
	s->fam[FAM_FAILOVERS] = metrics_counter_family(reg, "solder_sender_failovers_total",
						       "Times a sink left its zone's endpoints for another zone's.",
						       "component_id", "endpoint", METRICS_END);
	s->fam[FAM_FAILBACKS] = metrics_counter_family(reg, "solder_sender_failbacks_total",
						       "Times a sink came back to its zone's endpoints.", "component_id",
						       "endpoint", METRICS_END);
	s->fam[FAM_CHOSEN] = metrics_gauge_family(reg, "solder_sender_endpoint_chosen",
						  "1 for the endpoint the sink's last request went to.", "component_id",
						  "endpoint", "address", "zone", METRICS_END);
}

/* The endpoint set and its source: the static URLs, or a Service's EndpointSlices, or a DNS name. */
static int start_endpoints(struct sender *s)
{
	struct endpoints_opts eo = { .failure_threshold = s->cfg.failure_threshold,
				     .open_base_ns = (uint64_t)(s->cfg.open_min_ns > 0 ? s->cfg.open_min_ns : 0),
				     .open_max_ns = (uint64_t)(s->cfg.open_max_ns > 0 ? s->cfg.open_max_ns : 0),
				     .jitter_percent = 10,
				     .zone_preference = agent_zone_preference(s->az) };
	int rc = endpoints_new(&eo, &s->set);
	if (rc < 0)
		return rc;
	struct kube_client *kube = agent_zone_kube(s->az);
	const char *url = s->cfg.urls[0];
	if (s->cfg.kube_service && kube) {
		rc = endpoints_kube_start(s->set, kube, s->cfg.kube_namespace, s->cfg.kube_service, s->cfg.kube_port, url,
					  &s->src);
		if (rc == 0)
			return 0;
		log_warn("sender", "cannot watch the Service's EndpointSlices; sending to url", "service=%s/%s error=%s",
			 s->cfg.kube_namespace, s->cfg.kube_service, strerror(-rc));
	} else if (s->cfg.kube_service) {
		log_warn("sender", "kubernetes_service needs the Kubernetes API (in-cluster or a kubeconfig); sending to url",
			 "service=%s/%s", s->cfg.kube_namespace, s->cfg.kube_service);
	} else if (s->cfg.dns_refresh_ns > 0) {
		int64_t ms = s->cfg.dns_refresh_ns / 1000000;
		rc = endpoints_dns_start(s->set, url, ms > 0 && ms < UINT32_MAX ? (unsigned)ms : 1000, &s->src);
		if (rc == 0)
			return 0;
		log_warn("sender", "cannot resolve the url's host on an interval; sending to url", "url=%s error=%s", url,
			 strerror(-rc));
	}
	struct endpoint_spec *specs = calloc(s->cfg.nurls, sizeof(*specs));
	if (!specs)
		return -ENOMEM;
	for (size_t i = 0; i < s->cfg.nurls; i++)
		specs[i] = (struct endpoint_spec){ .url = s->cfg.urls[i], .zone = s->cfg.zones ? s->cfg.zones[i] : NULL };
	rc = endpoints_update(s->set, specs, s->cfg.nurls);
	free(specs);
	return rc;
}

static bool zone_aware(const struct sender_config *cfg)
{
	for (size_t i = 0; cfg->zones && i < cfg->nurls; i++)
		if (cfg->zones[i] && *cfg->zones[i])
			return true;
	return cfg->kube_service != NULL;
}

int sender_new(struct sender_config *cfg, const struct sender_metrics_opts *m, struct sender **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, once_global_init);
	if (!cfg->nurls) {
		sender_config_free(cfg);
		return -EINVAL;
	}
	struct sender *s = calloc(1, sizeof(*s));
	if (!s) {
		sender_config_free(cfg);
		return -ENOMEM;
	}
	s->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	s->token_file.path = s->cfg.auth_credentials_file;
	s->password_file.path = s->cfg.basic_password_file;
	s->az = m ? m->zone : NULL;
	s->component_id = strdup(m && m->component_id ? m->component_id : "");
	s->curl = curl_easy_init();
	int rc = -ENOMEM;
	if (!s->curl || !s->component_id)
		goto fail;
	for (size_t i = 0; i < s->cfg.nurls; i++) {
		struct req_target t;
		if ((rc = target_build(s, s->cfg.urls[i], NULL, &t)) < 0)
			goto fail; /* a URL libcurl cannot parse */
		target_free(&t);
	}
	if ((rc = start_endpoints(s)) < 0)
		goto fail;
	if (m && m->registry)
		register_families(s, m->registry);
	struct zone_info zi;
	agent_zone_get(s->az, &zi);
	if (zone_aware(&s->cfg) && !zi.zone[0]) {
		log_warn("sender", "endpoints have zones but the agent's zone is unknown: sending to all of them alike",
			 "component=%s url=%s hint=%s", s->component_id, s->cfg.urls[0],
			 "set solder.zone { zone = ... }, SOLDER_ZONE, or NODE_NAME with access to the node");
	}
	agent_zone_attach(s->az, s->component_id, s->cfg.urls[0], s->set);
	setup_handle(s);
	*out = s;
	return 0;
fail:
	sender_free(s);
	return rc == -ENOMEM ? -ENOMEM : -EINVAL;
}

void sender_free(struct sender *s)
{
	if (!s)
		return;
	agent_zone_detach(s->az, s->set);
	endpoints_source_stop(s->src);
	for (int i = 0; i < FAM_N; i++) {
		if (s->fam[i])
			metrics_family_remove_by_label(s->fam[i], "component_id", s->component_id);
		metrics_family_unregister(s->fam[i]);
	}
	endpoints_free(s->set);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	free(s->token_file.value);
	free(s->password_file.value);
	free(s->component_id);
	free(s->last_url);
	free(s->data);
	sender_config_free(&s->cfg);
	free(s);
}

const char *sender_url(const struct sender *s, size_t index) { return index < s->cfg.nurls ? s->cfg.urls[index] : NULL; }
struct endpoints *sender_endpoints(struct sender *s) { return s->set; }

/* An answer that is the endpoint's fault (5xx, 429) or none at all counts against its circuit; a 4xx is the
 * data's fault and proves the endpoint alive. */
static enum endpoint_result result_of(long status)
{
	return status == 0 || status == 429 || status >= 500 ? ENDPOINT_FAIL : ENDPOINT_OK;
}

/* gRPC: the endpoint failed when it did not answer the call properly or said it is overloaded or down. */
static enum endpoint_result grpc_result_of(const struct sender_response *r)
{
	if (r->status != 200)
		return ENDPOINT_FAIL;
	return r->grpc_status == GRPC_UNAVAILABLE || r->grpc_status == GRPC_RESOURCE_EXHAUSTED ||
			       r->grpc_status == GRPC_DEADLINE_EXCEEDED || r->grpc_status < 0
		       ? ENDPOINT_FAIL
		       : ENDPOINT_OK;
}

/*
 * libcurl before 8.0 breaks a reused HTTP/2 prior-knowledge (h2c) connection: the second request on it
 * fails with "Error in the HTTP2 framing layer" (curl issue #10634, fixed by curl PR #10643; Debian 12
 * ships 7.88.1). There, each h2c gRPC call gets a fresh connection (a loopback connect and the HTTP/2
 * preface: cheap next to a call of a few hundred kB); TLS connections (ALPN h2) are reused as usual.
 */
static bool h2c_reuse_broken(void)
{
	return curl_version_info(CURLVERSION_NOW)->version_num < 0x080000;
}

/* url + path, without doubling the '/' between them. NULL on ENOMEM. */
static char *join_path(const char *url, const char *path)
{
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	char *out;
	if (asprintf(&out, "%.*s%s%s", (int)n, url, path[0] == '/' ? "" : "/", path) < 0)
		return NULL;
	return out;
}

/* Each endpoint's circuit as a gauge: refreshed when a circuit may have changed (a failure, a probe, a
 * failover) and now and then, since membership changes under DNS and EndpointSlice sources. */
static void publish_circuits(struct sender *s)
{
	struct endpoint_stats *st;
	size_t n;
	if (!s->fam[FAM_CIRCUIT] || endpoints_snapshot(s->set, &st, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		metric_gauge_set(metrics_gauge_child(s->fam[FAM_CIRCUIT], s->component_id, st[i].url,
						     st[i].address ? st[i].address : "", st[i].zone ? st[i].zone : ""),
				 (double)st[i].circuit);
	endpoints_stats_free(st, n);
}

static void publish_chosen(struct sender *s, const struct endpoint_pick *p)
{
	const char *addr = p->address ? p->address : "";
	if (!s->fam[FAM_CHOSEN] ||
	    (!strcmp(s->chosen[0], p->url) && !strcmp(s->chosen[1], addr) && !strcmp(s->chosen[2], p->zone)))
		return;
	if (s->chosen[0][0])
		metric_gauge_set(metrics_gauge_child(s->fam[FAM_CHOSEN], s->component_id, s->chosen[0], s->chosen[1],
						     s->chosen[2]), 0);
	snprintf(s->chosen[0], sizeof(s->chosen[0]), "%s", p->url);
	snprintf(s->chosen[1], sizeof(s->chosen[1]), "%s", addr);
	snprintf(s->chosen[2], sizeof(s->chosen[2]), "%s", p->zone);
	metric_gauge_set(metrics_gauge_child(s->fam[FAM_CHOSEN], s->component_id, s->chosen[0], s->chosen[1],
					     s->chosen[2]), 1);
}

/* Counters for one finished request; `answered` bytes went over the wire. */
static void count_request(struct sender *s, const struct endpoint_pick *p, long status, size_t len)
{
	const char *addr = p->address ? p->address : "", *loc = p->same_zone ? "same-zone" : "cross-zone";
	metric_counter_inc(metrics_counter_child(s->fam[FAM_REQUESTS], s->component_id, p->url, class_names[class_of(status)]));
	if (status) {
		metric_counter_add(metrics_counter_child(s->fam[FAM_BYTES], s->component_id, p->url), len);
		metric_counter_inc(metrics_counter_child(s->fam[FAM_LOC_REQUESTS], s->component_id, p->url, addr, loc));
		metric_counter_add(metrics_counter_child(s->fam[FAM_LOC_BYTES], s->component_id, p->url, addr, loc), len);
	}
	struct endpoints_totals tot;
	endpoints_get_totals(s->set, &tot);
	const char *url0 = s->cfg.urls[0];
	if (tot.failovers > s->failovers) {
		metric_counter_add(metrics_counter_child(s->fam[FAM_FAILOVERS], s->component_id, url0), tot.failovers - s->failovers);
		log_warn("sender", "no healthy endpoint in the agent's zone: failing over", "component=%s to=%s zone=%s",
			 s->component_id, p->url, p->zone[0] ? p->zone : "unknown");
	}
	if (tot.failbacks > s->failbacks) {
		metric_counter_add(metrics_counter_child(s->fam[FAM_FAILBACKS], s->component_id, url0), tot.failbacks - s->failbacks);
		log_info("sender", "back to the agent's zone", "component=%s to=%s zone=%s", s->component_id, p->url, p->zone);
	}
	s->failovers = tot.failovers;
	s->failbacks = tot.failbacks;
	publish_chosen(s, p);
	if (result_of(status) == ENDPOINT_FAIL || p->probe || p->failover || (++s->posts & 31) == 1)
		publish_circuits(s);
}

/* No endpoint to send to: every circuit open (-EAGAIN, with the first probe's time) or none known. */
static int no_endpoint(struct sender *s, int rc, uint64_t retry_in_ns, struct sender_response *resp)
{
	resp->url = s->cfg.urls[0];
	if (rc == -EAGAIN) {
		snprintf(resp->error, sizeof(resp->error), "every endpoint's circuit is open; next probe in %llu ms",
			 (unsigned long long)(retry_in_ns / 1000000));
		resp->retry_after_ms = (int64_t)((retry_in_ns + 999999) / 1000000);
		if (resp->retry_after_ms < 1)
			resp->retry_after_ms = 1;
	} else {
		snprintf(resp->error, sizeof(resp->error), "no endpoint to send to (%s)", strerror(-rc));
	}
	metric_counter_inc(metrics_counter_child(s->fam[FAM_REQUESTS], s->component_id, s->cfg.urls[0], "error"));
	return rc;
}

static int perform(struct sender *s, const struct endpoint_pick *p, const char *path, const void *body, size_t len,
		   const struct sender_header *extra, size_t nextra, struct sender_response *resp)
{
	struct req_target t;
	char *full = path && *path ? join_path(p->url, path) : strdup(p->url);
	int rc = full ? target_build(s, full, p->address, &t) : -ENOMEM;
	if (rc < 0) {
		snprintf(resp->error, sizeof(resp->error), "cannot build the request: %s", strerror(-rc));
		free(full);
		return rc;
	}
	struct curl_slist *connect_to = t.connect_to ? curl_slist_append(NULL, t.connect_to) : NULL;
	struct curl_slist *headers = build_headers(s, &t, extra, nextra);
	curl_easy_setopt(s->curl, CURLOPT_URL, t.request_url ? t.request_url : full);
	curl_easy_setopt(s->curl, CURLOPT_FORBID_REUSE, s->cfg.grpc && h2c_reuse_broken() && !strncasecmp(full, "http:", 5) ? 1L : 0L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECT_TO, connect_to);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	set_basic_auth(s);
	CURLcode cc = curl_easy_perform(s->curl);
	if (cc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(cc));
		rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
	} else {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	}
	curl_easy_getinfo(s->curl, CURLINFO_TOTAL_TIME, &resp->seconds);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->curl, CURLOPT_CONNECT_TO, NULL);
	curl_slist_free_all(headers);
	curl_slist_free_all(connect_to);
	target_free(&t);
	free(full);
	return rc;
}

static int post(struct sender *s, const char *path, const void *body, size_t len, const struct sender_header *extra,
		size_t nextra, struct sender_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->grpc_status = -1;
	struct zone_info zi;
	agent_zone_get(s->az, &zi);
	struct endpoint_pick p;
	uint64_t retry_in = 0;
	int rc = endpoints_pick(s->set, zi.zone, &p, &retry_in);
	if (rc < 0)
		return no_endpoint(s, rc, retry_in, resp);
	char *url = strdup(p.url); /* resp->url outlives the pick: an update may free the endpoint */
	if (url) {
		free(s->last_url);
		s->last_url = url;
	}
	resp->url = s->last_url ? s->last_url : s->cfg.urls[0];
	snprintf(resp->address, sizeof(resp->address), "%s", p.address ? p.address : "");
	snprintf(resp->zone, sizeof(resp->zone), "%s", p.zone);
	resp->same_zone = p.same_zone;
	resp->failover = p.failover;
	s->resp = resp;
	rc = perform(s, &p, path, body, len, extra, nextra, resp);
	s->resp = NULL;
	count_request(s, &p, resp->status, len);
	enum endpoint_result res = s->cfg.grpc ? grpc_result_of(resp) : result_of(resp->status);
	endpoints_report(s->set, &p, res, resp->status ? len : 0);
	return rc;
}

int sender_post(struct sender *s, const void *body, size_t len, const struct sender_header *extra, size_t nextra,
		struct sender_response *resp)
{
	return post(s, NULL, body, len, extra, nextra, resp);
}

int sender_post_path(struct sender *s, const char *path, const void *body, size_t len,
		     const struct sender_header *extra, size_t nextra, struct sender_response *resp)
{
	return post(s, path, body, len, extra, nextra, resp);
}

int sender_post_grpc(struct sender *s, const char *method_path, const void *framed, size_t len,
		     const struct sender_header *extra, size_t nextra, struct sender_response *resp)
{
	if (!s->cfg.grpc) {
		memset(resp, 0, sizeof(*resp));
		resp->grpc_status = -1;
		resp->url = s->cfg.urls[0];
		snprintf(resp->error, sizeof(resp->error), "not a gRPC sender");
		return -EINVAL;
	}
	return post(s, method_path, framed, len, extra, nextra, resp);
}
