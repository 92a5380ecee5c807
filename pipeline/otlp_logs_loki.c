/*
 * otlp_logs_loki — OTLP log records into Loki entries (the mapping is described in the header).
 *
 * The request is checked with otlp_validate first (so a malformed one is refused before anything is
 * appended, with a reason), then unpacked by protobuf-c and walked resource → scope → record. Strings
 * rendered for a resource (its stream labels and metadata) and its scopes live in one scratch arena
 * reset per resource; strings of one record in another reset per record, so scratch memory is bounded
 * by the largest resource, not the request. Label sets and lines are interned into the output batch.
 *
 * Value rendering copies Go where Loki leans on it: pdata's Value.AsString, encoding/json for maps and
 * arrays (keys sorted bytewise, the last of duplicate keys kept as a Go map would, <>& and U+2028/9
 * escaped, invalid UTF-8 as \ufffd; NaN or ±Inf inside makes json.Marshal fail, so the text is empty),
 * and strconv's shortest float formatting (found here as the fewest printf digits that read back to
 * the same double).
 */
#include "pipeline/otlp_logs_loki.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/otlp.h"
#include "lib/proto/otlp/logs_service.pb-c.h"
#include "pipeline/arena.h"
#include "pipeline/labels.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord LogRecord;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest LogsRequest;

#define V(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/* Loki's default otlp_config: resource attributes stored as index labels (otlp_config.go). */
static const char *const index_attributes[] = {
	"service.name",	       "service.namespace",	  "service.instance.id", "deployment.environment",
	"cloud.region",	       "cloud.availability_zone", "k8s.cluster.name",	 "k8s.namespace.name",
	"k8s.pod.name",	       "k8s.container.name",	  "container.name",	 "k8s.replicaset.name",
	"k8s.deployment.name", "k8s.statefulset.name",	  "k8s.daemonset.name",	 "k8s.cronjob.name",
	"k8s.job.name",
};

/* Loki's default -validation.discover-service-name list. */
static const char *const discover_service_name[] = {
	"service",
	"app",
	"application",
	"app_name",
	"name",
	"app_kubernetes_io_name",
	"container",
	"container_name",
	"k8s_container_name",
	"component",
	"workload",
	"job",
	"k8s_job_name",
};

#define SERVICE_UNKNOWN "unknown_service"

static bool in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && !memcmp(list[i], s, len))
			return true;
	return false;
}

/* ---- a growable text buffer ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_put(struct sbuf *sb, const void *s, size_t n)
{
	if (!n)
		return 0;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		while (cap < sb->len + n + 1)
			cap *= 2;
		char *p = realloc(sb->p, cap);
		if (!p)
			return -ENOMEM;
		sb->p = p;
		sb->cap = cap;
	}
	memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
	return 0;
}

static int sb_puts(struct sbuf *sb, const char *s)
{
	return sb_put(sb, s, strlen(s));
}
static int sb_putc(struct sbuf *sb, char c)
{
	return sb_put(sb, &c, 1);
}

/* Decimal text of v into buf (>= 21 bytes), without printf: it runs several times per record. */
static size_t fmt_i64(char *buf, int64_t v)
{
	char tmp[24];
	size_t n = 0, o = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		buf[o++] = '-';
	while (n)
		buf[o++] = tmp[--n];
	return o;
}

/* ---- UTF-8 and names ---- */

/* Length of the valid UTF-8 sequence at s (Go's decoding: no overlongs, surrogates or > U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, v = c & 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, v = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The sanitised character for the rune at s[*i] (a rune outside [a-zA-Z0-9_] is one '_'); advances *i. */
static char sanitized(const unsigned char *s, size_t len, size_t *i)
{
	uint32_t cp;
	size_t n = s[*i] < 0x80 ? 1 : utf8_seq(s + *i, len - *i, &cp);
	char c = n == 1 && name_char(s[*i]) ? (char)s[*i] : '_';
	*i += n ? n : 1; /* an invalid byte is a rune of its own, as Go's regexp sees it */
	return c;
}

size_t otlp_logs_loki_label_name(const char *name, size_t len, char *buf, size_t cap)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0, out = 0;
	char c0 = len ? sanitized(s, len, &i) : 0, c1 = i < len ? sanitized(s, len, &i) : 0;
	const char *prefix = c0 >= '0' && c0 <= '9' ? "key_" : c0 == '_' && c1 != '_' ? "key" : "";
	for (; prefix[out]; out++)
		if (out < cap)
			buf[out] = prefix[out];
	for (i = 0; i < len;) {
		char c = sanitized(s, len, &i);
		if (out < cap)
			buf[out] = c;
		out++;
	}
	return out;
}

/* ---- pdata's Value.AsString ---- */

/* Go's strconv.AppendFloat(v, 'f' or 'e', -1, 64) as encoding/json picks it; v finite. */
static int put_go_float(struct sbuf *sb, double v)
{
	if (v == 0)
		return sb_puts(sb, signbit(v) ? "-0" : "0");
	char e[40], digits[24];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	const char *p = e + (e[0] == '-');
	int nd = 0;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	int x = atoi(p + 1); /* v = d.ddd × 10^x */
	char out[400];
	size_t o = 0;
	if (v < 0)
		out[o++] = '-';
	double a = fabs(v);
	if (a < 1e-6 || a >= 1e21) {
		out[o++] = digits[0];
		if (nd > 1)
			out[o++] = '.';
		for (int i = 1; i < nd; i++)
			out[o++] = digits[i];
		o += (size_t)snprintf(out + o, sizeof(out) - o, "e%+d", x);
	} else if (x >= 0) {
		for (int i = 0; i <= x; i++)
			out[o++] = i < nd ? digits[i] : '0';
		if (nd > x + 1)
			out[o++] = '.';
		for (int i = x + 1; i < nd; i++)
			out[o++] = digits[i];
	} else {
		out[o++] = '0';
		out[o++] = '.';
		for (int i = 0; i < -x - 1; i++)
			out[o++] = '0';
		for (int i = 0; i < nd; i++)
			out[o++] = digits[i];
	}
	return sb_put(sb, out, o);
}

static int put_base64(struct sbuf *sb, const uint8_t *d, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w =
			(uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
		char q[4] = {tab[w >> 18], tab[(w >> 12) & 63], i + 1 < n ? tab[(w >> 6) & 63] : '=',
			     i + 2 < n ? tab[w & 63] : '='};
		if (sb_put(sb, q, 4))
			return -ENOMEM;
	}
	return 0;
}

/* A JSON string as Go's encoding/json writes it (HTML-safe). */
static int json_string(struct sbuf *sb, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	int rc = sb_putc(sb, '"');
	for (size_t i = 0; i < n && !rc;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				rc = sb_putc(sb, (char)c);
				continue;
			}
			char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			const char *short_esc = c == '"'    ? "\\\""
						: c == '\\' ? "\\\\"
						: c == '\b' ? "\\b"
						: c == '\f' ? "\\f"
						: c == '\n' ? "\\n"
						: c == '\r' ? "\\r"
						: c == '\t' ? "\\t"
							    : NULL;
			rc = sb_puts(sb, short_esc ? short_esc : esc);
			continue;
		}
		uint32_t cp;
		size_t len = utf8_seq(s + i, n - i, &cp);
		if (!len) {
			rc = sb_puts(sb, "\\ufffd");
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			rc = sb_puts(sb, cp == 0x2028 ? "\\u2028" : "\\u2029");
			i += len;
		} else {
			rc = sb_put(sb, s + i, len);
			i += len;
		}
	}
	return rc ? rc : sb_putc(sb, '"');
}

static int json_value(struct sbuf *sb, const AnyValue *v);

struct key_ref {
	const char *key;
	size_t pos;
	const AnyValue *value;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* A Go map[string]any: keys sorted, the last of equal keys wins. -EDOM when a NaN/Inf is inside. */
static int json_map(struct sbuf *sb, KeyValue **kv, size_t n)
{
	struct key_ref *keys = n ? malloc(n * sizeof(*keys)) : NULL;
	if (n && !keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct key_ref){kv[i]->key ? kv[i]->key : "", i, kv[i]->value};
	if (n)
		qsort(keys, n, sizeof(*keys), key_cmp);
	int rc = sb_putc(sb, '{');
	bool first = true;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i + 1 < n && !strcmp(keys[i].key, keys[i + 1].key))
			continue;
		if (!first)
			rc = sb_putc(sb, ',');
		first = false;
		if (!rc)
			rc = json_string(sb, keys[i].key);
		if (!rc)
			rc = sb_putc(sb, ':');
		if (!rc)
			rc = json_value(sb, keys[i].value);
	}
	free(keys);
	return rc ? rc : sb_putc(sb, '}');
}

/* One value of Value.AsRaw() through encoding/json. */
static int json_value(struct sbuf *sb, const AnyValue *v)
{
	char num[32];
	switch (v ? v->value_case : V(_NOT_SET)) {
	case V(STRING_VALUE):
		return json_string(sb, v->string_value ? v->string_value : "");
	case V(BOOL_VALUE):
		return sb_puts(sb, v->bool_value ? "true" : "false");
	case V(INT_VALUE):
		return sb_put(sb, num, fmt_i64(num, v->int_value));
	case V(DOUBLE_VALUE):
		return isfinite(v->double_value) ? put_go_float(sb, v->double_value) : -EDOM;
	case V(BYTES_VALUE):
		if (!v->bytes_value.len) /* pdata copies an empty slice to a nil one */
			return sb_puts(sb, "null");
		if (sb_putc(sb, '"') || put_base64(sb, v->bytes_value.data, v->bytes_value.len))
			return -ENOMEM;
		return sb_putc(sb, '"');
	case V(ARRAY_VALUE): {
		int rc = sb_putc(sb, '[');
		size_t n = v->array_value ? v->array_value->n_values : 0;
		for (size_t i = 0; i < n && !rc; i++) {
			if (i)
				rc = sb_putc(sb, ',');
			if (!rc)
				rc = json_value(sb, v->array_value->values[i]);
		}
		return rc ? rc : sb_putc(sb, ']');
	}
	case V(KVLIST_VALUE):
		return v->kvlist_value ? json_map(sb, v->kvlist_value->values, v->kvlist_value->n_values)
				       : sb_puts(sb, "{}");
	default:
		return sb_puts(sb, "null");
	}
}

/* Appends pdata's Value.AsString() of v to sb. */
static int as_string(struct sbuf *sb, const AnyValue *v)
{
	size_t start = sb->len;
	int rc;
	switch (v ? v->value_case : V(_NOT_SET)) {
	case V(STRING_VALUE):
		return sb_puts(sb, v->string_value ? v->string_value : "");
	case V(DOUBLE_VALUE):
		if (isfinite(v->double_value))
			return put_go_float(sb, v->double_value);
		return sb_puts(sb, isnan(v->double_value) ? "json: unsupported value: NaN"
				   : v->double_value > 0  ? "json: unsupported value: +Inf"
							  : "json: unsupported value: -Inf");
	case V(BYTES_VALUE):
		return put_base64(sb, v->bytes_value.data, v->bytes_value.len);
	case V(ARRAY_VALUE):
	case V(KVLIST_VALUE):
		rc = json_value(sb, v);
		if (rc == -EDOM) { /* json.Marshal failed: AsString gives "" */
			sb->len = start;
			return 0;
		}
		return rc;
	case V(BOOL_VALUE):
	case V(INT_VALUE):
		return json_value(sb, v);
	default:
		return 0;
	}
}

/* ---- attributes into (name, value) lists ---- */

struct kv {
	const char *name, *value;
	size_t name_len, value_len;
};

struct kvlist {
	struct kv *v;
	size_t n, cap;
};

struct conv {
	struct batch *out;
	int64_t now_ns;
	struct arena res_arena; /* strings of the current resource and its scopes */
	struct arena rec_arena; /* strings of the current record */
	struct sbuf tmp;
	struct kvlist index, res_md, scope_md, rec_md;
	struct labels_builder lb;
	struct otlp_logs_loki_counts counts;
};

static int kvlist_add(struct kvlist *l, const char *name, size_t name_len, const char *value, size_t value_len)
{
	if (!name_len || !value_len || name_len > LABELS_MAX_STRING || value_len > LABELS_MAX_STRING)
		return 0; /* a label set holds no empty names or values */
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct kv *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct kv){name, value, name_len, value_len};
	return 0;
}

/* A copy of text in a, NUL-terminated; NULL on ENOMEM. */
static const char *keep(struct arena *a, const char *text, size_t len)
{
	return arena_strndup(a, text, len);
}

/* Loki's attributeToLabels: one (name, value), or one per leaf of a map-valued attribute. */
static int flatten(struct conv *cv, struct arena *a, struct kvlist *l, const char *prefix, size_t prefix_len,
		   const KeyValue *kv)
{
	const char *key = kv->key ? kv->key : "";
	cv->tmp.len = 0;
	if ((prefix_len && (sb_put(&cv->tmp, prefix, prefix_len) || sb_putc(&cv->tmp, '_'))) || sb_puts(&cv->tmp, key))
		return -ENOMEM;
	size_t name_len = otlp_logs_loki_label_name(cv->tmp.p, cv->tmp.len, NULL, 0);
	char *name = arena_alloc_bytes(a, name_len + 1);
	if (!name)
		return -ENOMEM;
	otlp_logs_loki_label_name(cv->tmp.p, cv->tmp.len, name, name_len);
	name[name_len] = '\0';
	const AnyValue *v = kv->value;
	if (v && v->value_case == V(KVLIST_VALUE) && v->kvlist_value) {
		for (size_t i = 0; i < v->kvlist_value->n_values; i++) {
			int rc = flatten(cv, a, l, name, name_len, v->kvlist_value->values[i]);
			if (rc)
				return rc;
		}
		return 0;
	}
	cv->tmp.len = 0;
	if (as_string(&cv->tmp, v))
		return -ENOMEM;
	if (!cv->tmp.len)
		return 0;
	const char *value = keep(a, cv->tmp.p, cv->tmp.len);
	return value ? kvlist_add(l, name, name_len, value, cv->tmp.len) : -ENOMEM;
}

static int flatten_all(struct conv *cv, struct arena *a, struct kvlist *l, KeyValue **kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = flatten(cv, a, l, NULL, 0, kv[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Appends name = the decimal v, the text kept in a. */
static int add_int(struct kvlist *l, struct arena *a, const char *name, int64_t v)
{
	char buf[24];
	size_t n = fmt_i64(buf, v);
	const char *text = keep(a, buf, n);
	return text ? kvlist_add(l, name, strlen(name), text, n) : -ENOMEM;
}

static int add_hex(struct kvlist *l, struct arena *a, const char *name, ProtobufCBinaryData id, size_t want)
{
	bool zero = true;
	for (size_t i = 0; i < id.len; i++)
		zero &= id.data[i] == 0;
	if (id.len != want || zero)
		return 0;
	char *hex = arena_alloc_bytes(a, 2 * want + 1);
	if (!hex)
		return -ENOMEM;
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < want; i++) {
		hex[2 * i] = digits[id.data[i] >> 4];
		hex[2 * i + 1] = digits[id.data[i] & 15];
	}
	hex[2 * want] = '\0';
	return kvlist_add(l, name, strlen(name), hex, 2 * want);
}

/* ---- the walk ---- */

static int set_all(struct labels_builder *lb, const struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		int rc = labels_builder_set_ref(lb, l->v[i].name, l->v[i].name_len, l->v[i].value, l->v[i].value_len);
		if (rc)
			return rc;
	}
	return 0;
}

/* The record's own structured metadata, in Loki's order. */
static int record_metadata(struct conv *cv, const LogRecord *lr)
{
	struct arena *a = &cv->rec_arena;
	struct kvlist *l = &cv->rec_md;
	int rc = flatten_all(cv, a, l, lr->attributes, lr->n_attributes);
	if (!rc && lr->time_unix_nano && lr->observed_time_unix_nano)
		rc = add_int(l, a, "observed_timestamp", (int64_t)lr->observed_time_unix_nano);
	if (!rc && lr->severity_number)
		rc = add_int(l, a, "severity_number", (int)lr->severity_number);
	if (!rc && lr->severity_text && lr->severity_text[0])
		rc = kvlist_add(l, "severity_text", 13, lr->severity_text, strlen(lr->severity_text));
	if (!rc && lr->dropped_attributes_count)
		rc = add_int(l, a, "dropped_attributes_count", lr->dropped_attributes_count);
	if (!rc && lr->flags)
		rc = add_int(l, a, "flags", lr->flags);
	if (!rc)
		rc = add_hex(l, a, "trace_id", lr->trace_id, 16);
	if (!rc)
		rc = add_hex(l, a, "span_id", lr->span_id, 8);
	return rc;
}

static int convert_record(struct conv *cv, const LogRecord *lr, const struct labels *stream)
{
	arena_reset(&cv->rec_arena);
	cv->rec_md.n = 0;
	int rc = record_metadata(cv, lr);
	labels_builder_reset(&cv->lb, NULL);
	if (!rc)
		rc = set_all(&cv->lb, &cv->rec_md);
	if (!rc)
		rc = set_all(&cv->lb, &cv->res_md);
	if (!rc)
		rc = set_all(&cv->lb, &cv->scope_md);
	struct labels md;
	if (!rc)
		rc = labels_builder_finish(&cv->lb, &md);
	cv->tmp.len = 0;
	if (!rc)
		rc = as_string(&cv->tmp, lr->body);
	if (rc)
		return rc;
	if (cv->tmp.len > BATCH_MAX_STRING) {
		cv->counts.skipped++;
		return 0;
	}
	int64_t ts = lr->time_unix_nano		   ? (int64_t)lr->time_unix_nano
		     : lr->observed_time_unix_nano ? (int64_t)lr->observed_time_unix_nano
						   : cv->now_ns;
	rc = batch_add_log(cv->out, stream, ts, cv->tmp.p ? cv->tmp.p : "", cv->tmp.len, &md);
	if (!rc)
		cv->counts.entries++;
	return rc;
}

static int convert_scope(struct conv *cv, const ScopeLogs *sl, const struct labels *stream)
{
	struct arena *a = &cv->res_arena;
	struct kvlist *l = &cv->scope_md;
	const Opentelemetry__Proto__Common__V1__InstrumentationScope *s = sl->scope;
	l->n = 0;
	int rc = 0;
	if (s) {
		rc = flatten_all(cv, a, l, s->attributes, s->n_attributes);
		if (!rc && s->name && s->name[0])
			rc = kvlist_add(l, "scope_name", 10, s->name, strlen(s->name));
		if (!rc && s->version && s->version[0])
			rc = kvlist_add(l, "scope_version", 13, s->version, strlen(s->version));
		if (!rc && s->dropped_attributes_count)
			rc = add_int(l, a, "scope_dropped_attributes_count", s->dropped_attributes_count);
	}
	for (size_t i = 0; i < sl->n_log_records && !rc; i++)
		rc = convert_record(cv, sl->log_records[i], stream);
	return rc;
}

/* Whether service.name (its first occurrence, as pdata's Map.Get finds it) renders non-empty. */
static bool has_service_name(struct conv *cv, KeyValue **kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!kv[i]->key || strcmp(kv[i]->key, "service.name"))
			continue;
		cv->tmp.len = 0;
		return as_string(&cv->tmp, kv[i]->value) == 0 && cv->tmp.len > 0;
	}
	return false;
}

/*
 * Stream label values must be valid UTF-8 (Loki refuses the whole stream, and a Loki push parses its
 * labels as text): each invalid byte becomes U+FFFD, as Go's range over a string decodes it.
 */
static int valid_utf8_values(struct arena *a, struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const unsigned char *s = (const unsigned char *)l->v[i].value;
		size_t n = l->v[i].value_len, bad = 0, o = 0;
		uint32_t cp;
		for (size_t j = 0, k; j < n; j += k ? k : 1)
			bad += !(k = utf8_seq(s + j, n - j, &cp));
		if (!bad)
			continue;
		char *out = arena_alloc_bytes(a, n + 2 * bad + 1);
		if (!out)
			return -ENOMEM;
		for (size_t j = 0, k; j < n; j += k ? k : 1) {
			if ((k = utf8_seq(s + j, n - j, &cp)))
				memcpy(out + o, s + j, k), o += k;
			else
				memcpy(out + o, "\xef\xbf\xbd", 3), o += 3;
		}
		out[o] = '\0';
		l->v[i].value = out;
		l->v[i].value_len = o;
	}
	return 0;
}

/* The stream labels of a resource, interned in the output batch. */
static int stream_labels(struct conv *cv, bool has_service, struct labels *stream)
{
	labels_builder_reset(&cv->lb, NULL);
	for (size_t i = 0; i < cv->index.n; i++) {
		const struct kv *l = &cv->index.v[i];
		int rc = labels_builder_set_ref(&cv->lb, l->name, l->name_len, l->value, l->value_len);
		if (!rc && !has_service &&
		    in_list(discover_service_name, sizeof(discover_service_name) / sizeof(*discover_service_name),
			    l->name, l->name_len)) {
			rc = labels_builder_set_ref(&cv->lb, "service_name", 12, l->value, l->value_len);
			has_service = true;
		}
		if (rc)
			return rc;
	}
	size_t len;
	if (!labels_builder_get(&cv->lb, "service_name", 12, &len)) {
		int rc = labels_builder_set_ref(&cv->lb, "service_name", 12, SERVICE_UNKNOWN, strlen(SERVICE_UNKNOWN));
		if (rc)
			return rc;
	}
	struct labels tmp;
	int rc = labels_builder_finish(&cv->lb, &tmp);
	return rc ? rc : batch_intern_labels(cv->out, &tmp, stream);
}

static int convert_resource(struct conv *cv, const ResourceLogs *rl)
{
	arena_reset(&cv->res_arena);
	cv->index.n = cv->res_md.n = 0;
	KeyValue **kv = rl->resource ? rl->resource->attributes : NULL;
	size_t n = rl->resource ? rl->resource->n_attributes : 0;
	bool has_service = has_service_name(cv, kv, n);
	for (size_t i = 0; i < n; i++) {
		const char *key = kv[i]->key ? kv[i]->key : "";
		bool index = in_list(index_attributes, sizeof(index_attributes) / sizeof(*index_attributes), key,
				     strlen(key));
		int rc = flatten(cv, &cv->res_arena, index ? &cv->index : &cv->res_md, NULL, 0, kv[i]);
		if (rc)
			return rc;
	}
	struct labels stream;
	int rc = valid_utf8_values(&cv->res_arena, &cv->index);
	if (!rc)
		rc = stream_labels(cv, has_service, &stream);
	for (size_t i = 0; i < rl->n_scope_logs && !rc; i++)
		rc = convert_scope(cv, rl->scope_logs[i], &stream);
	return rc;
}

int otlp_logs_loki_convert(const uint8_t *data, size_t len, int64_t now_ns, struct batch *out,
			   struct otlp_logs_loki_counts *counts, char *err, size_t err_len)
{
	uint64_t items = 0;
	if (counts)
		*counts = (struct otlp_logs_loki_counts){0};
	int rc = otlp_validate(OTLP_LOGS, data, len, &items, err, err_len);
	if (rc)
		return rc;
	LogsRequest *req = (LogsRequest *)protobuf_c_message_unpack(
		&opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor, NULL, len, data);
	if (!req)
		return -ENOMEM; /* it validated, so only memory can fail the unpack */
	struct conv cv = {.out = out, .now_ns = now_ns};
	arena_init(&cv.res_arena, 0);
	arena_init(&cv.rec_arena, 0);
	labels_builder_init(&cv.lb);
	for (size_t i = 0; i < req->n_resource_logs && !rc; i++)
		rc = convert_resource(&cv, req->resource_logs[i]);
	if (counts)
		*counts = cv.counts;
	labels_builder_free(&cv.lb);
	arena_free(&cv.res_arena);
	arena_free(&cv.rec_arena);
	free(cv.tmp.p);
	free(cv.index.v);
	free(cv.res_md.v);
	free(cv.scope_md.v);
	free(cv.rec_md.v);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	return rc;
}
