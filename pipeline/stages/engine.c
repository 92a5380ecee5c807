/*
 * engine — compiles stage lists and runs entries through them (contracts in process.h and stage.h).
 *
 * Decisions:
 * - One entry at a time, depth first: an entry runs through every stage before the next one starts,
 *   as in Alloy where each stage is a goroutine fed in order. A stage that emits entries of its own
 *   (joined CRI lines, multiline blocks) recurses into the rest of the pipeline with a scratch entry
 *   from a small stack, so nothing is queued between stages.
 * - Nested stage.match lists know their owner, so "the stages after this one" is a walk up the
 *   owners: nested emission continues in the enclosing list exactly where the match stage sits.
 * - The extracted map is a short array that shadows the entry's original labels instead of copying
 *   them in (Alloy seeds extracted with every label): same lookups, no per-line copy.
 * - Scratch entries, their arenas and builders, and the extracted arrays are reused: a steady stream
 *   of lines allocates nothing here.
 */
#include "pipeline/stages/process.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct stage_ops *const all_stages[] = {
	&stage_cri_ops,
	&stage_decolorize_ops,
	&stage_docker_ops,
	&stage_drop_ops,
	&stage_json_ops,
	&stage_label_drop_ops,
	&stage_label_keep_ops,
	&stage_labels_ops,
	&stage_limit_ops,
	&stage_logfmt_ops,
	&stage_match_ops,
	&stage_multiline_ops,
	&stage_output_ops,
	&stage_regex_ops,
	&stage_replace_ops,
	&stage_static_labels_ops,
	&stage_structured_metadata_ops,
	&stage_tenant_ops,
	&stage_timestamp_ops,
	&stage_truncate_ops,
};

struct process {
	struct stage_list top;
	uint32_t max_groups;
	bool timers;
	uint64_t invalid_total;
	struct lp_run run;
};

struct lp_saved {
	struct arena mem;
	struct labels base, labels, metadata;
	int64_t ts_ns;
	const char *line;
	size_t line_len;
	struct lp_extracted *ex;
	size_t n_ex;
};

/* Drop reasons are copied by the runtime and the metrics registry, so config strings are fine. */
const char *lp_reason(const char *reason) { return reason; }

/* ---- compile ---- */

static const struct stage_ops *find_stage(const char *name)
{
	for (size_t i = 0; i < sizeof(all_stages) / sizeof(all_stages[0]); i++)
		if (strcmp(all_stages[i]->name, name) == 0)
			return all_stages[i];
	return NULL;
}

void lp_note_groups(struct process *p, uint32_t n_groups)
{
	if (n_groups > p->max_groups)
		p->max_groups = n_groups;
}

void lp_note_timer(struct process *p) { p->timers = true; }

void lp_free_list(struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = &l->v[i];
		if (st->ops && st->ops->destroy && st->state)
			st->ops->destroy(st->state);
		if (st->children) {
			lp_free_list(st->children);
			free(st->children);
		}
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int lp_compile_list(const struct cfg_body *body, struct process *p, struct stage_list *l, struct stage *owner,
		    char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	l->owner = owner;
	size_t n = 0;
	for (size_t i = 0; i < body->nblocks; i++)
		n += strncmp(body->blocks[i].name, "stage.", 6) == 0;
	if (n == 0)
		return 0;
	l->v = calloc(n, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	for (size_t i = 0; i < body->nblocks; i++) {
		const struct cfg_block *blk = &body->blocks[i];
		if (strncmp(blk->name, "stage.", 6) != 0)
			continue;
		const struct stage_ops *ops = find_stage(blk->name);
		if (!ops) {
			snprintf(err, errlen, "unknown stage %s", blk->name);
			lp_free_list(l);
			return -EINVAL;
		}
		struct stage *st = &l->v[l->n++];
		st->ops = ops;
		st->list = l;
		st->index = l->n - 1;
		st->p = p;
		char msg[400] = "";
		int rc = ops->create(blk->body, st, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", blk->name, msg[0] ? msg : strerror(-rc));
			lp_free_list(l);
			return rc;
		}
	}
	return 0;
}

int process_compile(const struct cfg_body *body, struct process **out, char *err, size_t errlen)
{
	struct process *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = lp_compile_list(body, p, &p->top, NULL, err, errlen);
	if (rc == 0 && re2_state_init(&p->run.re, p->max_groups) < 0)
		rc = -ENOMEM;
	if (rc < 0) {
		lp_free_list(&p->top);
		free(p);
		return rc;
	}
	p->run.p = p;
	*out = p;
	return 0;
}

static void entry_free(struct lp_entry *e)
{
	labels_builder_free(&e->labels);
	labels_builder_free(&e->metadata);
	arena_free(&e->mem);
	free(e->ex);
	free(e);
}

void process_free(struct process *p)
{
	if (!p)
		return;
	lp_free_list(&p->top);
	for (size_t i = 0; i < p->run.cap_entries; i++)
		if (p->run.entries[i])
			entry_free(p->run.entries[i]);
	free(p->run.entries);
	free(p->run.buf);
	re2_state_free(&p->run.re);
	free(p);
}

/* ---- entries ---- */

struct lp_entry *lp_entry_get(struct lp_run *run)
{
	if (run->depth == run->cap_entries) {
		size_t cap = run->cap_entries ? run->cap_entries * 2 : 4;
		struct lp_entry **v = realloc(run->entries, cap * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + run->cap_entries, 0, (cap - run->cap_entries) * sizeof(*v));
		run->entries = v;
		run->cap_entries = cap;
	}
	struct lp_entry *e = run->entries[run->depth];
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		labels_builder_init(&e->labels);
		labels_builder_init(&e->metadata);
		arena_init(&e->mem, 8192);
		run->entries[run->depth] = e;
	}
	run->depth++;
	labels_empty(&e->base);
	labels_empty(&e->base_md);
	labels_builder_reset(&e->labels, NULL);
	labels_builder_reset(&e->metadata, NULL);
	arena_reset(&e->mem);
	e->n_ex = 0;
	e->ts_ns = 0;
	e->line = "";
	e->line_len = 0;
	return e;
}

void lp_entry_put(struct lp_run *run) { run->depth--; }

char *lp_dup(struct lp_entry *e, const char *s, size_t len) { return arena_strndup(&e->mem, s, len); }

char *lp_buf(struct lp_run *run, size_t n)
{
	if (n > run->buf_cap) {
		size_t cap = run->buf_cap ? run->buf_cap : 256;
		while (cap < n)
			cap *= 2;
		char *b = realloc(run->buf, cap);
		if (!b)
			return NULL;
		run->buf = b;
		run->buf_cap = cap;
	}
	return run->buf;
}

int lp_labels(struct lp_entry *e, struct labels *out) { return labels_builder_finish(&e->labels, out); }

int lp_label_set(struct lp_run *run, struct lp_entry *e, const char *name, size_t name_len, const char *value,
		 size_t value_len)
{
	if (!labels_name_valid(name, name_len) || !re2_utf8_valid(value, value_len)) {
		run->invalid_labels++;
		return 0;
	}
	return labels_builder_set(&e->labels, name, name_len, value, value_len);
}

/* ---- extracted map ---- */

const struct lp_value *lp_get(const struct lp_entry *e, const char *key, size_t len, struct lp_value *tmp)
{
	for (size_t i = 0; i < e->n_ex; i++)
		if (e->ex[i].key_len == len && memcmp(e->ex[i].key, key, len) == 0)
			return &e->ex[i].v;
	const struct label *l = labels_get(&e->base, key, len);
	if (!l)
		return NULL;
	*tmp = lp_str(l->value, l->value_len);
	return tmp;
}

int lp_set(struct lp_entry *e, const char *key, size_t key_len, struct lp_value v)
{
	for (size_t i = 0; i < e->n_ex; i++) {
		if (e->ex[i].key_len == key_len && memcmp(e->ex[i].key, key, key_len) == 0) {
			e->ex[i].v = v;
			return 0;
		}
	}
	if (e->n_ex == e->cap_ex) {
		size_t cap = e->cap_ex ? e->cap_ex * 2 : 16;
		struct lp_extracted *ex = realloc(e->ex, cap * sizeof(*ex));
		if (!ex)
			return -ENOMEM;
		e->ex = ex;
		e->cap_ex = cap;
	}
	e->ex[e->n_ex++] = (struct lp_extracted){ key, (uint32_t)key_len, v };
	return 0;
}

/* Integers below 1e15 print the same in Go's 'f' format: the common case needs no conversion. */
static bool plain_integer(const char *s, size_t len)
{
	size_t i = s[0] == '-';
	if (len == i || len - i > 15 || (s[i] == '0' && len - i > 1))
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

size_t lp_format_float(double v, char *buf, size_t cap)
{
	if (isnan(v))
		return (size_t)snprintf(buf, cap, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
	char digits[40];
	int prec = 0;
	for (prec = 0; prec < 17; prec++) { /* shortest %e that reads back as v */
		snprintf(digits, sizeof(digits), "%.*e", prec, v);
		if (strtod(digits, NULL) == v)
			break;
	}
	/* digits: [-]d[.ddd]e[+-]xx -> mantissa digits and decimal exponent */
	char mant[24];
	size_t nm = 0;
	const char *p = digits;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			mant[nm++] = *p;
	int exp = atoi(p + 1);
	size_t n = 0;
	char *o = buf;
#define PUT(c)                                                                                                     \
	do {                                                                                                       \
		if (n + 1 < cap)                                                                                   \
			o[n] = (c);                                                                                \
		n++;                                                                                               \
	} while (0)
	if (neg)
		PUT('-');
	if (exp < 0) {
		PUT('0');
		PUT('.');
		for (int i = -1; i > exp; i--)
			PUT('0');
		for (size_t i = 0; i < nm; i++)
			PUT(mant[i]);
	} else {
		for (int i = 0; i <= exp; i++)
			PUT((size_t)i < nm ? mant[i] : '0');
		if ((size_t)exp + 1 < nm) {
			PUT('.');
			for (size_t i = (size_t)exp + 1; i < nm; i++)
				PUT(mant[i]);
		}
	}
#undef PUT
	if (cap)
		o[n < cap ? n : cap - 1] = '\0';
	return n;
}

bool lp_string(struct lp_entry *e, const struct lp_value *v, const char **s, size_t *len)
{
	if (v->kind == LP_NULL)
		return false;
	if (v->kind != LP_NUMBER || plain_integer(v->s, v->len)) {
		*s = v->s;
		*len = v->len;
		return true;
	}
	char tmp[64], out[400];
	size_t n = v->len < sizeof(tmp) ? v->len : sizeof(tmp) - 1;
	memcpy(tmp, v->s, n);
	tmp[n] = '\0';
	size_t m = lp_format_float(strtod(tmp, NULL), out, sizeof(out));
	char *d = lp_dup(e, out, m);
	if (!d)
		return false;
	*s = d;
	*len = m;
	return true;
}

bool lp_get_string(struct lp_entry *e, const char *key, size_t len, const char **s, size_t *slen)
{
	struct lp_value tmp;
	const struct lp_value *v = lp_get(e, key, len, &tmp);
	return v && lp_string(e, v, s, slen);
}

/* ---- saved entries ---- */

static int copy_labels(struct arena *a, const struct labels *in, struct labels *out)
{
	return labels_copy(in, a, out);
}

struct lp_saved *lp_save(struct lp_entry *e)
{
	struct lp_saved *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	struct labels ls, md;
	if (labels_builder_finish(&e->labels, &ls) || labels_builder_finish(&e->metadata, &md)) {
		free(s);
		return NULL;
	}
	/* one chunk sized for this entry: held entries can be many, a default 16 KiB chunk each is waste */
	size_t need = 256 + e->line_len + e->n_ex * (sizeof(*s->ex) + 2);
	const struct labels *sets[3] = { &ls, &md, &e->base };
	for (int k = 0; k < 3; k++)
		for (uint32_t i = 0; i < sets[k]->n; i++)
			need += sizeof(struct label) + sets[k]->v[i].name_len + sets[k]->v[i].value_len + 2;
	for (size_t i = 0; i < e->n_ex; i++)
		need += e->ex[i].key_len + e->ex[i].v.len;
	arena_init(&s->mem, need);
	if (copy_labels(&s->mem, &ls, &s->labels) || copy_labels(&s->mem, &md, &s->metadata) ||
	    copy_labels(&s->mem, &e->base, &s->base))
		goto fail;
	s->ts_ns = e->ts_ns;
	s->line = arena_strndup(&s->mem, e->line, e->line_len);
	s->line_len = e->line_len;
	if (!s->line)
		goto fail;
	if (e->n_ex) {
		s->ex = arena_alloc(&s->mem, e->n_ex * sizeof(*s->ex));
		if (!s->ex)
			goto fail;
		for (size_t i = 0; i < e->n_ex; i++) {
			const struct lp_extracted *x = &e->ex[i];
			s->ex[i] = *x;
			s->ex[i].key = arena_strndup(&s->mem, x->key, x->key_len);
			s->ex[i].v.s = arena_strndup(&s->mem, x->v.s, x->v.len);
			if (!s->ex[i].key || !s->ex[i].v.s)
				goto fail;
		}
		s->n_ex = e->n_ex;
	}
	return s;
fail:
	lp_saved_free(s);
	return NULL;
}

void lp_restore(struct lp_entry *e, const struct lp_saved *s)
{
	e->base = s->base;
	labels_builder_reset(&e->labels, &s->labels);
	labels_builder_reset(&e->metadata, &s->metadata);
	e->ts_ns = s->ts_ns;
	e->line = s->line;
	e->line_len = s->line_len;
	e->n_ex = 0;
	for (size_t i = 0; i < s->n_ex; i++)
		if (lp_set(e, s->ex[i].key, s->ex[i].key_len, s->ex[i].v) < 0)
			break;
}

void lp_saved_free(struct lp_saved *s)
{
	if (!s)
		return;
	arena_free(&s->mem);
	free(s);
}

const char *lp_saved_line(const struct lp_saved *s, size_t *len)
{
	*len = s->line_len;
	return s->line;
}

int64_t lp_saved_ts(const struct lp_saved *s) { return s->ts_ns; }

/* ---- running ---- */

void lp_drop(struct lp_run *run, const char *reason, const struct lp_entry *e)
{
	size_t i = 0;
	for (; i < run->n_drops; i++)
		if (run->drops[i].reason == reason || strcmp(run->drops[i].reason, reason) == 0)
			break;
	if (i == run->n_drops) {
		if (run->n_drops == LP_MAX_DROP_REASONS)
			i = LP_MAX_DROP_REASONS - 1; /* more reasons than slots in one push: fold into the last */
		else
			run->drops[run->n_drops++] = (struct lp_drop){ reason, 0, 0 };
	}
	run->drops[i].records++;
	run->drops[i].bytes += e->line_len;
}

/* The builder still holds exactly the set it was reset to: no finish (and no rehash) needed. */
static bool unchanged(const struct labels_builder *b, const struct labels *base)
{
	return b->n_add == 0 && b->n_del == 0 && b->base == base->v && b->n_base == base->n;
}

/* Pass-through ends: the input records "emitted" so far are copied to out, in order. */
static int materialize(struct lp_run *run)
{
	run->pass = false;
	for (size_t i = 0; i < run->pass_n; i++) {
		const struct record *r = &run->pass_in->records[i];
		int rc = batch_add_log(run->out, &r->log.labels, r->log.ts_ns, r->log.line, r->log.line_len,
				       &r->log.metadata);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The top-level entry of the record being run leaves exactly as that record came in. */
static bool passes(const struct lp_run *run, const struct lp_entry *e, bool same_labels)
{
	const struct record *r = &run->pass_in->records[run->pass_cur];
	return run->depth == 1 && run->pass_n == run->pass_cur && same_labels && e->base.v == r->log.labels.v &&
	       e->base.n == r->log.labels.n && unchanged(&e->metadata, &e->base_md) &&
	       e->base_md.v == r->log.metadata.v && e->base_md.n == r->log.metadata.n && e->line == r->log.line &&
	       e->line_len == r->log.line_len && e->ts_ns == r->log.ts_ns;
}

/*
 * Most entries leave the stages with the labels they came with (an input batch's interned set,
 * which cannot change during the run): those skip the builder and, after the first, the out batch's
 * set lookup too (its copy is remembered, so interning is a pointer compare, not a labels_equal).
 */
static int emit(struct lp_run *run, struct lp_entry *e)
{
	struct labels ls, md;
	bool same = unchanged(&e->labels, &e->base);
	if (run->pass) {
		if (passes(run, e, same)) {
			run->pass_n++;
			return 0;
		}
		int rc = materialize(run);
		if (rc < 0)
			return rc;
	}
	if (same)
		ls = e->base.v == run->memo_in && e->base.v ? run->memo_out : e->base;
	else if (labels_builder_finish(&e->labels, &ls))
		return -ENOMEM;
	if (unchanged(&e->metadata, &e->base_md))
		md = e->base_md;
	else if (labels_builder_finish(&e->metadata, &md))
		return -ENOMEM;
	int rc = batch_add_log(run->out, &ls, e->ts_ns, e->line, e->line_len, &md);
	if (rc == 0 && same && e->base.n) {
		run->memo_in = e->base.v;
		run->memo_out = run->out->records[run->out->n_records - 1].log.labels;
	}
	if (rc == -EINVAL) { /* a join grew past what a batch holds */
		lp_drop(run, "line_too_long", e);
		return 0;
	}
	return rc;
}

int lp_run_list(struct lp_run *run, struct stage_list *l, size_t from, struct lp_entry *e)
{
	for (;;) {
		for (size_t i = from; i < l->n; i++) {
			struct stage *st = &l->v[i];
			int rc = st->ops->process(st, run, e);
			if (rc <= 0)
				return rc;
		}
		if (!l->owner)
			return emit(run, e);
		from = l->owner->index + 1;
		l = l->owner->list;
	}
}

int lp_continue(struct lp_run *run, const struct stage *st, struct lp_entry *e)
{
	return lp_run_list(run, st->list, st->index + 1, e);
}

static void begin(struct process *p, struct batch *out, int64_t now_ns, unsigned flags)
{
	p->run.out = out;
	p->run.now_ns = now_ns;
	p->run.flags = flags;
	p->run.depth = 0;
	p->run.invalid_labels = 0;
	p->run.memo_in = NULL; /* its copy lived in the previous out batch */
	p->run.pass = false;
}

static void end(struct process *p) { p->invalid_total += p->run.invalid_labels; }

int process_batch(struct process *p, const struct batch *in, struct batch *out, int64_t now_ns, unsigned flags)
{
	return process_batch_pass(p, in, out, now_ns, flags, NULL);
}

static bool only_logs(const struct batch *b)
{
	for (size_t i = 0; i < b->n_records; i++)
		if (b->records[i].kind != RECORD_LOG)
			return false;
	return true;
}

int process_batch_pass(struct process *p, const struct batch *in, struct batch *out, int64_t now_ns, unsigned flags,
		       bool *same)
{
	begin(p, out, now_ns, flags);
	if (same) {
		*same = false;
		p->run.pass = out->n_records == 0 && only_logs(in);
		p->run.pass_in = in;
		p->run.pass_n = 0;
	}
	int rc = 0;
	if (in->position_len || in->source_len)
		rc = batch_set_position(out, in->source, in->source_len, in->position, in->position_len);
	for (size_t i = 0; i < in->n_records && rc >= 0; i++) {
		const struct record *r = &in->records[i];
		if (r->kind != RECORD_LOG)
			continue;
		p->run.pass_cur = i;
		struct lp_entry *e = lp_entry_get(&p->run);
		if (!e) {
			rc = -ENOMEM;
			break;
		}
		e->base = r->log.labels;
		e->base_md = r->log.metadata;
		labels_builder_reset(&e->labels, &r->log.labels);
		labels_builder_reset(&e->metadata, &r->log.metadata);
		e->ts_ns = r->log.ts_ns;
		e->line = r->log.line;
		e->line_len = r->log.line_len;
		rc = lp_run_list(&p->run, &p->top, 0, e);
		lp_entry_put(&p->run);
	}
	if (rc >= 0 && p->run.pass) {
		if (p->run.pass_n == in->n_records)
			*same = true;
		else
			rc = materialize(&p->run); /* the last entries were dropped or held */
	}
	p->run.pass = false;
	end(p);
	return rc < 0 ? rc : 0;
}

static int flush_list(struct stage_list *l, struct lp_run *run, bool all)
{
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = &l->v[i];
		if (st->ops->flush) {
			int rc = st->ops->flush(st, run, all);
			if (rc < 0)
				return rc;
		}
		if (st->children) {
			int rc = flush_list(st->children, run, all);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int process_flush(struct process *p, struct batch *out, int64_t now_ns, bool all)
{
	begin(p, out, now_ns, 0);
	int rc = flush_list(&p->top, &p->run, all);
	end(p);
	return rc;
}

static int64_t list_deadline(const struct stage_list *l)
{
	int64_t best = INT64_MAX;
	for (size_t i = 0; i < l->n; i++) {
		const struct stage *st = &l->v[i];
		int64_t d = st->ops->deadline ? st->ops->deadline(st) : INT64_MAX;
		if (st->children) {
			int64_t c = list_deadline(st->children);
			if (c < d)
				d = c;
		}
		if (d < best)
			best = d;
	}
	return best;
}

int64_t process_next_deadline(const struct process *p) { return list_deadline(&p->top); }

bool process_has_timers(const struct process *p) { return p->timers; }

size_t process_take_drops(struct process *p, struct lp_drop *out, size_t cap)
{
	size_t n = p->run.n_drops < cap ? p->run.n_drops : cap;
	memcpy(out, p->run.drops, n * sizeof(*out));
	p->run.n_drops = 0;
	return n;
}

uint64_t process_invalid_labels(const struct process *p) { return p->invalid_total; }
