/*
 * wal — the top-level unlabeled `wal { … }` block: the agent's write-ahead log settings (DESIGN §6).
 * The WAL is opened once at start-up, before any component, from these arguments and
 * --storage.path; a reload that changes them is reported (the block turns unhealthy saying a restart
 * is needed) rather than silently ignored.
 */
#include <string.h>

#include "cmd/wal_block.h"
#include "config/schema.h"
#include "config/types.h"
#include "pipeline/component.h"

static const struct arg_schema args[] = {
	{ "max_size", &type_bytes, .def = "1GiB", .doc = "Disk the WAL may use across all sinks." },
	{ "fsync", &type_string, .def = "group", .one_of = "group|interval|never",
	  .doc = "group: acknowledged means on disk; interval: synced every fsync_interval; never: the kernel decides." },
	{ "fsync_interval", &type_duration, .def = "1s", .doc = "Sync period for fsync = \"interval\"." },
	{ "max_commit_delay", &type_duration, .def = "5ms", .doc = "Longest the writer gathers appends into one commit (skipped while groups hold a single append)." },
	{ "when_full", &type_string, .def = "backpressure", .one_of = "backpressure|drop_oldest",
	  .doc = "backpressure: pushes get 429 and pull sources pause; drop_oldest: the oldest data is dropped and counted." },
	{ "segment_size", &type_bytes, .def = "64MiB", .doc = "Size of one segment file." },
	{ 0 },
};

const struct component_schema wal_block_schema = {
	.name = "wal",
	.doc = "The write-ahead log: the one queue where data waits for sinks.",
	.args = { args, NULL, NULL },
	.unlabeled = true,
	.runnable = true,
};

void wal_block_options(const struct cfg_body *args, struct wal_options *o)
{
	o->max_size = cfg_bytes(args, "max_size", 1ULL << 30);
	o->segment_size = cfg_bytes(args, "segment_size", 64ULL << 20);
	const char *fsync = cfg_string(args, "fsync");
	o->fsync = fsync && strcmp(fsync, "interval") == 0 ? WAL_FSYNC_INTERVAL
		   : fsync && strcmp(fsync, "never") == 0  ? WAL_FSYNC_NEVER
							   : WAL_FSYNC_GROUP;
	o->fsync_interval_ms = (uint32_t)(cfg_duration_ns(args, "fsync_interval", 1000000000LL) / 1000000);
	o->max_commit_delay_us = (uint32_t)(cfg_duration_ns(args, "max_commit_delay", 5000000LL) / 1000);
	const char *full = cfg_string(args, "when_full");
	o->full_policy = full && strcmp(full, "drop_oldest") == 0 ? WAL_FULL_DROP_OLDEST : WAL_FULL_BACKPRESSURE;
}

static int wal_block_create(struct component *c, const struct cfg_body *args, void **state)
{
	*state = c;
	return 0;
}

static int wal_block_update(void *state, const struct cfg_body *args)
{
	component_set_health(state, HEALTH_UNHEALTHY,
			     "WAL settings changed; they take effect at the next restart (the running WAL keeps its settings)");
	return 0;
}

const struct component_ops wal_block_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &wal_block_schema,
	.create = wal_block_create,
	.update = wal_block_update,
};
