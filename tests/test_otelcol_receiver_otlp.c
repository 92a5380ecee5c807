/*
 * otelcol.receiver.otlp in the real runtime, driven over loopback by libcurl (HTTP/2 with prior
 * knowledge for gRPC, HTTP/1.1 for OTLP/HTTP): statuses for good, malformed, oversize, compressed,
 * expired and refused requests, several clients at once, and a stop with connections still open.
 * What arrives is read back from solder.otlp.echo's stdout. Runs under ASan too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "support/harness.h"

#define TRACES "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define LOGS   "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ExportTraceServiceRequest{resource_spans{scope_spans{spans{trace_id, span_id, name}}}} */
static size_t trace_request(const char *name, uint8_t *out)
{
	uint8_t span[256];
	size_t n = 0, nl = strlen(name);
	span[n++] = 0x0a, span[n++] = 16;
	for (int i = 0; i < 16; i++)
		span[n++] = (uint8_t)i;
	span[n++] = 0x12, span[n++] = 8;
	for (int i = 0; i < 8; i++)
		span[n++] = (uint8_t)(0xa0 + i);
	span[n++] = 0x2a, span[n++] = (uint8_t)nl;
	memcpy(span + n, name, nl);
	n += nl;
	size_t o = 0;
	out[o++] = 0x0a, out[o++] = (uint8_t)(n + 4);
	out[o++] = 0x12, out[o++] = (uint8_t)(n + 2);
	out[o++] = 0x12, out[o++] = (uint8_t)n;
	memcpy(out + o, span, n);
	return o + n;
}

static size_t frame(const uint8_t *msg, size_t len, int compressed, uint8_t *out)
{
	out[0] = (uint8_t)compressed;
	out[1] = (uint8_t)(len >> 24), out[2] = (uint8_t)(len >> 16), out[3] = (uint8_t)(len >> 8),
	out[4] = (uint8_t)len;
	memcpy(out + 5, msg, len);
	return len + 5;
}

struct reply {
	long http;
	int grpc_status; /* -1: none */
	char message[256];
	bool retry_info;
};

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	if (len > 12 && !strncasecmp(buf, "grpc-status:", 12))
		r->grpc_status = atoi(buf + 12);
	else if (len > 13 && !strncasecmp(buf, "grpc-message:", 13))
		snprintf(r->message, sizeof(r->message), "%.*s", (int)(len - 13), buf + 13);
	else if (!strncasecmp(buf, "grpc-status-details-bin:", 24))
		r->retry_info = true;
	return len;
}

static size_t discard(char *buf, size_t size, size_t n, void *arg)
{
	return size * n;
}

/*
 * One unary call over h2c. Each call gets its own connection: curl 7.88 fails a second request on a
 * reused prior-knowledge connection (against grpcio's server too); the JS and Python clients of the
 * integration test cover many calls per connection.
 */
static struct reply grpc_call(CURL *h, int port, const char *path, const void *body, size_t len,
			      const char *const *extra)
{
	struct reply r = {.grpc_status = -1};
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/grpc");
	hdrs = curl_slist_append(hdrs, "TE: trailers");
	for (; extra && *extra; extra++)
		hdrs = curl_slist_append(hdrs, *extra);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK)
		fail_msg("curl: %s", curl_easy_strerror(cc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.http);
	curl_slist_free_all(hdrs);
	return r;
}

static struct reply call_once(int port, const char *path, const void *body, size_t len, const char *const *extra)
{
	CURL *h = curl_easy_init();
	struct reply r = grpc_call(h, port, path, body, len, extra);
	curl_easy_cleanup(h);
	return r;
}

struct fixture {
	struct harness h;
	int grpc, http, full_grpc;
	char out_path[64];
	int saved_stdout;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->grpc = free_port(), f->http = free_port(), f->full_grpc = free_port();
	snprintf(f->out_path, sizeof(f->out_path), "/tmp/otlp-recv.XXXXXX");
	int fd = mkstemp(f->out_path);
	fflush(stdout);
	f->saved_stdout = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	char cfg[2048];
	snprintf(cfg, sizeof(cfg),
		 "otelcol.receiver.otlp \"main\" {\n"
		 "  grpc {\n    endpoint = \"127.0.0.1:%d\"\n    max_recv_msg_size = \"1KiB\"\n  }\n"
		 "  http {\n    endpoint = \"127.0.0.1:%d\"\n  }\n"
		 "  output {\n    traces = [solder.otlp.echo.out.input]\n  }\n}\n"
		 "solder.otlp.echo \"out\" { }\n"
		 "otelcol.receiver.otlp \"full\" {\n"
		 "  grpc {\n    endpoint = \"127.0.0.1:%d\"\n  }\n"
		 "  output {\n    traces = [solder.otlp.echo.refusing.input]\n  }\n}\n"
		 "solder.otlp.echo \"refusing\" {\n  refuse = true\n}\n",
		 f->grpc, f->http, f->full_grpc);
	harness_start(&f->h, cfg);
	enum component_health health;
	harness_health(&f->h, "otelcol.receiver.otlp.main", &health);
	assert_int_equal(health, HEALTH_HEALTHY);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->h.rt)
		harness_stop(&f->h);
	fflush(stdout);
	dup2(f->saved_stdout, STDOUT_FILENO);
	close(f->saved_stdout);
	unlink(f->out_path);
	free(f);
	return 0;
}

static int count_lines(const char *path, const char *needle)
{
	fflush(stdout);
	FILE *in = fopen(path, "r");
	char line[4096];
	int n = 0;
	while (in && fgets(line, sizeof(line), in))
		n += strstr(line, needle) != NULL;
	if (in)
		fclose(in);
	return n;
}

static void test_statuses(void **state)
{
	struct fixture *f = *state;
	uint8_t msg[512], body[1024 + 64], gz[1024];
	size_t mlen = trace_request("unit-ok", msg), blen = frame(msg, mlen, 0, body);

	struct reply r = call_once(f->grpc, TRACES, body, blen, NULL);
	assert_int_equal(r.http, 200);
	assert_int_equal(r.grpc_status, 0);
	assert_int_equal(
		count_lines(f->out_path,
			    "name=\"unit-ok\" trace_id=000102030405060708090a0b0c0d0e0f span_id=a0a1a2a3a4a5a6a7"),
		1);

	/* gzip, as grpc-encoding says */
	z_stream zs = {0};
	deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	mlen = trace_request("unit-gzip", msg);
	zs.next_in = msg, zs.avail_in = (uInt)mlen, zs.next_out = gz, zs.avail_out = sizeof(gz);
	deflate(&zs, Z_FINISH);
	size_t gzlen = sizeof(gz) - zs.avail_out;
	deflateEnd(&zs);
	blen = frame(gz, gzlen, 1, body);
	const char *const gzip_hdr[] = {"grpc-encoding: gzip", NULL};
	r = call_once(f->grpc, TRACES, body, blen, gzip_hdr);
	assert_int_equal(r.grpc_status, 0);
	assert_int_equal(count_lines(f->out_path, "name=\"unit-gzip\""), 1);

	static const struct {
		const char *what, *path;
		const uint8_t *body;
		size_t len;
		const char *hdr;
		int status;
	} cases[] = {
		{"malformed protobuf", TRACES, (const uint8_t *)"\0\0\0\0\5\x0a\x05\x12\x03\x0a", 10, NULL, 3},
		{"broken framing", TRACES,
		 (const uint8_t *)"\0\0\0\0\x09"
				  "ab",
		 7, NULL, 3},
		{"compressed without encoding", TRACES, (const uint8_t *)"\1\0\0\0\0", 5, NULL, 13},
		{"corrupt gzip", TRACES, (const uint8_t *)"\1\0\0\0\2ab", 7, "grpc-encoding: gzip", 3},
		{"unknown encoding", TRACES, (const uint8_t *)"\0\0\0\0\0", 5, "grpc-encoding: snappy", 12},
		{"unknown method", "/x.Y/Z", (const uint8_t *)"\0\0\0\0\0", 5, NULL, 12},
		{"no consumer for logs", LOGS, (const uint8_t *)"\0\0\0\0\0", 5, NULL, 12},
		{"expired deadline", TRACES, (const uint8_t *)"\0\0\0\0\0", 5, "grpc-timeout: 1n", 4},
		{"empty request", TRACES, (const uint8_t *)"\0\0\0\0\0", 5, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const extra[] = {cases[i].hdr, NULL};
		r = call_once(f->grpc, cases[i].path, cases[i].body, cases[i].len, extra);
		if (r.grpc_status != cases[i].status || r.http != 200)
			fail_msg("%s: http %ld grpc-status %d (%s), want %d", cases[i].what, r.http, r.grpc_status,
				 r.message, cases[i].status);
	}

	/* over max_recv_msg_size (1 KiB) */
	uint8_t *big = calloc(1, 4096);
	big[3] = 0x0f, big[4] = 0xfb; /* a 4091-byte message */
	r = call_once(f->grpc, TRACES, big, 4096, NULL);
	assert_int_equal(r.grpc_status, 8);
	free(big);

	/* not gRPC at all */
	CURL *h = curl_easy_init();
	const char *const text[] = {"Content-Type: text/plain", NULL};
	r = grpc_call(h, f->grpc, TRACES, "x", 1, text);
	curl_easy_cleanup(h);
	assert_int_equal(r.http, 415);

	/* a refusing pipeline: UNAVAILABLE with RetryInfo, nothing printed */
	mlen = trace_request("unit-refused", msg), blen = frame(msg, mlen, 0, body);
	r = call_once(f->full_grpc, TRACES, body, blen, NULL);
	assert_int_equal(r.grpc_status, 14);
	assert_true(r.retry_info);
	assert_int_equal(count_lines(f->out_path, "unit-refused"), 0);
}

struct client_arg {
	int port, id, ok;
};

/* One client making 40 calls. */
static void *client(void *arg)
{
	struct client_arg *a = arg;
	CURL *h = curl_easy_init();
	for (int i = 0; i < 40; i++) {
		uint8_t msg[256], body[300];
		char name[32];
		snprintf(name, sizeof(name), "c%d-%d", a->id, i);
		size_t blen = frame(msg, trace_request(name, msg), 0, body);
		struct reply r = grpc_call(h, a->port, TRACES, body, blen, NULL);
		a->ok += r.grpc_status == 0;
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void test_concurrent_clients_and_stop(void **state)
{
	struct fixture *f = *state;
	pthread_t t[4];
	struct client_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct client_arg){f->grpc, i, 0};
		pthread_create(&t[i], NULL, client, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].ok, 40);
	}
	assert_int_equal(count_lines(f->out_path, "signal=traces items=1"), 160);

	/* connections left open, one idle after the preface, one in the middle of a request: stopping
	 * closes them and returns */
	int idle = socket(AF_INET, SOCK_STREAM, 0), partial = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons((uint16_t)f->grpc), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(idle, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(connect(partial, (struct sockaddr *)&sa, sizeof(sa)), 0);
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
	assert_int_equal(write(idle, preface, sizeof(preface) - 1), sizeof(preface) - 1);
	assert_int_equal(write(partial, preface, 20), 20);
	usleep(100 * 1000);
	harness_stop(&f->h);
	close(idle);
	close(partial);
}

static void test_http_json(void **state)
{
	struct fixture *f = *state;
	const char *json =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"000102030405060708090a0b0c0d0e0f\","
		"\"spanId\":\"0102030405060708\",\"name\":\"unit-json\"}]}]}]}";
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", f->http);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 200);
	assert_int_equal(
		count_lines(f->out_path,
			    "name=\"unit-json\" trace_id=000102030405060708090a0b0c0d0e0f span_id=0102030405060708"),
		1);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS,
			 "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"spanId\":\"x\"}]}]}]}");
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 400);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
}

/* What solder cannot do yet is refused at start with the reason logged, not silently ignored. */
static void test_unsupported_refused(void **state)
{
	struct harness h;
	harness_start(&h, "otelcol.receiver.otlp \"x\" {\n"
			  "  grpc {\n    endpoint = \"127.0.0.1:0\"\n    tls {\n      cert_pem = \"x\"\n      "
			  "key_file = \"/k\"\n    }\n  }\n"
			  "  output { }\n}\n");
	enum component_health health;
	const char *msg = harness_health(&h, "otelcol.receiver.otlp.x", &health);
	assert_int_equal(health, HEALTH_UNHEALTHY);
	assert_non_null(strstr(msg, "not supported"));
	harness_stop(&h);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_clients_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_json, setup, teardown),
		cmocka_unit_test(test_unsupported_refused),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
