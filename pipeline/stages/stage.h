/*
 * stage — the contract between the loki.process engine (engine.c) and each stage (stage.* blocks).
 *
 * An entry flows through an ordered list of stages as in Alloy: each stage reads and writes the
 * entry's labels, timestamp, line, structured metadata and its "extracted" map (name -> value, seeded
 * with the labels the entry arrived with), so `stage.json` -> `stage.labels` composes. A stage's
 * process() returns 1 to pass the entry on, 0 when it consumed it (dropped, held for a later join,
 * or already sent on itself), or a negative errno.
 *
 * A stage that emits entries of its own (a joined CRI line, a multiline block, entries flushed at
 * stop) calls lp_continue(run, self, e): the entry runs through the stages after `self` — and after
 * the enclosing stage.match when `self` is nested — exactly as if it had come out of `self`.
 *
 * Memory: an entry's strings live in its arena (lp_entry.mem), in the input batch, or in the config;
 * all of them outlive the entry's trip, which ends when the engine copies it into the output batch.
 * Entries a stage keeps across pushes are deep copies (lp_save) owned by the stage.
 * Everything here runs under the owning component's lock: stages need no locking of their own.
 */
#ifndef SOLDER_PIPELINE_STAGES_STAGE_H
#define SOLDER_PIPELINE_STAGES_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pipeline/arena.h"
#include "pipeline/batch.h"
#include "pipeline/labels.h"
#include "pipeline/re2.h"

#define STAGE_OPS_VERSION 1

/* Kinds of extracted values (Go's any: string, float64 from JSON, bool, nil). */
enum lp_kind { LP_STRING = 0, LP_NUMBER, LP_BOOL, LP_NULL };

struct lp_value {
	const char *s; /* LP_NUMBER: the JSON number text; LP_BOOL: "true"/"false"; LP_NULL: "" */
	uint32_t len;
	uint8_t kind;
};

struct lp_extracted {
	const char *key;
	uint32_t key_len;
	struct lp_value v;
};

struct lp_entry {
	struct labels base; /* labels the entry entered the pipeline with: the extracted map's seed */
	struct labels base_md; /* structured metadata it entered with (emit reuses both when unchanged) */
	struct labels_builder labels;
	struct labels_builder metadata;
	int64_t ts_ns;
	const char *line;
	size_t line_len;
	struct lp_extracted *ex; /* set by stages; shadows base */
	size_t n_ex, cap_ex;
	struct arena mem;
};

struct stage;
struct lp_run;
struct process;

struct stage_list {
	struct stage *v;
	size_t n;
	struct stage *owner; /* the stage.match holding this list, or NULL at the top */
};

struct stage_ops {
	int version; /* STAGE_OPS_VERSION */
	const char *name; /* block name: "stage.json" */
	/* Builds st->state from the block; -EINVAL with a message in err. */
	int (*create)(const struct cfg_body *body, struct stage *st, char *err, size_t errlen);
	int (*process)(struct stage *st, struct lp_run *run, struct lp_entry *e);
	/* Emits held entries: those whose wait ended by run->now_ns, or all of them. NULL: holds nothing. */
	int (*flush)(struct stage *st, struct lp_run *run, bool all);
	/* Earliest time a held entry is due (INT64_MAX: none). NULL: never. */
	int64_t (*deadline)(const struct stage *st);
	void (*destroy)(void *state);
};

struct stage {
	const struct stage_ops *ops;
	void *state;
	struct stage_list *list; /* the list this stage is in */
	size_t index;
	struct stage_list *children; /* stage.match: its nested stages */
	struct process *p;
};

struct lp_drop {
	const char *reason; /* process lifetime (lp_reason) */
	uint64_t records, bytes;
};

#define LP_MAX_DROP_REASONS 8

struct lp_run {
	struct process *p;
	struct batch *out;
	int64_t now_ns; /* CLOCK_REALTIME, or the test's clock */
	unsigned flags; /* push flags (PUSH_NONBLOCK) */
	struct lp_entry **entries; /* scratch entries, one per nesting depth of lp_continue */
	size_t depth, cap_entries;
	struct lp_drop drops[LP_MAX_DROP_REASONS];
	size_t n_drops;
	uint64_t invalid_labels; /* produced label names/values that were not valid, skipped */
	struct re2_state re;
	char *buf; /* scratch for joins (drop's source values…), grown as needed */
	size_t buf_cap;
	/* emit: the last unchanged input set (immutable for the run) and its copy interned in out */
	const struct label *memo_in;
	struct labels memo_out;
	/* pass-through (process_batch_pass): while every entry leaves as it came, in order, nothing is
	 * copied; pass_n input records are "emitted" so far, pass_cur is the record being run */
	const struct batch *pass_in;
	size_t pass_cur, pass_n;
	bool pass;
};

/* ---- engine services for stages ---- */

/* Builds the stages of `body`'s stage.* blocks, in order, into l (used by stage.match for its body). */
int lp_compile_list(const struct cfg_body *body, struct process *p, struct stage_list *l, struct stage *owner,
		    char *err, size_t errlen);
void lp_free_list(struct stage_list *l);
/* Registers a compiled regex's group count so the shared match state is large enough. */
void lp_note_groups(struct process *p, uint32_t n_groups);
/* Registers that a stage holds entries with a deadline (the component then runs a timer). */
void lp_note_timer(struct process *p);

/* Runs e through list l from stage `from`, then through whatever follows l; appends survivors to run->out. */
int lp_run_list(struct lp_run *run, struct stage_list *l, size_t from, struct lp_entry *e);
/* Runs e through the stages after st (see the top comment). */
int lp_continue(struct lp_run *run, const struct stage *st, struct lp_entry *e);

/* A scratch entry for emitting (reset, empty); give it back with lp_entry_put in LIFO order. */
struct lp_entry *lp_entry_get(struct lp_run *run);
void lp_entry_put(struct lp_run *run);

/* Counts e as dropped for `reason` (a string that lives as long as the stage). */
void lp_drop(struct lp_run *run, const char *reason, const struct lp_entry *e);
/* A process-lifetime copy of a drop reason (metrics keep the pointer). */
const char *lp_reason(const char *reason);

/* Extracted map. lp_get fills *tmp for a value found among the base labels; NULL when absent. */
const struct lp_value *lp_get(const struct lp_entry *e, const char *key, size_t len, struct lp_value *tmp);
/* Sets key (which must outlive the entry's trip: config strings or e->mem). -ENOMEM. */
int lp_set(struct lp_entry *e, const char *key, size_t key_len, struct lp_value v);
static inline struct lp_value lp_str(const char *s, size_t len)
{
	return (struct lp_value){ s, (uint32_t)len, LP_STRING };
}
/* Go's getString: false for null (and nothing else). Numbers are formatted as Go's 'f', -1. */
bool lp_string(struct lp_entry *e, const struct lp_value *v, const char **s, size_t *len);
/* lp_get + lp_string. */
bool lp_get_string(struct lp_entry *e, const char *key, size_t len, const char **s, size_t *slen);

/* Sets a label if name and value are valid (counted in run->invalid_labels when not). -ENOMEM. */
int lp_label_set(struct lp_run *run, struct lp_entry *e, const char *name, size_t name_len, const char *value,
		 size_t value_len);
/* The entry's current label set (valid until its labels change). -ENOMEM. */
int lp_labels(struct lp_entry *e, struct labels *out);

/* Deep copies kept across pushes. */
struct lp_saved;
struct lp_saved *lp_save(struct lp_entry *e);
/* Makes e a copy of s (strings borrowed from s: keep s alive until e's trip ends). */
void lp_restore(struct lp_entry *e, const struct lp_saved *s);
void lp_saved_free(struct lp_saved *s);
const char *lp_saved_line(const struct lp_saved *s, size_t *len);
int64_t lp_saved_ts(const struct lp_saved *s);

/* Copies bytes into the entry's arena. */
char *lp_dup(struct lp_entry *e, const char *s, size_t len);
/* Grows run->buf to at least n bytes. */
char *lp_buf(struct lp_run *run, size_t n);

/* Go's strconv.FormatFloat(v, 'f', -1, 64) into buf (>= 400 bytes); returns the length. */
size_t lp_format_float(double v, char *buf, size_t cap);

/* Regexes (parse.c): compile a search regex and note its groups; list its named groups. */
struct lp_group {
	uint32_t group;
	const char *name; /* points into the compiled regex */
	size_t name_len;
};
int lp_regex_compile(struct process *p, struct re2 *re, const char *pattern, char *err, size_t errlen);
size_t lp_regex_names(const struct re2 *re, struct lp_group *out, size_t cap);
/* Searches s from byte `start` (a search regex from lp_regex_compile); false when none. */
bool lp_regex_match_at(const struct re2 *re, struct re2_state *st, const char *s, size_t len, size_t start,
		       const PCRE2_SIZE **ov);

/* A list(string) argument (labels.c). */
struct lp_names {
	char **v;
	size_t *len;
	size_t n;
};
int lp_names_from(const struct cfg_body *body, const char *arg, struct lp_names *n);

/* Decodes a JSON string body (no quotes) into out (>= 3*len+1 bytes); -EINVAL when not valid JSON. */
int lp_json_unquote(const char *s, size_t len, char *out, size_t *out_len);

/* IANA zones (zone.c). zone_load gives NULL for UTC; -ENOENT/-EINVAL for an unknown zone. */
struct tz;
int zone_load(const char *name, struct tz **out);
void zone_free(struct tz *z);
/* Seconds since the epoch of a wall time (seconds as if UTC) read in zone z, as Go's time.Date does. */
int64_t zone_wall_to_epoch(const struct tz *z, int64_t wall);
/* Offset of a zone abbreviation ("EST") the zone uses; "UTC" for the NULL zone. */
bool zone_abbr_offset(const struct tz *z, const char *name, size_t len, int32_t *off);

/* Go's time.Parse(time.RFC3339Nano, s) (timestamp.c); -EINVAL when it would fail. */
int timestamp_parse_rfc3339(const char *s, size_t len, int64_t *ns);

/* ---- the stages (one table per file family) ---- */
extern const struct stage_ops stage_cri_ops, stage_docker_ops, stage_json_ops, stage_logfmt_ops,
	stage_regex_ops, stage_decolorize_ops;
extern const struct stage_ops stage_labels_ops, stage_static_labels_ops, stage_label_drop_ops,
	stage_label_keep_ops, stage_structured_metadata_ops, stage_tenant_ops, stage_output_ops,
	stage_replace_ops, stage_truncate_ops;
extern const struct stage_ops stage_timestamp_ops;
extern const struct stage_ops stage_match_ops, stage_drop_ops, stage_limit_ops, stage_multiline_ops;

/* ---- shared by several stages and the schema checks ---- */

/*
 * JSON (json.c). json_paths compiles a JMESPath subset: dotted fields, "quoted" fields and [n]
 * indexes (negative counts from the end), e.g. `kubernetes.labels."app.kubernetes.io/name"`,
 * `items[0].id`. -EINVAL with a message.
 */
struct json_path;
int json_path_compile(const char *expr, size_t len, struct json_path **out, char *err, size_t errlen);
void json_path_free(struct json_path *p);

struct json_expr {
	const char *name; /* extracted name */
	size_t name_len;
	struct json_path *path;
};
/* Parses `line` and stores every expression's value (null when absent); -EINVAL when malformed. */
int json_extract(struct lp_entry *e, const char *line, size_t len, const struct json_expr *exprs, size_t n);

/* LogQL selector + line filters (match.c), for the schema check. */
int match_selector_check(const char *selector, char *err, size_t errlen);
/* stage.replace templates (labels.c), for the schema check. */
int replace_template_check(const char *tmpl, char *err, size_t errlen);
/* Go layouts and names (timestamp.c), for the schema check. */
int timestamp_format_check(const char *format, char *err, size_t errlen);
int timestamp_location_check(const char *name, char *err, size_t errlen);

#endif
