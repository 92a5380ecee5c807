/*
 * logformats — CRI and docker json-file line parsing (see logformats.h).
 *
 * Decisions:
 * - CRI follows Alloy's lenient parser (cri/parse.go): the timestamp is whatever precedes the first
 *   Unicode space, the stream must be stdout or stderr, the P/F flag is optional (F).
 * - docker lines are parsed by a small purpose-built scanner rather than a JSON library: only three
 *   string members matter, the rest (attrs, …) is skipped with bounded nesting, and the hot path
 *   never allocates. Invalid escapes or a missing "log" make the line invalid (counted by callers).
 */
#include <errno.h>
#include <string.h>

#include "pipeline/logformats.h"
#include "pipeline/stages/stage.h"

/* Length of a Unicode space (unicode.IsSpace) at p, or 0. */
static size_t space_at(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c == 0xC2 && end - p >= 2 && (p[1] == 0x85 || p[1] == 0xA0))
		return 2;
	if (end - p >= 3) {
		if (c == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
			return 3;
		if (c == 0xE2 && p[1] == 0x80 && (p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
			return 3;
		if (c == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)
			return 3;
		if (c == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
			return 3;
	}
	return 0;
}

bool cri_parse_line(const char *line, size_t len, struct cri_line *out)
{
	const unsigned char *p = (const unsigned char *)line, *end = p + len;
	/* printable ASCII other than ' ' is most of every line: skip it without the Unicode checks */
	while (p < end && ((*p > ' ' && *p < 0x80) || !space_at(p, end)))
		p++;
	if (p == end || *p != ' ')
		return false;
	out->ts = line;
	out->ts_len = (size_t)((const char *)p - line);
	p++;
	if (end - p >= 6 && memcmp(p, "stdout", 6) == 0)
		out->stderr_stream = false;
	else if (end - p >= 6 && memcmp(p, "stderr", 6) == 0)
		out->stderr_stream = true;
	else
		return false;
	p += 6;
	if (p == end || *p != ' ')
		return false;
	p++;
	out->partial = false;
	if (p < end && (*p == 'P' || *p == 'F')) {
		out->partial = *p == 'P';
		p++;
	}
	if (p < end && *p == ' ')
		p++;
	out->content = (const char *)p;
	out->content_len = (size_t)(end - p);
	return true;
}

/* ---- docker json-file ---- */

struct scan {
	const char *p, *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes \uXXXX (with a following low surrogate when needed) at s->p (past the 'u'). */
static int unicode_escape(struct scan *s, char *out, size_t *n)
{
	unsigned cp, lo;
	if (s->end - s->p < 4 || hex4(s->p, &cp) < 0)
		return -EINVAL;
	s->p += 4;
	if (cp >= 0xD800 && cp < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' &&
	    hex4(s->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		s->p += 6;
	} else if (cp >= 0xD800 && cp < 0xE000) {
		cp = 0xFFFD; /* a lone surrogate, as Go's decoder does */
	}
	*n = put_utf8(out, cp);
	return 0;
}

/* Scans a string at s->p (the opening quote); unescapes into out when out is not NULL. */
static int scan_string(struct scan *s, char *out, size_t *out_len)
{
	if (s->p >= s->end || *s->p != '"')
		return -EINVAL;
	s->p++;
	size_t n = 0;
	while (s->p < s->end) {
		const char *q = s->p;
		while (q < s->end && *q != '"' && *q != '\\')
			q++;
		if (out)
			memcpy(out + n, s->p, (size_t)(q - s->p));
		n += (size_t)(q - s->p);
		s->p = q;
		if (q == s->end)
			return -EINVAL;
		if (*q == '"') {
			s->p++;
			if (out_len)
				*out_len = n;
			return 0;
		}
		if (s->end - q < 2)
			return -EINVAL;
		char c = q[1], e;
		s->p = q + 2;
		switch (c) {
		case 'n':
			e = '\n';
			break;
		case 't':
			e = '\t';
			break;
		case 'r':
			e = '\r';
			break;
		case 'b':
			e = '\b';
			break;
		case 'f':
			e = '\f';
			break;
		case '/':
			e = '/';
			break;
		case '\\':
			e = '\\';
			break;
		case '"':
			e = '"';
			break;
		case 'u': {
			char tmp[4];
			size_t k;
			if (unicode_escape(s, tmp, &k) < 0)
				return -EINVAL;
			if (out)
				memcpy(out + n, tmp, k);
			n += k;
			continue;
		}
		default:
			return -EINVAL;
		}
		if (out)
			out[n] = e;
		n++;
	}
	return -EINVAL;
}

/* Skips any JSON value (nesting bounded: a hostile line cannot recurse deeply). */
static int skip_value(struct scan *s, int depth)
{
	skip_ws(s);
	if (s->p >= s->end || depth > 32)
		return -EINVAL;
	char c = *s->p;
	if (c == '"')
		return scan_string(s, NULL, NULL);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		s->p++;
		skip_ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		for (;;) {
			if (c == '{') {
				skip_ws(s);
				if (scan_string(s, NULL, NULL) < 0)
					return -EINVAL;
				skip_ws(s);
				if (s->p >= s->end || *s->p != ':')
					return -EINVAL;
				s->p++;
			}
			if (skip_value(s, depth + 1) < 0)
				return -EINVAL;
			skip_ws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				continue;
			}
			if (s->p < s->end && *s->p == close) {
				s->p++;
				return 0;
			}
			return -EINVAL;
		}
	}
	const char *start = s->p; /* number, true, false, null */
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ')
		s->p++;
	return s->p > start ? 0 : -EINVAL;
}

static bool key_is(const char *k, size_t klen, const char *want)
{
	return klen == strlen(want) && memcmp(k, want, klen) == 0;
}

int docker_parse_line(const char *line, size_t len, char *buf, struct docker_line *out)
{
	struct scan s = {line, line + len};
	bool have_log = false;
	memset(out, 0, sizeof(*out));
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -EINVAL;
	s.p++;
	for (;;) {
		skip_ws(&s);
		if (s.p < s.end && *s.p == '}' && !have_log)
			return -EINVAL;
		const char *k = s.p + 1;
		if (scan_string(&s, NULL, NULL) < 0)
			return -EINVAL;
		size_t klen = (size_t)(s.p - k - 1);
		skip_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return -EINVAL;
		s.p++;
		skip_ws(&s);
		if (key_is(k, klen, "log") && s.p < s.end && *s.p == '"') {
			if (scan_string(&s, buf, &out->log_len) < 0)
				return -EINVAL;
			have_log = true;
		} else if ((key_is(k, klen, "stream") || key_is(k, klen, "time")) && s.p < s.end && *s.p == '"') {
			const char *v = s.p + 1;
			if (scan_string(&s, NULL, NULL) < 0)
				return -EINVAL;
			size_t vlen = (size_t)(s.p - v - 1);
			if (key_is(k, klen, "stream"))
				out->stderr_stream = vlen == 6 && memcmp(v, "stderr", 6) == 0;
			else
				out->has_ts = timestamp_parse_rfc3339(v, vlen, &out->ts_ns) == 0;
		} else if (skip_value(&s, 0) < 0) {
			return -EINVAL;
		}
		skip_ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.end && *s.p == '}')
			break;
		return -EINVAL;
	}
	if (!have_log)
		return -EINVAL;
	out->partial = out->log_len == 0 || buf[out->log_len - 1] != '\n';
	if (!out->partial)
		out->log_len--;
	return 0;
}
