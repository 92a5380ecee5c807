/*
 * process — the loki.process engine: compiles a component body's stage.* blocks and runs batches of
 * log entries through them (stages in stage.h). No runtime here, so the component, the fuzz target
 * and the benchmark share it.
 *
 * A compiled process is not thread-safe: its stages keep state across calls (CRI partial lines,
 * multiline blocks, rate limiters, last timestamps) and it owns one scratch area, so the caller
 * serializes every call (loki.process holds one mutex per instance). In steady state a call
 * allocates nothing besides what the output batch grows to.
 */
#ifndef SOLDER_PIPELINE_STAGES_PROCESS_H
#define SOLDER_PIPELINE_STAGES_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pipeline/batch.h"
#include "pipeline/stages/stage.h"

struct process;

/* Compiles body's stage.* blocks (other attributes are ignored). -EINVAL with err; -ENOMEM. */
int process_compile(const struct cfg_body *body, struct process **out, char *err, size_t errlen);
void process_free(struct process *p);

/*
 * Runs each log record of `in` through the stages; entries that come out are appended to `out`
 * (with in's source position). now_ns is the wall clock (drop's older_than, multiline waits, years
 * of year-less timestamps). Returns 0, -ENOMEM, or -EAGAIN when a blocking stage.limit would wait
 * and flags has PUSH_NONBLOCK (out is then incomplete: the caller retries the whole batch).
 */
int process_batch(struct process *p, const struct batch *in, struct batch *out, int64_t now_ns, unsigned flags);
/*
 * process_batch, except that when out is empty, `in` holds only log records and every one of them
 * leaves the stages unchanged, once and in order (stage.cri on lines a source already parsed, a
 * match that selects nothing, …), nothing is copied: *same is set and `in` is the output (out
 * stays empty). As soon as one entry differs, the ones before it are copied and it goes on as
 * process_batch does (*same false).
 */
int process_batch_pass(struct process *p, const struct batch *in, struct batch *out, int64_t now_ns, unsigned flags,
		       bool *same);

/* Emits held entries that are due at now_ns (all of them when `all`, at stop) into out. */
int process_flush(struct process *p, struct batch *out, int64_t now_ns, bool all);

/* When the next held entry is due (INT64_MAX: none); whether any stage can hold entries at all. */
int64_t process_next_deadline(const struct process *p);
bool process_has_timers(const struct process *p);

/* Drops counted since the last call (at most cap); then resets the tally. */
size_t process_take_drops(struct process *p, struct lp_drop *out, size_t cap);
/* Label names or values that stages produced but were invalid, skipped (cumulative). */
uint64_t process_invalid_labels(const struct process *p);

#endif
