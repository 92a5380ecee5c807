/*
 * grpc — framing, timeouts and status details for solder's gRPC server (see grpc.h).
 *
 * A unary call's request body is exactly one length-prefixed message; anything else is malformed.
 * The declared length is checked against the receive limit before any byte of it is buffered or
 * inflated, and gunzip stops at the limit, so a small compressed body cannot expand without bound.
 *
 * The client helpers (frame flag, grpc-message decoding, RetryInfo from grpc-status-details-bin) read
 * what a server sends with the same care: a bounded, hand-written protobuf walk over a fixed message.
 */
#include "lib/grpc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int grpc_frame_parse(const uint8_t *body, size_t len, size_t max_msg, const uint8_t **msg, size_t *msg_len,
		     int *compressed)
{
	if (len < GRPC_FRAME_HEADER || body[0] > 1)
		return -EINVAL;
	uint32_t n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4];
	if (n > max_msg)
		return -EFBIG;
	if (len - GRPC_FRAME_HEADER != n)
		return -EINVAL;
	*msg = body + GRPC_FRAME_HEADER;
	*msg_len = n;
	*compressed = body[0];
	return 0;
}

void grpc_frame_header(uint8_t out[GRPC_FRAME_HEADER], size_t msg_len)
{
	out[0] = 0;
	out[1] = (uint8_t)(msg_len >> 24);
	out[2] = (uint8_t)(msg_len >> 16);
	out[3] = (uint8_t)(msg_len >> 8);
	out[4] = (uint8_t)msg_len;
}

int grpc_gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out, size_t *out_len)
{
	z_stream zs = {0};
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	size_t cap = len * 4 + 64 < max_out ? len * 4 + 64 : max_out;
	uint8_t *buf = malloc(cap + 1);
	int rc = -ENOMEM, zrc = Z_OK;
	if (!buf)
		goto fail;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	size_t used = 0;
	for (;;) {
		if (used == cap) {
			if (cap >= max_out) {
				/* full at the limit: fine only if the stream ends exactly here */
				uint8_t probe;
				zs.next_out = &probe;
				zs.avail_out = 1;
				zrc = inflate(&zs, Z_NO_FLUSH);
				rc = zrc == Z_STREAM_END && zs.avail_out == 1 ? 0 : -EFBIG;
				if (rc == 0)
					break;
				goto fail;
			}
			size_t ncap = cap * 2 < max_out ? cap * 2 : max_out;
			uint8_t *nb = realloc(buf, ncap + 1);
			if (!nb) {
				rc = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		zs.next_out = buf + used;
		zs.avail_out = (uInt)(cap - used);
		zrc = inflate(&zs, Z_NO_FLUSH);
		used = cap - zs.avail_out;
		if (zrc == Z_STREAM_END)
			break;
		if (zrc != Z_OK || (zs.avail_in == 0 && zs.avail_out > 0)) {
			rc = zrc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			goto fail;
		}
	}
	if (zs.avail_in != 0) { /* bytes after the gzip member */
		rc = -EINVAL;
		goto fail;
	}
	inflateEnd(&zs);
	*out = buf;
	*out_len = used;
	return 0;
fail:
	inflateEnd(&zs);
	free(buf);
	return rc;
}

int grpc_timeout_parse(const char *s, int64_t *ns)
{
	size_t n = strlen(s);
	if (n < 2 || n > 9)
		return -EINVAL;
	int64_t v = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	int64_t unit;
	switch (s[n - 1]) {
	case 'H':
		unit = 3600000000000LL;
		break;
	case 'M':
		unit = 60000000000LL;
		break;
	case 'S':
		unit = 1000000000LL;
		break;
	case 'm':
		unit = 1000000LL;
		break;
	case 'u':
		unit = 1000LL;
		break;
	case 'n':
		unit = 1;
		break;
	default:
		return -EINVAL;
	}
	/* 8 digits of hours overflow int64 nanoseconds: clamp, a deadline that far is no deadline */
	*ns = v > INT64_MAX / unit ? INT64_MAX : v * unit;
	return 0;
}

void grpc_message_encode(const char *text, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	if (!out_len)
		return;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		bool plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
		size_t need = plain ? 1 : 3;
		if (o + need >= out_len)
			break;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
}

/* ---- a few bytes of protobuf, written by hand: the messages are fixed and tiny ---- */
struct pbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void put_byte(struct pbuf *b, uint8_t c)
{
	if (b->len < b->cap)
		b->p[b->len++] = c;
	else
		b->overflow = true;
}

static void put_varint(struct pbuf *b, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		put_byte(b, c | (v ? 0x80 : 0));
	} while (v);
}

static void put_bytes(struct pbuf *b, unsigned field, const void *data, size_t len)
{
	put_varint(b, (uint64_t)field << 3 | 2);
	put_varint(b, len);
	for (size_t i = 0; i < len; i++)
		put_byte(b, ((const uint8_t *)data)[i]);
}

static int base64(const uint8_t *in, size_t len, char *out, size_t out_len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t need = (len + 2) / 3 * 4;
	if (need + 1 > out_len)
		return -ENOSPC;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = 0;
	return (int)o;
}

int grpc_status_details(enum grpc_status code, const char *message, int64_t retry_delay_ms, char *out, size_t out_len)
{
	static const char retry_url[] = "type.googleapis.com/google.rpc.RetryInfo";
	uint8_t dur_buf[32], info_buf[48], any_buf[128], status_buf[512];
	struct pbuf dur = {dur_buf, 0, sizeof(dur_buf), false};
	struct pbuf info = {info_buf, 0, sizeof(info_buf), false};
	struct pbuf any = {any_buf, 0, sizeof(any_buf), false};
	struct pbuf st = {status_buf, 0, sizeof(status_buf), false};
	size_t mlen = message ? strnlen(message, 256) : 0;

	put_varint(&st, 1 << 3 | 0); /* Status.code */
	put_varint(&st, (uint64_t)code);
	if (mlen)
		put_bytes(&st, 2, message, mlen);
	if (retry_delay_ms > 0) {
		put_varint(&dur, 1 << 3 | 0); /* Duration.seconds */
		put_varint(&dur, (uint64_t)(retry_delay_ms / 1000));
		if (retry_delay_ms % 1000) {
			put_varint(&dur, 2 << 3 | 0); /* Duration.nanos */
			put_varint(&dur, (uint64_t)(retry_delay_ms % 1000) * 1000000);
		}
		put_bytes(&info, 1, dur.p, dur.len);		      /* RetryInfo.retry_delay */
		put_bytes(&any, 1, retry_url, sizeof(retry_url) - 1); /* Any.type_url */
		put_bytes(&any, 2, info.p, info.len);		      /* Any.value */
		put_bytes(&st, 3, any.p, any.len);		      /* Status.details */
	}
	if (st.overflow || any.overflow)
		return -ENOSPC;
	return base64(st.p, st.len, out, out_len);
}

const char *grpc_status_name(enum grpc_status code)
{
	switch (code) {
	case GRPC_OK:
		return "OK";
	case GRPC_CANCELLED:
		return "CANCELLED";
	case GRPC_INVALID_ARGUMENT:
		return "INVALID_ARGUMENT";
	case GRPC_DEADLINE_EXCEEDED:
		return "DEADLINE_EXCEEDED";
	case GRPC_NOT_FOUND:
		return "NOT_FOUND";
	case GRPC_RESOURCE_EXHAUSTED:
		return "RESOURCE_EXHAUSTED";
	case GRPC_FAILED_PRECONDITION:
		return "FAILED_PRECONDITION";
	case GRPC_ABORTED:
		return "ABORTED";
	case GRPC_UNIMPLEMENTED:
		return "UNIMPLEMENTED";
	case GRPC_INTERNAL:
		return "INTERNAL";
	case GRPC_UNAVAILABLE:
		return "UNAVAILABLE";
	case GRPC_DATA_LOSS:
		return "DATA_LOSS";
	case GRPC_ALREADY_EXISTS:
		return "ALREADY_EXISTS";
	case GRPC_PERMISSION_DENIED:
		return "PERMISSION_DENIED";
	case GRPC_OUT_OF_RANGE:
		return "OUT_OF_RANGE";
	case GRPC_UNAUTHENTICATED:
		return "UNAUTHENTICATED";
	default:
		return "UNKNOWN";
	}
}

/* ---- client side ---- */

void grpc_frame_header_flag(uint8_t out[GRPC_FRAME_HEADER], size_t msg_len, int compressed)
{
	grpc_frame_header(out, msg_len);
	out[0] = compressed ? 1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void grpc_message_decode(const char *in, size_t len, char *out, size_t out_len)
{
	size_t o = 0;
	if (!out_len)
		return;
	for (size_t i = 0; i < len && o + 1 < out_len; i++) {
		int hi = i + 2 < len && in[i] == '%' ? hexval(in[i + 1]) : -1, lo = hi >= 0 ? hexval(in[i + 2]) : -1;
		if (lo >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
}

static int unbase64(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v = c >= 'A' && c <= 'Z'   ? c - 'A'
			: c >= 'a' && c <= 'z' ? c - 'a' + 26
			: c >= '0' && c <= '9' ? c - '0' + 52
			: c == '+' || c == '-' ? 62
			: c == '/' || c == '_' ? 63
					       : -1;
		if (c == '=' || c == '\r' || c == '\n' || c == ' ')
			continue;
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*out_len = o;
	return 0;
}

/* One field of a protobuf message: number, wire type, and its varint value or bytes. */
struct pb_field {
	uint32_t num, type;
	uint64_t v;
	const uint8_t *p;
	size_t len;
};

static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return -EINVAL;
		uint8_t c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -EINVAL;
}

/* Reads the next field at *p; 1 when one was read, 0 at the end, -EINVAL when malformed. */
static int pb_next(const uint8_t **p, const uint8_t *end, struct pb_field *f)
{
	uint64_t key;
	if (*p == end)
		return 0;
	if (pb_varint(p, end, &key) < 0 || key >> 3 == 0 || key >> 3 > UINT32_MAX)
		return -EINVAL;
	f->num = (uint32_t)(key >> 3);
	f->type = key & 7;
	switch (f->type) {
	case 0:
		return pb_varint(p, end, &f->v) < 0 ? -EINVAL : 1;
	case 1:
	case 5: {
		size_t n = f->type == 1 ? 8 : 4;
		if ((size_t)(end - *p) < n)
			return -EINVAL;
		*p += n;
		return 1;
	}
	case 2:
		if (pb_varint(p, end, &f->v) < 0 || f->v > (uint64_t)(end - *p))
			return -EINVAL;
		f->p = *p;
		f->len = (size_t)f->v;
		*p += f->len;
		return 1;
	default:
		return -EINVAL;
	}
}

/* RetryInfo{retry_delay: Duration{seconds, nanos}} → ms. */
static int retry_info_delay(const uint8_t *p, const uint8_t *end, int64_t *ms)
{
	struct pb_field f, d;
	int rc;
	int64_t secs = 0, nanos = 0;
	while ((rc = pb_next(&p, end, &f)) > 0) {
		if (f.num != 1 || f.type != 2)
			continue;
		const uint8_t *q = f.p, *qend = f.p + f.len;
		while ((rc = pb_next(&q, qend, &d)) > 0) {
			if (d.type == 0 && d.num == 1)
				secs = (int64_t)d.v;
			else if (d.type == 0 && d.num == 2)
				nanos = (int64_t)(int32_t)d.v;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (secs < 0 || nanos < 0)
		secs = nanos = 0;
	if (secs > 86400)
		secs = 86400;
	*ms = secs * 1000 + (nanos + 999999) / 1000000;
	return 0;
}

int grpc_status_details_retry_delay(const char *b64, size_t len, int64_t *delay_ms)
{
	static const char retry_url[] = "type.googleapis.com/google.rpc.RetryInfo";
	uint8_t buf[2048];
	size_t n;
	if (unbase64(b64, len, buf, sizeof(buf), &n) < 0)
		return -EINVAL;
	const uint8_t *p = buf, *end = buf + n;
	struct pb_field f, a;
	int rc, found = -ENOENT;
	while ((rc = pb_next(&p, end, &f)) > 0) {
		if (f.num != 3 || f.type != 2) /* Status.details: repeated Any */
			continue;
		const uint8_t *q = f.p, *qend = f.p + f.len, *value = NULL;
		size_t value_len = 0;
		bool retry = false;
		while ((rc = pb_next(&q, qend, &a)) > 0) {
			if (a.num == 1 && a.type == 2)
				retry = a.len == sizeof(retry_url) - 1 && !memcmp(a.p, retry_url, a.len);
			else if (a.num == 2 && a.type == 2) {
				value = a.p;
				value_len = a.len;
			}
		}
		if (rc < 0)
			return rc;
		if (retry && value && retry_info_delay(value, value + value_len, delay_ms) == 0)
			found = 0;
	}
	return rc < 0 ? rc : found;
}
