/*
 * Fuzz: OTLP logs → Loki entries on arbitrary protobuf never crashes, and whatever converts obeys the
 * mapping's invariants: one entry per log record on the wire (or counted as skipped), every stream has
 * a service_name, every label and metadata name is a valid Prometheus name, no value is empty, stream
 * label values are valid UTF-8.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/otlp.h"
#include "pipeline/otlp_logs_loki.h"

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), written apart from the module's. */
static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len = c < 0x80		  ? 1
					 : c >= 0xC2 && c <= 0xDF ? 2
					 : c >= 0xE0 && c <= 0xEF ? 3
					 : c >= 0xF0 && c <= 0xF4 ? 4
								  : 0;
		if (!len || i + len > n)
			return 0;
		unsigned cp = len == 1 ? c : c & (0x7F >> len);
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return 0;
		i += len;
	}
	return 1;
}

static void check_set(const struct labels *ls)
{
	for (uint32_t i = 0; i < ls->n; i++)
		if (!labels_name_valid(ls->v[i].name, ls->v[i].name_len) || !ls->v[i].value_len)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch *b = batch_new();
	struct otlp_logs_loki_counts counts;
	char err[256];
	uint64_t items = 0;
	int valid = otlp_validate(OTLP_LOGS, data, size, &items, NULL, 0) == 0;
	int rc = otlp_logs_loki_convert(data, size, 1, b, &counts, err, sizeof(err));
	if (rc == 0) {
		if (!valid || counts.entries + counts.skipped != items || counts.entries != b->n_records)
			abort();
		for (size_t i = 0; i < b->n_records; i++) {
			const struct log_entry *e = &b->records[i].log;
			if (b->records[i].kind != RECORD_LOG || !labels_get(&e->labels, "service_name", 12))
				abort();
			check_set(&e->labels);
			for (uint32_t k = 0; k < e->labels.n; k++)
				if (!utf8_ok((const unsigned char *)e->labels.v[k].value, e->labels.v[k].value_len))
					abort();
			check_set(&e->metadata);
		}
	} else if (valid && rc == -EINVAL) {
		abort(); /* validation and conversion disagree */
	}
	batch_free(b);
	return 0;
}
