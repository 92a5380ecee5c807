/*
 * zone — which availability zone this agent runs in, and where that answer came from (DESIGN §7).
 *
 * The first source that answers wins, in this order: the `zone` the config sets; the SOLDER_ZONE
 * environment variable; the `topology.kubernetes.io/zone` label of this node (name from NODE_NAME, read
 * through lib/kube); EC2's instance metadata service, IMDSv2 only (PUT a session token, then GET the
 * placement with it, ~1 s time-outs so an agent off EC2 waits at most a few seconds once). The zone is the
 * name Kubernetes uses in EndpointSlices ("eu-west-1a"); zone_id ("euw1-az3") is kept when a source gives
 * it, because AZ names are shuffled per AWS account and IDs are not.
 *
 * A watcher resolves at start and again on an interval (a node label can be set after the agent starts),
 * publishes `solder_agent_zone_info{zone,zone_id,source} 1` and logs one line whenever the answer changes.
 */
#ifndef SOLDER_LIB_ZONE_H
#define SOLDER_LIB_ZONE_H

#include <stdbool.h>

struct kube_client;
struct metrics_registry;

enum zone_source {
	ZONE_SOURCE_NONE = 0,
	ZONE_SOURCE_CONFIG,
	ZONE_SOURCE_ENV,
	ZONE_SOURCE_NODE_LABEL,
	ZONE_SOURCE_IMDS
};

#define ZONE_MAX 64

struct zone_info {
	char zone[ZONE_MAX];	/* "" when unknown */
	char zone_id[ZONE_MAX]; /* "" when the source does not give one */
	enum zone_source source;
};

struct zone_opts {
	const char *zone;	      /* from the config, or NULL */
	struct kube_client *kube;     /* NULL: the node label is not consulted */
	const char *node_name;	      /* NULL = getenv("NODE_NAME") */
	const char *imds_url;	      /* NULL = "http://169.254.169.254"; "" = never ask IMDS */
	unsigned imds_timeout_ms;     /* per request; 0 = 1000 */
	unsigned imds_token_ttl_s;    /* 0 = 21600 */
	unsigned refresh_interval_ms; /* the watcher's; 0 = 5 minutes */
	bool quiet_unknown;           /* no endpoint names zones: an unknown zone is news, not a warning */
};

/* "config", "env", "node_label", "imds", "none". */
const char *zone_source_name(enum zone_source source);

/*
 * Asks each source in turn. Returns 0 with *out filled, or -ENOENT when none answered (*out then says
 * ZONE_SOURCE_NONE). A value that is not a plausible zone name (empty, longer than 63, characters outside
 * [A-Za-z0-9._-]) counts as no answer from that source.
 */
int zone_resolve(const struct zone_opts *opts, struct zone_info *out);

/* The separate steps, for tests and for callers that want one source. Each: 0, -ENOENT, or -errno. */
int zone_from_node(struct kube_client *kube, const char *node_name, struct zone_info *out);
int zone_from_imds(const char *base_url, unsigned timeout_ms, unsigned ttl_s, struct zone_info *out);

/* Sets solder_agent_zone_info{zone,zone_id,source} to 1 for `info`, dropping any earlier child. */
int zone_publish(struct metrics_registry *reg, const struct zone_info *info);
/* One log line: the zone and its source, or that it is unknown (a warning unless quiet_unknown). */
void zone_log(const struct zone_info *info, bool quiet_unknown);

struct zone_watcher;

/* Resolves once (logging and publishing when reg is not NULL), then again every refresh interval from a
 * thread. opts is copied; opts->kube must outlive the watcher. Returns 0 even when no zone was found. */
int zone_watcher_start(const struct zone_opts *opts, struct metrics_registry *reg, struct zone_watcher **out);
void zone_watcher_get(struct zone_watcher *zw, struct zone_info *out);
/* Re-resolves now (on the caller's thread); true when the answer changed. */
bool zone_watcher_refresh(struct zone_watcher *zw);
void zone_watcher_stop(struct zone_watcher *zw);

#endif
