/*
 * otelcol.processor.batch — accepted so Alloy configs run, and implemented as an honest pass-through:
 * each pushed payload goes at once, unchanged, to the `output` list of its signal.
 *
 * Why it does not batch: in the Collector this processor exists to turn many small exports into few
 * large ones. In solder every exporter (loki.write, prometheus.remote_write, otelcol.exporter.*) reads
 * from its own WAL lane, and the lane already merges queued entries into requests of up to the
 * exporter's size limit, waiting at most its batch wait, before each send. Batching again in front of
 * the WAL would only hold the data in memory — where a crash loses it — and delay the client's
 * acknowledgement, which solder gives only once the data is durable. So nothing is held here, and a
 * refusal downstream (a full WAL: -EAGAIN) reaches the client as UNAVAILABLE / 503 at once.
 *
 * send_batch_size, send_batch_max_size and timeout are accepted and checked as Alloy checks them, but
 * they do not map onto the lanes: this processor cannot know which exporters its output reaches, and
 * one exporter may be fed by several pipelines. Size a lane with its exporter's own arguments
 * (loki.write's batch_size and batch_wait, for example). metadata_keys and
 * metadata_cardinality_limit have nothing to split: solder does not carry request metadata.
 *
 * The component says so once, at info level, when it starts. A signal whose output list is empty is
 * dropped and counted (reason "no_consumer") with a warning, never silently.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "lib/otlp.h"
#include "pipeline/component.h"

static void check(const struct cfg_body *body, struct diag_list *diags)
{
	const struct cfg_attr *max = common_attr_set(body, "send_batch_max_size");
	double m = cfg_number(body, "send_batch_max_size", 0), s = cfg_number(body, "send_batch_size", 8192);
	if (max && m != 0 && m < s)
		diag_add(diags, DIAG_ERROR, body->src, max->off,
			 "send_batch_max_size must be greater or equal to send_batch_size when not 0");
}

static const struct arg_schema args[] = {
	{"metadata_cardinality_limit", &type_number, .def = "1000",
	 .doc = "Accepted; solder carries no request metadata to batch by."},
	{"metadata_keys", &type_list_string, .doc = "Accepted; solder carries no request metadata to batch by."},
	{"send_batch_max_size", &type_number, .def = "0",
	 .doc = "Accepted; each exporter's WAL lane bounds its requests (e.g. loki.write batch_size)."},
	{"send_batch_size", &type_int, .def = "8192",
	 .doc = "Accepted; each exporter's WAL lane merges entries up to its own size limit."},
	{"timeout", &type_duration, .def = "200ms",
	 .doc = "Accepted; each exporter's WAL lane waits at most its own batch wait."},
	{0},
};

static const struct block_schema blocks[] = {
	COMMON_OTEL_OUTPUT_BLOCK,
	COMMON_OTEL_DEBUG_METRICS_BLOCK,
	{0},
};

static const struct export_schema exports[] = {
	{"input", &type_otel_consumer, .doc = "Where telemetry is sent; it is forwarded at once."},
	{0},
};

const struct component_schema otelcol_processor_batch_schema = {
	.name = "otelcol.processor.batch",
	.doc = "Pass-through: each exporter's WAL lane batches (see the component's notes).",
	.args = {args, blocks, check},
	.exports = exports,
	.runnable = true,
};

/* ---- routing payloads to the output list of their signal (as in memory_limiter) ---- */

static int signal_of(const struct record *r)
{
	if (r->kind != RECORD_PAYLOAD)
		return -1;
	switch (r->payload.kind) {
	case PAYLOAD_OTLP_TRACES:
		return OTLP_TRACES;
	case PAYLOAD_OTLP_METRICS:
		return OTLP_METRICS;
	case PAYLOAD_OTLP_LOGS:
		return OTLP_LOGS;
	default:
		return -1;
	}
}

static int push_signal(struct component *c, const struct forward_list *fl, struct batch *b, unsigned flags, int s)
{
	if (!fl->n) {
		component_count_dropped(c, "no_consumer", b->n_records, b->bytes);
		log_warn(component_id(c), "dropping telemetry: output has no consumer for its signal", "signal=%s",
			 otlp_signal_name((enum otlp_signal)s));
		return 0;
	}
	return forward_push(c, fl, b, flags);
}

/* The records of b that carry signal s, copied into a new batch (NULL and *rc = 0 when there are none). */
static struct batch *records_of(const struct batch *b, int s, int *rc)
{
	struct batch *part = NULL;
	*rc = 0;
	for (size_t i = 0; i < b->n_records && !*rc; i++) {
		if (signal_of(&b->records[i]) != s)
			continue;
		if (!part && !(part = batch_new()))
			*rc = -ENOMEM;
		else
			*rc = batch_add_payload(part, (enum payload_kind)b->records[i].payload.kind,
						b->records[i].payload.data, b->records[i].payload.len);
	}
	if (*rc) {
		batch_free(part);
		return NULL;
	}
	return part;
}

static int route(struct component *c, const struct forward_list out[OTLP_SIGNALS], struct batch *b, unsigned flags)
{
	int sig = -2;
	bool one = true;
	for (size_t i = 0; i < b->n_records; i++) {
		int s = signal_of(&b->records[i]);
		if (s < 0 || (sig != -2 && s != sig))
			one = false;
		sig = s;
	}
	if (one && sig >= 0) /* the usual case: a receiver pushes one payload per batch */
		return push_signal(c, &out[sig], b, flags, sig);
	int rc = 0;
	for (int s = 0; s < OTLP_SIGNALS && !rc; s++) {
		struct batch *part = records_of(b, s, &rc);
		if (part)
			rc = push_signal(c, &out[s], part, flags, s);
		batch_free(part);
	}
	for (size_t i = 0; i < b->n_records && !rc; i++)
		if (signal_of(&b->records[i]) < 0)
			component_count_dropped(c, "not_otlp", 1, batch_record_bytes(&b->records[i]));
	return rc;
}

static int outputs_from(const struct cfg_body *args, struct forward_list out[OTLP_SIGNALS])
{
	static const char *const names[OTLP_SIGNALS] = {"traces", "metrics", "logs"};
	size_t cur = 0;
	const struct cfg_block *blk = cfg_next_block(args, "output", &cur);
	for (int s = 0; blk && s < OTLP_SIGNALS; s++) {
		int rc = forward_list_from(cfg_get(blk->body, names[s]), &out[s]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the component ---- */

struct batch_processor {
	struct component *c;
	struct forward_list out[OTLP_SIGNALS];
};

static int batch_push(void *arg, struct batch *b, unsigned flags)
{
	struct batch_processor *p = arg;
	return route(p->c, p->out, b, flags);
}

static int batch_start(void *state)
{
	struct batch_processor *p = state;
	log_info(component_id(p->c), "forwarding at once: each exporter's WAL lane does the batching",
		 "send_batch_size=ignored timeout=ignored");
	return 0;
}

static void batch_destroy(void *state)
{
	struct batch_processor *p = state;
	for (int s = 0; s < OTLP_SIGNALS; s++)
		forward_list_free(&p->out[s]);
	free(p);
}

static int batch_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct batch_processor *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	int rc = outputs_from(args, p->out);
	if (!rc)
		rc = component_export_receiver(c, "input", batch_push, p);
	if (rc) {
		batch_destroy(p);
		return rc;
	}
	*state = p;
	return 0;
}

const struct component_ops otelcol_processor_batch_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &otelcol_processor_batch_schema,
	.create = batch_create,
	.start = batch_start,
	.destroy = batch_destroy,
};
