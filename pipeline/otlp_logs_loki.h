/*
 * otlp_logs_loki — OTLP log records into Loki entries, following Loki's own OTLP ingestion
 * (pkg/loghttp/push/otlp.go with the default otlp_config), so logs sent through solder look in Loki
 * exactly as if the application had sent them to Loki's /otlp endpoint:
 *
 *   - stream labels: the resource attributes on Loki's default index list (service.name,
 *     service.namespace, service.instance.id, deployment.environment, cloud.region,
 *     cloud.availability_zone, k8s.cluster.name, k8s.namespace.name, k8s.pod.name,
 *     k8s.container.name, container.name, k8s.replicaset.name, k8s.deployment.name,
 *     k8s.statefulset.name, k8s.daemonset.name, k8s.cronjob.name, k8s.job.name), names normalised;
 *     without service.name, `service_name` is the first indexed label named on Loki's
 *     discover_service_name list (container_name, k8s_container_name, k8s_job_name can be), else
 *     "unknown_service";
 *   - structured metadata, in Loki's order (a later name wins, as in LogQL): the record's attributes,
 *     observed_timestamp (when both timestamps are set), severity_number, severity_text,
 *     dropped_attributes_count, flags, trace_id, span_id (lowercase hex), then the other resource
 *     attributes, then the scope's attributes, scope_name, scope_version, scope_dropped_attributes_count;
 *   - names: every rune outside [a-zA-Z0-9_] becomes `_`, a leading digit gets `key_`, a single leading
 *     `_` gets `key` (otlptranslator.NormalizeLabel); map-valued attributes flatten to `parent_child`;
 *   - values and the line: pdata's Value.AsString — strings as they are, ints in decimal, doubles as
 *     Go's JSON writes them, bytes in base64, maps and arrays as Go's encoding/json (sorted keys,
 *     HTML-safe escapes); empty values are left out (a label set holds no empty values);
 *   - timestamp: time_unix_nano, else observed_time_unix_nano, else now.
 *
 * Ids of the wrong length (Loki's decoder rejects the whole request for them; our receiver does not
 * look) are left out rather than invented. Stream label values that are not valid UTF-8 (Loki would
 * refuse the stream) get U+FFFD for each invalid byte. protobuf-c strings end at their first NUL byte.
 */
#ifndef SOLDER_PIPELINE_OTLP_LOGS_LOKI_H
#define SOLDER_PIPELINE_OTLP_LOGS_LOKI_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/batch.h"

struct otlp_logs_loki_counts {
	size_t entries; /* appended to the batch */
	size_t skipped; /* records whose line would exceed BATCH_MAX_STRING */
};

/*
 * Converts one encoded ExportLogsServiceRequest into Loki entries appended to `out` (every string
 * interned in out). now_ns stamps records with neither timestamp. *counts (may be NULL) says what
 * happened to the records. Returns 0; -EINVAL when data is not a well-formed request (nothing
 * appended, the reason in err); -ENOMEM (out may then hold part of the entries: discard it).
 */
int otlp_logs_loki_convert(const uint8_t *data, size_t len, int64_t now_ns, struct batch *out,
			   struct otlp_logs_loki_counts *counts, char *err, size_t err_len);

/*
 * Loki's attribute-name normalisation of name[0..len) into buf (at most cap bytes, no NUL). Returns the
 * full length of the result, which may exceed cap (then call again with more room).
 */
size_t otlp_logs_loki_label_name(const char *name, size_t len, char *buf, size_t cap);

#endif
