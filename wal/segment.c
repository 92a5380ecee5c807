/*
 * segment — frame encoding, parsing and a buffered reader (format in segment.h).
 *
 * Parsing is a pure function over a byte buffer so the fuzzer and the reader share it; the reader adds
 * only buffering (1 MiB reads, grown up to one maximal frame). Nothing here trusts a length it read
 * before checking it against the limits and the bytes actually available.
 */
#include "wal/segment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "wal/crc32c.h"

#define READER_CHUNK (1u << 20)

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int segment_payload_build(void *cctx, int level, const void *raw, size_t raw_len, uint32_t records,
			  int64_t ts_min, int64_t ts_max, uint8_t **out, size_t *out_len)
{
	if (raw_len > SEGMENT_MAX_RAW)
		return -E2BIG;
	size_t bound = ZSTD_compressBound(raw_len);
	size_t cap = SEGMENT_SUMMARY_SIZE + (bound > raw_len ? bound : raw_len);
	uint8_t *p = malloc(cap);
	if (!p)
		return -ENOMEM;
	int codec = SEGMENT_CODEC_NONE;
	size_t body = raw_len;
	if (cctx && raw_len > 64) {
		size_t n = ZSTD_compressCCtx(cctx, p + SEGMENT_SUMMARY_SIZE, bound, raw, raw_len, level);
		if (!ZSTD_isError(n) && n < raw_len) {
			codec = SEGMENT_CODEC_ZSTD;
			body = n;
		}
	}
	if (codec == SEGMENT_CODEC_NONE && raw_len)
		memcpy(p + SEGMENT_SUMMARY_SIZE, raw, raw_len);
	if (SEGMENT_SUMMARY_SIZE + body > SEGMENT_MAX_PAYLOAD) {
		free(p);
		return -E2BIG;
	}
	if (cap - (SEGMENT_SUMMARY_SIZE + body) >= 65536) {
		/* it waits in the writer's queue: do not keep the compression bound (raw size) for it */
		uint8_t *q = realloc(p, SEGMENT_SUMMARY_SIZE + body);
		if (q)
			p = q;
	}
	put32(p, records);
	put32(p + 4, (uint32_t)raw_len);
	put64(p + 8, (uint64_t)ts_min);
	put64(p + 16, (uint64_t)ts_max);
	*out = p;
	*out_len = SEGMENT_SUMMARY_SIZE + body;
	return codec;
}

static uint32_t frame_crc(uint64_t seq, uint8_t codec, const uint8_t *payload, uint32_t len)
{
	uint8_t head[9];
	put64(head, seq);
	head[8] = codec;
	return crc32c_update(crc32c_update(0, head, sizeof(head)), payload, len);
}

void segment_header_fill(uint8_t hdr[SEGMENT_HDR_SIZE], uint64_t seq, uint8_t codec, const uint8_t *payload,
			 uint32_t payload_len)
{
	put32(hdr, payload_len);
	put32(hdr + 4, frame_crc(seq, codec, payload, payload_len));
	put64(hdr + 8, seq);
	hdr[16] = codec;
}

int64_t segment_parse(const uint8_t *buf, size_t avail, struct segment_frame *out, uint64_t *need)
{
	if (avail < SEGMENT_HDR_SIZE) {
		if (need)
			*need = SEGMENT_HDR_SIZE;
		return 0;
	}
	uint32_t len = get32(buf);
	if (len < SEGMENT_SUMMARY_SIZE || len > SEGMENT_MAX_PAYLOAD)
		return -EBADMSG;
	uint64_t total = SEGMENT_HDR_SIZE + (uint64_t)len;
	if (avail < total) {
		if (need)
			*need = total;
		return 0;
	}
	uint64_t seq = get64(buf + 8);
	uint8_t codec = buf[16];
	const uint8_t *payload = buf + SEGMENT_HDR_SIZE;
	if (codec > SEGMENT_CODEC_ZSTD || get32(buf + 4) != frame_crc(seq, codec, payload, len))
		return -EBADMSG;
	struct segment_frame f = {
		.seq = seq,
		.codec = codec,
		.payload_len = len,
		.records = get32(payload),
		.raw_len = get32(payload + 4),
		.ts_min = (int64_t)get64(payload + 8),
		.ts_max = (int64_t)get64(payload + 16),
		.body = payload + SEGMENT_SUMMARY_SIZE,
		.body_len = len - SEGMENT_SUMMARY_SIZE,
	};
	if (f.raw_len > SEGMENT_MAX_RAW || (codec == SEGMENT_CODEC_NONE && f.raw_len != f.body_len))
		return -EBADMSG;
	*out = f;
	return (int64_t)total;
}

int64_t segment_decode(void *dctx, const struct segment_frame *f, void *dst, size_t cap)
{
	if (f->raw_len > cap)
		return -EBADMSG;
	if (f->codec == SEGMENT_CODEC_NONE) {
		if (f->body_len)
			memcpy(dst, f->body, f->body_len);
		return f->body_len;
	}
	size_t n = ZSTD_decompressDCtx(dctx, dst, f->raw_len, f->body, f->body_len);
	if (ZSTD_isError(n) || n != f->raw_len)
		return -EBADMSG;
	return (int64_t)n;
}

void segment_path(char *buf, size_t cap, const char *dir, uint32_t segno)
{
	snprintf(buf, cap, "%s/%08u.seg", dir, segno);
}

bool segment_parse_name(const char *name, uint32_t *segno)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + 8, ".seg") != 0 || v == 0 || v > UINT32_MAX)
		return false;
	*segno = (uint32_t)v;
	return true;
}

int segment_reader_init(struct segment_reader *r, const struct wal_io *io, int fd, uint64_t off, uint64_t end)
{
	*r = (struct segment_reader){ .io = io, .fd = fd, .off = off, .end = end, .buf_off = off };
	r->buf = malloc(READER_CHUNK);
	if (!r->buf)
		return -ENOMEM;
	r->cap = READER_CHUNK;
	return 0;
}

void segment_reader_free(struct segment_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Makes at least `want` bytes from r->off available in the buffer (fewer at r->end). */
static int reader_fill(struct segment_reader *r, uint64_t want)
{
	if (r->off < r->buf_off || r->off > r->buf_off + r->len) {
		r->buf_off = r->off;
		r->len = 0;
	}
	size_t skip = (size_t)(r->off - r->buf_off);
	if (skip) {
		memmove(r->buf, r->buf + skip, r->len - skip);
		r->len -= skip;
		r->buf_off = r->off;
	}
	if (want > r->cap) {
		uint8_t *nb = realloc(r->buf, want);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = want;
	}
	uint64_t limit = r->end - r->buf_off;
	size_t target = (size_t)(limit < r->cap ? limit : r->cap);
	if (r->len >= want || r->len >= target)
		return 0;
	ssize_t n = fileio_read_full(r->io, r->fd, r->buf + r->len, target - r->len, (off_t)(r->buf_off + r->len));
	if (n < 0)
		return (int)n;
	r->len += (size_t)n;
	return 0;
}

int segment_reader_next(struct segment_reader *r, struct segment_frame *out, uint64_t *frame_off)
{
	uint64_t need = SEGMENT_HDR_SIZE;
	for (;;) {
		if (r->off >= r->end)
			return SEGMENT_END;
		int rc = reader_fill(r, need);
		if (rc < 0)
			return rc;
		size_t at = (size_t)(r->off - r->buf_off);
		uint64_t need2 = 0;
		int64_t n = segment_parse(r->buf + at, r->len - at, out, &need2);
		if (n < 0)
			return -EBADMSG;
		if (n > 0) {
			*frame_off = r->off;
			r->off += (uint64_t)n;
			return SEGMENT_FRAME;
		}
		if (r->off + need2 > r->end)
			return -ENODATA;
		if (need2 <= need)
			return -ENODATA; /* asked for that much and the file ended first */
		need = need2;
	}
}
