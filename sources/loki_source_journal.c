/*
 * loki.source.journal — reads the systemd journal through libsystemd's sd-journal, as Alloy's
 * component of the same name (promtail's journal target): each entry's fields become `__journal_*`
 * labels (journal_fields.h), `job` = the component id and then `labels` are added (as Alloy does),
 * `relabel_rules` applied, then every `__` label is
 * dropped; an entry left with no labels is dropped and counted (reason "no_labels"), an entry without
 * MESSAGE is dropped unless format_as_json (reason "no_message"). Timestamp: __REALTIME_TIMESTAMP.
 *
 * One worker thread reads batches of up to BATCH_ENTRIES entries (a batch ends early when the journal
 * has nothing more, so a quiet journal's entries leave at once) and hands each, with the cursor of its
 * last entry, to a pusher thread (double buffering, as tail_source does): while batch A waits for its
 * group commit and fsync the reader fills batch B, so the wall rate is no longer one fsync per batch
 * and smaller batches (less RSS) cost little. The pusher pushes A with forward_push until every
 * receiver accepted it (durable in the WAL), then commits A's cursor as this component's source
 * position (DESIGN.md §5): the cursor never runs ahead of durable data. Batches are pushed strictly in
 * order (B is handed over only once A is durable); a full WAL pauses both; nothing is dropped. A stop
 * during a push commits nothing more: the journal is closed and the next start re-reads from the
 * committed cursor. A restart seeks to the committed cursor and skips that entry; without one (or when
 * it is older than max_age) reading starts max_age back from now. A crash between push and commit
 * resends that batch.
 *
 * The journal is waited on with sd_journal_wait; SD_JOURNAL_INVALIDATE (files added, rotated, vacuumed)
 * needs nothing of us: sd-journal re-enumerates and our read position stays valid. A path that is
 * missing, unreadable or holds no journal files makes the component unhealthy with that reason (path
 * and errno), and it tries again every RETRY_NS: a journal may appear later.
 *
 * Fast path: without relabel rules and format_as_json, no `__journal_*` label can survive, so only
 * MESSAGE and the timestamp are read and every entry shares the `labels` set (interned once per batch).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>
/* sd-journal.h pulls in syslog.h, whose LOG_* macros collide with lib/log.h's levels */
#undef LOG_DEBUG
#undef LOG_INFO

#include "config/types.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/component.h"
#include "pipeline/relabel.h"
#include "pipeline/relabel_config.h"
#include "sources/journal_fields.h"
#include "wal/wal.h"
#include "config/common_blocks.h"

static const struct arg_schema args[] = {
	{"forward_to", &type_list_logs_receiver, .required = true, .doc = "Receivers to send log entries to."},
	{"format_as_json", &type_bool, .def = "false", .doc = "Forward the whole journal entry as JSON."},
	{"labels", &type_map_string, .doc = "Labels to apply to every entry."},
	{"matches", &type_string, .def = "",
	 .doc = "Journal matches: FIELD=value terms, space separated (AND); a lone + separates OR groups."},
	{"max_age", &type_duration, .def = "7h", .doc = "Oldest relative time from start that is read."},
	{"path", &type_string, .def = "", .doc = "Journal directory (default /var/log/journal and /run/log/journal)."},
	{"relabel_rules", &type_relabel_rules, .doc = "Relabeling rules applied before forwarding."},
	{0},
};

const struct component_schema loki_source_journal_schema = {
	.name = "loki.source.journal",
	.doc = "Reads log entries from the systemd journal.",
	.args = {args, NULL, NULL},
	.runnable = true,
};

/* ---- implementation ---- */

#define BATCH_ENTRIES 8192
#define BATCH_BYTES   (1u << 20)
#define WAIT_USEC     250000	   /* sd_journal_wait timeout: how often stop is noticed when idle */
#define RETRY_NS      2000000000LL /* reopen interval while the journal is missing or unreadable */
#define FULL_SLEEP_NS 20000000L	   /* pause while the WAL is full */
#define MAX_FIELDS    1024	   /* fields of one entry considered beyond this are ignored */
#define CURSOR_MAX    1024
/* sd-journal keeps up to 64 mmap windows (8 MiB and more each) of the journal files, and the pages we
 * touched in them count in RSS (hundreds of MiB over a large journal). Every RELEASE_ENTRIES entries
 * the file pages of those read-only shared mappings are dropped from our page tables
 * (MADV_DONTNEED: they stay in the page cache and fault back in when read again). Cheaper than
 * reopening the journal, which re-reads every file's header and re-seeks. */
#define RELEASE_ENTRIES 8192

enum err_reason { ERR_NO_MESSAGE, ERR_READ, ERR_OPEN, ERR_PUSH, ERR_N };
static const char *const err_names[ERR_N] = {"no_message", "read", "open", "push"};

struct settings {
	struct forward_list fl;
	struct arena arena;  /* owns extra's strings and path/matches */
	struct labels extra; /* the `labels` argument */
	struct relabel_rules *rules;
	const char *path, *matches;
	int64_t max_age_ns;
	bool json;
};

struct jmetrics {
	struct metric_family *fam_entries, *fam_bytes, *fam_lag, *fam_positions, *fam_errors;
	struct metric_counter *entries, *bytes, *positions, *errors[ERR_N];
	struct metric_gauge *lag;
};

struct journal_src {
	struct component *c;
	pthread_mutex_t lock; /* pending: update hands new settings to the worker, taken between batches */
	struct settings *s;   /* the worker's (before start and after stop: the component's) */
	struct settings *pending;
	pthread_t thread;
	bool started;
	_Atomic bool stopping;
	/* the pusher: push_lock guards busy/pusher_stop and the hand-over of inflight/inflight_cursor */
	pthread_mutex_t push_lock;
	pthread_cond_t push_cond;
	pthread_t push_thread;
	bool busy, pusher_stop, push_cancelled;
	struct batch *inflight;
	const struct settings *inflight_s;
	char inflight_cursor[CURSOR_MAX + 1];
	char committed[CURSOR_MAX + 1]; /* pusher-owned: last cursor committed after a durable batch */
	struct jmetrics m;
	/* worker-only state */
	sd_journal *j;
	int64_t next_open_ns;
	struct batch *b;
	struct labels_builder lb, relabeled, visible;
	struct relabel_scratch *scratch;
	const struct relabel_rules *scratch_rules;
	struct journal_buf fieldbuf, json;
	struct journal_field *fields;
	char cursor[CURSOR_MAX + 1]; /* last entry of the last batch handed to the pusher; "" = none yet */
	uint64_t since_open;
	bool opened_before; /* logs "journal opened" once per (re)open after a failure */
	bool push_failing;
	int64_t last_ts_ns;
};

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void settings_free(struct settings *s)
{
	if (!s)
		return;
	forward_list_free(&s->fl);
	relabel_rules_free(s->rules);
	arena_free(&s->arena);
	free(s);
}

static int set_error(struct component *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_error(struct component *c, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	component_set_health(c, HEALTH_UNHEALTHY, "%s", msg);
	return rc;
}

/* `job` = the component's id (as Alloy adds it), then the `labels` argument, which may override it. */
static int settings_labels(struct component *c, struct settings *s, const struct value *v)
{
	labels_empty(&s->extra);
	struct labels_builder b;
	labels_builder_init(&b);
	const char *id = component_id(c);
	int rc = labels_builder_set(&b, "job", 3, id, strlen(id));
	if (!v || v->kind != VAL_OBJECT)
		v = NULL;
	for (size_t i = 0; !rc && v && i < v->object.n; i++) {
		const struct value_field *f = &v->object.fields[i];
		if (!labels_name_valid(f->key, strlen(f->key)))
			rc = set_error(c, -EINVAL, "labels: invalid label name \"%s\"", f->key);
		else if (f->value.kind == VAL_STRING)
			rc = labels_builder_set(&b, f->key, strlen(f->key), f->value.str.s, f->value.str.len);
	}
	struct labels out;
	if (!rc && !(rc = labels_builder_finish(&b, &out)))
		rc = labels_copy(&out, &s->arena, &s->extra);
	labels_builder_free(&b);
	return rc;
}

static const char *arena_str(struct arena *a, const char *s)
{
	return arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

static int settings_new(struct component *c, const struct cfg_body *args, struct settings **out)
{
	struct settings *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	arena_init(&s->arena, 1024);
	int rc = forward_list_from(cfg_get(args, "forward_to"), &s->fl);
	if (rc) {
		set_error(c, rc, "forward_to: not a list of receivers");
		goto fail;
	}
	if ((rc = settings_labels(c, s, cfg_get(args, "labels"))))
		goto fail;
	s->rules = relabel_rules_ref(relabel_config_capsule(args, "relabel_rules"));
	s->path = arena_str(&s->arena, cfg_string(args, "path"));
	s->matches = arena_str(&s->arena, cfg_string(args, "matches"));
	rc = -ENOMEM;
	if (!s->path || !s->matches)
		goto fail;
	s->max_age_ns = cfg_duration_ns(args, "max_age", 7 * 3600 * 1000000000LL);
	s->json = cfg_bool(args, "format_as_json", false);
	*out = s;
	return 0;
fail:
	settings_free(s);
	return rc;
}

/* ---- metrics ---- */

static void metrics_init(struct journal_src *js)
{
	struct metrics_registry *reg = component_metrics(js->c);
	struct jmetrics *m = &js->m;
	const char *id = component_id(js->c);
	if (!reg)
		return;
	m->fam_entries =
		metrics_counter_family(reg, "solder_journal_entries_read_total",
				       "Journal entries read by loki.source.journal.", "component_id", METRICS_END);
	m->fam_bytes = metrics_counter_family(reg, "solder_journal_bytes_read_total",
					      "Bytes of the batches made from journal entries (lines and labels).",
					      "component_id", METRICS_END);
	m->fam_lag = metrics_gauge_family(reg, "solder_journal_lag_seconds",
					  "Now minus the realtime timestamp of the last entry read.", "component_id",
					  METRICS_END);
	m->fam_positions = metrics_counter_family(reg, "solder_journal_positions_committed_total",
						  "Journal cursors committed to the WAL after durable batches.",
						  "component_id", METRICS_END);
	m->fam_errors = metrics_counter_family(reg, "solder_journal_errors_total",
					       "Journal entries or operations that failed, by reason.", "component_id",
					       "reason", METRICS_END);
	m->entries = metrics_counter_child(m->fam_entries, id);
	m->bytes = metrics_counter_child(m->fam_bytes, id);
	m->lag = metrics_gauge_child(m->fam_lag, id);
	m->positions = metrics_counter_child(m->fam_positions, id);
	for (int i = 0; i < ERR_N; i++)
		m->errors[i] = metrics_counter_child(m->fam_errors, id, err_names[i]);
}

static void metrics_fini(struct journal_src *js)
{
	struct jmetrics *m = &js->m;
	const char *id = component_id(js->c);
	struct metric_family *fams[] = {m->fam_entries, m->fam_bytes, m->fam_lag, m->fam_positions, m->fam_errors};
	for (size_t i = 0; i < sizeof(fams) / sizeof(*fams); i++) {
		if (fams[i])
			metrics_family_remove_by_label(fams[i], "component_id", id);
		metrics_family_unregister(fams[i]);
	}
}

static void count_error(struct journal_src *js, enum err_reason r)
{
	if (js->m.errors[r])
		metric_counter_inc(js->m.errors[r]);
}

/* ---- opening and positioning ---- */

/* Adds journalctl-style matches: FIELD=value terms are ANDed, a lone "+" starts an OR group. */
static int add_matches(sd_journal *j, const char *matches)
{
	const char *p = matches;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = p;
		while (*end && *end != ' ' && *end != '\t')
			end++;
		size_t len = (size_t)(end - p);
		int rc = 0;
		if (len == 1 && *p == '+')
			rc = sd_journal_add_disjunction(j);
		else if (len)
			rc = sd_journal_add_match(j, p, len);
		if (rc < 0)
			return rc;
		p = end;
	}
	return 0;
}

/* Why a configured path cannot hold a readable journal, or 0. */
static int check_path(struct journal_src *js, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		return set_error(js->c, -ENOTDIR, "journal path %s: not a directory (errno %d)", path, ENOTDIR);
	if (stat(path, &st) < 0 || access(path, R_OK | X_OK) < 0) {
		int err = errno;
		return set_error(js->c, -err, "journal path %s: %s (errno %d)", path, strerror(err), err);
	}
	return 0;
}

/* Positions a new journal after our cursor (in memory, else the committed one), or max_age back. */
static void seek_start(struct journal_src *js, const struct settings *s)
{
	int64_t since_ns = now_ns(CLOCK_REALTIME) - s->max_age_ns;
	uint64_t since_us = since_ns > 0 ? (uint64_t)(since_ns / 1000) : 0; /* a max_age beyond 1970: all */
	struct wal *w = component_wal(js->c);
	char *cursor = js->cursor;
	size_t len = CURSOR_MAX;
	if (*cursor || (w && wal_source_position(w, component_id(js->c), cursor, &len) == 0 && len > 0)) {
		if (!*cursor)
			cursor[len] = 0;
		uint64_t ts;
		if (sd_journal_seek_cursor(js->j, cursor) >= 0 && sd_journal_next(js->j) > 0) {
			if (sd_journal_get_realtime_usec(js->j, &ts) >= 0 && ts >= since_us) {
				if (sd_journal_test_cursor(js->j, cursor) <= 0)
					sd_journal_previous(js->j); /* the cursor's entry is gone: read this one too */
				return;
			}
		} else if (sd_journal_seek_cursor(js->j, cursor) >= 0) {
			return; /* at the end: only newer entries follow */
		}
	}
	sd_journal_seek_realtime_usec(js->j, since_us);
}

static void close_journal(struct journal_src *js)
{
	if (js->j)
		sd_journal_close(js->j);
	js->j = NULL;
}

/* Opens the journal of s; unhealthy with the reason and -errno when it cannot be read. */
static int open_journal(struct journal_src *js, const struct settings *s)
{
	const char *where = *s->path ? s->path : "/var/log/journal and /run/log/journal";
	int rc;
	if (*s->path) {
		if ((rc = check_path(js, s->path)) < 0)
			return rc;
		rc = sd_journal_open_directory(&js->j, s->path, 0);
	} else {
		rc = sd_journal_open(&js->j, SD_JOURNAL_LOCAL_ONLY);
	}
	if (rc < 0) {
		js->j = NULL;
		return set_error(js->c, rc, "cannot open the journal at %s: %s (errno %d)", where, strerror(-rc), -rc);
	}
	uint64_t usage = 0;
	if (sd_journal_get_usage(js->j, &usage) < 0 || usage == 0) {
		close_journal(js);
		return set_error(js->c, -ENOENT,
				 "no readable journal files in %s (errno %d: missing or permission denied)", where,
				 ENOENT);
	}
	if ((rc = add_matches(js->j, s->matches)) < 0) {
		close_journal(js);
		return set_error(js->c, rc, "matches \"%s\": %s", s->matches, strerror(-rc));
	}
	seek_start(js, s);
	js->since_open = 0;
	if (!js->opened_before) {
		component_set_health(js->c, HEALTH_HEALTHY, "reading the journal at %s", where);
		log_info(component_id(js->c), "journal opened", "path=%s", where);
	}
	js->opened_before = true;
	return 0;
}

/* ---- reading entries ---- */

/* Copies the current entry's fields into fieldbuf (sd-journal's pointers do not outlive the next call). */
static int read_fields(struct journal_src *js, size_t *n)
{
	const void *data;
	size_t len, count = 0;
	js->fieldbuf.len = 0;
	size_t offsets[MAX_FIELDS], lens[MAX_FIELDS];
	int rc;
	sd_journal_restart_data(js->j);
	while (count < MAX_FIELDS && (rc = sd_journal_enumerate_data(js->j, &data, &len)) > 0) {
		if (js->fieldbuf.len + len > js->fieldbuf.cap) {
			size_t cap = js->fieldbuf.cap ? js->fieldbuf.cap : 4096;
			while (cap < js->fieldbuf.len + len)
				cap *= 2;
			char *p = realloc(js->fieldbuf.data, cap);
			if (!p)
				return -ENOMEM;
			js->fieldbuf.data = p;
			js->fieldbuf.cap = cap;
		}
		memcpy(js->fieldbuf.data + js->fieldbuf.len, data, len);
		offsets[count] = js->fieldbuf.len;
		lens[count++] = len;
		js->fieldbuf.len += len;
	}
	if (rc < 0 && count == 0)
		return rc;
	size_t k = 0;
	for (size_t i = 0; i < count; i++)
		if (journal_field_split(js->fieldbuf.data + offsets[i], lens[i], &js->fields[k]) == 0)
			k++;
	*n = k;
	return 0;
}

static int drop_reserved(void *ctx, const struct label *l)
{
	return labels_builder_del(ctx, l->name, l->name_len);
}

/* Labels of the entry whose fields are in js->fields: journal labels, `labels`, rules, no `__`. */
static int entry_labels(struct journal_src *js, const struct settings *s, size_t n, struct labels *out, bool *keep)
{
	int rc;
	struct labels cur;
	labels_builder_reset(&js->lb, NULL);
	if ((rc = journal_fields_labels(js->fields, n, &js->lb)) < 0)
		return rc;
	for (uint32_t i = 0; i < s->extra.n; i++) {
		const struct label *l = &s->extra.v[i];
		if ((rc = labels_builder_set_ref(&js->lb, l->name, l->name_len, l->value, l->value_len)) < 0)
			return rc;
	}
	if ((rc = labels_builder_finish(&js->lb, &cur)) < 0)
		return rc;
	*keep = true;
	if (s->rules) {
		if (js->scratch_rules != s->rules) {
			relabel_scratch_free(js->scratch);
			js->scratch = relabel_scratch_new(s->rules);
			js->scratch_rules = js->scratch ? s->rules : NULL;
			if (!js->scratch)
				return -ENOMEM;
		}
		struct labels relabeled;
		if ((rc = relabel_apply(s->rules, js->scratch, &cur, &js->relabeled, &relabeled, keep)) < 0 || !*keep)
			return rc;
		cur = relabeled;
	}
	labels_builder_reset(&js->visible, &cur);
	if ((rc = labels_builder_range_prefix(&js->visible, "__", 2, drop_reserved, &js->visible)) < 0 ||
	    (rc = labels_builder_finish(&js->visible, out)) < 0)
		return rc;
	*keep = out->n > 0;
	return 0;
}

static const struct journal_field *find_field(const struct journal_field *f, size_t n, const char *name)
{
	size_t len = strlen(name);
	const struct journal_field *found = NULL;
	for (size_t i = 0; i < n; i++)
		if (f[i].name_len == len && memcmp(f[i].name, name, len) == 0)
			found = &f[i]; /* the last one wins, as in a Go map */
	return found;
}

/* Full path: every field read (relabel rules or JSON need them). 1 added, 0 dropped, <0 error. */
static int add_entry_full(struct journal_src *js, const struct settings *s, int64_t ts_ns)
{
	size_t n;
	int rc = read_fields(js, &n);
	if (rc < 0)
		return rc;
	const char *line;
	size_t line_len;
	if (s->json) {
		if ((rc = journal_fields_json(js->fields, n, &js->json)) < 0)
			return rc;
		line = js->json.data;
		line_len = js->json.len;
	} else {
		const struct journal_field *msg = find_field(js->fields, n, "MESSAGE");
		if (!msg) {
			count_error(js, ERR_NO_MESSAGE);
			component_count_dropped(js->c, "no_message", 1, 0);
			return 0;
		}
		line = msg->value;
		line_len = msg->value_len;
	}
	struct labels ls;
	bool keep;
	if ((rc = entry_labels(js, s, n, &ls, &keep)) < 0)
		return rc;
	if (!keep) {
		component_count_dropped(js->c, "no_labels", 1, line_len);
		return 0;
	}
	if ((rc = batch_add_log(js->b, &ls, ts_ns, line, line_len, NULL)) < 0)
		return rc;
	return 1;
}

/* Fast path: MESSAGE only, labels = `labels` (interned by the caller). */
static int add_entry_fast(struct journal_src *js, const struct labels *ls, int64_t ts_ns)
{
	const void *data;
	size_t len;
	int rc = sd_journal_get_data(js->j, "MESSAGE", &data, &len);
	if (rc == -ENOENT) {
		count_error(js, ERR_NO_MESSAGE);
		component_count_dropped(js->c, "no_message", 1, 0);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!ls) {
		component_count_dropped(js->c, "no_labels", 1, len - 8);
		return 0;
	}
	if ((rc = batch_add_log(js->b, ls, ts_ns, (const char *)data + 8, len - 8, NULL)) < 0)
		return rc;
	return 1;
}

/*
 * Reads up to one batch of entries after the current position into js->b. Returns how many entries
 * were consumed (added or dropped; 0: nothing new) and the cursor of the last one in `cursor`.
 */
static int read_batch(struct journal_src *js, const struct settings *s, char **cursor)
{
	bool fast = !s->rules && !s->json;
	struct labels fast_labels, *fl = NULL;
	int rc, consumed = 0;
	if (fast && s->extra.n) {
		if ((rc = batch_intern_labels(js->b, &s->extra, &fast_labels)) < 0)
			return rc;
		fl = &fast_labels;
	}
	/* sd_journal_seek_realtime_usec is a hint across files and boots: entries older than max_age that
	 * still come (another file's older range) are skipped here, as Alloy skips them */
	int64_t oldest_ns = now_ns(CLOCK_REALTIME) - s->max_age_ns;
	while (consumed < BATCH_ENTRIES && js->b->bytes < BATCH_BYTES) {
		rc = sd_journal_next(js->j);
		if (rc < 0) {
			count_error(js, ERR_READ);
			if (!consumed)
				return rc;
			break;
		}
		if (rc == 0)
			break;
		uint64_t usec = 0;
		sd_journal_get_realtime_usec(js->j, &usec);
		int64_t ts_ns = (int64_t)usec * 1000;
		consumed++;
		if (ts_ns < oldest_ns)
			continue;
		rc = fast ? add_entry_fast(js, fl, ts_ns) : add_entry_full(js, s, ts_ns);
		if (rc < 0) {
			/* a damaged entry is skipped (counted) rather than stopping the journal for good */
			if (rc == -ENOMEM) {
				sd_journal_previous(js->j);
				consumed--;
				break;
			}
			count_error(js, ERR_READ);
		}
		js->last_ts_ns = ts_ns;
	}
	if (consumed && sd_journal_get_cursor(js->j, cursor) < 0)
		*cursor = NULL;
	return consumed;
}

/* ---- the worker ---- */

/* Drops the resident pages of every mapping of a *.journal file (see RELEASE_ENTRIES). */
static void release_journal_pages(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[1024];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];
		int path_at = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) != 3 || !path_at)
			continue;
		char *path = line + path_at, *nl = strchr(path, '\n');
		if (nl)
			*nl = 0;
		size_t n = strlen(path);
		/* only read-only shared file mappings: dropping their pages loses nothing */
		if (perms[1] != '-' || perms[3] != 's' || n < 8 || strcmp(path + n - 8, ".journal") != 0)
			continue;
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	if (f)
		fclose(f);
}

static void sleep_ns(long ns)
{
	nanosleep(&(struct timespec){ns / 1000000000L, ns % 1000000000L}, NULL);
}

/* Pushes until every receiver accepted (0) or stopping (-ECANCELED). A full WAL pauses, never drops. */
static int push_batch(struct journal_src *js, const struct settings *s, struct batch *b)
{
	for (;;) {
		int rc = forward_push(js->c, &s->fl, b, PUSH_NONBLOCK);
		if (rc == 0) {
			if (js->push_failing)
				component_set_health(js->c, HEALTH_HEALTHY,
						     "reading the journal; forward_to accepts again");
			js->push_failing = false;
			return 0;
		}
		if (atomic_load(&js->stopping))
			return -ECANCELED;
		if (rc != -EAGAIN) {
			count_error(js, ERR_PUSH);
			set_error(js->c, rc, "forward_to refused entries: %s; retrying", strerror(-rc));
			js->push_failing = true;
			sleep_ns(200 * FULL_SLEEP_NS);
		} else {
			sleep_ns(FULL_SLEEP_NS);
		}
	}
}

/* The position rides the next group commit; nobody waits for it (the data it covers is already
 * durable, so it can only lag, never lead). Takes no state: it may run after the component is gone. */
static void position_committed(void *arg, int err) {}

static void commit_cursor(struct journal_src *js, const char *cursor)
{
	struct wal *w = component_wal(js->c);
	if (!w || !cursor)
		return;
	if (wal_commit_position(w, component_id(js->c), cursor, strlen(cursor), position_committed, NULL) == 0) {
		if (js->m.positions)
			metric_counter_inc(js->m.positions);
	} else {
		count_error(js, ERR_PUSH);
	}
}

static void account(struct journal_src *js, int consumed)
{
	if (js->m.entries)
		metric_counter_add(js->m.entries, (uint64_t)consumed);
	if (js->m.bytes)
		metric_counter_add(js->m.bytes, js->b->bytes);
	if (js->m.lag)
		metric_gauge_set(js->m.lag, (double)(now_ns(CLOCK_REALTIME) - js->last_ts_ns) / 1e9);
}

/* Delivers the handed-over batch, then commits its cursor. After a cancelled push nothing later is
 * pushed or committed (it would put the cursor past the lost batch). */
static void push_inflight(struct journal_src *js)
{
	if (js->push_cancelled)
		goto out;
	if (js->inflight->n_records && push_batch(js, js->inflight_s, js->inflight) < 0) {
		js->push_cancelled = true; /* stopping: the cursor stays where the durable data ends */
		goto out;
	}
	if (*js->inflight_cursor) {
		commit_cursor(js, js->inflight_cursor);
		strcpy(js->committed, js->inflight_cursor);
	}
out:
	batch_reset(js->inflight);
}

static void *pusher(void *arg)
{
	struct journal_src *js = arg;
	pthread_mutex_lock(&js->push_lock);
	for (;;) {
		while (!js->busy && !js->pusher_stop)
			pthread_cond_wait(&js->push_cond, &js->push_lock);
		if (!js->busy)
			break;
		pthread_mutex_unlock(&js->push_lock); /* the reader fills the other batch meanwhile */
		push_inflight(js);
		pthread_mutex_lock(&js->push_lock);
		js->busy = false;
		pthread_cond_broadcast(&js->push_cond);
	}
	pthread_mutex_unlock(&js->push_lock);
	return NULL;
}

/* Waits until the pusher holds no batch (the previous one is durable, or the push was cancelled). */
static void wait_pusher(struct journal_src *js)
{
	pthread_mutex_lock(&js->push_lock);
	while (js->busy)
		pthread_cond_wait(&js->push_cond, &js->push_lock);
	pthread_mutex_unlock(&js->push_lock);
}

/* Hands js->b and its last cursor to the pusher once the previous batch is durable; swaps buffers. */
static void hand_over(struct journal_src *js, const struct settings *s, const char *cursor)
{
	pthread_mutex_lock(&js->push_lock);
	while (js->busy)
		pthread_cond_wait(&js->push_cond, &js->push_lock);
	struct batch *b = js->inflight;
	js->inflight = js->b;
	js->b = b;
	js->inflight_s = s;
	js->inflight_cursor[0] = 0;
	if (cursor && strlen(cursor) <= CURSOR_MAX)
		strcpy(js->inflight_cursor, cursor);
	js->busy = true;
	pthread_cond_broadcast(&js->push_cond);
	pthread_mutex_unlock(&js->push_lock);
}

/* One step: read a batch and hand it over, or wait for the journal. -errno when the journal must be reopened. */
static int step(struct journal_src *js, const struct settings *s)
{
	char *cursor = NULL;
	batch_reset(js->b);
	int consumed = read_batch(js, s, &cursor);
	if (consumed < 0)
		return consumed;
	if (consumed == 0) {
		if (js->m.lag)
			metric_gauge_set(js->m.lag, 0); /* caught up: an idle journal is not lag */
		int w = sd_journal_wait(js->j, WAIT_USEC);
		return w < 0 ? w : 0;
	}
	account(js, consumed);
	hand_over(js, s, cursor);
	if (cursor && strlen(cursor) <= CURSOR_MAX)
		strcpy(js->cursor, cursor);
	free(cursor);
	js->since_open += (uint64_t)consumed;
	if (js->since_open >= RELEASE_ENTRIES) {
		release_journal_pages();
		js->since_open = 0;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct journal_src *js = arg;
	while (!atomic_load(&js->stopping)) {
		pthread_mutex_lock(&js->lock);
		struct settings *next = js->pending;
		js->pending = NULL;
		pthread_mutex_unlock(&js->lock);
		if (next) {
			wait_pusher(js); /* it may still push with the old settings' forward_to */
			if (strcmp(next->path, js->s->path) || strcmp(next->matches, js->s->matches)) {
				close_journal(js); /* reopened at the committed cursor */
				js->cursor[0] = 0; /* a cursor of another journal means nothing there */
				js->opened_before = false;
			}
			settings_free(js->s);
			js->s = next;
		}
		struct settings *s = js->s;
		if (!js->j) {
			int64_t now = now_ns(CLOCK_MONOTONIC);
			if (now < js->next_open_ns) {
				sleep_ns(WAIT_USEC * 1000L);
				continue;
			}
			if (open_journal(js, s) < 0) {
				js->opened_before = false;
				count_error(js, ERR_OPEN);
				js->next_open_ns = now + RETRY_NS;
				continue;
			}
		}
		int rc = step(js, s);
		if (rc < 0) {
			count_error(js, ERR_READ);
			set_error(js->c, rc, "reading the journal failed: %s (errno %d); reopening", strerror(-rc),
				  -rc);
			close_journal(js);
			js->next_open_ns = now_ns(CLOCK_MONOTONIC) + RETRY_NS;
		}
	}
	return NULL;
}

/* ---- lifecycle ---- */

static void journal_free(struct journal_src *js)
{
	close_journal(js);
	settings_free(js->s);
	settings_free(js->pending);
	batch_free(js->b);
	batch_free(js->inflight);
	labels_builder_free(&js->lb);
	labels_builder_free(&js->relabeled);
	labels_builder_free(&js->visible);
	relabel_scratch_free(js->scratch);
	journal_buf_free(&js->fieldbuf);
	journal_buf_free(&js->json);
	free(js->fields);
	metrics_fini(js);
	pthread_mutex_destroy(&js->lock);
	pthread_mutex_destroy(&js->push_lock);
	pthread_cond_destroy(&js->push_cond);
	free(js);
}

static int journal_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct journal_src *js = calloc(1, sizeof(*js));
	if (!js)
		return -ENOMEM;
	js->c = c;
	pthread_mutex_init(&js->lock, NULL);
	pthread_mutex_init(&js->push_lock, NULL);
	pthread_cond_init(&js->push_cond, NULL);
	labels_builder_init(&js->lb);
	labels_builder_init(&js->relabeled);
	labels_builder_init(&js->visible);
	js->b = batch_new();
	js->inflight = batch_new();
	js->fields = calloc(MAX_FIELDS, sizeof(*js->fields));
	int rc = -ENOMEM;
	if (!js->b || !js->inflight || !js->fields || (rc = settings_new(c, args, &js->s)) < 0)
		goto fail;
	metrics_init(js);
	*state = js;
	return 0;
fail:
	journal_free(js);
	return rc;
}

/* Ends the pusher after its batch is durable or cancelled (stopping is set). A batch read but not
 * durable is lost here: the journal is closed so that a later start re-reads it from the committed
 * cursor instead of continuing past it. */
static void stop_pusher(struct journal_src *js)
{
	pthread_mutex_lock(&js->push_lock);
	js->pusher_stop = true;
	pthread_cond_broadcast(&js->push_cond);
	pthread_mutex_unlock(&js->push_lock);
	pthread_join(js->push_thread, NULL);
	close_journal(js);
	strcpy(js->cursor, js->committed);
}

static int journal_start(void *state)
{
	struct journal_src *js = state;
	component_set_health(js->c, HEALTH_UNKNOWN, "opening the journal");
	if (js->s->fl.n && component_wal(js->c) == NULL)
		log_warn(component_id(js->c), "no WAL: the journal cursor is not kept across restarts", NULL);
	atomic_store(&js->stopping, false);
	js->pusher_stop = js->push_cancelled = false;
	int rc = pthread_create(&js->push_thread, NULL, pusher, js);
	if (rc)
		return set_error(js->c, -rc, "cannot start the push thread: %s", strerror(rc));
	pthread_setname_np(js->push_thread, "journal-push"); /* ps/top and the bench's per-thread CPU */
	if ((rc = pthread_create(&js->thread, NULL, worker, js))) {
		stop_pusher(js);
		return set_error(js->c, -rc, "cannot start the reader thread: %s", strerror(rc));
	}
	pthread_setname_np(js->thread, "journal"); /* ps/top and the bench's per-thread CPU */
	js->started = true;
	return 0;
}

static int journal_update(void *state, const struct cfg_body *args)
{
	struct journal_src *js = state;
	struct settings *s;
	int rc = settings_new(js->c, args, &s);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&js->lock);
	if (!js->started) {
		settings_free(js->s);
		js->s = s;
	} else {
		settings_free(js->pending);
		js->pending = s;
	}
	pthread_mutex_unlock(&js->lock);
	return 0;
}

static void journal_stop(void *state, int64_t deadline_ns)
{
	struct journal_src *js = state;
	atomic_store(&js->stopping, true);
	if (js->started) {
		pthread_join(js->thread, NULL);
		stop_pusher(js);
	}
	js->started = false;
	component_set_health(js->c, HEALTH_STOPPED, "stopped");
}

static void journal_destroy(void *state)
{
	struct journal_src *js = state;
	journal_stop(js, 0);
	journal_free(js);
}

const struct component_ops loki_source_journal_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &loki_source_journal_schema,
	.create = journal_create,
	.start = journal_start,
	.update = journal_update,
	.stop = journal_stop,
	.destroy = journal_destroy,
};
