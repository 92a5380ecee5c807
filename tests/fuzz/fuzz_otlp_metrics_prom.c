/*
 * Fuzz: OTLP metrics → Prometheus samples on arbitrary bytes never crashes, and whatever it converts is
 * a valid Prometheus series: label names sorted, unique, valid under the legacy rules, no empty values,
 * values valid UTF-8, a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*, the stats agreeing with the batch. The first
 * byte picks the options; the rest is the ExportMetricsServiceRequest (the seeds are real JS SDK exports with a leading
 * options byte). The same bytes also go through the name rules as a name and a unit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/labels.h"
#include "pipeline/otlp_metrics_prom.h"

static int metric_name_valid(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
			 (i && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

static void check_batch(const struct batch *b, const struct otlp_prom_stats *st)
{
	if (st->samples != b->n_records)
		abort();
	for (size_t i = 0; i < b->n_records; i++) {
		const struct labels *ls = &b->records[i].sample.labels;
		const struct label *name = labels_get(ls, "__name__", 8);
		if (b->records[i].kind != RECORD_SAMPLE || !name || !metric_name_valid(name->value, name->value_len))
			abort();
		for (uint32_t k = 0; k < ls->n; k++) {
			if (!ls->v[k].value_len || !labels_name_valid(ls->v[k].name, ls->v[k].name_len) ||
			    !otlp_prom_utf8_valid(ls->v[k].value, ls->v[k].value_len))
				abort();
			if (k && labels_strcmp(ls->v[k - 1].name, ls->v[k - 1].name_len, ls->v[k].name,
					       ls->v[k].name_len) >= 0)
				abort();
		}
	}
}

static void check_names(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), out[4096];
	memcpy(name, data, size);
	name[size] = '\0';
	size_t half = strlen(name) / 2;
	const char *unit = name + half; /* the name is the whole string, the unit its second half */
	for (int kind = 0; kind < 3; kind++)
		for (int suffixes = 0; suffixes < 2; suffixes++) {
			size_t n = otlp_prom_metric_name(name, unit, (enum otlp_prom_kind)kind, suffixes, out,
							 sizeof(out));
			if (n && n < sizeof(out) && !metric_name_valid(out, n))
				abort();
		}
	size_t n = otlp_prom_label_name(name, strlen(name), out, sizeof(out));
	if (n && n < sizeof(out) && !labels_name_valid(out, n))
		abort();
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct otlp_prom_options o;
	otlp_prom_default_options(&o);
	o.add_metric_suffixes = data[0] & 1;
	o.include_target_info = data[0] & 2;
	o.include_scope_info = data[0] & 4;
	o.include_scope_labels = data[0] & 8;
	o.keep_identifying_resource_attributes = data[0] & 16;
	o.resource_to_telemetry_conversion = data[0] & 32;
	o.with_metadata = data[0] & 64;
	o.now_ms = 1800000000000;
	struct otlp_prom *cv;
	struct batch *b = batch_new();
	if (!b || otlp_prom_new(&cv))
		abort();
	struct otlp_prom_stats st = {0};
	int rc = otlp_prom_convert(cv, &o, data + 1, size - 1, b, &st);
	if (rc == 0)
		check_batch(b, &st);
	else if (rc != -EINVAL && rc != -EFBIG)
		abort(); /* no -ENOMEM expected at fuzzing sizes */
	otlp_prom_free(cv);
	batch_free(b);
	if (size < 512)
		check_names(data + 1, size - 1);
	return 0;
}
