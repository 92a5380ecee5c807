/*
 * grpcserver — unary gRPC over nghttp2 (see grpcserver.h).
 *
 * Threads: the listener polls the listening socket and a stop pipe; each accepted connection runs in
 * its own thread (bounded by max_connections: extra connections are closed at once), feeding bytes
 * to nghttp2 and writing what it produces; only that thread touches its nghttp2 session. nghttp2
 * callbacks only collect a request. Complete calls go to a shared pool of worker threads, because a
 * handler blocks until its data is durable (a group commit, milliseconds) and a client multiplexes
 * many calls on one connection: run one at a time, they would never share a commit. A worker hands
 * the finished call back through the connection's done list and wakes it with an eventfd; the
 * connection thread then submits the reply: HEADERS, one framed DATA message, and trailers with
 * grpc-status (or Trailers-Only for an error). A stream the client resets while its call runs is
 * orphaned, not freed, until the worker is done with it.
 * With opts.tls the connection thread first runs the TLS handshake (lib/tlsconn: bounded in time,
 * cancelled by stop, a failure only ends that connection), then moves records instead of raw bytes;
 * the poll loop also checks for decrypted bytes GnuTLS holds, which poll() cannot see.
 *
 * Memory: a stream buffers at most max_recv_msg_size + 5 bytes, and a server-wide budget caps what
 * all streams hold together; a stream over either answers RESOURCE_EXHAUSTED without buffering more.
 */
#include "lib/grpcserver.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "lib/log.h"
#include "lib/tlsconn.h"

struct conn;

struct grpcserver {
	struct grpcserver_options opts;
	grpc_handler_fn handler;
	void *ctx;
	int listen_fd, port;
	int stop_pipe[2];
	atomic_bool stopping;
	atomic_size_t buffered;
	pthread_t listener;
	pthread_mutex_t lock;
	struct conn *conns; /* live and finished connection threads, joined by the listener or stop */
	unsigned nconns;
	/* calls waiting for a worker */
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct stream *q_head, *q_tail;
	bool q_stop;
	pthread_t *workers;
	unsigned nworkers;
};

struct stream {
	int32_t id;
	struct conn *conn;
	struct stream *all_prev, *all_next; /* every stream of the connection, to free at its end */
	struct stream *next_ready;	    /* ready queue, then worker queue, then done list */
	bool running;			    /* a worker owns the call */
	bool orphaned;			    /* closed by nghttp2 while running: freed when the worker is done */
	struct grpc_call call;
	struct grpc_reply reply;
	uint8_t *inflated;
	char path[256];
	char encoding[32];
	bool is_post, is_grpc, ready;
	bool too_big, over_budget; /* refused while still arriving: answered early, the rest discarded */
	bool reset_after_reply;	   /* the client is still sending: RST_STREAM(NO_ERROR) once answered */
	int64_t deadline_ns;
	uint8_t *req;
	size_t req_len, req_cap;
	/* reply */
	uint8_t *resp;
	size_t resp_len, resp_off;
	char status[8];
	char message[800];
};

struct conn {
	struct grpcserver *srv;
	struct conn *next;
	pthread_t thread;
	atomic_bool done;
	int fd;
	struct tlsconn *tls; /* NULL: cleartext */
	char remote[64];
	nghttp2_session *session;
	struct stream *ready_head, *ready_tail;
	struct stream *streams; /* all live or orphaned streams (nghttp2_session_del frees none of them) */
	int wake_fd;		/* eventfd: a worker finished one of this connection's calls */
	pthread_mutex_t done_lock;
	struct stream *done_head; /* finished calls, newest first */
	unsigned running;	  /* calls handed to workers, not yet taken back (connection thread only) */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- streams ---- */

static void stream_release_req(struct conn *c, struct stream *s)
{
	if (s->req_cap)
		atomic_fetch_sub(&c->srv->buffered, s->req_cap);
	free(s->req);
	s->req = NULL;
	s->req_len = s->req_cap = 0;
}

static void stream_free(struct conn *c, struct stream *s)
{
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		c->streams = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	stream_release_req(c, s);
	free(s->inflated);
	free(s->reply.body);
	free(s->resp);
	free(s);
}

static void mark_ready(struct conn *c, struct stream *s)
{
	if (s->ready)
		return;
	s->ready = true;
	if (c->ready_tail)
		c->ready_tail->next_ready = s;
	else
		c->ready_head = s;
	c->ready_tail = s;
}

/* Stops buffering a request that cannot be accepted and queues its answer without waiting for the rest. */
static void refuse_early(struct conn *c, struct stream *s, bool over_budget)
{
	if (over_budget)
		s->over_budget = true;
	else
		s->too_big = true;
	stream_release_req(c, s);
	if (!s->ready) {
		s->reset_after_reply = true;
		mark_ready(c, s);
	}
}

static int stream_append(struct conn *c, struct stream *s, const uint8_t *data, size_t len)
{
	size_t limit = c->srv->opts.max_recv_msg_size + GRPC_FRAME_HEADER;
	if (s->too_big || s->over_budget)
		return 0;
	if (len > limit - s->req_len) {
		refuse_early(c, s, false);
		return 0;
	}
	if (s->req_len + len > s->req_cap) {
		size_t cap = s->req_cap ? s->req_cap : 4096;
		while (cap < s->req_len + len)
			cap *= 2;
		if (cap > limit)
			cap = limit;
		size_t grow = cap - s->req_cap;
		if (atomic_fetch_add(&c->srv->buffered, grow) + grow > c->srv->opts.max_buffered_bytes) {
			atomic_fetch_sub(&c->srv->buffered, grow);
			refuse_early(c, s, true);
			return 0;
		}
		uint8_t *n = realloc(s->req, cap);
		if (!n) {
			atomic_fetch_sub(&c->srv->buffered, grow);
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		s->req = n;
		s->req_cap = cap;
	}
	memcpy(s->req + s->req_len, data, len);
	s->req_len += len;
	return 0;
}

/* ---- nghttp2 callbacks: collect requests ---- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	struct conn *c = user_data;
	s->id = frame->hd.stream_id;
	s->conn = c;
	s->all_next = c->streams;
	if (c->streams)
		c->streams->all_prev = s;
	c->streams = s;
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static void copy_value(char *dst, size_t dst_len, const uint8_t *v, size_t len)
{
	if (len >= dst_len)
		len = dst_len - 1;
	memcpy(dst, v, len);
	dst[len] = 0;
}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(name, want, len);
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (name_is(name, namelen, ":path")) {
		copy_value(s->path, sizeof(s->path), value, valuelen);
	} else if (name_is(name, namelen, ":method")) {
		s->is_post = valuelen == 4 && !memcmp(value, "POST", 4);
	} else if (name_is(name, namelen, "content-type")) {
		s->is_grpc = valuelen >= 16 && !memcmp(value, "application/grpc", 16) &&
			     (valuelen == 16 || value[16] == '+' || value[16] == ';');
	} else if (name_is(name, namelen, "grpc-encoding")) {
		copy_value(s->encoding, sizeof(s->encoding), value, valuelen);
	} else if (name_is(name, namelen, "grpc-timeout")) {
		char buf[16];
		int64_t ns;
		copy_value(buf, sizeof(buf), value, valuelen);
		if (!grpc_timeout_parse(buf, &ns))
			s->deadline_ns = ns > INT64_MAX - now_ns() ? 0 : now_ns() + ns;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
			 void *user_data)
{
	struct stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
	return s ? stream_append(user_data, s, data, len) : 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct conn *c = user_data;
	if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (s) {
		s->reset_after_reply = false; /* the request is complete after all */
		mark_ready(c, s);
	}
	return 0;
}

/* A reply sent before its request finished arriving: tell the client to stop sending the rest. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (s && s->reset_after_reply)
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	struct conn *c = user_data;
	struct stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
	if (!s)
		return 0;
	/* drop it from the ready queue if its call has not run yet (client reset) */
	for (struct stream **pp = &c->ready_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next_ready) {
		if (*pp == s) {
			*pp = s->next_ready;
			if (c->ready_tail == s)
				c->ready_tail = prev;
			break;
		}
	}
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	if (s->running)
		s->orphaned = true;
	else
		stream_free(c, s);
	return 0;
}

/* ---- replies ---- */

#define NV(n, v)                                                                                                       \
	{                                                                                                              \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME                 \
	}

static ssize_t read_reply(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
			  uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct stream *s = source->ptr;
	size_t n = s->resp_len - s->resp_off;
	if (n > length)
		n = length;
	memcpy(buf, s->resp + s->resp_off, n);
	s->resp_off += n;
	if (s->resp_off == s->resp_len) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		nghttp2_nv trailer[] = {NV("grpc-status", "0")};
		if (nghttp2_submit_trailer(session, stream_id, trailer, 1))
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

static void submit_reply(struct conn *c, struct stream *s, struct grpc_reply *r)
{
	if (r->status == GRPC_OK) {
		s->resp = malloc(GRPC_FRAME_HEADER + r->body_len);
		if (s->resp) {
			grpc_frame_header(s->resp, r->body_len);
			if (r->body_len)
				memcpy(s->resp + GRPC_FRAME_HEADER, r->body, r->body_len);
			s->resp_len = GRPC_FRAME_HEADER + r->body_len;
			nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
			nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_reply};
			if (nghttp2_submit_response(c->session, s->id, hdrs, 2, &dp) == 0)
				return;
		}
		r->status = GRPC_INTERNAL;
		snprintf(r->message, sizeof(r->message), "out of memory");
	}
	/* Trailers-Only: one HEADERS frame carrying the status, ending the stream */
	char details[512] = "";
	snprintf(s->status, sizeof(s->status), "%d", (int)r->status);
	grpc_message_encode(r->message, s->message, sizeof(s->message));
	nghttp2_nv hdrs[6] = {NV(":status", "200"), NV("content-type", "application/grpc"),
			      NV("grpc-status", s->status), NV("grpc-message", s->message)};
	size_t n = 4;
	if (r->status == GRPC_UNIMPLEMENTED)
		hdrs[n++] = (nghttp2_nv)NV("grpc-accept-encoding", "identity,gzip");
	if (r->retry_delay_ms > 0 &&
	    grpc_status_details(r->status, r->message, r->retry_delay_ms, details, sizeof(details)) > 0)
		hdrs[n++] = (nghttp2_nv){(uint8_t *)"grpc-status-details-bin", (uint8_t *)details, 23, strlen(details),
					 NGHTTP2_NV_FLAG_NO_COPY_NAME};
	nghttp2_submit_response(c->session, s->id, hdrs, n, NULL); /* copies values */
}

static void reply_error(struct grpc_reply *r, enum grpc_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_error(struct grpc_reply *r, enum grpc_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->status = st;
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/*
 * Unframes and inflates one complete request. Returns true when it is ready for the handler (s->call
 * set), false when it was answered here already.
 */
static bool prepare_call(struct conn *c, struct stream *s)
{
	struct grpcserver *srv = c->srv;
	struct grpc_reply *r = &s->reply;
	const uint8_t *msg;
	size_t msg_len, limit = srv->opts.max_recv_msg_size;
	int compressed, rc;

	if (!s->is_post || !s->is_grpc) {
		nghttp2_nv hdrs[] = {NV(":status", "415")};
		nghttp2_submit_response(c->session, s->id, hdrs, 1, NULL);
		return false;
	}
	if (s->too_big) {
		reply_error(r, GRPC_RESOURCE_EXHAUSTED, "grpc: received message larger than max (%zu bytes)", limit);
		goto send;
	}
	if (s->over_budget) { /* transient: other requests hold the memory; the client retries */
		reply_error(r, GRPC_UNAVAILABLE, "server busy: too many bytes in flight");
		r->retry_delay_ms = 1000;
		goto send;
	}
	if (s->encoding[0] && strcmp(s->encoding, "identity") && strcmp(s->encoding, "gzip")) {
		reply_error(r, GRPC_UNIMPLEMENTED, "grpc: compression %s is not supported", s->encoding);
		goto send;
	}
	rc = grpc_frame_parse(s->req, s->req_len, limit, &msg, &msg_len, &compressed);
	if (rc == -EFBIG) {
		reply_error(r, GRPC_RESOURCE_EXHAUSTED, "grpc: received message larger than max (%zu bytes)", limit);
		goto send;
	}
	if (rc) {
		reply_error(r, GRPC_INVALID_ARGUMENT, "grpc: malformed message framing (%zu bytes)", s->req_len);
		goto send;
	}
	if (compressed) {
		if (strcmp(s->encoding, "gzip")) {
			reply_error(r, GRPC_INTERNAL, "grpc: compressed message without grpc-encoding");
			goto send;
		}
		rc = grpc_gunzip(msg, msg_len, limit, &s->inflated, &msg_len);
		if (rc == -EFBIG)
			reply_error(r, GRPC_RESOURCE_EXHAUSTED,
				    "grpc: received message after decompression larger than max (%zu bytes)", limit);
		else if (rc)
			reply_error(r, rc == -ENOMEM ? GRPC_RESOURCE_EXHAUSTED : GRPC_INVALID_ARGUMENT,
				    "grpc: cannot decompress the message (%zu bytes)", msg_len);
		if (rc)
			goto send;
		msg = s->inflated;
	}
	if (s->deadline_ns && now_ns() > s->deadline_ns) {
		reply_error(r, GRPC_DEADLINE_EXCEEDED, "deadline exceeded before the call ran");
		goto send;
	}
	s->call = (struct grpc_call){s->path, msg, msg_len, s->deadline_ns, c->remote};
	return true;
send:
	stream_release_req(c, s);
	submit_reply(c, s, r);
	return false;
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
	struct grpcserver *srv = arg;
	for (;;) {
		pthread_mutex_lock(&srv->q_lock);
		while (!srv->q_head && !srv->q_stop)
			pthread_cond_wait(&srv->q_cond, &srv->q_lock);
		struct stream *s = srv->q_head;
		if (!s) { /* stopping and nothing left */
			pthread_mutex_unlock(&srv->q_lock);
			return NULL;
		}
		srv->q_head = s->next_ready;
		if (!srv->q_head)
			srv->q_tail = NULL;
		pthread_mutex_unlock(&srv->q_lock);

		srv->handler(srv->ctx, &s->call, &s->reply);

		struct conn *c = s->conn;
		pthread_mutex_lock(&c->done_lock);
		s->next_ready = c->done_head;
		c->done_head = s;
		pthread_mutex_unlock(&c->done_lock);
		uint64_t one = 1;
		ssize_t w = write(c->wake_fd, &one, sizeof(one));
		(void)w;
	}
}

static void dispatch(struct conn *c, struct stream *s)
{
	struct grpcserver *srv = c->srv;
	s->running = true;
	s->next_ready = NULL;
	c->running++;
	pthread_mutex_lock(&srv->q_lock);
	if (srv->q_tail)
		srv->q_tail->next_ready = s;
	else
		srv->q_head = s;
	srv->q_tail = s;
	pthread_cond_signal(&srv->q_cond);
	pthread_mutex_unlock(&srv->q_lock);
}

/* Takes back the calls workers finished: replies to live streams, frees orphaned ones. */
static void collect_done(struct conn *c)
{
	uint64_t n;
	ssize_t r = read(c->wake_fd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&c->done_lock);
	struct stream *s = c->done_head;
	c->done_head = NULL;
	pthread_mutex_unlock(&c->done_lock);
	while (s) {
		struct stream *next = s->next_ready;
		s->next_ready = NULL;
		s->running = false;
		c->running--;
		if (s->orphaned) {
			stream_free(c, s);
		} else {
			free(s->inflated);
			s->inflated = NULL;
			stream_release_req(c, s);
			submit_reply(c, s, &s->reply);
			free(s->reply.body);
			s->reply.body = NULL;
		}
		s = next;
	}
}

/* ---- connection thread ---- */

static int send_all(struct conn *c)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->session, &data);
		if (n < 0)
			return -EIO;
		if (n == 0)
			return 0;
		if (c->tls) {
			if (tlsconn_send(c->tls, data, (size_t)n, 30000))
				return -EIO;
			continue;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(c->fd, data + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -EIO;
			off += w;
		}
	}
}

static void run_ready(struct conn *c)
{
	while (c->ready_head) {
		struct stream *s = c->ready_head;
		c->ready_head = s->next_ready;
		if (!c->ready_head)
			c->ready_tail = NULL;
		s->next_ready = NULL;
		if (prepare_call(c, s))
			dispatch(c, s);
	}
}

static int session_new(struct conn *c)
{
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	int rc = nghttp2_session_server_new(&c->session, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (rc)
		return -ENOMEM;
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->srv->opts.max_concurrent_streams},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384},
	};
	if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 3) ||
	    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 8 << 20))
		return -ENOMEM;
	return 0;
}

/* Waits for this connection's calls still with workers, replying to those whose stream lives. */
static void drain_running(struct conn *c)
{
	while (c->running > 0) {
		struct pollfd pfd = {c->wake_fd, POLLIN, 0};
		if (poll(&pfd, 1, 1000) > 0)
			collect_done(c);
	}
}

static void conn_loop(struct conn *c)
{
	struct grpcserver *srv = c->srv;
	uint8_t buf[16384];
	int64_t idle_ns = (int64_t)srv->opts.idle_timeout_seconds * 1000000000LL, last = now_ns();
	if (send_all(c))
		return;
	while (nghttp2_session_want_read(c->session) || nghttp2_session_want_write(c->session) || c->running) {
		if (atomic_load(&srv->stopping)) {
			/* graceful: GOAWAY first so the client opens no new call here, then answer the
			 * calls still running on workers */
			nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
					      nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
					      NULL, 0);
			if (send_all(c))
				return;
			drain_running(c);
			send_all(c);
			return;
		}
		struct pollfd pfd[3] = {{c->fd, POLLIN, 0}, {srv->stop_pipe[0], POLLIN, 0}, {c->wake_fd, POLLIN, 0}};
		bool pending = c->tls && tlsconn_pending(c->tls); /* decrypted bytes poll() cannot see */
		int n = poll(pfd, 3, pending ? 0 : 1000);
		if (n < 0 && errno != EINTR)
			return;
		if (pending) {
			pfd[0].revents |= POLLIN;
			n = n > 0 ? n : 1;
		}
		if (n > 0 && (pfd[2].revents & POLLIN)) {
			collect_done(c);
			last = now_ns();
			if (send_all(c))
				return;
		}
		if (n <= 0 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (!c->running && now_ns() - last > idle_ns) { /* idle: tell the client, then close */
				nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
						      nghttp2_session_get_last_proc_stream_id(c->session),
						      NGHTTP2_NO_ERROR, NULL, 0);
				send_all(c);
				return;
			}
			continue;
		}
		ssize_t r = c->tls ? tlsconn_recv(c->tls, buf, sizeof(buf)) : recv(c->fd, buf, sizeof(buf), 0);
		if (r < 0 && (c->tls ? r == -EAGAIN : errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return;
		last = now_ns();
		if (nghttp2_session_mem_recv(c->session, buf, (size_t)r) < 0)
			return;
		run_ready(c);
		if (send_all(c))
			return;
	}
}

/*
 * Closes after the peer has read what we sent: closing with unread input makes the kernel answer RST,
 * and a RST makes the peer drop replies it has received but not yet read (the last trailers).
 */
static void close_gracefully(int fd)
{
	char buf[4096];
	shutdown(fd, SHUT_WR);
	int64_t deadline = now_ns() + 500000000LL;
	while (now_ns() < deadline) {
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	}
	close(fd);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct tlsconn_server *tls = c->srv->opts.tls;
	if ((!tls || tlsconn_accept(tls, c->fd, c->srv->stop_pipe[0], c->remote, &c->tls) == 0) &&
	    session_new(c) == 0)
		conn_loop(c);
	/* nghttp2_session_del frees its own stream state without callbacks: ours go here, running ones
	 * are orphaned for collect_done to free once their worker is done */
	for (struct stream *s = c->streams, *next; s; s = next) {
		next = s->all_next;
		if (c->session)
			nghttp2_session_set_stream_user_data(c->session, s->id, NULL);
		if (s->running)
			s->orphaned = true;
		else
			stream_free(c, s);
	}
	c->ready_head = c->ready_tail = NULL;
	if (c->session)
		nghttp2_session_del(c->session);
	c->session = NULL;
	drain_running(c);
	tlsconn_close(c->tls);
	c->tls = NULL;
	close_gracefully(c->fd);
	c->fd = -1;
	atomic_store(&c->done, true);
	return NULL;
}

/* ---- listener ---- */

static void conn_free(struct conn *c)
{
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->done_lock);
	free(c);
}

static void reap(struct grpcserver *srv, bool all)
{
	pthread_mutex_lock(&srv->lock);
	for (struct conn **pp = &srv->conns; *pp;) {
		struct conn *c = *pp;
		if (all || atomic_load(&c->done)) {
			*pp = c->next;
			srv->nconns--;
			pthread_mutex_unlock(&srv->lock);
			pthread_join(c->thread, NULL);
			conn_free(c);
			pthread_mutex_lock(&srv->lock);
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&srv->lock);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, len, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, len, "[%s]:%d", host, port);
	} else {
		snprintf(out, len, "unknown");
	}
}

static void accept_one(struct grpcserver *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	reap(srv, false);
	pthread_mutex_lock(&srv->lock);
	bool full = srv->nconns >= srv->opts.max_connections;
	pthread_mutex_unlock(&srv->lock);
	struct conn *c = full ? NULL : calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {30, 0}; /* a client that stops reading cannot pin the thread forever */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->srv = srv;
	c->fd = fd;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&c->done_lock, NULL);
	format_addr(&ss, c->remote, sizeof(c->remote));
	if (c->wake_fd < 0 || pthread_create(&c->thread, NULL, conn_main, c)) {
		conn_free(c);
		close(fd);
		return;
	}
	pthread_mutex_lock(&srv->lock);
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	pthread_mutex_unlock(&srv->lock);
}

static void *listener_main(void *arg)
{
	struct grpcserver *srv = arg;
	while (!atomic_load(&srv->stopping)) {
		struct pollfd pfd[2] = {{srv->listen_fd, POLLIN, 0}, {srv->stop_pipe[0], POLLIN, 0}};
		int n = poll(pfd, 2, 1000);
		if (n > 0 && (pfd[0].revents & POLLIN))
			accept_one(srv);
		else if (n == 0)
			reap(srv, false);
	}
	return NULL;
}

int grpcserver_split_hostport(const char *listen, char *host, size_t host_len, char *port, size_t port_len)
{
	const char *colon, *h = listen;
	size_t hl;
	if (!listen)
		return -EINVAL;
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - listen);
	}
	if (hl >= host_len || strlen(colon + 1) >= port_len || !colon[1])
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	strcpy(port, colon + 1);
	return 0;
}

static int open_listener(const char *addr, int *fd_out, int *port_out)
{
	char host[256], port[16];
	if (grpcserver_split_hostport(addr, host, sizeof(host), port, sizeof(port)))
		return -EINVAL;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai))
		return -EINVAL;
	int rc = -EINVAL, fd = -1;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 && listen(fd, 128) == 0) {
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (rc)
		return rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return 0;
}

/* Joins the workers once no connection can hand them more calls. */
static void stop_workers(struct grpcserver *srv)
{
	pthread_mutex_lock(&srv->q_lock);
	srv->q_stop = true;
	pthread_cond_broadcast(&srv->q_cond);
	pthread_mutex_unlock(&srv->q_lock);
	for (unsigned i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i], NULL);
	free(srv->workers);
	srv->workers = NULL;
	srv->nworkers = 0;
}

int grpcserver_start(const struct grpcserver_options *opts, grpc_handler_fn handler, void *ctx, struct grpcserver **out)
{
	struct grpcserver *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->opts = *opts;
	if (!srv->opts.max_connections)
		srv->opts.max_connections = 64;
	if (!srv->opts.max_concurrent_streams)
		srv->opts.max_concurrent_streams = 32;
	if (!srv->opts.max_recv_msg_size)
		srv->opts.max_recv_msg_size = 4 << 20;
	if (!srv->opts.max_buffered_bytes)
		srv->opts.max_buffered_bytes = 4 * srv->opts.max_recv_msg_size + (16 << 20);
	if (!srv->opts.idle_timeout_seconds)
		srv->opts.idle_timeout_seconds = 300;
	if (!srv->opts.workers)
		srv->opts.workers = 32;
	srv->handler = handler;
	srv->ctx = ctx;
	srv->stop_pipe[0] = srv->stop_pipe[1] = srv->listen_fd = -1;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->q_lock, NULL);
	pthread_cond_init(&srv->q_cond, NULL);
	int rc = open_listener(opts->listen, &srv->listen_fd, &srv->port);
	if (rc)
		goto fail;
	srv->workers = calloc(srv->opts.workers, sizeof(pthread_t));
	if (!srv->workers) {
		rc = -ENOMEM;
		goto fail;
	}
	for (; srv->nworkers < srv->opts.workers; srv->nworkers++)
		if (pthread_create(&srv->workers[srv->nworkers], NULL, worker_main, srv)) {
			rc = -ENOMEM;
			goto fail;
		}
	if (pipe2(srv->stop_pipe, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		goto fail;
	}
	if (pthread_create(&srv->listener, NULL, listener_main, srv)) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	stop_workers(srv);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->stop_pipe[0] >= 0) {
		close(srv->stop_pipe[0]);
		close(srv->stop_pipe[1]);
	}
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->q_lock);
	pthread_cond_destroy(&srv->q_cond);
	free(srv);
	return rc;
}

int grpcserver_port(const struct grpcserver *srv)
{
	return srv->port;
}

void grpcserver_stop(struct grpcserver *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->stopping, true);
	ssize_t w = write(srv->stop_pipe[1], "x", 1);
	(void)w;
	pthread_join(srv->listener, NULL);
	close(srv->listen_fd);
	reap(srv, true);
	stop_workers(srv);
	close(srv->stop_pipe[0]);
	close(srv->stop_pipe[1]);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->q_lock);
	pthread_cond_destroy(&srv->q_cond);
	free(srv);
}
