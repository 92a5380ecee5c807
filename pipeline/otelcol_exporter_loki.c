/*
 * otelcol.exporter.loki — converts OTLP logs into Loki entries and forwards them to `forward_to`
 * (loki.write, loki.process, …), with Loki's own OTLP ingestion mapping (pipeline/otlp_logs_loki.h):
 * index labels from the listed resource attributes, everything else as structured metadata, the
 * body as the line, trace and span ids kept.
 *
 * The conversion runs in the pusher's thread (the receiver's), and the push returns what forward_push
 * returns, so a full WAL behind loki.write reaches the OTLP client as UNAVAILABLE / 503 and the client
 * retries: nothing is buffered here. All payloads of one pushed batch become one batch of entries, so
 * a push is accepted or refused whole.
 *
 * A payload that does not decode cannot get better by retrying: it is dropped and counted
 * (reason "malformed"), with a rate-limited warning, and the push of the rest goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "pipeline/component.h"
#include "pipeline/otlp_logs_loki.h"

static const struct arg_schema args[] = {
	{"forward_to", &type_list_logs_receiver, .required = true, .doc = "Where to forward converted entries."},
	{0},
};

static const struct export_schema exports[] = {
	{"input", &type_otel_logs, .doc = "Where OTLP logs to convert are sent."},
	{0},
};

const struct component_schema otelcol_exporter_loki_schema = {
	.name = "otelcol.exporter.loki",
	.doc = "Converts OTLP logs to Loki log entries (Loki's OTLP mapping: resource attributes on its "
	       "index list become labels, the rest structured metadata).",
	.args = {args, NULL, NULL},
	.exports = exports,
	.runnable = true,
};

struct exporter_loki {
	struct component *c;
	struct forward_list fwd;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Converts one record into out; returns 0 (also for a dropped one) or an error the pusher must see. */
static int convert(struct exporter_loki *e, const struct record *r, int64_t now, struct batch *out)
{
	char err[256] = "", q[300];
	if (r->kind != RECORD_PAYLOAD || r->payload.kind != PAYLOAD_OTLP_LOGS) {
		/* the config's type checks keep these out; count rather than trust that */
		component_count_dropped(e->c, "not_otlp_logs", 1, batch_record_bytes(r));
		return 0;
	}
	struct otlp_logs_loki_counts counts;
	int rc = otlp_logs_loki_convert(r->payload.data, r->payload.len, now, out, &counts, err, sizeof(err));
	if (rc == -EINVAL) {
		component_count_dropped(e->c, "malformed", 1, r->payload.len);
		log_warn(component_id(e->c), "dropping an OTLP logs payload that does not decode", "bytes=%u err=%s",
			 r->payload.len, log_quote(q, sizeof(q), err));
		return 0;
	}
	if (!rc && counts.skipped) {
		component_count_dropped(e->c, "line_too_long", counts.skipped, 0);
		log_warn(component_id(e->c), "dropping log records whose line exceeds the batch limit", "records=%zu",
			 counts.skipped);
	}
	return rc;
}

static int exporter_push(void *arg, struct batch *b, unsigned flags)
{
	struct exporter_loki *e = arg;
	struct batch *out = batch_new();
	if (!out)
		return -ENOMEM;
	int64_t now = now_ns();
	int rc = 0;
	for (size_t i = 0; i < b->n_records && !rc; i++)
		rc = convert(e, &b->records[i], now, out);
	if (!rc && b->position_len)
		rc = batch_set_position(out, b->source, b->source_len, b->position, b->position_len);
	if (!rc && out->n_records)
		rc = forward_push(e->c, &e->fwd, out, flags);
	batch_free(out);
	return rc;
}

static void exporter_destroy(void *state)
{
	struct exporter_loki *e = state;
	forward_list_free(&e->fwd);
	free(e);
}

static int exporter_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct exporter_loki *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->c = c;
	int rc = forward_list_from(cfg_get(args, "forward_to"), &e->fwd);
	if (!rc)
		rc = component_export_receiver(c, "input", exporter_push, e);
	if (rc) {
		exporter_destroy(e);
		return rc;
	}
	*state = e;
	return 0;
}

const struct component_ops otelcol_exporter_loki_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_exporter_loki_schema,
	.create = exporter_create,
	.destroy = exporter_destroy,
};
