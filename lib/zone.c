/*
 * zone — resolving the agent's zone from config, env, the node's label or IMDSv2, and keeping it current.
 *
 * IMDS is asked with the v2 session flow only: v1 (a plain GET) is what SSRF attacks ride on and many
 * accounts disable it, so a v1 answer is never relied upon. Requests to IMDS bypass any configured proxy
 * (HTTP_PROXY would otherwise send the link-local address to the proxy). Bodies are capped: IMDS answers
 * a few bytes, anything bigger is not IMDS.
 */
#include "lib/zone.h"
#include "lib/kube.h"
#include "lib/log.h"
#include "lib/metrics.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_IMDS	"http://169.254.169.254"
#define MAX_IMDS_BODY	4096
#define ZONE_LABEL	"topology.kubernetes.io/zone"
#define ZONE_LABEL_BETA "failure-domain.beta.kubernetes.io/zone"
#define ZONE_ID_LABEL	"topology.k8s.aws/zone-id"

const char *zone_source_name(enum zone_source source)
{
	switch (source) {
	case ZONE_SOURCE_CONFIG:
		return "config";
	case ZONE_SOURCE_ENV:
		return "env";
	case ZONE_SOURCE_NODE_LABEL:
		return "node_label";
	case ZONE_SOURCE_IMDS:
		return "imds";
	case ZONE_SOURCE_NONE:
		break;
	}
	return "none";
}

static bool plausible(const char *s)
{
	if (!s || !*s || strlen(s) >= ZONE_MAX)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.'))
			return false;
	}
	return true;
}

static void set_info(struct zone_info *out, const char *zone, const char *zone_id, enum zone_source src)
{
	*out = (struct zone_info){.source = src};
	snprintf(out->zone, sizeof(out->zone), "%s", zone);
	if (plausible(zone_id))
		snprintf(out->zone_id, sizeof(out->zone_id), "%s", zone_id);
}

/* ---- the node's label ---- */

int zone_from_node(struct kube_client *kube, const char *node_name, struct zone_info *out)
{
	if (!kube || !node_name || !*node_name)
		return -ENOENT;
	char path[320];
	if (!plausible(node_name) || snprintf(path, sizeof(path), "/api/v1/nodes/%s", node_name) >= (int)sizeof(path))
		return -EINVAL;
	json_t *node = NULL;
	int rc = kube_get(kube, path, &node, NULL);
	if (rc)
		return rc;
	const char *zone = kube_object_label(node, ZONE_LABEL);
	if (!plausible(zone))
		zone = kube_object_label(node, ZONE_LABEL_BETA);
	rc = plausible(zone) ? 0 : -ENOENT;
	if (rc == 0)
		set_info(out, zone, kube_object_label(node, ZONE_ID_LABEL), ZONE_SOURCE_NODE_LABEL);
	json_decref(node);
	return rc;
}

/* ---- IMDSv2 ---- */

struct small_body {
	char data[MAX_IMDS_BODY + 1];
	size_t len;
};

static size_t small_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct small_body *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > MAX_IMDS_BODY)
		return 0;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* One IMDS request; 0 and the trimmed body when the answer is 200. */
static int imds_call(const char *url, bool put, const char *header, unsigned timeout_ms, struct small_body *body)
{
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	struct curl_slist *hl = header ? curl_slist_append(NULL, header) : NULL;
	body->len = 0;
	body->data[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, small_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	if (put) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	CURLcode cc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (cc != CURLE_OK)
		return -ECONNREFUSED;
	if (code == 401 || code == 403)
		return -EACCES;
	if (code != 200)
		return code == 404 ? -ENOENT : -EIO;
	while (body->len && (body->data[body->len - 1] == '\n' || body->data[body->len - 1] == '\r'))
		body->data[--body->len] = '\0';
	return 0;
}

int zone_from_imds(const char *base_url, unsigned timeout_ms, unsigned ttl_s, struct zone_info *out)
{
	const char *base = base_url ? base_url : DEFAULT_IMDS;
	if (!*base)
		return -ENOENT;
	timeout_ms = timeout_ms ? timeout_ms : 1000;
	char url[512], header[MAX_IMDS_BODY + 64];
	struct small_body token, zone, zone_id;
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	snprintf(header, sizeof(header), "X-aws-ec2-metadata-token-ttl-seconds: %u", ttl_s ? ttl_s : 21600);
	int rc = imds_call(url, true, header, timeout_ms, &token);
	if (rc)
		return rc;
	if (!token.len || strpbrk(token.data, "\r\n"))
		return -EPROTO;
	snprintf(header, sizeof(header), "X-aws-ec2-metadata-token: %s", token.data);
	snprintf(url, sizeof(url), "%s/latest/meta-data/placement/availability-zone", base);
	if ((rc = imds_call(url, false, header, timeout_ms, &zone)))
		return rc;
	if (!plausible(zone.data))
		return -EPROTO;
	snprintf(url, sizeof(url), "%s/latest/meta-data/placement/availability-zone-id", base);
	if (imds_call(url, false, header, timeout_ms, &zone_id)) /* older regions/instances may lack it */
		zone_id.data[0] = '\0';
	set_info(out, zone.data, zone_id.data, ZONE_SOURCE_IMDS);
	return 0;
}

/* ---- the order ---- */

int zone_resolve(const struct zone_opts *opts, struct zone_info *out)
{
	struct zone_opts o = opts ? *opts : (struct zone_opts){0};
	*out = (struct zone_info){.source = ZONE_SOURCE_NONE};
	if (plausible(o.zone)) {
		set_info(out, o.zone, NULL, ZONE_SOURCE_CONFIG);
		return 0;
	}
	const char *env = getenv("SOLDER_ZONE");
	if (plausible(env)) {
		set_info(out, env, NULL, ZONE_SOURCE_ENV);
		return 0;
	}
	const char *node = o.node_name ? o.node_name : getenv("NODE_NAME");
	if (zone_from_node(o.kube, node, out) == 0)
		return 0;
	if (zone_from_imds(o.imds_url, o.imds_timeout_ms, o.imds_token_ttl_s, out) == 0)
		return 0;
	*out = (struct zone_info){.source = ZONE_SOURCE_NONE};
	return -ENOENT;
}

int zone_publish(struct metrics_registry *reg, const struct zone_info *info)
{
	struct metric_family *fam = metrics_gauge_family(
		reg, "solder_agent_zone_info",
		"The availability zone this agent runs in and where it learnt it (config, env, node_label, imds).",
		"zone", "zone_id", "source", METRICS_END);
	if (!fam)
		return -EINVAL;
	static const enum zone_source all[] = {ZONE_SOURCE_NONE, ZONE_SOURCE_CONFIG, ZONE_SOURCE_ENV,
					       ZONE_SOURCE_NODE_LABEL, ZONE_SOURCE_IMDS};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		metrics_family_remove_by_label(fam, "source", zone_source_name(all[i]));
	metric_gauge_set(metrics_gauge_child(fam, info->zone, info->zone_id, zone_source_name(info->source)), 1);
	/* The reference taken by registering is left to the registry: unregistering the last one would drop
	 * the family with the child just set. */
	return 0;
}

void zone_log(const struct zone_info *info, bool quiet_unknown)
{
	if (info->source == ZONE_SOURCE_NONE && quiet_unknown)
		log_info("zone", "agent zone unknown; no endpoint is zone-aware", "source=none");
	else if (info->source == ZONE_SOURCE_NONE)
		log_warn("zone", "agent zone unknown: zone-aware endpoints send to every zone",
			 "tried=\"config,env,node_label,imds\"");
	else
		log_info("zone", "agent zone", "zone=%s zone_id=%s source=%s", info->zone,
			 info->zone_id[0] ? info->zone_id : "\"\"", zone_source_name(info->source));
}

/* ---- the watcher ---- */

struct zone_watcher {
	struct zone_opts opts;
	char *zone, *node_name, *imds_url; /* owned copies behind opts */
	struct metrics_registry *reg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct zone_info info;
	bool stop, has_thread;
	pthread_t thread;
};

bool zone_watcher_refresh(struct zone_watcher *zw)
{
	struct zone_info fresh;
	zone_resolve(&zw->opts, &fresh);
	pthread_mutex_lock(&zw->lock);
	bool changed = memcmp(&fresh, &zw->info, sizeof(fresh)) != 0;
	/* A source that stops answering does not erase a zone we knew: zones do not move, lookups fail. */
	if (changed && fresh.source == ZONE_SOURCE_NONE && zw->info.source != ZONE_SOURCE_NONE)
		changed = false;
	if (changed)
		zw->info = fresh;
	pthread_mutex_unlock(&zw->lock);
	if (changed) {
		zone_log(&fresh, zw->opts.quiet_unknown);
		if (zw->reg)
			zone_publish(zw->reg, &fresh);
	}
	return changed;
}

static void *watcher_main(void *arg)
{
	struct zone_watcher *zw = arg;
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += zw->opts.refresh_interval_ms / 1000;
		until.tv_nsec += (long)(zw->opts.refresh_interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&zw->lock);
		while (!zw->stop && pthread_cond_timedwait(&zw->cond, &zw->lock, &until) != ETIMEDOUT)
			;
		bool stop = zw->stop;
		pthread_mutex_unlock(&zw->lock);
		if (stop)
			return NULL;
		zone_watcher_refresh(zw);
	}
}

int zone_watcher_start(const struct zone_opts *opts, struct metrics_registry *reg, struct zone_watcher **out)
{
	struct zone_watcher *zw = calloc(1, sizeof(*zw));
	if (!zw)
		return -ENOMEM;
	zw->opts = opts ? *opts : (struct zone_opts){0};
	zw->reg = reg;
	zw->zone = zw->opts.zone ? strdup(zw->opts.zone) : NULL;
	zw->node_name = zw->opts.node_name ? strdup(zw->opts.node_name) : NULL;
	zw->imds_url = zw->opts.imds_url ? strdup(zw->opts.imds_url) : NULL;
	zw->opts.zone = zw->zone;
	zw->opts.node_name = zw->node_name;
	zw->opts.imds_url = zw->imds_url;
	if (!zw->opts.refresh_interval_ms)
		zw->opts.refresh_interval_ms = 5 * 60 * 1000;
	pthread_mutex_init(&zw->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&zw->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((opts && opts->zone && !zw->zone) || (opts && opts->node_name && !zw->node_name) ||
	    (opts && opts->imds_url && !zw->imds_url)) {
		zone_watcher_stop(zw);
		return -ENOMEM;
	}
	zw->info.source = ZONE_SOURCE_NONE;
	if (!zone_watcher_refresh(zw)) { /* nothing found: say so once */
		zone_log(&zw->info, zw->opts.quiet_unknown);
		if (reg)
			zone_publish(reg, &zw->info);
	}
	int rc = -pthread_create(&zw->thread, NULL, watcher_main, zw);
	if (rc) {
		zone_watcher_stop(zw);
		return rc;
	}
	zw->has_thread = true;
	*out = zw;
	return 0;
}

void zone_watcher_get(struct zone_watcher *zw, struct zone_info *out)
{
	pthread_mutex_lock(&zw->lock);
	*out = zw->info;
	pthread_mutex_unlock(&zw->lock);
}

void zone_watcher_stop(struct zone_watcher *zw)
{
	if (!zw)
		return;
	pthread_mutex_lock(&zw->lock);
	zw->stop = true;
	pthread_cond_broadcast(&zw->cond);
	pthread_mutex_unlock(&zw->lock);
	if (zw->has_thread)
		pthread_join(zw->thread, NULL);
	pthread_cond_destroy(&zw->cond);
	pthread_mutex_destroy(&zw->lock);
	free(zw->zone);
	free(zw->node_name);
	free(zw->imds_url);
	free(zw);
}
