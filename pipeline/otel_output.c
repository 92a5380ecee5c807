/* otel_output — routing OTLP payloads to the output list of their signal; see otel_output.h. */
#include "pipeline/otel_output.h"

#include <errno.h>
#include <stdbool.h>

#include "lib/log.h"

int otel_record_signal(const struct record *r)
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
		if (otel_record_signal(&b->records[i]) != s)
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

int otel_output_route(struct component *c, const struct otel_output *o, struct batch *b, unsigned flags)
{
	int sig = -2;
	bool one = true;
	for (size_t i = 0; i < b->n_records; i++) {
		int s = otel_record_signal(&b->records[i]);
		if (s < 0 || (sig != -2 && s != sig))
			one = false;
		sig = s;
	}
	if (one && sig >= 0) /* the usual case: a receiver pushes one payload per batch */
		return push_signal(c, &o->out[sig], b, flags, sig);
	int rc = 0;
	for (int s = 0; s < OTLP_SIGNALS && !rc; s++) {
		struct batch *part = records_of(b, s, &rc);
		if (part)
			rc = push_signal(c, &o->out[s], part, flags, s);
		batch_free(part);
	}
	for (size_t i = 0; i < b->n_records && !rc; i++)
		if (otel_record_signal(&b->records[i]) < 0)
			component_count_dropped(c, "not_otlp", 1, batch_record_bytes(&b->records[i]));
	return rc;
}

int otel_output_from(const struct cfg_body *args, struct otel_output *o)
{
	static const char *const names[OTLP_SIGNALS] = {"traces", "metrics", "logs"};
	size_t cur = 0;
	const struct cfg_block *blk = cfg_next_block(args, "output", &cur);
	for (int s = 0; blk && s < OTLP_SIGNALS; s++) {
		int rc = forward_list_from(cfg_get(blk->body, names[s]), &o->out[s]);
		if (rc)
			return rc;
	}
	return 0;
}

void otel_output_free(struct otel_output *o)
{
	for (int s = 0; s < OTLP_SIGNALS; s++)
		forward_list_free(&o->out[s]);
}
