/*
 * otlp_prom_names — the text rules of OTLP → Prometheus: metric names with unit and type suffixes,
 * metadata units, label names, the float format of `le` and `quantile`, and attribute values as strings.
 * See otlp_metrics_prom.h for where they apply.
 *
 * They follow the OpenTelemetry Collector's Prometheus translator (pkg/translator/prometheus), which
 * Alloy's otelcol.exporter.prometheus uses, with one deliberate difference: only ASCII letters and
 * digits count as name characters (the translator keeps any Unicode letter), so every name is valid
 * under Prometheus's legacy rules and a backend that enforces them never rejects a whole request.
 * Attribute values are rendered as pdata's Value.AsString: JSON for arrays and maps (keys sorted, HTML
 * characters escaped as Go does), base64 for bytes, ES6 number formatting for doubles.
 */
#ifndef SOLDER_PIPELINE_OTLP_PROM_NAMES_H
#define SOLDER_PIPELINE_OTLP_PROM_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/proto/otlp/common.pb-c.h"
#include "pipeline/arena.h"

/* The metric kinds that change a name. */
enum otlp_prom_kind { OTLP_PROM_KIND_OTHER = 0, OTLP_PROM_KIND_GAUGE, OTLP_PROM_KIND_COUNTER };

/*
 * The Prometheus name of an OTLP metric (without _bucket/_sum/_count). With suffixes, the translator's
 * full normalisation: the [a-zA-Z0-9] runs of the name; the unit's main part mapped (s → seconds,
 * By → bytes, …; "1" → nothing), cleaned the same way and appended unless it already is one of the
 * runs; "a/b" adds `per` and the mapped b (s → second); a part holding `{` or `}` is dropped; counters
 * end in `_total` and gauges of unit "1" in `_ratio` (moved to the end when already present); a
 * leading digit gets `_`. Without suffixes, runs of characters outside [a-zA-Z0-9_:] become one `_`.
 * Writes at most cap-1 bytes and a NUL and returns the full length, like snprintf (0: no usable name).
 */
size_t otlp_prom_metric_name(const char *name, const char *unit, enum otlp_prom_kind kind, bool add_suffixes, char *buf,
			     size_t cap);
/* The same into arena memory (NUL-terminated); NULL when out of memory. */
char *otlp_prom_metric_name_in(struct arena *a, const char *name, const char *unit, enum otlp_prom_kind kind,
			       bool add_suffixes, size_t *len);

/* The metadata unit: the mapped main part, `_per_` and the mapped per part; "ratio" for gauges of "1". */
size_t otlp_prom_unit(const char *unit, enum otlp_prom_kind kind, char *buf, size_t cap);
char *otlp_prom_unit_in(struct arena *a, const char *unit, enum otlp_prom_kind kind);

/*
 * An attribute key as a label name (the translator's NormalizeLabel): each character outside
 * [a-zA-Z0-9] becomes `_` (one per UTF-8 character), a leading digit gets `key_`, a single leading
 * `_` gets `key` (`__x` stays). Returns the length as snprintf does; never allocates when
 * cap >= len + 5.
 */
size_t otlp_prom_label_name(const char *key, size_t len, char *buf, size_t cap);

/* Room that is always enough for otlp_prom_format_float. */
#define OTLP_PROM_FLOAT_MAX 400

/* A bound or quantile as Go's strconv.FormatFloat(v, 'f', -1, 64): "0.005", "1000000", "+Inf", "NaN". */
size_t otlp_prom_format_float(double v, char *buf, size_t cap);

/* True when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool otlp_prom_utf8_valid(const char *s, size_t n);

/*
 * s[0..n) with every byte that starts no valid UTF-8 sequence replaced by U+FFFD, into dst (room:
 * 3 * n bytes); returns the length. Label values must be valid UTF-8: Prometheus and Mimir refuse a
 * whole remote-write request for one invalid value, and protobuf-c does not check OTLP's strings.
 */
size_t otlp_prom_utf8_fix(const char *s, size_t n, char *dst);

/* A growable text buffer; zero-initialised is empty. */
struct otlp_prom_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* v as pdata's AsString into b (replacing its content, NUL-terminated); -ENOMEM. NULL renders "". */
int otlp_prom_render_value(struct otlp_prom_buf *b, const Opentelemetry__Proto__Common__V1__AnyValue *v);
void otlp_prom_buf_free(struct otlp_prom_buf *b);

#endif
