/*
 * otlp_export_json — OTLP/JSON for otelcol.exporter.otlphttp's encoding = "json": a merged protobuf
 * request unpacked by protobuf-c and written as JSON by walking its descriptors, and the
 * partial_success of a JSON answer read with jansson.
 *
 * The mapping is the OTLP specification's (which departs from proto3's canonical JSON): keys in
 * lowerCamelCase, trace_id / span_id / parent_span_id as lowercase hex (other bytes base64), enums as
 * integers, 64-bit integers as decimal strings, fields at their default value left out, a oneof's set
 * member written under its own name (our protos' proto3 `optional` is a one-member oneof, so presence
 * is kept). Non-finite doubles are written as "NaN" / "Infinity" / "-Infinity", and string bytes that
 * are not UTF-8 as U+FFFD (protobuf-c accepts them; JSON cannot carry them). JSON costs an unpack
 * and a full walk, unlike the protobuf path: it exists for backends that only take JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/proto/otlp/logs_service.pb-c.h"
#include "lib/proto/otlp/metrics_service.pb-c.h"
#include "lib/proto/otlp/trace_service.pb-c.h"
#include "sinks/otlp_export.h"

struct jbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct jbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct jbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct jbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, n < 0 ? 0 : (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one (overlong, surrogate, past
 * U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
	if (c > 0xf4 || !len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
	    (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

/* A JSON string; bytes that are not UTF-8 (protobuf-c does not check) become U+FFFD, as Go's encoder does. */
static void put_string(struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(b, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t l = utf8_len((const unsigned char *)s + i, n - i);
			if (l) {
				i += l - 1;
				continue;
			}
			put(b, s + start, i - start);
			puts_(b, "\xef\xbf\xbd");
			start = i + 1;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(b, s + start, i - start);
		char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			esc[2] = 0;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			esc[2] = 0;
		}
		puts_(b, esc);
		start = i + 1;
	}
	put(b, s + start, n - start);
	put(b, "\"", 1);
}

/* snake_case → lowerCamelCase, quoted, with the colon. */
static void put_key(struct jbuf *b, const char *name)
{
	char key[128];
	size_t o = 0;
	for (const char *p = name; *p && o < sizeof(key) - 1; p++) {
		if (*p == '_' && p[1]) {
			p++;
			key[o++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		} else {
			key[o++] = *p;
		}
	}
	put(b, "\"", 1);
	put(b, key, o);
	put(b, "\":", 2);
}

static void put_bytes(struct jbuf *b, const char *field, const ProtobufCBinaryData *d)
{
	static const char hex[] = "0123456789abcdef";
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	put(b, "\"", 1);
	if (!strcmp(field, "trace_id") || !strcmp(field, "span_id") || !strcmp(field, "parent_span_id")) {
		for (size_t i = 0; i < d->len; i++) {
			char h[2] = {hex[d->data[i] >> 4], hex[d->data[i] & 15]};
			put(b, h, 2);
		}
	} else {
		for (size_t i = 0; i < d->len; i += 3) {
			uint32_t v = (uint32_t)d->data[i] << 16 | (i + 1 < d->len ? (uint32_t)d->data[i + 1] << 8 : 0) |
				     (i + 2 < d->len ? d->data[i + 2] : 0);
			char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < d->len ? tab[v >> 6 & 63] : '=',
				     i + 2 < d->len ? tab[v & 63] : '='};
			put(b, q, 4);
		}
	}
	put(b, "\"", 1);
}

static void put_double(struct jbuf *b, double v)
{
	if (isnan(v))
		puts_(b, "\"NaN\"");
	else if (isinf(v))
		puts_(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		putf(b, "%.17g", v);
}

static void put_message(struct jbuf *b, const ProtobufCMessage *m, int depth);

/* One value of field f at p. */
static void put_value(struct jbuf *b, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		putf(b, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		putf(b, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		putf(b, "\"%" PRId64 "\"", *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		putf(b, "\"%" PRIu64 "\"", *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		put_double(b, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		put_double(b, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		puts_(b, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		put_string(b, s ? s : "", s ? strlen(s) : 0);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES:
		put_bytes(b, f->name, (const ProtobufCBinaryData *)p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub)
			put_message(b, sub, depth + 1);
		else
			puts_(b, "{}");
		break;
	}
	}
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

/* Whether a singular field without presence holds its default (and so is left out). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)p == NULL;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0 && !signbit(*(const double *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0 && !signbit(*(const float *)p);
	default: {
		static const uint8_t zero[8];
		return memcmp(p, zero, type_size(f->type)) == 0;
	}
	}
}

static void put_message(struct jbuf *b, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > 100) { /* unpack bounds nesting already; stay safe anyway */
		b->err = -EINVAL;
		return;
	}
	const char *sep = "";
	put(b, "{", 1);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		const void *member = base + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			if (!n)
				continue;
			puts_(b, sep);
			put_key(b, f->name);
			put(b, "[", 1);
			const char *arr = *(const char *const *)member;
			for (size_t k = 0; k < n; k++) {
				if (k)
					put(b, ",", 1);
				put_value(b, f, arr + k * type_size(f->type), depth);
			}
			put(b, "]", 1);
		} else {
			if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
				if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
					continue;
			} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
				   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
				if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
					continue;
			} else if (is_default(f, member)) {
				continue;
			}
			puts_(b, sep);
			put_key(b, f->name);
			put_value(b, f, member, depth);
		}
		sep = ",";
	}
	put(b, "}", 1);
}

static const ProtobufCMessageDescriptor *request_descriptor(enum otlp_signal s)
{
	return s == OTLP_TRACES ? &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor
	       : s == OTLP_LOGS
		       ? &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor
		       : &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
}

int otlp_export_to_json(enum otlp_signal s, const uint8_t *pb, size_t len, char **out, size_t *out_len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(request_descriptor(s), NULL, len, pb);
	if (!m)
		return -EINVAL;
	struct jbuf b = {0};
	put_message(&b, m, 0);
	protobuf_c_message_free_unpacked(m, NULL);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

int64_t otlp_export_json_rejected(enum otlp_signal s, const char *body, size_t len, char *why, size_t why_len)
{
	static const char *const keys[OTLP_SIGNALS] = {"rejectedSpans", "rejectedDataPoints", "rejectedLogRecords"};
	why[0] = 0;
	json_t *root = json_loadb(body, len, 0, NULL);
	json_t *ps = root ? json_object_get(root, "partialSuccess") : NULL;
	json_t *n = ps ? json_object_get(ps, keys[s]) : NULL;
	json_t *msg = ps ? json_object_get(ps, "errorMessage") : NULL;
	int64_t rejected = 0;
	if (json_is_integer(n))
		rejected = (int64_t)json_integer_value(n);
	else if (json_is_string(n))
		rejected = strtoll(json_string_value(n), NULL, 10);
	if (json_is_string(msg))
		snprintf(why, why_len, "%s", json_string_value(msg));
	json_decref(root);
	return rejected > 0 ? rejected : 0;
}
