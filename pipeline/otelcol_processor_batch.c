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
#include "pipeline/otel_output.h"

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

/* ---- the component ---- */

struct batch_processor {
	struct component *c;
	struct otel_output out;
};

static int batch_push(void *arg, struct batch *b, unsigned flags)
{
	struct batch_processor *p = arg;
	return otel_output_route(p->c, &p->out, b, flags);
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
	otel_output_free(&p->out);
	free(p);
}

static int batch_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct batch_processor *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	int rc = otel_output_from(args, &p->out);
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
