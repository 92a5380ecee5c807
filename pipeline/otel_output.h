/*
 * otel_output — the `output { traces, metrics, logs }` block every otelcol component forwards through:
 * one forward list per signal, and the routing of a batch of OTLP payloads to the list of its signal.
 *
 * A batch usually carries one signal (a receiver pushes one request at a time), and then it is pushed
 * as is; a mixed batch is split per signal. A signal whose list is empty is dropped and counted
 * ("no_consumer") with a warning, a record that is not an OTLP payload is counted ("not_otlp"): never
 * silently. The push result is the downstream one, so a full WAL reaches the client as a retry.
 */
#ifndef SOLDER_PIPELINE_OTEL_OUTPUT_H
#define SOLDER_PIPELINE_OTEL_OUTPUT_H

#include "lib/otlp.h"
#include "pipeline/component.h"

struct otel_output {
	struct forward_list out[OTLP_SIGNALS]; /* indexed by enum otlp_signal */
};

/* Reads the `output` block of args (absent: every list empty). -EINVAL on a non-receiver, -ENOMEM. */
int otel_output_from(const struct cfg_body *args, struct otel_output *o);
void otel_output_free(struct otel_output *o);

/* The signal an OTLP payload record carries, or -1. */
int otel_record_signal(const struct record *r);

/* Pushes each record of b to the list of its signal (see above). */
int otel_output_route(struct component *c, const struct otel_output *o, struct batch *b, unsigned flags);

#endif
