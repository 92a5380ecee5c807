/*
 * otlp — OTLP request validation and OTLP/JSON → protobuf conversion (see otlp.h).
 *
 * Conversion is driven by the protobuf-c descriptors generated from lib/proto/otlp, not by code per
 * message: each JSON key is matched to a field by its proto name or lowerCamelCase form, and the value
 * is written in that field's wire type. That keeps the three signals (and any field upstream adds to
 * our .proto) handled by one short walker. Nested messages are written in place and their length
 * prefix inserted afterwards, so there is one output buffer, bounded by max_out.
 */
#include "lib/otlp.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto/otlp/logs_service.pb-c.h"
#include "lib/proto/otlp/metrics_service.pb-c.h"
#include "lib/proto/otlp/trace_service.pb-c.h"

static const ProtobufCMessageDescriptor *request_descriptor(enum otlp_signal s)
{
	switch (s) {
	case OTLP_TRACES:
		return &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
	case OTLP_METRICS:
		return &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
	case OTLP_LOGS:
		return &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor;
	default:
		return NULL;
	}
}

const char *otlp_signal_name(enum otlp_signal s)
{
	static const char *const names[] = {"traces", "metrics", "logs"};
	return s < OTLP_SIGNALS ? names[s] : "unknown";
}

static void set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || !err_len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* ---- validation ---- */

static uint64_t count_traces(const Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->n_resource_spans; i++)
		for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
			n += r->resource_spans[i]->scope_spans[j]->n_spans;
	return n;
}

static uint64_t count_logs(const Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->n_resource_logs; i++)
		for (size_t j = 0; j < r->resource_logs[i]->n_scope_logs; j++)
			n += r->resource_logs[i]->scope_logs[j]->n_log_records;
	return n;
}

static uint64_t metric_points(const Opentelemetry__Proto__Metrics__V1__Metric *m)
{
	switch (m->data_case) {
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
		return m->gauge->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
		return m->sum->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
		return m->histogram->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
		return m->exponential_histogram->n_data_points;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
		return m->summary->n_data_points;
	default:
		return 0;
	}
}

static uint64_t count_metrics(const Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->n_resource_metrics; i++)
		for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
			const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm =
				r->resource_metrics[i]->scope_metrics[j];
			for (size_t k = 0; k < sm->n_metrics; k++)
				n += metric_points(sm->metrics[k]);
		}
	return n;
}

int otlp_count_unpacked(enum otlp_signal s, const uint8_t *data, size_t len, uint64_t *items)
{
	const ProtobufCMessageDescriptor *d = request_descriptor(s);
	if (!d)
		return -EINVAL;
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
	if (!m)
		return -EINVAL;
	switch (s) {
	case OTLP_TRACES:
		*items = count_traces((void *)m);
		break;
	case OTLP_LOGS:
		*items = count_logs((void *)m);
		break;
	default:
		*items = count_metrics((void *)m);
		break;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

/*
 * The validator proper walks the wire bytes against the descriptors without building anything: every
 * tag, length and varint is checked, known fields must use a wire type their declared type allows
 * (packed or not for repeated scalars, as protobuf-c accepts), nested messages are walked in turn up
 * to OTLP_MAX_NESTING, unknown fields are skipped. It accepts what protobuf_c_message_unpack accepts
 * (the fuzz target checks this) at a fraction of the cost, since nothing is allocated. One case is left
 * to protobuf-c itself: a singular sub-message sent twice must be merged, which protobuf-c 1.4 refuses
 * for some messages (two empty AnyValues); real encoders never do it, so such a request is simply
 * decoded in full once to decide.
 */
#define OTLP_MAX_NESTING 100

struct walk {
	const ProtobufCMessageDescriptor *const *item_types; /* messages counted as items */
	uint64_t items;
	bool merges; /* a singular sub-message occurred twice: protobuf-c decides */
	char *err;
	size_t err_len;
};

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t out = 0;
	for (int shift = 0; shift < 70 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		out |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = out;
			return 0;
		}
		if (shift == 63)
			return -EINVAL; /* an 11th byte would be needed */
	}
	return -EINVAL;
}

/* Tags and lengths are 32-bit and at most 5 bytes long, as protobuf-c reads them. */
static int read_varint32(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *start = *p;
	if (read_varint(p, end, v) || *p - start > 5 || *v > UINT32_MAX)
		return -EINVAL;
	return 0;
}

static unsigned scalar_wire(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 5;
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 1;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return 2;
	default:
		return 0;
	}
}

static int walk_fail(struct walk *w, const ProtobufCMessageDescriptor *d, const char *what)
{
	set_err(w->err, w->err_len, "malformed protobuf: %s in %s", what, d->name);
	return -EINVAL;
}

/* A packed run of scalars: whole varints, or a multiple of the fixed width. */
static int check_packed(unsigned wt, const uint8_t *p, const uint8_t *end)
{
	if (wt == 1 || wt == 5)
		return (size_t)(end - p) % (wt == 1 ? 8 : 4) ? -EINVAL : 0;
	uint64_t v;
	while (p < end)
		if (read_varint(&p, end, &v))
			return -EINVAL;
	return 0;
}

static int walk_message(struct walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
			int depth)
{
	if (depth > OTLP_MAX_NESTING)
		return walk_fail(w, d, "nesting too deep");
	for (const ProtobufCMessageDescriptor *const *t = w->item_types; *t; t++)
		if (*t == d)
			w->items++;
	uint64_t seen = 0; /* singular message fields met so far, by descriptor index */
	while (p < end) {
		uint64_t tag, v;
		if (read_varint32(&p, end, &tag) || tag >> 3 == 0)
			return walk_fail(w, d, "bad tag");
		unsigned wt = tag & 7;
		const uint8_t *body = NULL;
		switch (wt) {
		case 0:
			if (read_varint(&p, end, &v))
				return walk_fail(w, d, "truncated varint");
			break;
		case 1:
		case 5:
			if ((size_t)(end - p) < (wt == 1 ? 8u : 4u))
				return walk_fail(w, d, "truncated fixed-width value");
			p += wt == 1 ? 8 : 4;
			break;
		case 2:
			if (read_varint32(&p, end, &v) || v > (uint64_t)(end - p))
				return walk_fail(w, d, "length past the end");
			body = p;
			p += v;
			break;
		default:
			return walk_fail(w, d, "unsupported wire type");
		}
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
		if (!f)
			continue; /* unknown field: skipped, as every protobuf reader does */
		unsigned want = scalar_wire(f->type);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED) {
			size_t idx = (size_t)(f - d->fields);
			if (idx >= 64 || (seen & (1ull << idx)))
				w->merges = true;
			else
				seen |= 1ull << idx;
		}
		if (wt == want) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && walk_message(w, f->descriptor, body, p, depth + 1))
				return -EINVAL;
			continue;
		}
		if (wt != 2 || want == 2 || f->label != PROTOBUF_C_LABEL_REPEATED)
			return walk_fail(w, d, "wrong wire type for a field");
		if (check_packed(want, body, p))
			return walk_fail(w, d, "malformed packed field");
	}
	return 0;
}

int otlp_validate(enum otlp_signal s, const uint8_t *data, size_t len, uint64_t *items, char *err, size_t err_len)
{
	static const ProtobufCMessageDescriptor *const traces[] = {&opentelemetry__proto__trace__v1__span__descriptor,
								   NULL};
	static const ProtobufCMessageDescriptor *const logs[] = {
		&opentelemetry__proto__logs__v1__log_record__descriptor, NULL};
	static const ProtobufCMessageDescriptor *const metrics[] = {
		&opentelemetry__proto__metrics__v1__number_data_point__descriptor,
		&opentelemetry__proto__metrics__v1__histogram_data_point__descriptor,
		&opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor,
		&opentelemetry__proto__metrics__v1__summary_data_point__descriptor,
		NULL,
	};
	const ProtobufCMessageDescriptor *d = request_descriptor(s);
	if (!d)
		return -EINVAL;
	struct walk w = {s == OTLP_TRACES ? traces : s == OTLP_LOGS ? logs : metrics, 0, false, err, err_len};
	int rc = walk_message(&w, d, data, data + len, 0);
	if (rc == 0 && w.merges) {
		uint64_t decoded;
		if (otlp_count_unpacked(s, data, len, &decoded)) {
			set_err(err, err_len, "malformed protobuf: a repeated sub-message cannot be merged");
			return -EINVAL;
		}
	}
	if (rc == 0)
		*items = w.items;
	return rc;
}

/* ---- JSON → protobuf wire ---- */

struct conv {
	uint8_t *p;
	size_t len, cap, max;
	char *err;
	size_t err_len;
};

static int reserve(struct conv *c, size_t n)
{
	if (c->len + n > c->max)
		return -EFBIG;
	if (c->len + n <= c->cap)
		return 0;
	size_t cap = c->cap ? c->cap : 256;
	while (cap < c->len + n)
		cap *= 2;
	if (cap > c->max)
		cap = c->max;
	uint8_t *np = realloc(c->p, cap);
	if (!np)
		return -ENOMEM;
	c->p = np;
	c->cap = cap;
	return 0;
}

static size_t varint_encode(uint64_t v, uint8_t out[10])
{
	size_t n = 0;
	do {
		out[n] = v & 0x7f;
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

static int put_raw(struct conv *c, const void *data, size_t n)
{
	int rc = reserve(c, n);
	if (rc)
		return rc;
	memcpy(c->p + c->len, data, n);
	c->len += n;
	return 0;
}

static int put_varint(struct conv *c, uint64_t v)
{
	uint8_t b[10];
	size_t n = varint_encode(v, b);
	return put_raw(c, b, n);
}

static int put_tag(struct conv *c, unsigned field, unsigned wire)
{
	return put_varint(c, (uint64_t)field << 3 | wire);
}

static int put_le(struct conv *c, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return put_raw(c, b, n);
}

/* Inserts the varint length of everything written since `mark` in front of it. */
static int close_len(struct conv *c, size_t mark)
{
	uint8_t b[10];
	size_t body = c->len - mark, hl = varint_encode(body, b);
	int rc = reserve(c, hl);
	if (rc)
		return rc;
	memmove(c->p + mark + hl, c->p + mark, body);
	memcpy(c->p + mark, b, hl);
	c->len += hl;
	return 0;
}

/* "trace_id" matches "trace_id" and "traceId". */
static bool key_matches(const char *key, const char *name)
{
	if (!strcmp(key, name))
		return true;
	for (; *name; name++, key++) {
		if (*name == '_' && name[1]) {
			name++;
			if (*key != (*name >= 'a' && *name <= 'z' ? *name - 32 : *name))
				return false;
		} else if (*key != *name) {
			return false;
		}
	}
	return *key == 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, const char *key)
{
	for (unsigned i = 0; i < d->n_fields; i++)
		if (key_matches(key, d->fields[i].name))
			return &d->fields[i];
	return NULL;
}

static int fail(struct conv *c, const ProtobufCFieldDescriptor *f, const char *what)
{
	set_err(c->err, c->err_len, "json: field %s: %s", f->name, what);
	return -EINVAL;
}

/* Integers come as JSON numbers or (64-bit ones per the spec) as decimal strings. */
static int json_int(const json_t *v, bool is_unsigned, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (is_unsigned && i < 0)
			return -EINVAL;
		*out = (uint64_t)i;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != floor(d) || fabs(d) > 9.2e18 || (is_unsigned && d < 0))
			return -EINVAL;
		*out = (uint64_t)(int64_t)d;
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	if (is_unsigned) {
		if (*s == '-')
			return -EINVAL;
		*out = strtoull(s, &end, 10);
	} else {
		*out = (uint64_t)strtoll(s, &end, 10);
	}
	if (errno || end == s || *end || (*s < '0' && *s != '-') || *s > '9')
		return -EINVAL;
	return 0;
}

static int json_double(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	const char *s = json_string_value(v);
	if (!strcmp(s, "NaN"))
		*out = NAN;
	else if (!strcmp(s, "Infinity"))
		*out = INFINITY;
	else if (!strcmp(s, "-Infinity"))
		*out = -INFINITY;
	else {
		char *end;
		*out = strtod(s, &end);
		if (end == s || *end)
			return -EINVAL;
	}
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Writes the decoded bytes of s (hex or base64) as a length-delimited value. */
static int put_decoded_bytes(struct conv *c, const ProtobufCFieldDescriptor *f, const char *s, size_t n)
{
	bool hex = strstr(f->name, "trace_id") || strstr(f->name, "span_id");
	size_t mark = c->len;
	int rc = 0;
	if (hex) {
		if (n % 2)
			return fail(c, f, "odd-length hex id");
		for (size_t i = 0; i < n && !rc; i += 2) {
			int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
			if (hi < 0 || lo < 0)
				return fail(c, f, "invalid hex id");
			uint8_t byte = (uint8_t)(hi << 4 | lo);
			rc = put_raw(c, &byte, 1);
		}
	} else {
		uint32_t acc = 0;
		int bits = 0;
		for (size_t i = 0; i < n && !rc; i++) {
			if (s[i] == '=')
				break;
			int v = b64val((unsigned char)s[i]);
			if (v < 0)
				return fail(c, f, "invalid base64");
			acc = acc << 6 | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				uint8_t byte = (uint8_t)(acc >> bits);
				rc = put_raw(c, &byte, 1);
			}
		}
	}
	return rc ? rc : close_len(c, mark);
}

static int encode_object(struct conv *c, const ProtobufCMessageDescriptor *d, const json_t *obj, int depth);

/* Writes one value of field f (the tag is written by the caller unless packed). */
static int encode_value(struct conv *c, const ProtobufCFieldDescriptor *f, const json_t *v, int depth)
{
	uint64_t u;
	double dv;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_INT64:
		if (json_int(v, false, &u))
			return fail(c, f, "expected an integer");
		if (f->type == PROTOBUF_C_TYPE_INT32 && ((int64_t)u > INT32_MAX || (int64_t)u < INT32_MIN))
			return fail(c, f, "integer out of range");
		return put_varint(c, u);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_UINT64:
		if (json_int(v, true, &u))
			return fail(c, f, "expected an unsigned integer");
		if (f->type == PROTOBUF_C_TYPE_UINT32 && u > UINT32_MAX)
			return fail(c, f, "integer out of range");
		return put_varint(c, u);
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SINT64:
		if (json_int(v, false, &u))
			return fail(c, f, "expected an integer");
		if (f->type == PROTOBUF_C_TYPE_SINT32 && ((int64_t)u > INT32_MAX || (int64_t)u < INT32_MIN))
			return fail(c, f, "integer out of range");
		return put_varint(c, (u << 1) ^ (0 - (u >> 63))); /* zigzag, without a signed shift */
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (json_int(v, f->type == PROTOBUF_C_TYPE_FIXED32, &u) ||
		    (f->type == PROTOBUF_C_TYPE_FIXED32 ? u > UINT32_MAX
							: ((int64_t)u > INT32_MAX || (int64_t)u < INT32_MIN)))
			return fail(c, f, "expected a 32-bit integer");
		return put_le(c, u, 4);
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (json_int(v, f->type == PROTOBUF_C_TYPE_FIXED64, &u))
			return fail(c, f, "expected an integer");
		return put_le(c, u, 8);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return fail(c, f, "expected true or false");
		return put_varint(c, json_is_true(v));
	case PROTOBUF_C_TYPE_ENUM:
		if (json_is_string(v)) {
			const ProtobufCEnumValue *ev =
				protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, json_string_value(v));
			if (!ev)
				return fail(c, f, "unknown enum name");
			return put_varint(c, (uint64_t)(int64_t)ev->value);
		}
		if (json_int(v, false, &u) || (int64_t)u > INT32_MAX || (int64_t)u < INT32_MIN)
			return fail(c, f, "expected an enum number");
		return put_varint(c, u);
	case PROTOBUF_C_TYPE_FLOAT: {
		if (json_double(v, &dv))
			return fail(c, f, "expected a number");
		float fv = (float)dv;
		uint32_t bits;
		memcpy(&bits, &fv, 4);
		return put_le(c, bits, 4);
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		if (json_double(v, &dv))
			return fail(c, f, "expected a number");
		uint64_t bits;
		memcpy(&bits, &dv, 8);
		return put_le(c, bits, 8);
	}
	case PROTOBUF_C_TYPE_STRING: {
		if (!json_is_string(v))
			return fail(c, f, "expected a string");
		size_t mark = c->len;
		int rc = put_raw(c, json_string_value(v), json_string_length(v));
		return rc ? rc : close_len(c, mark);
	}
	case PROTOBUF_C_TYPE_BYTES:
		if (!json_is_string(v))
			return fail(c, f, "expected a string");
		return put_decoded_bytes(c, f, json_string_value(v), json_string_length(v));
	case PROTOBUF_C_TYPE_MESSAGE: {
		if (!json_is_object(v))
			return fail(c, f, "expected an object");
		size_t mark = c->len;
		int rc = encode_object(c, f->descriptor, v, depth + 1);
		return rc ? rc : close_len(c, mark);
	}
	}
	return fail(c, f, "unsupported type");
}

static int encode_field(struct conv *c, const ProtobufCFieldDescriptor *f, const json_t *v, int depth)
{
	unsigned wt = scalar_wire(f->type);
	int rc;
	if (f->label != PROTOBUF_C_LABEL_REPEATED) {
		rc = put_tag(c, f->id, wt);
		return rc ? rc : encode_value(c, f, v, depth);
	}
	if (!json_is_array(v))
		return fail(c, f, "expected an array");
	size_t i;
	const json_t *item;
	if (wt != 2) { /* proto3 packs repeated scalars */
		if (!json_array_size(v))
			return 0;
		if ((rc = put_tag(c, f->id, 2)))
			return rc;
		size_t mark = c->len;
		json_array_foreach(v, i, item) if ((rc = encode_value(c, f, item, depth))) return rc;
		return close_len(c, mark);
	}
	json_array_foreach(v, i, item)
	{
		if (json_is_null(item))
			return fail(c, f, "null array element");
		if ((rc = put_tag(c, f->id, wt)) || (rc = encode_value(c, f, item, depth)))
			return rc;
	}
	return 0;
}

static int encode_object(struct conv *c, const ProtobufCMessageDescriptor *d, const json_t *obj, int depth)
{
	if (depth > OTLP_JSON_MAX_DEPTH) {
		set_err(c->err, c->err_len, "json: nested deeper than %d levels", OTLP_JSON_MAX_DEPTH);
		return -EINVAL;
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		if (!f || json_is_null(v)) /* unknown fields are ignored, as the spec asks */
			continue;
		int rc = encode_field(c, f, v, depth);
		if (rc)
			return rc;
	}
	return 0;
}

int otlp_from_json(enum otlp_signal s, const char *json, size_t len, size_t max_out, uint8_t **out, size_t *out_len,
		   char *err, size_t err_len)
{
	const ProtobufCMessageDescriptor *d = request_descriptor(s);
	if (!d)
		return -EINVAL;
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &jerr);
	if (!root) {
		set_err(err, err_len, "json: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
		return -EINVAL;
	}
	struct conv c = {.max = max_out, .err = err, .err_len = err_len};
	int rc;
	if (!json_is_object(root)) {
		set_err(err, err_len, "json: the request must be an object");
		rc = -EINVAL;
	} else {
		rc = encode_object(&c, d, root, 0);
	}
	json_decref(root);
	if (rc == -EFBIG)
		set_err(err, err_len, "request larger than %zu bytes once converted", max_out);
	if (rc) {
		free(c.p);
		return rc;
	}
	*out = c.p ? c.p : malloc(1);
	*out_len = c.len;
	return *out ? 0 : -ENOMEM;
}
