/*
 * lib/grpcserver over TLS (lib/tlsconn), driven by libcurl over HTTP/2 + TLS with a throwaway
 * self-signed certificate made by openssl(1): a framed call is answered with grpc-status 0 in the
 * trailers; ALPN must be h2; min_version is honoured; client certificates are required when a
 * client CA is set; a cleartext client and a silent client are dropped and counted without
 * harming the next TLS client; unreadable or mismatched files are errors that name the file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "lib/grpcserver.h"
#include "lib/tlsconn.h"

static char dir[64], cert[128], key[128], ccert[128], ckey[128];
static atomic_int calls;
static char last_msg[64];

static void handler(void *ctx, const struct grpc_call *call, struct grpc_reply *reply)
{
	atomic_fetch_add(&calls, 1);
	size_t n = call->len < sizeof(last_msg) - 1 ? call->len : sizeof(last_msg) - 1;
	memcpy(last_msg, call->msg, n);
	last_msg[n] = 0;
	if (!strcmp(call->path, "/t.S/Fail")) {
		reply->status = GRPC_INVALID_ARGUMENT;
		snprintf(reply->message, sizeof(reply->message), "nope");
		return;
	}
	reply->body = malloc(2);
	memcpy(reply->body, "hi", 2);
	reply->body_len = 2;
}

static int group_setup(void **state)
{
	strcpy(dir, "/tmp/grpctls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(ccert, sizeof(ccert), "%s/client.pem", dir);
	snprintf(ckey, sizeof(ckey), "%s/client-key.pem", dir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
		 "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out %s 2>/dev/null && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=client "
		 "-keyout %s -out %s 2>/dev/null",
		 key, cert, ckey, ccert);
	if (system(cmd) != 0)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd)) {
	}
	curl_global_cleanup();
	return 0;
}

struct server {
	struct tlsconn_server *tls;
	struct grpcserver *grpc;
	int port;
};

static void server_start(struct server *s, const char *min_version, const char *client_ca)
{
	struct tlsconn_server_options to = {.cert_file = cert,
					    .key_file = key,
					    .alpn = "h2",
					    .min_version = min_version,
					    .client_ca_file = client_ca,
					    .handshake_timeout_ms = 300};
	char err[256];
	assert_int_equal(tlsconn_server_new(&to, &s->tls, err, sizeof(err)), 0);
	struct grpcserver_options go = {.listen = "127.0.0.1:0", .workers = 2, .tls = s->tls};
	assert_int_equal(grpcserver_start(&go, handler, NULL, &s->grpc), 0);
	s->port = grpcserver_port(s->grpc);
}

static void server_stop(struct server *s)
{
	grpcserver_stop(s->grpc);
	tlsconn_server_free(s->tls);
}

struct reply {
	char body[64];
	size_t body_len;
	int grpc_status;
	char headers[1024];
};

static size_t on_body(char *p, size_t sz, size_t n, void *user)
{
	struct reply *r = user;
	size_t len = sz * n, room = sizeof(r->body) - r->body_len, k = len < room ? len : room;
	memcpy(r->body + r->body_len, p, k);
	r->body_len += k;
	return len;
}

/* Headers and trailers both arrive here. */
static size_t on_header(char *p, size_t sz, size_t n, void *user)
{
	struct reply *r = user;
	size_t len = sz * n;
	if (len > 12 && !strncasecmp(p, "grpc-status:", 12))
		r->grpc_status = atoi(p + 12);
	size_t used = strlen(r->headers);
	if (used + len < sizeof(r->headers))
		strncat(r->headers, p, len);
	return len;
}

enum client_mode { CLIENT_H2, CLIENT_HTTP11, CLIENT_TLS12, CLIENT_WITH_CERT };

/* One framed call carrying "abc". Returns the curl result; the reply in *r. */
static CURLcode curl_call(int port, const char *path, enum client_mode mode, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->grpc_status = -1;
	static const char frame[] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
	char url[128];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "content-type: application/grpc");
	hdrs = curl_slist_append(hdrs, "te: trailers");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, frame);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)sizeof(frame));
	curl_easy_setopt(h, CURLOPT_CAINFO, cert);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
			 (long)(mode == CLIENT_HTTP11 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS));
	if (mode == CLIENT_TLS12)
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	if (mode == CLIENT_WITH_CERT) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, ccert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, ckey);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	CURLcode rc = curl_easy_perform(h);
	long ver = 0;
	curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver);
	if (rc == CURLE_OK)
		assert_int_equal(ver, CURL_HTTP_VERSION_2_0);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

static void assert_ok_call(int port, enum client_mode mode)
{
	struct reply r;
	assert_int_equal(curl_call(port, "/t.S/M", mode, &r), CURLE_OK);
	static const char want[] = {0, 0, 0, 0, 2, 'h', 'i'};
	assert_int_equal(r.body_len, sizeof(want));
	assert_memory_equal(r.body, want, sizeof(want));
	assert_int_equal(r.grpc_status, 0);
	assert_string_equal(last_msg, "abc");
}

static void test_call_over_tls(void **state)
{
	struct server s;
	server_start(&s, NULL, NULL);
	assert_ok_call(s.port, CLIENT_H2);
	assert_ok_call(s.port, CLIENT_TLS12); /* default minimum is 1.2 */
	struct reply r;
	assert_int_equal(curl_call(s.port, "/t.S/Fail", CLIENT_H2, &r), CURLE_OK);
	assert_int_equal(r.grpc_status, GRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(r.headers, "grpc-message: nope"));
	assert_int_equal(tlsconn_server_failures(s.tls), 0);
	server_stop(&s);
}

static void test_alpn_h2_required(void **state)
{
	struct server s;
	server_start(&s, NULL, NULL);
	struct reply r;
	int before = atomic_load(&calls);
	assert_int_not_equal(curl_call(s.port, "/t.S/M", CLIENT_HTTP11, &r), CURLE_OK);
	assert_int_equal(atomic_load(&calls), before);
	assert_int_equal(tlsconn_server_failures(s.tls), 1);
	assert_ok_call(s.port, CLIENT_H2);
	server_stop(&s);
}

static void test_min_version(void **state)
{
	struct server s;
	server_start(&s, "1.3", NULL);
	struct reply r;
	assert_int_not_equal(curl_call(s.port, "/t.S/M", CLIENT_TLS12, &r), CURLE_OK);
	assert_int_equal(tlsconn_server_failures(s.tls), 1);
	assert_ok_call(s.port, CLIENT_H2);
	server_stop(&s);
}

static void test_client_certificates(void **state)
{
	struct server s;
	server_start(&s, NULL, ccert);
	struct reply r;
	assert_int_not_equal(curl_call(s.port, "/t.S/M", CLIENT_H2, &r), CURLE_OK);
	assert_ok_call(s.port, CLIENT_WITH_CERT);
	server_stop(&s);
}

static int connect_plain(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Reads until the server closes; true if it did within timeout_ms. */
static bool closed_within(int fd, int timeout_ms)
{
	char buf[4096];
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return true;
		assert_true(n < 9 || buf[3] != 0x04); /* never an HTTP/2 SETTINGS frame in clear */
	}
	return false;
}

static void test_cleartext_client_fails(void **state)
{
	struct server s;
	server_start(&s, NULL, NULL);
	int fd = connect_plain(s.port);
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
	assert_int_equal(send(fd, preface, sizeof(preface) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(preface) - 1);
	assert_true(closed_within(fd, 3000));
	close(fd);
	assert_int_equal(tlsconn_server_failures(s.tls), 1);
	assert_ok_call(s.port, CLIENT_H2);
	server_stop(&s);
}

static void test_silent_client_dropped(void **state)
{
	struct server s;
	server_start(&s, NULL, NULL);
	int fd = connect_plain(s.port);
	assert_ok_call(s.port, CLIENT_H2); /* served while the silent one waits */
	assert_true(closed_within(fd, 3000)); /* handshake timeout is 300 ms */
	close(fd);
	assert_int_equal(tlsconn_server_failures(s.tls), 1);
	server_stop(&s);
}

static void test_stop_during_handshake(void **state)
{
	struct tlsconn_server_options to = {.cert_file = cert, .key_file = key, .alpn = "h2"};
	struct tlsconn_server *tls;
	char err[256];
	assert_int_equal(tlsconn_server_new(&to, &tls, err, sizeof(err)), 0); /* 10 s handshake timeout */
	struct grpcserver *g;
	struct grpcserver_options go = {.listen = "127.0.0.1:0", .workers = 1, .tls = tls};
	assert_int_equal(grpcserver_start(&go, handler, NULL, &g), 0);
	int fd = connect_plain(grpcserver_port(g));
	usleep(100 * 1000);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	grpcserver_stop(g); /* must not wait for the silent client's handshake timeout */
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 5);
	close(fd);
	assert_int_equal(tlsconn_server_failures(tls), 0); /* cancelled is not a failure */
	tlsconn_server_free(tls);
}

static void test_bad_files(void **state)
{
	char err[512], missing[160], garbage[160], cmd[400];
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	snprintf(garbage, sizeof(garbage), "%s/garbage.pem", dir);
	snprintf(cmd, sizeof(cmd), "echo not a pem > %s", garbage);
	assert_int_equal(system(cmd), 0);
	struct tlsconn_server *t = NULL;
	const struct {
		const char *cert, *key, *ca, *min;
		int rc;
		const char *names;
	} cases[] = {
		{missing, key, NULL, NULL, -ENOENT, "cert_file"},
		{cert, missing, NULL, NULL, -ENOENT, "key_file"},
		{garbage, key, NULL, NULL, -EINVAL, "cert_file"},
		{cert, garbage, NULL, NULL, -EINVAL, "key_file"},
		{cert, ckey, NULL, NULL, -EINVAL, "with key_file"}, /* a key that is not the certificate's */
		{cert, key, garbage, NULL, -EINVAL, "client_ca_file"},
		{cert, key, NULL, "1.4", -EINVAL, "min_version"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tlsconn_server_options o = {.cert_file = cases[i].cert, .key_file = cases[i].key,
						   .client_ca_file = cases[i].ca, .min_version = cases[i].min};
		assert_int_equal(tlsconn_server_new(&o, &t, err, sizeof(err)), cases[i].rc);
		assert_non_null(strstr(err, cases[i].names));
		if (strcmp(cases[i].names, "min_version"))
			assert_non_null(strstr(err, dir));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_over_tls),	       cmocka_unit_test(test_alpn_h2_required),
		cmocka_unit_test(test_min_version),	       cmocka_unit_test(test_client_certificates),
		cmocka_unit_test(test_cleartext_client_fails), cmocka_unit_test(test_silent_client_dropped),
		cmocka_unit_test(test_stop_during_handshake),  cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
