/*
 * otlp_prom_names — see otlp_prom_names.h.
 */
#include "pipeline/otlp_prom_names.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define JSON_MAX_DEPTH 32

struct tok {
	const char *s;
	size_t n;
};

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Runs of characters for which keep() holds, as Go's strings.FieldsFunc. */
static size_t split(const char *s, size_t len, bool (*keep)(unsigned char), struct tok *t)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && !keep((unsigned char)s[i]))
			i++;
		size_t start = i;
		while (i < len && keep((unsigned char)s[i]))
			i++;
		if (i > start)
			t[n++] = (struct tok){s + start, i - start};
	}
	return n;
}

static bool is_name_char(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == ':';
}

static const char *const unit_map[][2] = {
	{"d", "days"},
	{"h", "hours"},
	{"min", "minutes"},
	{"s", "seconds"},
	{"ms", "milliseconds"},
	{"us", "microseconds"},
	{"ns", "nanoseconds"},
	{"By", "bytes"},
	{"KiBy", "kibibytes"},
	{"MiBy", "mebibytes"},
	{"GiBy", "gibibytes"},
	{"TiBy", "tibibytes"},
	{"KBy", "kilobytes"},
	{"MBy", "megabytes"},
	{"GBy", "gigabytes"},
	{"TBy", "terabytes"},
	{"m", "meters"},
	{"V", "volts"},
	{"A", "amperes"},
	{"J", "joules"},
	{"W", "watts"},
	{"g", "grams"},
	{"Cel", "celsius"},
	{"Hz", "hertz"},
	{"1", ""},
	{"%", "percent"},
};
static const char *const per_unit_map[][2] = {
	{"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"}, {"w", "week"}, {"mo", "month"}, {"y", "year"},
};

static bool tok_is(struct tok t, const char *s, size_t n)
{
	return t.n == n && memcmp(t.s, s, n) == 0;
}

/*
 * One side of a unit ("By" of "By/s") as the translator cleans it: trimmed, dropped when it holds
 * a '{' or '}', mapped, then its [a-zA-Z0-9] runs joined by '_' into dst. Returns the length.
 */
static size_t clean_unit(const char *u, size_t n, bool per, char *dst, struct tok *scratch)
{
	while (n && (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r' || *u == '\v' || *u == '\f'))
		u++, n--;
	while (n && (u[n - 1] == ' ' || u[n - 1] == '\t' || u[n - 1] == '\n' || u[n - 1] == '\r' || u[n - 1] == '\v' ||
		     u[n - 1] == '\f'))
		n--;
	if (!n || memchr(u, '{', n) || memchr(u, '}', n))
		return 0;
	const char *const(*map)[2] = per ? per_unit_map : unit_map;
	size_t entries = per ? sizeof(per_unit_map) / sizeof(per_unit_map[0]) : sizeof(unit_map) / sizeof(unit_map[0]);
	for (size_t i = 0; i < entries; i++)
		if (strlen(map[i][0]) == n && memcmp(map[i][0], u, n) == 0) {
			u = map[i][1];
			n = strlen(u);
			break;
		}
	size_t nt = split(u, n, is_alnum, scratch), len = 0;
	for (size_t i = 0; i < nt; i++) {
		if (i)
			dst[len++] = '_';
		memcpy(dst + len, scratch[i].s, scratch[i].n);
		len += scratch[i].n;
	}
	return len;
}

/* Bytes the name functions may write for these inputs, terminator included. */
static size_t name_room(size_t name_len, size_t unit_len)
{
	return name_len + 2 * unit_len + 64;
}

/* Splits the unit at its first '/'. */
static void unit_sides(const char *unit, size_t ulen, size_t *main_len, const char **per, size_t *per_len)
{
	const char *slash = memchr(unit, '/', ulen);
	*main_len = slash ? (size_t)(slash - unit) : ulen;
	*per = slash ? slash + 1 : NULL;
	*per_len = slash ? ulen - *main_len - 1 : 0;
}

/* The translator's normalizeName into dst (room from name_room); scratch holds tokens. */
static size_t normalize_name(const char *name, const char *unit, enum otlp_prom_kind kind, char *dst, struct tok *toks,
			     char *ubuf, char *pbuf)
{
	size_t nlen = strlen(name), ulen = strlen(unit);
	size_t nt = split(name, nlen, is_alnum, toks);
	struct tok *scratch = toks + nt + 8;
	size_t main_len, per_len;
	const char *per;
	unit_sides(unit, ulen, &main_len, &per, &per_len);
	size_t um = clean_unit(unit, main_len, false, ubuf, scratch);
	bool present = false;
	for (size_t i = 0; i < nt && um; i++)
		present |= tok_is(toks[i], ubuf, um);
	if (um && !present)
		toks[nt++] = (struct tok){ubuf, um};
	if (per && per_len) {
		size_t up = clean_unit(per, per_len, true, pbuf, scratch);
		present = false;
		for (size_t i = 0; i < nt && up; i++)
			present |= tok_is(toks[i], pbuf, up);
		if (up && !present) {
			toks[nt++] = (struct tok){"per", 3};
			toks[nt++] = (struct tok){pbuf, up};
		}
	}
	const char *suffix = kind == OTLP_PROM_KIND_COUNTER			  ? "total"
			     : kind == OTLP_PROM_KIND_GAUGE && !strcmp(unit, "1") ? "ratio"
										  : NULL;
	if (suffix) {
		size_t k = 0;
		for (size_t i = 0; i < nt; i++)
			if (!tok_is(toks[i], suffix, 5))
				toks[k++] = toks[i];
		nt = k;
		toks[nt++] = (struct tok){suffix, 5};
	}
	size_t len = 0;
	for (size_t i = 0; i < nt; i++) {
		if (i == 0 && is_digit((unsigned char)toks[0].s[0]))
			dst[len++] = '_';
		if (i)
			dst[len++] = '_';
		memcpy(dst + len, toks[i].s, toks[i].n);
		len += toks[i].n;
	}
	dst[len] = '\0';
	return len;
}

/* The translator's RemovePromForbiddenRunes, plus the leading-digit rule. */
static size_t plain_name(const char *name, char *dst, struct tok *toks)
{
	size_t nt = split(name, strlen(name), is_name_char, toks), len = 0;
	for (size_t i = 0; i < nt; i++) {
		if (i == 0 && is_digit((unsigned char)toks[0].s[0]))
			dst[len++] = '_';
		if (i)
			dst[len++] = '_';
		memcpy(dst + len, toks[i].s, toks[i].n);
		len += toks[i].n;
	}
	dst[len] = '\0';
	return len;
}

char *otlp_prom_metric_name_in(struct arena *a, const char *name, const char *unit, enum otlp_prom_kind kind,
			       bool suffixes, size_t *len)
{
	size_t nlen = strlen(name), ulen = strlen(unit);
	char *dst = arena_alloc_bytes(a, name_room(nlen, ulen));
	struct tok *toks = arena_alloc(a, (nlen + 2 * ulen + 24) * sizeof(*toks));
	char *ubuf = arena_alloc_bytes(a, 2 * ulen + 16), *pbuf = arena_alloc_bytes(a, 2 * ulen + 16);
	if (!dst || !toks || !ubuf || !pbuf)
		return NULL;
	*len = suffixes ? normalize_name(name, unit, kind, dst, toks, ubuf, pbuf) : plain_name(name, dst, toks);
	return dst;
}

/* Copies src[0..n) into buf[0..cap) as snprintf would; returns n. */
static size_t put_out(const char *src, size_t n, char *buf, size_t cap)
{
	if (cap) {
		size_t k = n < cap - 1 ? n : cap - 1;
		memcpy(buf, src, k);
		buf[k] = '\0';
	}
	return n;
}

size_t otlp_prom_metric_name(const char *name, const char *unit, enum otlp_prom_kind kind, bool add_suffixes, char *buf,
			     size_t cap)
{
	struct arena a;
	arena_init(&a, 0);
	size_t len = 0;
	char *s = otlp_prom_metric_name_in(&a, name ? name : "", unit ? unit : "", kind, add_suffixes, &len);
	size_t n = s ? put_out(s, len, buf, cap) : put_out("", 0, buf, cap);
	arena_free(&a);
	return n;
}

/* The metadata unit into dst (room from name_room(0, ulen)). */
static size_t prom_unit(const char *unit, enum otlp_prom_kind kind, char *dst, struct tok *scratch)
{
	if (kind == OTLP_PROM_KIND_GAUGE && !strcmp(unit, "1"))
		return (size_t)sprintf(dst, "ratio");
	size_t main_len, per_len;
	const char *per;
	unit_sides(unit, strlen(unit), &main_len, &per, &per_len);
	size_t len = clean_unit(unit, main_len, false, dst, scratch);
	if (per && per_len) {
		char *p = dst + len + (len ? 5 : 4);
		size_t up = clean_unit(per, per_len, true, p, scratch);
		if (up) {
			memcpy(dst + len, len ? "_per_" : "per_", len ? 5 : 4);
			len += (len ? 5 : 4) + up;
		}
	}
	dst[len] = '\0';
	return len;
}

char *otlp_prom_unit_in(struct arena *a, const char *unit, enum otlp_prom_kind kind)
{
	size_t ulen = strlen(unit);
	char *dst = arena_alloc_bytes(a, name_room(0, ulen));
	struct tok *scratch = arena_alloc(a, (ulen + 8) * sizeof(*scratch));
	if (!dst || !scratch)
		return NULL;
	prom_unit(unit, kind, dst, scratch);
	return dst;
}

size_t otlp_prom_unit(const char *unit, enum otlp_prom_kind kind, char *buf, size_t cap)
{
	struct arena a;
	arena_init(&a, 0);
	const char *s = otlp_prom_unit_in(&a, unit ? unit : "", kind);
	size_t n = put_out(s ? s : "", s ? strlen(s) : 0, buf, cap);
	arena_free(&a);
	return n;
}

/* NormalizeLabel into dst (room: 4 + len + 1). One '_' per invalid UTF-8 character, not per byte. */
static size_t label_name(const char *key, size_t len, char *dst)
{
	size_t o = 4; /* room for a "key_" prefix */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c < 0x80)
			dst[o++] = is_alnum(c) ? (char)c : '_';
		else if ((c & 0xc0) != 0x80 || i == 0 || (unsigned char)key[i - 1] < 0x80)
			dst[o++] = '_'; /* a lead byte, or a stray continuation byte */
	}
	size_t n = o - 4, start = 4;
	if (n && is_digit((unsigned char)dst[4])) {
		memcpy(dst, "key_", 4);
		start = 0;
	} else if (n && dst[4] == '_' && !(n > 1 && dst[5] == '_')) {
		memcpy(dst + 1, "key", 3);
		start = 1;
	}
	if (start)
		memmove(dst, dst + start, o - start);
	dst[o - start] = '\0';
	return o - start;
}

size_t otlp_prom_label_name(const char *key, size_t len, char *buf, size_t cap)
{
	if (cap >= len + 5)
		return label_name(key, len, buf);
	char *dst = malloc(len + 5);
	size_t n = dst ? put_out(dst, label_name(key, len, dst), buf, cap) : put_out("", 0, buf, cap);
	free(dst);
	return n;
}

/* ---------------- numbers ---------------- */

/* Shortest %.*e form that reads back as v (what Go's -1 precision means). */
static void shortest_e(double v, char *e, size_t cap)
{
	for (int p = 0; p < 17; p++) {
		snprintf(e, cap, "%.*e", p, v);
		if (strtod(e, NULL) == v)
			return;
	}
}

/* v (finite) as Go's 'f' with precision -1; out needs 400 bytes. */
static size_t fixed(double v, char *out)
{
	if (fabs(v) < 1e15 && v == (double)(long long)v && !(v == 0 && signbit(v)))
		return (size_t)sprintf(out, "%lld", (long long)v); /* integral: the digits are the answer */
	char e[40], digits[24] = {'0'};
	shortest_e(v, e, sizeof(e));
	const char *p = e;
	size_t o = 0, nd = 0;
	if (*p == '-')
		out[o++] = '-', p++;
	for (; *p && *p != 'e'; p++)
		if (*p != '.' && nd < sizeof(digits))
			digits[nd++] = *p;
	int point = (*p ? atoi(p + 1) : 0) + 1;
	nd = nd ? nd : 1; /* no digits cannot happen with %e; "0" if it did */
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (point <= 0) {
		out[o++] = '0', out[o++] = '.';
		for (int i = 0; i < -point; i++)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
	} else if ((size_t)point >= nd) {
		memcpy(out + o, digits, nd);
		o += nd;
		for (size_t i = nd; i < (size_t)point; i++)
			out[o++] = '0';
	} else {
		memcpy(out + o, digits, (size_t)point);
		o += (size_t)point;
		out[o++] = '.';
		memcpy(out + o, digits + point, nd - (size_t)point);
		o += nd - (size_t)point;
	}
	out[o] = '\0';
	return o;
}

static size_t format_float(double v, char *out)
{
	if (isnan(v))
		return (size_t)sprintf(out, "NaN");
	if (isinf(v))
		return (size_t)sprintf(out, v > 0 ? "+Inf" : "-Inf");
	return fixed(v, out);
}

size_t otlp_prom_format_float(double v, char *buf, size_t cap)
{
	if (cap >= OTLP_PROM_FLOAT_MAX)
		return format_float(v, buf);
	char tmp[OTLP_PROM_FLOAT_MAX];
	return put_out(tmp, format_float(v, tmp), buf, cap);
}

/* A double as pdata's AsString (ES6 number-to-string): 'f', or shortest 'e' outside [1e-6, 1e21). */
static size_t es6_float(double v, char *out)
{
	double a = fabs(v);
	if (isnan(v) || isinf(v) || !(a != 0 && (a < 1e-6 || a >= 1e21)))
		return format_float(v, out);
	shortest_e(v, out, 40);
	size_t n = strlen(out);
	if (n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') /* e-07 → e-7 */
		out[n - 2] = out[n - 1], out[--n] = '\0';
	return n;
}

/* ---------------- UTF-8 ---------------- */

/* Length of the valid UTF-8 sequence at p[0..n), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : len;
}

bool otlp_prom_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

size_t otlp_prom_utf8_fix(const char *s, size_t n, char *dst)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(p + i, n - i);
		if (k) {
			memcpy(dst + o, p + i, k);
			o += k, i += k;
		} else {
			memcpy(dst + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3, i++;
		}
	}
	return o;
}

/* ---------------- attribute values ---------------- */

static void sb_put(struct otlp_prom_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_putc(struct otlp_prom_buf *b, char c)
{
	sb_put(b, &c, 1);
}

static void put_base64(struct otlp_prom_buf *b, const uint8_t *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v =
			(uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
			     i + 2 < n ? tab[v & 63] : '='};
		sb_put(b, q, 4);
	}
}

/* A JSON string as Go's encoding/json writes it (HTML characters escaped too). */
static void put_json_string(struct otlp_prom_buf *b, const char *s)
{
	sb_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\')
			sb_putc(b, '\\'), sb_putc(b, (char)*p);
		else if (*p == '\n')
			sb_put(b, "\\n", 2);
		else if (*p == '\r')
			sb_put(b, "\\r", 2);
		else if (*p == '\t')
			sb_put(b, "\\t", 2);
		else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&')
			sb_put(b, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p));
		else
			sb_putc(b, (char)*p);
	}
	sb_putc(b, '"');
}

static void put_json_any(struct otlp_prom_buf *b, const AnyValue *v, int depth);

static int kv_key_cmp(const void *a, const void *b)
{
	return strcmp((*(KeyValue *const *)a)->key, (*(KeyValue *const *)b)->key);
}

/* A map with its keys sorted (Go marshals maps so); for a repeated key the last value counts. */
static void put_json_map(struct otlp_prom_buf *b, KeyValue **kv, size_t n, int depth)
{
	KeyValue **sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted) {
		b->oom = true;
		return;
	}
	/* stable: insertion order breaks ties, so the last of equal keys is the last of its run */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && kv_key_cmp(&sorted[j - 1], &kv[i]) > 0)
			sorted[j] = sorted[j - 1], j--;
		sorted[j] = kv[i];
	}
	sb_putc(b, '{');
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && !strcmp(sorted[i]->key, sorted[i + 1]->key))
			continue;
		if (!first)
			sb_putc(b, ',');
		first = false;
		put_json_string(b, sorted[i]->key);
		sb_putc(b, ':');
		put_json_any(b, sorted[i]->value, depth + 1);
	}
	sb_putc(b, '}');
	free(sorted);
}

static void put_json_any(struct otlp_prom_buf *b, const AnyValue *v, int depth)
{
	char num[OTLP_PROM_FLOAT_MAX];
	if (!v || depth > JSON_MAX_DEPTH) {
		sb_put(b, "null", 4);
		return;
	}
	switch (v->value_case) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		put_json_string(b, v->string_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		sb_put(b, v->bool_value ? "true" : "false", v->bool_value ? 4 : 5);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		sb_put(b, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, v->int_value));
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		if (isnan(v->double_value) || isinf(v->double_value))
			sb_put(b, "null", 4); /* not representable in JSON */
		else
			sb_put(b, num, es6_float(v->double_value, num));
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		sb_putc(b, '"');
		put_base64(b, v->bytes_value.data, v->bytes_value.len);
		sb_putc(b, '"');
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
		sb_putc(b, '[');
		for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
			if (i)
				sb_putc(b, ',');
			put_json_any(b, v->array_value->values[i], depth + 1);
		}
		sb_putc(b, ']');
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
		if (v->kvlist_value)
			put_json_map(b, v->kvlist_value->values, v->kvlist_value->n_values, depth);
		else
			sb_put(b, "{}", 2);
		break;
	default:
		sb_put(b, "null", 4);
		break;
	}
}

int otlp_prom_render_value(struct otlp_prom_buf *b, const Opentelemetry__Proto__Common__V1__AnyValue *v)
{
	char num[OTLP_PROM_FLOAT_MAX];
	b->len = 0;
	b->oom = false;
	switch (v ? v->value_case : OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		sb_put(b, v->string_value, strlen(v->string_value));
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
		put_json_any(b, v, 0);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		sb_put(b, num, es6_float(v->double_value, num));
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		put_base64(b, v->bytes_value.data, v->bytes_value.len);
		break;
	default:
		break;
	}
	sb_put(b, "", 0); /* makes sure b->p exists */
	if (b->oom)
		return -ENOMEM;
	b->p[b->len] = '\0';
	return 0;
}

void otlp_prom_buf_free(struct otlp_prom_buf *b)
{
	free(b->p);
	*b = (struct otlp_prom_buf){0};
}
