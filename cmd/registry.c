/*
 * registry — the list of components. Each component file defines one `const struct component_schema`;
 * this file is the only one that names them all, so `validate`, `run` and the docs see the same set.
 * Kept sorted by name (a test checks it) so lookups may bisect and the docs list reads in order.
 */
#include "cmd/registry.h"

#include <pthread.h>

extern const struct component_schema container_logs_schema, discovery_kubernetes_schema,
	discovery_relabel_schema, local_file_match_schema, logging_block_schema, loki_echo_schema,
	loki_process_schema, loki_relabel_schema, loki_source_api_schema, loki_source_file_schema,
	loki_source_journal_schema, loki_write_schema, otelcol_exporter_loki_schema, otelcol_exporter_otlp_schema,
	otelcol_exporter_otlphttp_schema, otelcol_exporter_prometheus_schema, otelcol_processor_batch_schema,
	otelcol_processor_memory_limiter_schema, otelcol_receiver_otlp_schema, prometheus_exporter_self_schema,
	prometheus_relabel_schema, prometheus_remote_write_schema, prometheus_scrape_schema, otlp_echo_schema;
extern const struct component_schema wal_block_schema, zone_block_schema;
extern const struct component_schema metrics_echo_schema;
extern const struct component_ops container_logs_ops, discovery_relabel_ops, local_file_match_ops, logging_block_ops,
	loki_echo_ops, loki_process_ops, loki_relabel_ops, loki_source_api_ops, loki_source_file_ops,
	loki_source_journal_ops, loki_write_ops, metrics_echo_ops, otelcol_receiver_otlp_ops, otlp_echo_ops,
	prometheus_exporter_self_ops, prometheus_relabel_ops, prometheus_remote_write_ops, prometheus_scrape_ops,
	wal_block_ops, zone_block_ops;
extern const struct component_ops otelcol_exporter_loki_ops, otelcol_exporter_otlp_ops, otelcol_exporter_otlphttp_ops,
	otelcol_exporter_prometheus_ops, otelcol_processor_batch_ops, otelcol_processor_memory_limiter_ops;

/* One line per component: its schema and, when this build can run it, its implementation. */
static const struct registry_entry {
	const struct component_schema *schema;
	const struct component_ops *ops;
} entries[] = {
	{ &discovery_kubernetes_schema, NULL },
	{ &discovery_relabel_schema, &discovery_relabel_ops },
	{ &local_file_match_schema, &local_file_match_ops },
	{ &logging_block_schema, &logging_block_ops },
	{ &loki_echo_schema, &loki_echo_ops },
	{ &loki_process_schema, &loki_process_ops },
	{ &loki_relabel_schema, &loki_relabel_ops },
	{ &loki_source_api_schema, &loki_source_api_ops },
	{ &loki_source_file_schema, &loki_source_file_ops },
	{ &loki_source_journal_schema, &loki_source_journal_ops },
	{ &loki_write_schema, &loki_write_ops },
	{ &otelcol_exporter_loki_schema, &otelcol_exporter_loki_ops },
	{ &otelcol_exporter_otlp_schema, &otelcol_exporter_otlp_ops },
	{ &otelcol_exporter_otlphttp_schema, &otelcol_exporter_otlphttp_ops },
	{ &otelcol_exporter_prometheus_schema, &otelcol_exporter_prometheus_ops },
	{ &otelcol_processor_batch_schema, &otelcol_processor_batch_ops },
	{ &otelcol_processor_memory_limiter_schema, &otelcol_processor_memory_limiter_ops },
	{ &otelcol_receiver_otlp_schema, &otelcol_receiver_otlp_ops },
	{ &prometheus_exporter_self_schema, &prometheus_exporter_self_ops },
	{ &prometheus_relabel_schema, &prometheus_relabel_ops },
	{ &prometheus_remote_write_schema, &prometheus_remote_write_ops },
	{ &prometheus_scrape_schema, &prometheus_scrape_ops },
	{ &metrics_echo_schema, &metrics_echo_ops }, /* solder.metrics.echo */
	{ &otlp_echo_schema, &otlp_echo_ops },       /* solder.otlp.echo */
	{ &container_logs_schema, &container_logs_ops }, /* solder.source.container_logs */
	{ &zone_block_schema, &zone_block_ops }, /* solder.zone */
	{ &wal_block_schema, &wal_block_ops },
};

#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

static const struct component_schema *schemas[NENTRIES];
static struct component_registry registry;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void)
{
	for (size_t i = 0; i < NENTRIES; i++)
		schemas[i] = entries[i].schema;
	registry.schemas = schemas;
	registry.n = NENTRIES;
}

const struct component_registry *registry_components(void)
{
	pthread_once(&once, build);
	return &registry;
}

const struct component_ops *registry_find_ops(const struct component_schema *schema)
{
	for (size_t i = 0; i < NENTRIES; i++)
		if (entries[i].schema == schema)
			return entries[i].ops;
	return NULL;
}
