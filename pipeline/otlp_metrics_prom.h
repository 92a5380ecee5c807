/*
 * otlp_metrics_prom — OTLP metrics (an encoded ExportMetricsServiceRequest) to Prometheus samples,
 * following the OpenTelemetry "Prometheus and OpenMetrics compatibility" spec the way Alloy's
 * otelcol.exporter.prometheus applies it (names through the Collector's Prometheus translator).
 *
 * What a payload becomes:
 *   gauge                       → gauge `name` (unit "1" → `_ratio`)
 *   sum, cumulative, monotonic  → counter `name_total`
 *   sum, cumulative, up/down    → gauge `name`
 *   histogram, cumulative       → `name_bucket{le}` (cumulative counts, le="+Inf" = count),
 *                                 `name_sum` (when set), `name_count`
 *   summary                     → `name{quantile}`, `name_sum`, `name_count`
 *   delta or unspecified temporality (sums, histograms)  → dropped, counted as "delta"
 *   exponential histogram       → dropped, counted as "exponential_histogram" (batches carry no native
 *                                 histograms, and re-bucketing into classic buckets would change `le`
 *                                 whenever the SDK rescales)
 *   a metric without a usable name or data, a number point without a value, a histogram whose bounds
 *   do not increase              → dropped, counted as "invalid"
 * Every sample gets job = service.namespace/service.name (or service.name), instance =
 * service.instance.id, otel_scope_name/otel_scope_version (include_scope_labels) and the point's
 * attributes as labels; resource attributes too with resource_to_telemetry_conversion. A resource
 * with attributes also yields `target_info{job, instance, other attributes} 1` (include_target_info),
 * a scope `otel_scope_info` (include_scope_info). A point flagged NoRecordedValue yields Prometheus
 * staleness markers. Exemplars are ignored (batches have no exemplars).
 *
 * Label precedence: the structural labels (__name__, le, quantile) always win; attributes override
 * job, instance and the scope labels, as in Alloy. Attributes whose names collide after sanitising
 * are joined with ';' in the order of their original keys (the spec's rule); for the same original key
 * a resource attribute wins over a point attribute. Empty values mean "no label".
 *
 * The text rules (names, units, label names, number formats, attribute values) are otlp_prom_names's.
 *
 * Memory: the payload is unpacked into an arena owned by the converter and reset after each payload
 * (released when it grew past a few MiB), so a converter reused across payloads does not allocate in
 * steady state beyond what the output batch takes. protobuf-c's structs are much larger than the wire
 * form of an empty message (an empty data point: 2 bytes on the wire, ~90 in memory), so the unpack
 * is capped at OTLP_PROM_UNPACK_FACTOR times the payload plus 1 MiB: real exports stay far below
 * (2-4x for bench/otlp_prom's SDK-shaped exports), a payload of empty messages crafted to blow up
 * memory is refused instead.
 * A converter is not thread-safe: one per thread.
 */
#ifndef SOLDER_PIPELINE_OTLP_METRICS_PROM_H
#define SOLDER_PIPELINE_OTLP_METRICS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/batch.h"
#include "pipeline/otlp_prom_names.h"

struct otlp_prom_options {
	bool add_metric_suffixes;		   /* unit and type suffixes (Alloy default true) */
	bool include_target_info;		   /* target_info per resource (true) */
	bool include_scope_info;		   /* otel_scope_info per scope (false) */
	bool include_scope_labels;		   /* otel_scope_name/version on every sample (true) */
	bool keep_identifying_resource_attributes; /* service.* also on target_info (false) */
	bool resource_to_telemetry_conversion;	   /* resource attributes on every sample (false) */
	bool with_metadata;			   /* attach type/help/unit (Alloy's honor_metadata) */
	int64_t now_ms; /* timestamp of target_info/otel_scope_info and of points without a time */
};

/* The options Alloy's defaults give. */
void otlp_prom_default_options(struct otlp_prom_options *o);

enum otlp_prom_drop {
	OTLP_PROM_DROP_DELTA = 0,
	OTLP_PROM_DROP_EXPONENTIAL,
	OTLP_PROM_DROP_INVALID,
	OTLP_PROM_DROPS,
};

/* "delta", "exponential_histogram", "invalid": the reasons components count drops under. */
const char *otlp_prom_drop_reason(enum otlp_prom_drop d);

/* Counters one conversion adds to (never reset by the converter). */
struct otlp_prom_stats {
	uint64_t points;		   /* data points converted */
	uint64_t samples;		   /* samples appended to the batch */
	uint64_t dropped[OTLP_PROM_DROPS]; /* data points dropped, by reason */
};

struct otlp_prom;

int otlp_prom_new(struct otlp_prom **out);
void otlp_prom_free(struct otlp_prom *cv);

/* Most memory an unpack may take per payload byte (see above). */
#define OTLP_PROM_UNPACK_FACTOR 16

/*
 * Appends the samples of one ExportMetricsServiceRequest to out. Returns 0; -EINVAL when the payload
 * does not decode, -EFBIG when decoding it would take more memory than the cap (nothing appended);
 * -ENOMEM (out may hold part of the payload's samples: the caller discards the batch).
 */
int otlp_prom_convert(struct otlp_prom *cv, const struct otlp_prom_options *o, const void *data, size_t len,
		      struct batch *out, struct otlp_prom_stats *st);

#endif
