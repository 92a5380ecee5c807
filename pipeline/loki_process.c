/*
 * loki.process — runs log entries through an ordered list of stages (the engine and the stages live
 * in pipeline/stages/; this file is the schema and the component around them).
 *
 * Schema: each `stage.*` block is repeatable and kept in file order (stages compose in order), and
 * `stage.match` holds the same stage blocks again, so one table serves every depth. Stages Alloy has
 * but solder does not (metrics, geoip, pack, template, …) are not listed, so using one is an
 * "unknown block" error naming it. Every regex, JMESPath expression, selector, template, timestamp
 * format and zone is checked at validation, so `solder validate` catches what `run` would refuse.
 *
 * Component: a push runs the batch through the stages inline, in the pusher's thread, under one mutex
 * per instance (stages keep state across pushes), into an output batch reused from push to push, and
 * forwards it — or forwards the input itself when every entry left the stages unchanged
 * (process_batch_pass: stage.cri behind a source that already parsed CRI copies nothing). When
 * downstream refuses it, the output is kept and the pusher's retry of the same input forwards it
 * again without running the stages twice. Entries a stage holds (CRI partial
 * lines, multiline blocks) are sent by a small timer thread when they are due — started only when
 * some stage can hold entries with a deadline; refused ones are retried every 100ms — and at stop,
 * before the components downstream stop (the runtime stops in reverse dependency order). Dropped
 * entries are counted per reason once per push.
 */
#include "config/common_blocks.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "pipeline/component.h"
#include "pipeline/re2.h"
#include "pipeline/stages/process.h"

#define NSTAGES 20

/* Declared with its size so stage.match's body can point back at the list it belongs to. */
static const struct block_schema stage_blocks[NSTAGES + 1];

static const struct arg_schema cri_args[] = {
	{ "max_partial_line_size_truncate", &type_bool, .def = "false", .doc = "Truncate over-long partial lines." },
	{ "max_partial_line_size", &type_uint, .def = "0", .doc = "Maximum characters of a partial line." },
	{ "max_partial_lines", &type_int, .def = "100", .doc = "Maximum partial lines held in memory." },
	{ 0 },
};

static void positive(const struct cfg_body *body, struct diag_list *diags, const char *name)
{
	const struct cfg_attr *a = common_attr_set(body, name);
	if (a && cfg_number(body, name, 1) <= 0)
		diag_add(diags, DIAG_ERROR, body->src, a->off, "%s must be greater than 0", name);
}

/* An RE2 search regex argument (unset is fine). */
static void regex_arg(const struct cfg_body *body, struct diag_list *diags, const char *name)
{
	const struct cfg_attr *a = common_attr_set(body, name);
	const char *pattern = cfg_string(body, name);
	if (!a || !pattern)
		return;
	struct re2 re;
	char err[256];
	if (re2_compile(&re, pattern, 0, err, sizeof(err)) < 0) {
		diag_add(diags, DIAG_ERROR, body->src, a->off, "%s: %s", name, err);
		return;
	}
	re2_free(&re);
}

static void label_names_arg(const struct cfg_body *body, struct diag_list *diags, const char *name)
{
	const struct cfg_attr *a = common_attr_set(body, name);
	const struct value *m = cfg_get(body, name);
	if (!a || !m || m->kind != VAL_OBJECT)
		return;
	for (size_t i = 0; i < m->object.n; i++)
		if (!labels_name_valid(m->object.fields[i].key, strlen(m->object.fields[i].key)))
			diag_add(diags, DIAG_ERROR, body->src, a->off, "invalid label name: %s", m->object.fields[i].key);
}

static void cri_check(const struct cfg_body *body, struct diag_list *diags)
{
	positive(body, diags, "max_partial_lines");
}
static const struct body_schema cri_body = { cri_args, NULL, cri_check };

static const struct body_schema empty_body = { NULL, NULL, NULL };

static const struct arg_schema drop_args[] = {
	{ "drop_counter_reason", &type_string, .def = "drop_stage", .doc = "Reason reported for dropped lines." },
	{ "expression", &type_string, .doc = "RE2 expression matched against the source." },
	{ "longer_than", &type_bytes, .doc = "Drop lines longer than this." },
	{ "older_than", &type_duration, .doc = "Drop lines older than now minus this." },
	{ "separator", &type_string, .def = ";", .doc = "Separator between joined source values." },
	{ "source", &type_string, .def = "", .doc = "Extracted names to match (the line when empty)." },
	{ "value", &type_string, .doc = "Drop when the source equals this exactly." },
	{ 0 },
};

/* Alloy's validateDropConfig, with its messages. */
static void drop_check(const struct cfg_body *body, struct diag_list *diags)
{
	const struct cfg_attr *value = common_attr_set(body, "value");
	const struct cfg_attr *expr = common_attr_set(body, "expression");
	const char *source = cfg_string(body, "source");
	bool has_source = source && *source;
	if (!has_source && !expr && !common_attr_set(body, "older_than") && !common_attr_set(body, "longer_than"))
		diag_add(diags, DIAG_ERROR, body->src, body->off,
			 "drop stage config must contain at least one of `source`, `expression`, `older_than` or "
			 "`longer_than`");
	else if (value && expr)
		diag_add(diags, DIAG_ERROR, body->src, value->off,
			 "drop stage config error, `value` and `expression` cannot both be defined at the same time.");
	else if (value && !has_source)
		diag_add(diags, DIAG_ERROR, body->src, value->off,
			 "drop stage config must contain `source` if `value` is specified");
	regex_arg(body, diags, "expression");
}
static const struct body_schema drop_body = { drop_args, NULL, drop_check };

static const struct arg_schema json_args[] = {
	{ "expressions", &type_map_string, .required = true, .doc = "Names to extract and their JMESPath expressions." },
	{ "drop_malformed", &type_bool, .def = "false", .doc = "Drop lines that are not valid JSON." },
	{ "source", &type_string, .def = "", .doc = "Extracted value to parse (the line when empty)." },
	{ 0 },
};
static void json_check(const struct cfg_body *body, struct diag_list *diags)
{
	const struct cfg_attr *a = common_attr_set(body, "expressions");
	const struct value *m = cfg_get(body, "expressions");
	if (!a || !m || m->kind != VAL_OBJECT)
		return;
	if (m->object.n == 0)
		diag_add(diags, DIAG_ERROR, body->src, a->off, "JMES expression is required");
	for (size_t i = 0; i < m->object.n; i++) {
		const struct value *v = &m->object.fields[i].value;
		const char *expr = v->kind == VAL_STRING && v->str.len ? v->str.s : m->object.fields[i].key;
		struct json_path *path;
		char err[256];
		if (json_path_compile(expr, strlen(expr), &path, err, sizeof(err)) < 0)
			diag_add(diags, DIAG_ERROR, body->src, a->off, "%s", err);
		else
			json_path_free(path);
	}
}
static const struct body_schema json_body = { json_args, NULL, json_check };

static const struct arg_schema values_list_args[] = {
	{ "values", &type_list_string, .doc = "Label names." },
	{ 0 },
};
static const struct body_schema values_list_body = { values_list_args, NULL, NULL };

static const struct arg_schema values_map_args[] = {
	{ "values", &type_map_string, .doc = "Label names and the extracted names (or values) they take." },
	{ 0 },
};
static void values_map_check(const struct cfg_body *body, struct diag_list *diags)
{
	label_names_arg(body, diags, "values");
}
static const struct body_schema values_map_body = { values_map_args, NULL, values_map_check };

static const struct arg_schema structured_metadata_args[] = {
	{ "values", &type_map_string, .doc = "Metadata names and the extracted names they take." },
	{ "regex", &type_string, .def = "", .doc = "Also promote extracted names matching this RE2 expression." },
	{ 0 },
};
static void structured_metadata_check(const struct cfg_body *body, struct diag_list *diags)
{
	regex_arg(body, diags, "regex");
}
static const struct body_schema structured_metadata_body = { structured_metadata_args, NULL,
							      structured_metadata_check };

static const struct arg_schema limit_args[] = {
	{ "burst", &type_int, .required = true, .doc = "Maximum burst of lines." },
	{ "rate", &type_number, .required = true, .doc = "Maximum lines per second." },
	{ "by_label_name", &type_string, .def = "", .doc = "Rate-limit per value of this label." },
	{ "drop", &type_bool, .def = "false", .doc = "Drop lines over the limit instead of waiting." },
	{ "max_distinct_labels", &type_int, .def = "10000", .doc = "Label values tracked by by_label_name." },
	{ 0 },
};

static void limit_check(const struct cfg_body *body, struct diag_list *diags)
{
	const struct cfg_attr *by = common_attr_set(body, "by_label_name");
	if (cfg_number(body, "rate", 0) <= 0 || cfg_int(body, "burst", 0) <= 0)
		diag_add(diags, DIAG_ERROR, body->src, body->off, "limit stage failed to parse rate or burst");
	else if (by && !cfg_bool(body, "drop", false))
		diag_add(diags, DIAG_ERROR, body->src, by->off, "When ratelimiting by label, drop must be true");
}
static const struct body_schema limit_body = { limit_args, NULL, limit_check };

static const struct arg_schema logfmt_args[] = {
	{ "mapping", &type_map_string, .required = true, .doc = "Names to extract and the logfmt keys they take." },
	{ "source", &type_string, .def = "", .doc = "Extracted value to parse (the line when empty)." },
	{ 0 },
};
static const struct body_schema logfmt_body = { logfmt_args, NULL, NULL };

static const struct arg_schema match_args[] = {
	{ "selector", &type_string, .required = true, .doc = "LogQL stream selector and line filters." },
	{ "action", &type_string, .def = "keep", .one_of = "keep|drop", .doc = "What to do with matching entries." },
	{ "drop_counter_reason", &type_string, .def = "match_stage", .doc = "Reason reported for dropped lines." },
	{ "pipeline_name", &type_string, .def = "", .doc = "Name of the nested pipeline." },
	{ 0 },
};
/* Alloy's validateMatcherConfig: the selector parses, keep needs stages, drop has none. */
static void match_check(const struct cfg_body *body, struct diag_list *diags)
{
	const char *sel = cfg_string(body, "selector");
	const char *action = cfg_string(body, "action");
	char err[256];
	if (sel && match_selector_check(sel, err, sizeof(err)) < 0) {
		const struct cfg_attr *a = common_attr_set(body, "selector");
		diag_add(diags, DIAG_ERROR, body->src, a ? a->off : body->off, "%s", err);
	}
	size_t stages = 0;
	for (size_t i = 0; i < body->nblocks; i++)
		stages += strncmp(body->blocks[i].name, "stage.", 6) == 0;
	if (action && !strcmp(action, "drop") && stages)
		diag_add(diags, DIAG_ERROR, body->src, body->off, "match stage configured to drop entries cannot contains stages");
	else if ((!action || !strcmp(action, "keep")) && !stages)
		diag_add(diags, DIAG_ERROR, body->src, body->off,
			 "match stage requires at least one additional stage to be defined in '- stages'");
}
static const struct body_schema match_body = { match_args, stage_blocks, match_check };

static const struct arg_schema multiline_args[] = {
	{ "firstline", &type_string, .required = true, .doc = "RE2 expression matching the first line of a block." },
	{ "max_lines", &type_uint, .def = "128", .doc = "Maximum lines in a block." },
	{ "max_wait_time", &type_duration, .def = "3s", .doc = "Maximum wait for the rest of a block." },
	{ "trim_newlines", &type_bool, .def = "true", .doc = "Strip trailing newlines of each line." },
	{ 0 },
};

static void multiline_check(const struct cfg_body *body, struct diag_list *diags)
{
	const struct cfg_attr *wait = common_attr_set(body, "max_wait_time");
	if (wait && cfg_duration_ns(body, "max_wait_time", 1) <= 0)
		diag_add(diags, DIAG_ERROR, body->src, wait->off, "max_wait_time must be greater than 0");
	regex_arg(body, diags, "firstline");
}
static const struct body_schema multiline_body = { multiline_args, NULL, multiline_check };

static const struct arg_schema output_args[] = {
	{ "source", &type_string, .required = true, .doc = "Extracted name whose value becomes the line." },
	{ 0 },
};
static const struct body_schema output_body = { output_args, NULL, NULL };

static const struct arg_schema regex_args[] = {
	{ "expression", &type_string, .required = true, .doc = "RE2 expression with named capture groups." },
	{ "source", &type_string, .def = "", .doc = "Extracted value to parse (the line when empty)." },
	{ "labels_from_groups", &type_bool, .def = "false", .doc = "Turn named groups into labels." },
	{ 0 },
};
static void regex_check(const struct cfg_body *body, struct diag_list *diags)
{
	regex_arg(body, diags, "expression");
}
static const struct body_schema regex_body = { regex_args, NULL, regex_check };

static const struct arg_schema replace_args[] = {
	{ "expression", &type_string, .required = true, .doc = "RE2 expression whose groups are replaced." },
	{ "source", &type_string, .def = "", .doc = "Extracted value to change (the line when empty)." },
	{ "replace", &type_string, .def = "", .doc = "Replacement (a template)." },
	{ 0 },
};
static void replace_check(const struct cfg_body *body, struct diag_list *diags)
{
	regex_arg(body, diags, "expression");
	const struct cfg_attr *a = common_attr_set(body, "replace");
	const char *tmpl = cfg_string(body, "replace");
	char err[256];
	if (a && tmpl && replace_template_check(tmpl, err, sizeof(err)) < 0)
		diag_add(diags, DIAG_ERROR, body->src, a->off, "%s", err);
}
static const struct body_schema replace_body = { replace_args, NULL, replace_check };

static const struct arg_schema tenant_args[] = {
	{ "label", &type_string, .doc = "Label whose value is the tenant." },
	{ "source", &type_string, .doc = "Extracted name whose value is the tenant." },
	{ "value", &type_string, .doc = "Fixed tenant." },
	{ 0 },
};

static void tenant_check(const struct cfg_body *body, struct diag_list *diags)
{
	static const char *const names[] = { "label", "source", "value" };
	int n = 0;
	for (int i = 0; i < 3; i++) {
		const char *v = cfg_string(body, names[i]);
		n += v && *v;
	}
	if (n == 0)
		diag_add(diags, DIAG_ERROR, body->src, body->off, "label, source or value config are required");
	else if (n > 1)
		diag_add(diags, DIAG_ERROR, body->src, body->off,
			 "label, source and value are mutually exclusive: you should set source, value or label but not all");
}
static const struct body_schema tenant_body = { tenant_args, NULL, tenant_check };

static const struct arg_schema timestamp_args[] = {
	{ "source", &type_string, .required = true, .doc = "Extracted name holding the timestamp." },
	{ "format", &type_string, .required = true,
	  .doc = "Go reference layout or RFC3339, RFC3339Nano, Unix, UnixMs, UnixUs, UnixNs…" },
	{ "fallback_formats", &type_list_string, .doc = "Formats tried when format fails." },
	{ "location", &type_string, .doc = "IANA time zone for layouts without one." },
	{ "action_on_failure", &type_string, .def = "fudge", .one_of = "fudge|skip",
	  .doc = "What to do when no format parses the timestamp." },
	{ 0 },
};
static void timestamp_check(const struct cfg_body *body, struct diag_list *diags)
{
	char err[256];
	const struct cfg_attr *fa = common_attr_set(body, "format");
	const char *format = cfg_string(body, "format");
	if (fa && format && timestamp_format_check(format, err, sizeof(err)) < 0)
		diag_add(diags, DIAG_ERROR, body->src, fa->off, "%s", err);
	const struct cfg_attr *la = common_attr_set(body, "location");
	const char *loc = cfg_string(body, "location");
	if (la && loc && timestamp_location_check(loc, err, sizeof(err)) < 0)
		diag_add(diags, DIAG_ERROR, body->src, la->off, "%s", err);
	const struct value *fb = cfg_get(body, "fallback_formats");
	const struct cfg_attr *fba = common_attr_set(body, "fallback_formats");
	for (size_t i = 0; fba && fb && fb->kind == VAL_ARRAY && i < fb->array.n; i++)
		if (fb->array.items[i].kind == VAL_STRING &&
		    timestamp_format_check(fb->array.items[i].str.s, err, sizeof(err)) < 0)
			diag_add(diags, DIAG_ERROR, body->src, fba->off, "%s", err);
}
static const struct body_schema timestamp_body = { timestamp_args, NULL, timestamp_check };

static const struct arg_schema truncate_rule_args[] = {
	{ "limit", &type_bytes, .required = true, .doc = "Maximum size of the value." },
	{ "suffix", &type_string, .def = "", .doc = "Appended to truncated values." },
	{ "sources", &type_list_string, .doc = "Label or metadata names to truncate (all when empty)." },
	{ "source_type", &type_string, .def = "line", .one_of = "line|label|structured_metadata|extracted",
	  .doc = "What is truncated." },
	{ 0 },
};

/* Alloy's validateTruncateConfig, per rule. */
static void truncate_rule_check(const struct cfg_body *body, struct diag_list *diags)
{
	uint64_t limit = cfg_bytes(body, "limit", 0);
	const char *suffix = cfg_string(body, "suffix");
	const char *type = cfg_string(body, "source_type");
	const struct value *sources = cfg_get(body, "sources");
	if (limit == 0)
		diag_add(diags, DIAG_ERROR, body->src, body->off, "limit must be greater than zero");
	else if (type && !strcmp(type, "line") && sources && sources->kind == VAL_ARRAY && sources->array.n > 0)
		diag_add(diags, DIAG_ERROR, body->src, body->off, "sources cannot be set when source_type is 'line'");
	else if (suffix && *suffix && strlen(suffix) >= limit)
		diag_add(diags, DIAG_ERROR, body->src, body->off,
			 "suffix length cannot be greater than or equal to limit");
}
static const struct body_schema truncate_rule_body = { truncate_rule_args, NULL, truncate_rule_check };
static const struct block_schema truncate_blocks[] = {
	{ "rule", &truncate_rule_body, .repeatable = true, .required = true, .doc = "A truncation rule." },
	{ 0 },
};
static const struct body_schema truncate_body = { NULL, truncate_blocks, NULL };

static const struct block_schema stage_blocks[NSTAGES + 1] = {
	{ "stage.cri", &cri_body, .repeatable = true, .doc = "Parses CRI lines, joining partial lines." },
	{ "stage.decolorize", &empty_body, .repeatable = true, .doc = "Strips ANSI color codes." },
	{ "stage.docker", &empty_body, .repeatable = true, .doc = "Parses docker json-file lines." },
	{ "stage.drop", &drop_body, .repeatable = true, .doc = "Drops entries matching all given conditions." },
	{ "stage.json", &json_body, .repeatable = true, .doc = "Extracts values with JMESPath from JSON." },
	{ "stage.label_drop", &values_list_body, .repeatable = true, .doc = "Drops labels." },
	{ "stage.label_keep", &values_list_body, .repeatable = true, .doc = "Keeps only these labels." },
	{ "stage.labels", &values_map_body, .repeatable = true, .doc = "Sets labels from extracted values." },
	{ "stage.limit", &limit_body, .repeatable = true, .doc = "Rate-limits entries." },
	{ "stage.logfmt", &logfmt_body, .repeatable = true, .doc = "Extracts values from logfmt." },
	{ "stage.match", &match_body, .repeatable = true, .doc = "Runs nested stages on entries matching a selector." },
	{ "stage.multiline", &multiline_body, .repeatable = true, .doc = "Joins multi-line blocks into one entry." },
	{ "stage.output", &output_body, .repeatable = true, .doc = "Replaces the line with an extracted value." },
	{ "stage.regex", &regex_body, .repeatable = true, .doc = "Extracts values with a regular expression." },
	{ "stage.replace", &replace_body, .repeatable = true, .doc = "Replaces text matched by a regular expression." },
	{ "stage.static_labels", &values_map_body, .repeatable = true, .doc = "Sets fixed labels." },
	{ "stage.structured_metadata", &structured_metadata_body, .repeatable = true,
	  .doc = "Moves extracted values to structured metadata." },
	{ "stage.tenant", &tenant_body, .repeatable = true, .doc = "Sets the tenant of the entry." },
	{ "stage.timestamp", &timestamp_body, .repeatable = true, .doc = "Sets the timestamp from an extracted value." },
	{ "stage.truncate", &truncate_body, .repeatable = true, .doc = "Truncates lines, labels or metadata." },
	{ 0 },
};

static const struct arg_schema args[] = {
	{ "forward_to", &type_list_logs_receiver, .required = true, .doc = "Where to forward entries after processing." },
	{ 0 },
};

static const struct export_schema exports[] = {
	{ "receiver", &type_logs_receiver, .doc = "Where log entries to process are sent." },
	{ 0 },
};

const struct component_schema loki_process_schema = {
	.name = "loki.process",
	.doc = "Processes log entries through ordered stages.",
	.args = { args, stage_blocks, NULL },
	.exports = exports,
	.runnable = true,
};

/* ---- the component ---- */

struct lproc {
	struct component *c;
	struct forward_list fl;
	struct process *p;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t timer;
	bool timer_running, stopping;
	/*
	 * Output of the last push (reused push to push). When forwarding it failed, it stays `pending`
	 * with the fingerprint of its input: the pusher still owns that input and retries it, and the
	 * retry forwards this output again instead of running the stages twice (stateful stages would
	 * otherwise join a CRI partial line twice or spend rate-limit tokens again).
	 */
	struct batch *out;
	bool pending;
	bool pending_same; /* the output was the input itself (nothing changed): the retry forwards it */
	uint64_t pending_input;
	/* Entries the timer (or stop) sent on; kept until forwarded when downstream refuses them. */
	struct batch *held;
	uint64_t invalid_labels_logged;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Identity of an input batch's content, to recognise the pusher's retry of a refused batch. */
static uint64_t input_fingerprint(const struct batch *b)
{
	uint64_t h = labels_hash_bytes(&b->n_records, sizeof(b->n_records), 0x51f0);
	for (size_t i = 0; i < b->n_records; i++) {
		const struct record *r = &b->records[i];
		if (r->kind != RECORD_LOG)
			continue;
		h = labels_hash_bytes(&r->log.ts_ns, sizeof(r->log.ts_ns), h ^ r->log.labels.hash);
		h = labels_hash_bytes(r->log.line, r->log.line_len, h);
	}
	return h;
}

static void report_drops(struct lproc *lp)
{
	uint64_t invalid = process_invalid_labels(lp->p);
	if (invalid != lp->invalid_labels_logged) { /* log lines of one message are rate-limited */
		log_warn("loki.process", "skipped invalid label names or values", "component=%s total=%llu",
			 component_id(lp->c), (unsigned long long)invalid);
		lp->invalid_labels_logged = invalid;
	}
	struct lp_drop drops[LP_MAX_DROP_REASONS];
	size_t n = process_take_drops(lp->p, drops, LP_MAX_DROP_REASONS);
	for (size_t i = 0; i < n; i++)
		component_count_dropped(lp->c, drops[i].reason, drops[i].records, drops[i].bytes);
}

/* Forwards b if it holds anything; called under lock. */
static int forward_batch(struct lproc *lp, struct batch *b, unsigned flags)
{
	if (b->n_records == 0)
		return 0;
	return forward_push(lp->c, &lp->fl, b, flags);
}

static int lproc_push(void *arg, struct batch *b, unsigned flags)
{
	struct lproc *lp = arg;
	pthread_mutex_lock(&lp->lock);
	int rc;
	if (lp->pending && input_fingerprint(b) == lp->pending_input) {
		/* a retry: same output, stages not run again */
		rc = forward_batch(lp, lp->pending_same ? b : lp->out, flags);
		lp->pending = rc < 0;
		pthread_mutex_unlock(&lp->lock);
		return rc;
	}
	lp->pending = false; /* the pusher gave that batch up: so do we */
	batch_reset(lp->out);
	int64_t now = now_ns();
	rc = 0;
	if (process_next_deadline(lp->p) <= now) /* due blocks go out before newer lines */
		rc = process_flush(lp->p, lp->out, now, false);
	bool same = false;
	if (rc == 0)
		rc = process_batch_pass(lp->p, b, lp->out, now, flags, &same);
	report_drops(lp);
	if (rc == 0 && (rc = forward_batch(lp, same ? b : lp->out, flags)) < 0) {
		lp->pending = true;
		lp->pending_same = same;
		lp->pending_input = input_fingerprint(b);
	}
	pthread_mutex_unlock(&lp->lock);
	return rc;
}

/* Sends held entries that are due (and any the last attempt could not deliver); under lock. */
static void send_held(struct lproc *lp, bool all)
{
	if (lp->held->n_records == 0) {
		int rc = process_flush(lp->p, lp->held, now_ns(), all);
		report_drops(lp);
		if (rc < 0) {
			log_warn("loki.process", "flushing held entries failed", "component=%s err=%s",
				 component_id(lp->c), strerror(-rc));
			batch_reset(lp->held);
			return;
		}
	}
	if (forward_batch(lp, lp->held, 0) == 0)
		batch_reset(lp->held);
}

/* Sends held entries when they are due: sleeps until the earliest deadline (or 100ms while a
 * delivery is being retried, or a new block may have started). */
static void *timer_main(void *arg)
{
	struct lproc *lp = arg;
	pthread_mutex_lock(&lp->lock);
	while (!lp->stopping) {
		int64_t now = now_ns();
		if (lp->held->n_records || process_next_deadline(lp->p) <= now)
			send_held(lp, false);
		int64_t due = process_next_deadline(lp->p);
		int64_t until = lp->held->n_records || due - now >= 100000000LL ? now + 100000000LL : due;
		struct timespec ts = { until / 1000000000LL, until % 1000000000LL };
		pthread_cond_timedwait(&lp->wake, &lp->lock, &ts);
	}
	pthread_mutex_unlock(&lp->lock);
	return NULL;
}

static void lproc_destroy(void *state)
{
	struct lproc *lp = state;
	if (!lp)
		return;
	process_free(lp->p);
	batch_free(lp->out);
	batch_free(lp->held);
	forward_list_free(&lp->fl);
	pthread_mutex_destroy(&lp->lock);
	pthread_cond_destroy(&lp->wake);
	free(lp);
}

static int lproc_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct lproc *lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	lp->c = c;
	pthread_mutex_init(&lp->lock, NULL);
	pthread_cond_init(&lp->wake, NULL);
	char err[512] = "";
	int rc = forward_list_from(cfg_get(args, "forward_to"), &lp->fl);
	if (rc == 0 && (!(lp->out = batch_new()) || !(lp->held = batch_new())))
		rc = -ENOMEM;
	if (rc == 0 && (rc = process_compile(args, &lp->p, err, sizeof(err))) < 0 && err[0])
		log_error("loki.process", "cannot build stages", "component=%s err=\"%s\"", component_id(c), err);
	if (rc == 0)
		rc = component_export_receiver(c, "receiver", lproc_push, lp);
	if (rc < 0) { /* the runtime does not destroy what failed to create */
		lproc_destroy(lp);
		return rc;
	}
	*state = lp;
	return 0;
}

static int lproc_start(void *state)
{
	struct lproc *lp = state;
	if (!process_has_timers(lp->p))
		return 0;
	int rc = pthread_create(&lp->timer, NULL, timer_main, lp);
	if (rc)
		return -rc;
	lp->timer_running = true;
	return 0;
}

/* At stop, what downstream still refuses is counted as dropped rather than vanishing. */
static void drop_held(struct lproc *lp)
{
	if (lp->held->n_records == 0)
		return;
	log_warn("loki.process", "held entries not delivered at stop", "component=%s records=%zu",
		 component_id(lp->c), lp->held->n_records);
	component_count_dropped(lp->c, "undelivered_at_stop", lp->held->n_records, lp->held->bytes);
	batch_reset(lp->held);
}

static void lproc_stop(void *state, int64_t deadline_ns)
{
	struct lproc *lp = state;
	pthread_mutex_lock(&lp->lock);
	lp->stopping = true;
	pthread_cond_signal(&lp->wake);
	pthread_mutex_unlock(&lp->lock);
	if (lp->timer_running)
		pthread_join(lp->timer, NULL);
	lp->timer_running = false;
	pthread_mutex_lock(&lp->lock); /* nothing held is lost: send it on while downstream still runs */
	send_held(lp, false); /* whatever an earlier attempt could not deliver */
	drop_held(lp);
	send_held(lp, true);
	drop_held(lp);
	pthread_mutex_unlock(&lp->lock);
}

const struct component_ops loki_process_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &loki_process_schema,
	.create = lproc_create,
	.start = lproc_start,
	.stop = lproc_stop,
	.destroy = lproc_destroy,
};
