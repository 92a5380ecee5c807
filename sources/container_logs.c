/*
 * solder.source.container_logs — tails Kubernetes container logs straight from the kubelet's
 * /var/log/pods tree, with no API server: namespace, pod, pod_uid, container and restart come from
 * the path <root>/<namespace>_<pod>_<uid>/<container>/<restart>.log; CRI and docker json-file lines
 * are parsed (pipeline/logformats) and partial lines joined. Not in Alloy, so the arguments follow
 * Alloy's naming (forward_to, labels, relabel_rules, tail_from_end).
 *
 * Decisions:
 * - Discovery is inotify on the root, each pod directory and each container directory (watch first,
 *   then scan, so nothing created in between is missed). Only `<digits>.log` is followed: kubelet's
 *   rotated `N.log.<time>` is read through the fd already open on it (the tailer drains a renamed file
 *   before switching), its `.gz` copy holds the same lines, and `.tmp` files are kubelet's scratch.
 * - A deleted pod's files are drained through their open fds and then forgotten (drop_when_gone).
 * - Partial lines (CRI `P`, docker pieces without '\n') are joined per file and stream; while one is
 *   held the committed position stays at its first piece, so a restart re-reads and rejoins it.
 *   A joined line longer than max_partial_line_size is sent as it is and counted.
 * - A line that is neither CRI nor docker is sent as it is (counted), never dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/common_blocks.h"
#include "lib/log.h"
#include "pipeline/component.h"
#include "pipeline/logformats.h"
#include "pipeline/relabel.h"
#include "pipeline/stages/stage.h"
#include "sources/tail_source.h"

static const struct arg_schema args[] = {
	{"forward_to", &type_list_logs_receiver, .required = true, .doc = "Receivers to send log entries to."},
	{"path", &type_string, .def = "/var/log/pods", .doc = "Root of the kubelet's pod log tree."},
	{"format", &type_string, .def = "auto", .one_of = "auto|cri|docker",
	 .doc = "Line format; auto tells CRI and docker json-file lines apart per line."},
	{"stream", &type_string, .def = "label", .one_of = "label|structured_metadata|drop",
	 .doc = "Where the stdout/stderr stream name goes."},
	{"labels", &type_map_string, .doc = "Labels to add to every entry."},
	{"relabel_rules", &type_relabel_rules,
	 .doc = "Rules applied once per file to its labels (and __path__); a dropped file is not tailed."},
	{"tail_from_end", &type_bool, .def = "false",
	 .doc = "Start files found at start-up with no stored position at their end."},
	{"max_partial_line_size", &type_bytes, .def = "256KiB", .doc = "Longest joined partial line kept whole."},
	{"exclude_namespaces", &type_list_string, .doc = "Namespaces whose pods are not tailed."},
	{0},
};

const struct component_schema container_logs_schema = {
	.name = "solder.source.container_logs",
	.doc = "Tails Kubernetes container logs from /var/log/pods.",
	.args = {args, NULL, NULL},
	.runnable = true,
};

enum fmt { FMT_AUTO, FMT_CRI, FMT_DOCKER };
enum stream_mode { STREAM_LABEL, STREAM_METADATA, STREAM_DROP };

struct partial {
	char *buf;
	size_t len, cap;
	uint64_t start; /* offset of the first piece's line */
	int64_t ts_ns;
	bool held;
};

/* Per-file state: the label sets by stream and the partial lines being joined. */
struct cl_file {
	struct labels ls[2], md[2]; /* [stdout, stderr]: labels and structured metadata */
	struct arena arena;
	struct partial part[2];
	uint64_t last_end;
};

struct cl {
	struct component *c;
	struct tail_source *ts;
	char *root;
	enum fmt fmt;
	enum stream_mode stream;
	bool from_end, starting, destroying;
	size_t max_partial;
	struct labels_builder extra; /* the `labels` argument */
	struct relabel_rules *rules; /* a reference on what a loki.relabel exports, or NULL */
	struct arena tmp;	     /* scratch for relabelled sets */
	char **exclude;
	size_t n_exclude;
	char *scratch; /* docker unescaping */
	size_t scratch_cap;
};

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t commit_point(struct cl_file *cf, uint64_t end)
{
	for (int s = 0; s < 2; s++)
		if (cf->part[s].held && cf->part[s].start < end)
			end = cf->part[s].start;
	return end;
}

static void send(struct cl *cl, struct tail_file *f, int s, int64_t ts_ns, const char *line, size_t len, uint64_t end)
{
	struct cl_file *cf = f->priv;
	tail_source_emit(cl->ts, f, &cf->ls[s], ts_ns, line, len, &cf->md[s], commit_point(cf, end));
}

static void send_held(struct cl *cl, struct tail_file *f, int s, uint64_t end)
{
	struct partial *p = &((struct cl_file *)f->priv)->part[s];
	p->held = false;
	send(cl, f, s, p->ts_ns, p->buf, p->len, end);
	p->len = 0;
}

/* One piece of a line: held when partial, else sent (joined with what is held). */
static void piece(struct cl *cl, struct tail_file *f, int s, int64_t ts_ns, const char *text, size_t len, bool partial,
		  uint64_t start, uint64_t end)
{
	struct partial *p = &((struct cl_file *)f->priv)->part[s];
	if (!partial && !p->held) {
		send(cl, f, s, ts_ns, text, len, end);
		return;
	}
	if (!p->held) {
		p->held = true;
		p->start = start;
		p->ts_ns = ts_ns;
		p->len = 0;
	}
	size_t room = cl->max_partial > p->len ? cl->max_partial - p->len : 0;
	size_t take = len < room ? len : room;
	if (p->len + take > p->cap) {
		size_t cap = (p->len + take) * 2;
		char *nb = realloc(p->buf, cap);
		if (!nb)
			return;
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, text, take);
	p->len += take;
	if (take < len) { /* too long: what is held goes now, the rest starts a new line */
		tail_source_parse_error(cl->ts, TAIL_ERR_PARTIAL_TOO_LONG);
		send_held(cl, f, s, start);
		piece(cl, f, s, ts_ns, text + take, len - take, partial, start, end);
		return;
	}
	if (!partial)
		send_held(cl, f, s, end);
	else
		tail_source_advance(cl->ts, f, commit_point(f->priv, end));
}

static void on_line(void *arg, struct tail_file *f, const char *line, size_t len, uint64_t end, bool split)
{
	struct cl *cl = arg;
	struct cl_file *cf = f->priv;
	uint64_t start = cf->last_end;
	cf->last_end = end;
	bool docker = cl->fmt == FMT_DOCKER || (cl->fmt == FMT_AUTO && len && line[0] == '{');
	if (docker) {
		if (len > cl->scratch_cap) {
			char *nb = realloc(cl->scratch, len);
			if (!nb)
				return;
			cl->scratch = nb;
			cl->scratch_cap = len;
		}
		struct docker_line d;
		if (docker_parse_line(line, len, cl->scratch, &d) == 0) {
			piece(cl, f, d.stderr_stream, d.has_ts ? d.ts_ns : wall_ns(), cl->scratch, d.log_len, d.partial,
			      start, end);
			return;
		}
		tail_source_parse_error(cl->ts, TAIL_ERR_DOCKER);
	} else {
		struct cri_line c;
		if (cri_parse_line(line, len, &c)) {
			int64_t ts;
			if (timestamp_parse_rfc3339(c.ts, c.ts_len, &ts) < 0)
				ts = wall_ns();
			piece(cl, f, c.stderr_stream, ts, c.content, c.content_len, c.partial || split, start, end);
			return;
		}
		tail_source_parse_error(cl->ts, TAIL_ERR_CRI);
	}
	send(cl, f, 0, wall_ns(), line, len, end);
}

/* <ns>_<pod>_<uid>: names and namespaces are DNS labels (no '_'), so the split is unambiguous. */
static bool split_pod_dir(const char *name, char *ns, char *pod, char *uid, size_t cap)
{
	const char *a = strchr(name, '_'), *b = a ? strchr(a + 1, '_') : NULL;
	if (!a || !b || strchr(b + 1, '_') || a == name || b == a + 1 || !b[1])
		return false;
	if ((size_t)(a - name) >= cap || (size_t)(b - a - 1) >= cap || strlen(b + 1) >= cap)
		return false;
	snprintf(ns, cap, "%.*s", (int)(a - name), name);
	snprintf(pod, cap, "%.*s", (int)(b - a - 1), a + 1);
	snprintf(uid, cap, "%s", b + 1);
	return true;
}

static bool is_log_name(const char *name)
{
	const char *p = name;
	while (*p >= '0' && *p <= '9')
		p++;
	return p > name && strcmp(p, ".log") == 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool excluded(struct cl *cl, const char *ns)
{
	for (size_t i = 0; i < cl->n_exclude; i++)
		if (strcmp(cl->exclude[i], ns) == 0)
			return true;
	return false;
}

static int drop_reserved(void *ctx, const struct label *l)
{
	struct labels_builder *b = ctx;
	if (l->name_len >= 2 && l->name[0] == '_' && l->name[1] == '_')
		return labels_builder_del(b, l->name, l->name_len);
	return 0;
}

/* relabel_rules on one set (with __path__ visible to them), then `__` labels dropped. */
static int relabel(struct cl *cl, const struct labels *in, struct labels_builder *rb, struct labels *out, bool *keep)
{
	*keep = true;
	*out = *in;
	int rc;
	if (cl->rules && (rc = relabel_apply(cl->rules, NULL, in, rb, out, keep)) < 0)
		return rc;
	if (!*keep)
		return 0;
	struct labels_builder vis;
	labels_builder_init(&vis);
	labels_builder_reset(&vis, out);
	rc = labels_builder_range_prefix(&vis, "__", 2, drop_reserved, &vis);
	struct labels fin;
	if (rc == 0 && (rc = labels_builder_finish(&vis, &fin)) == 0)
		rc = labels_copy(&fin, &cl->tmp, out); /* out must outlive vis */
	labels_builder_free(&vis);
	return rc;
}

/* Bytes a copy of set takes: its label array and its strings (NUL-terminated). */
static size_t set_size(const struct labels *set)
{
	size_t n = set->n * sizeof(struct label);
	for (uint32_t i = 0; i < set->n; i++)
		n += set->v[i].name_len + set->v[i].value_len + 2;
	return n;
}

static bool same_str(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Copies in into a, reusing like's strings where they are equal (stdout and stderr sets differ in
 * one value at most): a file's two sets then cost one copy of the strings, not two. */
static int copy_sharing(const struct labels *in, const struct labels *like, struct arena *a, struct labels *out)
{
	struct label *v = in->n ? arena_alloc(a, in->n * sizeof(*v)) : NULL;
	if (in->n && !v)
		return -ENOMEM;
	for (uint32_t i = 0; i < in->n; i++) {
		const struct label *l = &in->v[i], *k = i < like->n ? &like->v[i] : NULL;
		v[i] = *l;
		v[i].name = k && same_str(k->name, k->name_len, l->name, l->name_len)
				    ? k->name
				    : arena_strndup(a, l->name, l->name_len);
		v[i].value = k && same_str(k->value, k->value_len, l->value, l->value_len)
				     ? k->value
				     : arena_strndup(a, l->value, l->value_len);
		if (!v[i].name || !v[i].value)
			return -ENOMEM;
	}
	*out = (struct labels){v, in->n, in->hash};
	return 0;
}

/* The stdout and stderr label sets of a file; *keep false when relabel_rules drop it. The file's
 * arena is sized from the first set so both usually fit one allocation (memory per followed file
 * is what 5,000 files multiply). */
static int build_sets(struct cl *cl, struct cl_file *cf, const char *const kv[12], bool *keep)
{
	static const char *const streams[2] = {"stdout", "stderr"};
	struct labels_builder b, rb;
	labels_builder_init(&b);
	labels_builder_init(&rb);
	int rc = 0;
	*keep = true;
	for (int s = 0; s < 2 && rc == 0 && *keep; s++) {
		struct labels base, out, fin;
		labels_empty(&base);
		if ((rc = labels_builder_finish(&cl->extra, &base)) < 0)
			break;
		labels_builder_reset(&b, &base);
		for (int i = 0; i < 12 && rc == 0; i += 2)
			rc = labels_builder_set(&b, kv[i], strlen(kv[i]), kv[i + 1], strlen(kv[i + 1]));
		if (rc == 0 && cl->stream == STREAM_LABEL)
			rc = labels_builder_set(&b, "stream", 6, streams[s], 6);
		if (rc == 0 && (rc = labels_builder_finish(&b, &out)) == 0 &&
		    (rc = relabel(cl, &out, &rb, &fin, keep)) == 0 && *keep) {
			if (s == 0) {
				size_t arr = fin.n * sizeof(struct label), want = set_size(&fin) + arr + 64;
				arena_set_chunk_size(&cf->arena, want > 4 * arr ? want : 4 * arr);
			}
			rc = copy_sharing(&fin, &cf->ls[0], &cf->arena, &cf->ls[s]);
		}
		arena_reset(&cl->tmp);
		labels_empty(&cf->md[s]);
		if (rc == 0 && cl->stream == STREAM_METADATA) {
			labels_builder_reset(&b, NULL);
			if ((rc = labels_builder_set(&b, "stream", 6, streams[s], 6)) == 0 &&
			    (rc = labels_builder_finish(&b, &out)) == 0)
				rc = labels_copy(&out, &cf->arena, &cf->md[s]);
		}
	}
	labels_builder_free(&b);
	labels_builder_free(&rb);
	return rc;
}

/*
 * A live file with no stored position, found at start-up by an agent that ran before: kubelet may
 * have created and rotated it while solder was down. Its rotated siblings (plain or compressed) last
 * written after solder's last commit are read first, oldest first.
 *
 * "Last commit" is when positions were committed, not when the worker had seen every directory event
 * that came before: under load a new pod's first file can be written, rotated and then missed by an
 * agent killed before it drained inotify (a 1,000-cycle SIGKILL loop lost the first two lines of one
 * container that way with a 2 s margin). The margin is therefore generous: a sibling read again is a
 * duplicate after a crash, one never read is a loss.
 */
#define MISSED_SLACK_S 120
static void queue_missed(struct cl *cl, struct tail_file *f, const char *cdir, const char *name)
{
	DIR *d = opendir(cdir);
	char *names[16];
	size_t n = 0, nlen = strlen(name);
	struct dirent *de;
	int64_t since_s = tail_source_last_alive(cl->ts) / 1000000000LL - MISSED_SLACK_S;
	while (d && (de = readdir(d)) && n < 16) {
		char p[PATH_MAX];
		struct stat st;
		if (strncmp(de->d_name, name, nlen) || de->d_name[nlen] != '.' || strstr(de->d_name, ".tmp") ||
		    snprintf(p, sizeof(p), "%s/%s", cdir, de->d_name) >= (int)sizeof(p) || stat(p, &st) < 0 ||
		    st.st_mtime < since_s)
			continue;
		if ((names[n] = strdup(p)))
			n++;
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n; i++) {
		tail_source_rotated(cl->ts, f, names[i]);
		free(names[i]);
	}
}

/* Starts following <root>/<pod dir>/<container>/<name>. */
static void add_log(struct cl *cl, const char *cdir, const char *name)
{
	char path[PATH_MAX], key[PATH_MAX + 256], ns[256], pod[256], uid[256], container[256], restart[64];
	if (!is_log_name(name) || snprintf(path, sizeof(path), "%s/%s", cdir, name) >= (int)sizeof(path))
		return;
	if (tail_source_find(cl->ts, path))
		return;
	/* cdir = <root>/<pod dir>/<container> */
	const char *rel = cdir + strlen(cl->root) + 1, *slash = strchr(rel, '/');
	char poddir[512];
	if (!slash || (size_t)(slash - rel) >= sizeof(poddir))
		return;
	snprintf(poddir, sizeof(poddir), "%.*s", (int)(slash - rel), rel);
	snprintf(container, sizeof(container), "%s", slash + 1);
	snprintf(restart, sizeof(restart), "%.*s", (int)(strlen(name) - 4), name);
	if (!split_pod_dir(poddir, ns, pod, uid, sizeof(ns)) || excluded(cl, ns))
		return;
	struct cl_file *cf = calloc(1, sizeof(*cf));
	if (!cf)
		return;
	arena_init(&cf->arena, 512);
	struct labels none;
	labels_empty(&none);
	snprintf(key, sizeof(key), "%s:%s", component_id(cl->c), path);
	const char *kv[12] = {"namespace", ns,	      "pod",	 pod,	  "pod_uid",  uid,
			      "container", container, "restart", restart, "__path__", path};
	bool keep;
	int rc = build_sets(cl, cf, kv, &keep);
	if (rc == 0 && !keep) { /* relabel_rules dropped it */
		arena_free(&cf->arena);
		free(cf);
		return;
	}
	struct tail_file *f = NULL;
	if (rc == 0)
		rc = tail_source_add(cl->ts, path, key, &none, cl->from_end && cl->starting, true, cf, &f);
	if (rc == 0 && cl->starting && !f->resumed && tail_source_last_alive(cl->ts))
		queue_missed(cl, f, cdir, name);
	if (rc < 0) {
		if (rc != -EEXIST)
			log_warn("container_logs", "cannot follow file", "path=%s err=%s", path, strerror(-rc));
		arena_free(&cf->arena);
		free(cf);
	}
}

/* Watches dir, then scans it: depth 0 = root, 1 = pod directory, 2 = container directory. */
static void scan(struct cl *cl, const char *dir, int depth)
{
	if (depth == 1) {
		char ns[256], pod[256], uid[256];
		const char *name = strrchr(dir, '/') + 1;
		if (!split_pod_dir(name, ns, pod, uid, sizeof(ns)) || excluded(cl, ns))
			return;
	}
	if (tail_source_watch_dir(cl->ts, dir) < 0)
		return;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= (int)sizeof(sub))
			continue;
		if (depth < 2 && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN))
			scan(cl, sub, depth + 1);
		else if (depth == 2)
			add_log(cl, dir, de->d_name);
	}
	if (d)
		closedir(d);
}

static int depth_of(struct cl *cl, const char *dir)
{
	size_t rl = strlen(cl->root);
	if (strncmp(dir, cl->root, rl) || (dir[rl] && dir[rl] != '/'))
		return -1;
	int depth = 0;
	for (const char *p = dir + rl; *p; p++)
		depth += *p == '/';
	return depth;
}

/* N.log.<time> appeared by rename: kubelet rotated N.log; make sure that file gets read. */
static void rotated(struct cl *cl, const char *dir, const char *name)
{
	const char *dot = strstr(name, ".log.");
	size_t n = dot ? (size_t)(dot - name) + 4 : 0;
	if (!dot || strstr(name, ".gz") || strstr(name, ".tmp"))
		return;
	char live[PATH_MAX], rot[PATH_MAX];
	snprintf(live, sizeof(live), "%s/%.*s", dir, (int)n, name);
	snprintf(rot, sizeof(rot), "%s/%s", dir, name);
	struct tail_file *f = tail_source_find(cl->ts, live);
	if (f)
		tail_source_rotated(cl->ts, f, rot);
}

static void on_dir_event(void *arg, const char *dir, const char *name, uint32_t mask)
{
	struct cl *cl = arg;
	if (!*name || !(mask & (IN_CREATE | IN_MOVED_TO)))
		return;
	int depth = depth_of(cl, dir);
	char sub[PATH_MAX];
	if (depth < 0 || snprintf(sub, sizeof(sub), "%s/%s", dir, name) >= (int)sizeof(sub))
		return;
	if (depth < 2 && (mask & IN_ISDIR))
		scan(cl, sub, depth + 1);
	else if (depth == 2 && is_log_name(name))
		add_log(cl, dir, name);
	else if (depth == 2 && (mask & IN_MOVED_TO))
		rotated(cl, dir, name);
}

/* Offsets restart in the new file: a partial line held from the old one commits from 0. */
static void on_switched(void *arg, struct tail_file *f)
{
	struct cl_file *cf = f->priv;
	cf->last_end = 0;
	for (int s = 0; s < 2; s++)
		cf->part[s].start = 0;
}

static void on_gone(void *arg, struct tail_file *f)
{
	struct cl *cl = arg;
	struct cl_file *cf = f->priv;
	for (int s = 0; s < 2; s++) {
		if (cf->part[s].held && f->tf &&
		    !cl->destroying) /* the file ended inside a partial line: send what there is */
			send_held(cl, f, s, cf->last_end);
		free(cf->part[s].buf);
	}
	arena_free(&cf->arena);
	free(cf);
}

static void cl_free(struct cl *cl)
{
	cl->destroying = true;
	tail_source_free(cl->ts);
	labels_builder_free(&cl->extra);
	relabel_rules_free(cl->rules);
	arena_free(&cl->tmp);
	for (size_t i = 0; i < cl->n_exclude; i++)
		free(cl->exclude[i]);
	free(cl->exclude);
	free(cl->root);
	free(cl->scratch);
	free(cl);
}

static int cl_configure(struct cl *cl, const struct cfg_body *args)
{
	const char *fmt = cfg_string(args, "format"), *stream = cfg_string(args, "stream");
	cl->fmt = fmt && !strcmp(fmt, "cri") ? FMT_CRI : fmt && !strcmp(fmt, "docker") ? FMT_DOCKER : FMT_AUTO;
	cl->stream = stream && !strcmp(stream, "structured_metadata") ? STREAM_METADATA
		     : stream && !strcmp(stream, "drop")	      ? STREAM_DROP
								      : STREAM_LABEL;
	cl->from_end = cfg_bool(args, "tail_from_end", false);
	cl->max_partial = cfg_bytes(args, "max_partial_line_size", 256u << 10);
	if (!cl->max_partial)
		cl->max_partial = 256u << 10;
	const char *root = cfg_string(args, "path");
	if (!(cl->root = strdup(root ? root : "/var/log/pods")))
		return -ENOMEM;
	size_t rl = strlen(cl->root);
	while (rl > 1 && cl->root[rl - 1] == '/')
		cl->root[--rl] = 0;
	labels_builder_init(&cl->extra);
	arena_init(&cl->tmp, 1024);
	const struct value *rv = cfg_get(args, "relabel_rules");
	if (rv && rv->kind == VAL_CAPSULE && rv->capsule.type == &type_relabel_rules)
		cl->rules = relabel_rules_ref(rv->capsule.ptr);
	const struct value *lv = cfg_get(args, "labels");
	for (size_t i = 0; lv && lv->kind == VAL_OBJECT && i < lv->object.n; i++) {
		const struct value_field *fl = &lv->object.fields[i];
		if (fl->value.kind == VAL_STRING)
			labels_builder_set(&cl->extra, fl->key, strlen(fl->key), fl->value.str.s, fl->value.str.len);
	}
	const struct value *ex = cfg_get(args, "exclude_namespaces");
	size_t n = ex && ex->kind == VAL_ARRAY ? ex->array.n : 0;
	if (n && !(cl->exclude = calloc(n, sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (ex->array.items[i].kind == VAL_STRING &&
		    (cl->exclude[cl->n_exclude] = strdup(ex->array.items[i].str.s)))
			cl->n_exclude++;
	return 0;
}

static int cl_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct cl *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->c = c;
	int rc = cl_configure(cl, args);
	struct tail_source_cfg tc = {.metrics_prefix = "container_logs",
				     .max_line = 256u << 10,
				     .poll_ns = 1000000000LL,
				     .line = on_line,
				     .dir_event = on_dir_event,
				     .gone = on_gone,
				     .switched = on_switched,
				     .arg = cl};
	if (rc == 0)
		rc = tail_source_new(c, &tc, &cl->ts);
	if (rc == 0)
		rc = tail_source_set_forward(cl->ts, cfg_get(args, "forward_to"));
	if (rc < 0) {
		cl_free(cl);
		return rc;
	}
	*state = cl;
	return 0;
}

static int cl_start(void *state)
{
	struct cl *cl = state;
	tail_source_lock(cl->ts);
	cl->starting = true;
	scan(cl, cl->root, 0);
	cl->starting = false;
	tail_source_unlock(cl->ts);
	int rc = tail_source_start(cl->ts);
	if (rc == 0 && access(cl->root, R_OK | X_OK) != 0)
		component_set_health(cl->c, HEALTH_UNHEALTHY, "cannot read %s: %s", cl->root, strerror(errno));
	return rc;
}

static void cl_stop(void *state, int64_t deadline_ns)
{
	struct cl *cl = state;
	tail_source_stop(cl->ts);
}

static void cl_destroy(void *state)
{
	cl_free(state);
}

const struct component_ops container_logs_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &container_logs_schema,
	.create = cl_create,
	.start = cl_start,
	.stop = cl_stop,
	.destroy = cl_destroy,
};
