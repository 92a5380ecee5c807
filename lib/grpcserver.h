/*
 * grpcserver — a small unary gRPC server on nghttp2 over cleartext TCP (h2c, prior knowledge) or,
 * given a tlsconn_server, over TLS with ALPN "h2" (lib/tlsconn: the handshake runs on the
 * connection's thread, bounded in time).
 *
 * One listener thread accepts; each connection gets its own thread running a poll loop over its
 * nghttp2 session; complete calls run on a pool of worker threads, so a handler may block (push
 * receivers wait there until their data is durable) while other calls, on the same connection or
 * others, proceed. The server unframes and gunzips the request message and frames the reply; the
 * handler only sees bytes.
 * Bounds: connections, concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS), message
 * size (RESOURCE_EXHAUSTED), and the bytes buffered across all streams of the server.
 */
#ifndef SOLDER_LIB_GRPCSERVER_H
#define SOLDER_LIB_GRPCSERVER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/grpc.h"

struct grpcserver;
struct tlsconn_server;

struct grpcserver_options {
	const char *listen;		 /* "host:port", "[::1]:port", ":port"; port 0 = any free */
	unsigned max_connections;	 /* 0 = 64 */
	unsigned max_concurrent_streams; /* per connection; 0 = 32 */
	size_t max_recv_msg_size;	 /* after decompression; 0 = 4 MiB */
	size_t max_buffered_bytes;	 /* request bytes held across all streams; 0 = 4 * max_recv + 16 MiB */
	unsigned idle_timeout_seconds;	 /* a connection without traffic is closed; 0 = 300 */
	unsigned workers;		 /* threads running handlers (calls in flight at once); 0 = 32 */
	struct tlsconn_server *tls;	 /* borrowed, outlives the server; NULL = cleartext h2c */
};

struct grpc_call {
	const char *path;   /* "/package.Service/Method" */
	const uint8_t *msg; /* the request message, uncompressed */
	size_t len;
	int64_t deadline_ns;	 /* CLOCK_MONOTONIC, from grpc-timeout; 0 = none */
	const char *remote_addr; /* "ip:port" */
};

struct grpc_reply {
	enum grpc_status status; /* GRPC_OK by default */
	char message[256];	 /* grpc-message (plain text; the server percent-encodes it) */
	int64_t retry_delay_ms;	 /* > 0: a google.rpc.RetryInfo detail in grpc-status-details-bin */
	uint8_t *body;		 /* OK reply message, malloc'd, freed by the server; NULL = empty */
	size_t body_len;
};

typedef void (*grpc_handler_fn)(void *ctx, const struct grpc_call *call, struct grpc_reply *reply);

/* 0, -EINVAL (address), -EADDRINUSE, -ENOMEM or -errno. The handler is called from connection threads. */
int grpcserver_start(const struct grpcserver_options *opts, grpc_handler_fn handler, void *ctx,
		     struct grpcserver **out);
int grpcserver_port(const struct grpcserver *srv);
/* Stops accepting, closes every connection after its current call, joins all threads. NULL is a no-op. */
void grpcserver_stop(struct grpcserver *srv);

/* Splits "host:port" / "[v6]:port" / ":port" (host "" = any). 0 or -EINVAL. Shared with tests. */
int grpcserver_split_hostport(const char *listen, char *host, size_t host_len, char *port, size_t port_len);

#endif
