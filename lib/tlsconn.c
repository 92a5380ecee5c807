/*
 * tlsconn — server-side TLS on GnuTLS for sockets we own (see tlsconn.h).
 *
 * GnuTLS rather than OpenSSL because libmicrohttpd already loads it for the HTTP servers: no new
 * shared library in memory. Files are read here (not by gnutls_certificate_set_x509_key_file) and
 * each part is parsed on its own, so a create error names the file that is wrong. The socket is
 * non-blocking from the handshake on: the handshake is a loop over poll() with a deadline and a
 * cancel fd, so neither a silent client nor a stopping server waits on a blocked read. ALPN offers
 * exactly one protocol with GNUTLS_ALPN_MANDATORY and the result is checked again after the
 * handshake, because a client that sends no ALPN extension at all is let through by GnuTLS.
 */
#include "lib/tlsconn.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

#define TLS_MAX_FILE (1 << 20) /* certificates and keys are a few KiB */

struct tlsconn_server {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	char alpn[16];
	bool verify_clients;
	unsigned timeout_ms;
	const char *log_component; /* static string from the options, or "tls" */
	atomic_uint_fast64_t failures;
};

struct tlsconn {
	gnutls_session_t session;
	int fd;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a whole file into a gnutls datum (gnutls_free'd by the caller). 0 or -errno, `err` filled. */
static int load_file(const char *what, const char *path, gnutls_datum_t *out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(err, err_len, "%s %s: %s", what, path, strerror(e));
		return -e;
	}
	out->data = gnutls_malloc(TLS_MAX_FILE);
	size_t n = out->data ? fread(out->data, 1, TLS_MAX_FILE, f) : 0;
	int bad = ferror(f) || n == 0 || n == TLS_MAX_FILE;
	fclose(f);
	if (!out->data)
		return -ENOMEM;
	if (bad) {
		snprintf(err, err_len, "%s %s: empty, unreadable or over 1 MiB", what, path);
		gnutls_free(out->data);
		out->data = NULL;
		return -EINVAL;
	}
	out->size = (unsigned)n;
	return 0;
}

/* Parses the certificate chain and the key separately so the error names the wrong file, then pairs them. */
static int load_key_pair(struct tlsconn_server *srv, const struct tlsconn_server_options *o, char *err, size_t err_len)
{
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	gnutls_x509_crt_t *crts = NULL;
	unsigned ncrts = 0;
	gnutls_x509_privkey_t pk = NULL;
	int rc = load_file("cert_file", o->cert_file, &cert, err, err_len);
	if (!rc)
		rc = load_file("key_file", o->key_file, &key, err, err_len);
	if (rc)
		goto out;
	rc = -EINVAL;
	int g = gnutls_x509_crt_list_import2(&crts, &ncrts, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0) {
		snprintf(err, err_len, "cert_file %s: %s", o->cert_file, gnutls_strerror(g));
		goto out;
	}
	if (gnutls_x509_privkey_init(&pk) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((g = gnutls_x509_privkey_import2(pk, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, err_len, "key_file %s: %s", o->key_file, gnutls_strerror(g));
		goto out;
	}
	if ((g = gnutls_certificate_set_x509_key_mem2(srv->cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, err_len, "cert_file %s with key_file %s: %s", o->cert_file, o->key_file,
			 gnutls_strerror(g));
		goto out;
	}
	rc = 0;
out:
	for (unsigned i = 0; i < ncrts; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (pk)
		gnutls_x509_privkey_deinit(pk);
	gnutls_free(cert.data);
	if (key.data) {
		gnutls_memset(key.data, 0, key.size);
		gnutls_free(key.data);
	}
	return rc;
}

static int version_index(const char *v, int def)
{
	static const char *const names[] = {"1.0", "1.1", "1.2", "1.3"};
	if (!v || !v[0])
		return def;
	for (int i = 0; i < 4; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

static int set_priorities(struct tlsconn_server *srv, const struct tlsconn_server_options *o, char *err,
			  size_t err_len)
{
	static const char *const vers[] = {"+VERS-TLS1.0", "+VERS-TLS1.1", "+VERS-TLS1.2", "+VERS-TLS1.3"};
	int lo = version_index(o->min_version, 2), hi = version_index(o->max_version, 3);
	if (lo < 0 || hi < 0 || lo > hi) {
		snprintf(err, err_len, "TLS versions min_version=%s max_version=%s: not a range of 1.0..1.3",
			 o->min_version ? o->min_version : "1.2", o->max_version ? o->max_version : "1.3");
		return -EINVAL;
	}
	char prio[160] = "NORMAL:-VERS-ALL";
	for (int i = hi; i >= lo; i--) {
		strcat(prio, ":");
		strcat(prio, vers[i]);
	}
	const char *pos = NULL;
	int g = gnutls_priority_init(&srv->prio, prio, &pos);
	if (g < 0) {
		snprintf(err, err_len, "TLS priorities %s: %s", prio, gnutls_strerror(g));
		return -EINVAL;
	}
	return 0;
}

int tlsconn_server_new(const struct tlsconn_server_options *o, struct tlsconn_server **out, char *err, size_t err_len)
{
	err[0] = 0;
	if (!o->cert_file || !o->key_file) {
		snprintf(err, err_len, "both cert_file and key_file are required");
		return -EINVAL;
	}
	if (o->alpn && strlen(o->alpn) >= sizeof(((struct tlsconn_server *)0)->alpn)) {
		snprintf(err, err_len, "ALPN protocol too long");
		return -EINVAL;
	}
	struct tlsconn_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	int rc = -ENOMEM;
	if (gnutls_certificate_allocate_credentials(&srv->cred) < 0) {
		srv->cred = NULL;
		goto fail;
	}
	if ((rc = load_key_pair(srv, o, err, err_len)) || (rc = set_priorities(srv, o, err, err_len)))
		goto fail;
	if (o->client_ca_file) {
		int n = gnutls_certificate_set_x509_trust_file(srv->cred, o->client_ca_file, GNUTLS_X509_FMT_PEM);
		if (n <= 0) {
			snprintf(err, err_len, "client_ca_file %s: %s", o->client_ca_file,
				 n < 0 ? gnutls_strerror(n) : "no certificate in it");
			rc = -EINVAL;
			goto fail;
		}
		srv->verify_clients = true;
	}
	if (o->alpn)
		strcpy(srv->alpn, o->alpn);
	srv->timeout_ms = o->handshake_timeout_ms ? o->handshake_timeout_ms : 10000;
	srv->log_component = o->log_component ? o->log_component : "tls";
	*out = srv;
	return 0;
fail:
	tlsconn_server_free(srv);
	return rc;
}

void tlsconn_server_free(struct tlsconn_server *srv)
{
	if (!srv)
		return;
	if (srv->prio)
		gnutls_priority_deinit(srv->prio);
	if (srv->cred)
		gnutls_certificate_free_credentials(srv->cred);
	free(srv);
}

uint64_t tlsconn_server_failures(const struct tlsconn_server *srv)
{
	return atomic_load(&((struct tlsconn_server *)srv)->failures);
}

static int session_setup(struct tlsconn_server *srv, struct tlsconn *t)
{
	if (gnutls_init(&t->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
		t->session = NULL;
		return -ENOMEM;
	}
	if (gnutls_priority_set(t->session, srv->prio) < 0 ||
	    gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, srv->cred) < 0)
		return -ENOMEM;
	if (srv->alpn[0]) {
		gnutls_datum_t p = {(unsigned char *)srv->alpn, (unsigned)strlen(srv->alpn)};
		if (gnutls_alpn_set_protocols(t->session, &p, 1, GNUTLS_ALPN_MANDATORY) < 0)
			return -ENOMEM;
	}
	if (srv->verify_clients) {
		gnutls_certificate_server_set_request(t->session, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert(t->session, NULL, 0);
	}
	/* our deadline, not GnuTLS's: with a timeout of its own it waits inside gnutls_handshake */
	gnutls_handshake_set_timeout(t->session, GNUTLS_INDEFINITE_TIMEOUT);
	gnutls_transport_set_int(t->session, t->fd);
	return 0;
}

/* Waits for the socket in the direction GnuTLS needs, the cancel fd or the deadline. 0, -ETIMEDOUT, -ECANCELED. */
static int wait_io(struct tlsconn *t, int cancel_fd, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd[2] = {{t->fd, gnutls_record_get_direction(t->session) ? POLLOUT : POLLIN, 0},
					{cancel_fd, POLLIN, 0}};
		int n = poll(pfd, cancel_fd >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return -EIO;
		if (n > 0 && cancel_fd >= 0 && (pfd[1].revents & POLLIN))
			return -ECANCELED;
		if (n > 0 && pfd[0].revents)
			return 0;
	}
}

static int handshake(struct tlsconn_server *srv, struct tlsconn *t, int cancel_fd, const char **why)
{
	int64_t deadline = now_ms() + srv->timeout_ms;
	for (;;) {
		int g = gnutls_handshake(t->session);
		if (g == GNUTLS_E_SUCCESS)
			break;
		if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(g)) {
			int rc = wait_io(t, cancel_fd, deadline);
			if (rc)
				return *why = rc == -ETIMEDOUT ? "handshake timed out" : "cancelled", rc;
			continue;
		}
		*why = gnutls_strerror(g);
		return g == GNUTLS_E_TIMEDOUT ? -ETIMEDOUT : -EPROTO;
	}
	if (srv->alpn[0]) {
		gnutls_datum_t sel = {NULL, 0};
		if (gnutls_alpn_get_selected_protocol(t->session, &sel) < 0 || sel.size != strlen(srv->alpn) ||
		    memcmp(sel.data, srv->alpn, sel.size)) {
			*why = "client did not negotiate the ALPN protocol";
			return -EPROTO;
		}
	}
	return 0;
}

int tlsconn_accept(struct tlsconn_server *srv, int fd, int cancel_fd, const char *remote, struct tlsconn **out)
{
	struct tlsconn *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = fd;
	int fl = fcntl(fd, F_GETFL);
	int rc = fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -EIO : session_setup(srv, t);
	const char *why = "cannot set up the session";
	if (!rc)
		rc = handshake(srv, t, cancel_fd, &why);
	if (rc) {
		if (rc != -ECANCELED) {
			char q1[80], q2[160];
			atomic_fetch_add(&srv->failures, 1);
			log_msg(LOG_WARN, srv->log_component, "TLS handshake failed", "remote=%s err=%s",
				log_quote(q1, sizeof(q1), remote ? remote : "?"), log_quote(q2, sizeof(q2), why));
		}
		if (t->session)
			gnutls_deinit(t->session);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

ssize_t tlsconn_recv(struct tlsconn *t, void *buf, size_t len)
{
	ssize_t n = gnutls_record_recv(t->session, buf, len);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)n))
		return -EAGAIN; /* includes a renegotiation request, which we ignore */
	return -EIO;
}

int tlsconn_send(struct tlsconn *t, const void *buf, size_t len, int timeout_ms)
{
	const unsigned char *p = buf;
	for (size_t off = 0; off < len;) {
		ssize_t n = gnutls_record_send(t->session, p + off, len - off);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			/* GnuTLS keeps the record; calling again with the same arguments resumes it */
			struct pollfd pfd = {t->fd, POLLOUT, 0};
			int w = poll(&pfd, 1, timeout_ms);
			if (w == 0 || (w < 0 && errno != EINTR))
				return -EIO;
			continue;
		}
		if (n <= 0)
			return -EIO;
		off += (size_t)n;
	}
	return 0;
}

bool tlsconn_pending(const struct tlsconn *t)
{
	return gnutls_record_check_pending(t->session) > 0;
}

void tlsconn_close(struct tlsconn *t)
{
	if (!t)
		return;
	gnutls_bye(t->session, GNUTLS_SHUT_WR); /* non-blocking: best effort */
	gnutls_deinit(t->session);
	free(t);
}
