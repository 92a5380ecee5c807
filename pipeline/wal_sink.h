/*
 * wal_sink — what every sink shares, so a sink only encodes a batch and classifies the answer.
 *
 * A sink has one or more lanes (one per endpoint: each endpoint gets every entry, independently).
 * Each lane is a WAL stream named after the component (and the endpoint), a cursor, and one sender
 * thread. wal_sink_push is the sink's receiver: it encodes the batch once, appends it to every lane's
 * stream in one WAL append, and returns only when it is durable (or -EAGAIN at once with
 * PUSH_NONBLOCK when the WAL is full) — so "accepted" always means "on disk".
 *
 * A lane's thread reads its stream from the cursor, merges entries into one batch up to max_bytes or
 * max_wait, and calls deliver. OK and DROP advance the cursor (DROP counts the records with the
 * reason); RETRY waits with capped exponential backoff and jitter (or the server's Retry-After, which may exceed max_backoff, up to 15 min) and
 * tries the same batch again, for ever unless max_retries is set. A lane that keeps failing makes the
 * component unhealthy with the last error; a healthy lane never waits on a failing one.
 */
#ifndef SOLDER_PIPELINE_WAL_SINK_H
#define SOLDER_PIPELINE_WAL_SINK_H

#include <stdint.h>

#include "pipeline/component.h"

struct wal;
struct wal_sink;

enum wal_sink_result { WAL_SINK_OK = 0, WAL_SINK_RETRY, WAL_SINK_DROP };

struct wal_sink_outcome {
	const char *drop_reason;   /* DROP: a short constant ("out_of_order", "bad_request", …) */
	int64_t retry_after_ms;    /* RETRY: the server's Retry-After, 0 when none */
	char message[256];         /* RETRY/DROP: what the backend said, for the log and the health */
};

struct wal_sink_lane_ops {
	/* Delivers one merged batch. Called from the lane's thread only. */
	enum wal_sink_result (*deliver)(void *lane_arg, struct batch *b, struct wal_sink_outcome *out);
};

struct wal_sink_options {
	uint64_t max_bytes;       /* merge entries up to this many record bytes per delivery (0 = 1 MiB) */
	int64_t max_wait_ns;      /* …or until the oldest merged entry waited this long (0 = 1 s) */
	int64_t min_backoff_ns;   /* 0 = 500 ms */
	int64_t max_backoff_ns;   /* 0 = 5 min */
	int max_retries;          /* 0 = retry for ever (nothing is dropped for being slow) */
};

struct wal_sink_lane {
	const char *name;  /* NULL for the component's only lane; else the endpoint's name */
	void *arg;         /* passed to deliver */
	const struct wal_sink_options *opts; /* this lane's batching and backoff; NULL: the sink's */
};

/*
 * Opens one WAL stream per lane (named "<component id>" or "<component id>/<lane name>"). The lanes'
 * threads start with wal_sink_start. -ENODEV when the runtime has no WAL.
 */
int wal_sink_new(struct component *c, const struct wal_sink_lane *lanes, size_t nlanes,
		 const struct wal_sink_lane_ops *ops, const struct wal_sink_options *opts, struct wal_sink **out);
int wal_sink_start(struct wal_sink *s);

/*
 * What every sink with `endpoint` blocks does at create: opens the lanes and exports `receiver` as
 * wal_sink_push. With no lane (a sink without endpoints, valid in Alloy) it exports a receiver that
 * accepts and sends nowhere, and *out is NULL. Logs the reason when the WAL streams cannot open.
 */
int wal_sink_export(struct component *c, const struct wal_sink_lane *lanes, size_t nlanes,
		    const struct wal_sink_lane_ops *ops, const struct wal_sink_options *opts, struct wal_sink **out);
/* Starts s; for a sink without lanes (s NULL) says in its health that `what` is accepted and dropped. */
int wal_sink_start_or_idle(struct component *c, struct wal_sink *s, const char *what);
/*
 * The WAL lane name of one of a sink's nendpoints `endpoint` blocks: its `name`; else NULL when it is
 * the only endpoint; else "url-<FNV-1a of its url>", stable across restarts and reordering, so a restarted
 * agent finds each endpoint's backlog and cursor again. Written into buf.
 */
const char *wal_sink_lane_name(const struct cfg_body *endpoint, size_t nendpoints, char *buf, size_t len);
/* `external_labels` of args as a malloc'd label array sorted by name (empty values mean "no label" and are
 * left out; each name and value malloc'd). *n is set even on -ENOMEM, so the caller frees what was made. */
int wal_sink_external_labels(const struct cfg_body *args, struct label **out, uint32_t *n);

/* The receiver push: encode, append to every lane, wait until durable. */
int wal_sink_push(void *sink, struct batch *b, unsigned flags);
/* (NULL: nothing.) Stops accepting, lets lanes deliver until deadline_ns (CLOCK_MONOTONIC), then stops them; what is
 * left stays in the WAL for the next start. */
void wal_sink_stop(struct wal_sink *s, int64_t deadline_ns);
void wal_sink_free(struct wal_sink *s);

#endif
