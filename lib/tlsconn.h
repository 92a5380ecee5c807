/*
 * tlsconn — the server side of TLS over one accepted socket, on GnuTLS, for servers that own their
 * sockets (lib/grpcserver): a handshake bounded in time, then record reads and writes.
 *
 * A tlsconn_server holds what every connection shares (certificate, key, optional client CA,
 * priorities, the required ALPN protocol); it is immutable after tlsconn_server_new, so connection
 * threads use it without locks. The socket is switched to non-blocking: the caller polls it, and
 * must also look at tlsconn_pending, because a record read may leave decrypted bytes in GnuTLS that
 * poll() cannot see. A failed handshake is counted and logged (the log is rate-limited); it never
 * affects other connections.
 */
#ifndef SOLDER_LIB_TLSCONN_H
#define SOLDER_LIB_TLSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tlsconn_server;
struct tlsconn;

struct tlsconn_server_options {
	const char *cert_file, *key_file; /* PEM; both required */
	const char *client_ca_file;	  /* PEM; set = clients must present a certificate it verifies */
	const char *min_version;	  /* "1.0".."1.3"; NULL = "1.2" */
	const char *max_version;	  /* NULL = "1.3" */
	const char *alpn;		  /* the one protocol offered and required ("h2"); NULL = no ALPN */
	unsigned handshake_timeout_ms;	  /* 0 = 10000 */
	const char *log_component;	  /* for handshake failures, kept (not copied); NULL = "tls" */
};

/* 0, -ENOENT/-EACCES/-EINVAL (a file or version; `err` names it) or -ENOMEM. */
int tlsconn_server_new(const struct tlsconn_server_options *opts, struct tlsconn_server **out, char *err,
		       size_t err_len);
void tlsconn_server_free(struct tlsconn_server *srv); /* NULL is a no-op */
/* Handshakes that failed or timed out since the server was made. */
uint64_t tlsconn_server_failures(const struct tlsconn_server *srv);

/*
 * Runs the handshake on `fd` (made non-blocking) until it completes, fails, the timeout passes, or
 * `cancel_fd` (>= 0) becomes readable. 0, -EPROTO (bad handshake or no ALPN match), -ETIMEDOUT,
 * -ECANCELED or -ENOMEM. `fd` stays the caller's to close.
 */
int tlsconn_accept(struct tlsconn_server *srv, int fd, int cancel_fd, const char *remote, struct tlsconn **out);
/* > 0 bytes, 0 = the peer closed, -EAGAIN = nothing decrypted yet (poll again), -EIO. */
ssize_t tlsconn_recv(struct tlsconn *t, void *buf, size_t len);
/* Writes everything, waiting at most timeout_ms for the socket to drain each time it is full. 0 or -EIO. */
int tlsconn_send(struct tlsconn *t, const void *buf, size_t len, int timeout_ms);
/* Decrypted bytes are waiting: read them before polling the socket. */
bool tlsconn_pending(const struct tlsconn *t);
/* Sends close_notify if the socket takes it at once, and frees. NULL is a no-op; the fd is not closed. */
void tlsconn_close(struct tlsconn *t);

#endif
