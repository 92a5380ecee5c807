/*
 * loki.write — pushes log entries to Loki's push API, as Alloy's loki.write does, through the WAL.
 *
 * Each `endpoint` block is one wal_sink lane (its own WAL stream, cursor, thread and sender), so every
 * endpoint gets every entry and a dead one never stalls a healthy one. The receiver is wal_sink_push:
 * an entry is accepted once it is durable. A lane merges WAL entries up to batch_size / batch_wait
 * and hands them to lw_deliver, which only encodes and classifies; backoff, acks, health and drop
 * counters are wal_sink's, HTTP is lib/sender's.
 *
 * Encoding is done by hand rather than through protobuf-c's structs: a PushRequest is a few nested
 * length-prefixed fields, and sizing every entry first lets one pass write the whole request into one
 * buffer without an allocation per entry (protobuf-c's generated code checks it in the unit tests).
 * Entries are grouped by tenant (the `__tenant_id__` label stage.tenant sets, else tenant_id) and
 * label set; external_labels are merged in without overriding an entry's own labels, as Alloy does;
 * `__tenant_id__` is never sent as a label. One request per tenant, each with its X-Scope-OrgID.
 *
 * Retrying (429, 5xx, transport errors) never drops: wal_sink retries for ever unless
 * max_backoff_retries is set (solder's default is 0, not Alloy's 10). Other 4xx drop the batch,
 * counted by the reason read from Loki's message.
 */
#include "sinks/loki_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "config/common_blocks.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/pbwire.h"
#include "lib/sender.h"
#include "pipeline/component.h"
#include "pipeline/wal_sink.h"

/* ---- encoder ---- */

#define NONE UINT32_MAX

struct stream {
	struct labels labels; /* the entries' own labels (borrowed from the batch) */
	uint32_t tenant;
	uint32_t head, tail, nentries;
	size_t text_off, text_len; /* label text in e->text */
	size_t size;               /* encoded StreamAdapter content */
	uint64_t bytes;
};

struct loki_encoder {
	struct label *external;
	uint32_t next;
	char *default_tenant;
	struct stream *streams;
	size_t nstreams, cap_streams;
	uint32_t *table; /* stream index + 1, open addressing on the label hash */
	size_t table_cap, table_mask; /* mask + 1 slots in use: sized to the batch, not the largest seen */
	uint32_t *next_rec; /* per record: the stream's next entry */
	size_t *entry_size; /* per record: encoded EntryAdapter content */
	size_t cap_recs, cap_sizes;
	char *text;
	size_t text_len, text_cap;
	struct label *merged;
	size_t cap_merged;
	const char **tenants;
	size_t ntenants, cap_tenants;
	uint8_t *raw, *wire;
	size_t raw_cap, wire_cap;
	struct loki_request *reqs;
	size_t cap_reqs;
};

static int label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	return labels_strcmp(x->name, x->name_len, y->name, y->name_len);
}

int loki_encoder_new(const struct labels *external, const char *default_tenant, struct loki_encoder **out)
{
	struct loki_encoder *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->default_tenant = strdup(default_tenant ? default_tenant : "");
	uint32_t n = external ? external->n : 0;
	e->external = calloc(n ? n : 1, sizeof(*e->external));
	if (!e->default_tenant || !e->external)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		struct label *l = &e->external[e->next++];
		l->name = strndup(external->v[i].name, external->v[i].name_len);
		l->value = strndup(external->v[i].value, external->v[i].value_len);
		if (!l->name || !l->value)
			goto fail;
		l->name_len = external->v[i].name_len;
		l->value_len = external->v[i].value_len;
	}
	qsort(e->external, e->next, sizeof(*e->external), label_cmp);
	*out = e;
	return 0;
fail:
	loki_encoder_free(e);
	return -ENOMEM;
}

void loki_encoder_free(struct loki_encoder *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->next; i++) {
		free((char *)e->external[i].name);
		free((char *)e->external[i].value);
	}
	free(e->external);
	free(e->default_tenant);
	free(e->streams);
	free(e->table);
	free(e->next_rec);
	free(e->entry_size);
	free(e->text);
	free(e->merged);
	free(e->tenants);
	free(e->raw);
	free(e->wire);
	free(e->reqs);
	free(e);
}

/* google.protobuf.Timestamp's split: nanos are never negative. */
static void split_ts(int64_t ts_ns, int64_t *secs, int32_t *nanos)
{
	*secs = ts_ns / 1000000000LL;
	int64_t ns = ts_ns % 1000000000LL;
	if (ns < 0) {
		ns += 1000000000LL;
		(*secs)--;
	}
	*nanos = (int32_t)ns;
}

static size_t timestamp_size(int64_t ts_ns)
{
	int64_t secs;
	int32_t nanos;
	split_ts(ts_ns, &secs, &nanos);
	return (secs ? 1 + pbwire_varint_len((uint64_t)secs) : 0) + (nanos ? 1 + pbwire_varint_len((uint64_t)nanos) : 0);
}

static size_t pair_size(const struct label *l)
{
	return (l->name_len ? pbwire_field_len(l->name_len) : 0) + (l->value_len ? pbwire_field_len(l->value_len) : 0);
}

static size_t entry_size(const struct log_entry *le)
{
	size_t n = pbwire_field_len(timestamp_size(le->ts_ns)) + (le->line_len ? pbwire_field_len(le->line_len) : 0);
	for (uint32_t i = 0; i < le->metadata.n; i++)
		n += pbwire_field_len(pair_size(&le->metadata.v[i]));
	return n;
}

static uint8_t *put_entry(uint8_t *p, const struct log_entry *le, size_t size)
{
	p = pbwire_put_field(p, 2, size); /* StreamAdapter.entries */
	int64_t secs;
	int32_t nanos;
	split_ts(le->ts_ns, &secs, &nanos);
	p = pbwire_put_field(p, 1, timestamp_size(le->ts_ns));
	if (secs) {
		*p++ = 1 << 3;
		p = pbwire_put_varint(p, (uint64_t)secs);
	}
	if (nanos) {
		*p++ = 2 << 3;
		p = pbwire_put_varint(p, (uint64_t)nanos);
	}
	if (le->line_len)
		p = pbwire_put_bytes(p, 2, le->line, le->line_len);
	for (uint32_t i = 0; i < le->metadata.n; i++) {
		const struct label *l = &le->metadata.v[i];
		p = pbwire_put_field(p, 3, pair_size(l));
		if (l->name_len)
			p = pbwire_put_bytes(p, 1, l->name, l->name_len);
		if (l->value_len)
			p = pbwire_put_bytes(p, 2, l->value, l->value_len);
	}
	return p;
}

static uint32_t tenant_index(struct loki_encoder *e, const struct labels *ls)
{
	const struct label *t = labels_get(ls, LOKI_TENANT_LABEL, sizeof(LOKI_TENANT_LABEL) - 1);
	const char *name = t ? t->value : e->default_tenant;
	for (size_t i = 0; i < e->ntenants; i++)
		if (strcmp(e->tenants[i], name) == 0)
			return (uint32_t)i;
	if (grow_array((void **)&e->tenants, &e->cap_tenants, e->ntenants + 1, sizeof(*e->tenants)) < 0)
		return NONE;
	e->tenants[e->ntenants] = name;
	return (uint32_t)e->ntenants++;
}

/* The stream's label text: its labels plus external labels it lacks, without __tenant_id__. */
static int stream_text(struct loki_encoder *e, struct stream *st)
{
	const struct labels *ls = &st->labels;
	if (grow_array((void **)&e->merged, &e->cap_merged, ls->n + e->next, sizeof(*e->merged)) < 0)
		return -ENOMEM;
	uint32_t n = 0, i = 0, j = 0;
	while (i < ls->n || j < e->next) {
		int c = i == ls->n ? 1 : j == e->next ? -1 : label_cmp(&ls->v[i], &e->external[j]);
		const struct label *l = c <= 0 ? &ls->v[i++] : &e->external[j++];
		if (c == 0)
			j++; /* the entry's own label wins */
		if (labels_strcmp(l->name, l->name_len, LOKI_TENANT_LABEL, sizeof(LOKI_TENANT_LABEL) - 1) != 0)
			e->merged[n++] = *l;
	}
	st->text_off = e->text_len;
	st->text_len = 0;
	if (n == 0)
		return 0; /* no labels left: the caller skips the stream */
	struct labels merged = { e->merged, n, 0 };
	size_t need = labels_format(&merged, NULL, 0);
	if (grow_array((void **)&e->text, &e->text_cap, e->text_len + need + 1, 1) < 0)
		return -ENOMEM;
	labels_format(&merged, e->text + e->text_len, need + 1);
	st->text_len = need;
	e->text_len += need;
	return 0;
}

static int find_stream(struct loki_encoder *e, const struct labels *ls, uint32_t *out)
{
	size_t mask = e->table_mask, slot = ls->hash & mask;
	for (; e->table[slot]; slot = (slot + 1) & mask) {
		struct stream *st = &e->streams[e->table[slot] - 1];
		if (labels_equal(&st->labels, ls)) {
			*out = e->table[slot] - 1;
			return 0;
		}
	}
	if (grow_array((void **)&e->streams, &e->cap_streams, e->nstreams + 1, sizeof(*e->streams)) < 0)
		return -ENOMEM;
	struct stream *st = &e->streams[e->nstreams];
	memset(st, 0, sizeof(*st));
	st->labels = *ls;
	st->head = st->tail = NONE;
	st->tenant = tenant_index(e, ls);
	if (st->tenant == NONE || stream_text(e, st) < 0)
		return -ENOMEM;
	e->table[slot] = (uint32_t)++e->nstreams;
	*out = (uint32_t)e->nstreams - 1;
	return 0;
}

static int prepare(struct loki_encoder *e, const struct batch *b)
{
	e->nstreams = e->ntenants = e->text_len = 0;
	if (b->n_records >= NONE / 2)
		return -E2BIG;
	size_t want = 16;
	while (want < b->n_records * 2)
		want *= 2;
	if (grow_array((void **)&e->next_rec, &e->cap_recs, b->n_records, sizeof(*e->next_rec)) < 0 ||
	    grow_array((void **)&e->entry_size, &e->cap_sizes, b->n_records, sizeof(*e->entry_size)) < 0)
		return -ENOMEM;
	if (want > e->table_cap) {
		free(e->table);
		e->table = malloc(want * sizeof(*e->table));
		if (!e->table) {
			e->table_cap = 0;
			return -ENOMEM;
		}
		e->table_cap = want;
	}
	e->table_mask = want - 1;
	memset(e->table, 0, want * sizeof(*e->table));
	return 0;
}

/* Groups records into streams, sizing every entry. */
static int group(struct loki_encoder *e, const struct batch *b)
{
	for (size_t i = 0; i < b->n_records; i++) {
		const struct record *r = &b->records[i];
		if (r->kind != RECORD_LOG)
			continue;
		uint32_t si;
		if (find_stream(e, &r->log.labels, &si) < 0)
			return -ENOMEM;
		struct stream *st = &e->streams[si];
		e->entry_size[i] = entry_size(&r->log);
		e->next_rec[i] = NONE;
		if (st->tail == NONE)
			st->head = (uint32_t)i;
		else
			e->next_rec[st->tail] = (uint32_t)i;
		st->tail = (uint32_t)i;
		st->nentries++;
		st->size += pbwire_field_len(e->entry_size[i]);
		st->bytes += batch_record_bytes(r);
	}
	return 0;
}

/* Writes tenant t's PushRequest at e->raw + off; returns its length. */
static size_t write_request(struct loki_encoder *e, const struct batch *b, uint32_t t, size_t off,
			    struct loki_request *req)
{
	uint8_t *p = e->raw + off;
	for (size_t si = 0; si < e->nstreams; si++) {
		struct stream *st = &e->streams[si];
		if (st->tenant != t || !st->text_len)
			continue;
		p = pbwire_put_field(p, 1, pbwire_field_len(st->text_len) + st->size); /* PushRequest.streams */
		p = pbwire_put_bytes(p, 1, e->text + st->text_off, st->text_len);
		for (uint32_t i = st->head; i != NONE; i = e->next_rec[i])
			p = put_entry(p, &b->records[i].log, e->entry_size[i]);
		req->entries += st->nentries;
		req->streams++;
		req->bytes += st->bytes;
	}
	return (size_t)(p - (e->raw + off));
}

static int compress_requests(struct loki_encoder *e)
{
	size_t need = 0;
	for (size_t t = 0; t < e->ntenants; t++)
		need += snappy_max_compressed_length(e->reqs[t].raw_len);
	if (grow_array((void **)&e->wire, &e->wire_cap, need, 1) < 0)
		return -ENOMEM;
	size_t off = 0;
	for (size_t t = 0; t < e->ntenants; t++) {
		struct loki_request *r = &e->reqs[t];
		size_t len = snappy_max_compressed_length(r->raw_len);
		if (snappy_compress((const char *)r->raw, r->raw_len, (char *)e->wire + off, &len) != SNAPPY_OK)
			return -ENOMEM;
		r->body = e->wire + off;
		r->body_len = len;
		off += len;
	}
	return 0;
}

int loki_encoder_run(struct loki_encoder *e, const struct batch *b, const struct loki_request **out,
		     size_t *skipped)
{
	*skipped = 0;
	int rc = prepare(e, b);
	if (rc < 0 || (rc = group(e, b)) < 0)
		return rc;
	size_t total = 0;
	for (size_t si = 0; si < e->nstreams; si++) {
		struct stream *st = &e->streams[si];
		if (st->text_len)
			total += pbwire_field_len(pbwire_field_len(st->text_len) + st->size);
		else
			*skipped += st->nentries;
	}
	if (grow_array((void **)&e->raw, &e->raw_cap, total ? total : 1, 1) < 0 ||
	    grow_array((void **)&e->reqs, &e->cap_reqs, e->ntenants ? e->ntenants : 1, sizeof(*e->reqs)) < 0)
		return -ENOMEM;
	size_t off = 0, n = 0;
	for (uint32_t t = 0; t < e->ntenants; t++) {
		struct loki_request *r = &e->reqs[n];
		memset(r, 0, sizeof(*r));
		r->tenant = e->tenants[t];
		r->raw = e->raw + off;
		r->raw_len = write_request(e, b, t, off, r);
		off += r->raw_len;
		if (r->streams)
			n++;
	}
	e->ntenants = n; /* tenants whose streams all lacked labels send nothing */
	if ((rc = compress_requests(e)) < 0)
		return rc;
	*out = e->reqs;
	return (int)n;
}

const char *loki_drop_reason(long status, const char *body)
{
	if (status == 429)
		return "rate_limited";
	if (!body)
		return "other";
	if (strcasestr(body, "out of order") || strcasestr(body, "out_of_order"))
		return "out_of_order";
	if (strcasestr(body, "too far behind") || strcasestr(body, "too old"))
		return "too_old";
	if (strcasestr(body, "line too long") || strcasestr(body, "line_too_long") || strcasestr(body, "max entry size"))
		return "line_too_long";
	return "other";
}

/* ---- the component ---- */

/* Found in the runtime once it exports the self-metrics registry to components; until then the
 * per-endpoint request and byte counters are simply not registered. */

struct lw_endpoint {
	struct component *c;
	struct sender *sender;
	struct loki_encoder *enc;
	bool retry_429;
	char lane_name[72];
	struct wal_sink_options opts;
};

struct loki_write {
	struct component *c;
	struct wal_sink *sink;
	struct lw_endpoint *eps;
	size_t neps;
	struct label *external;
	uint32_t next;
};

static void describe(struct wal_sink_outcome *out, const struct sender_response *r)
{
	if (r->status == 0)
		snprintf(out->message, sizeof(out->message), "%.120s: %.120s", r->url, r->error);
	else
		snprintf(out->message, sizeof(out->message), "%.100s: HTTP %ld: %.*s", r->url, r->status,
			 (int)strcspn(r->body, "\n"), r->body);
}

static enum wal_sink_result lw_deliver(void *arg, struct batch *b, struct wal_sink_outcome *out)
{
	struct lw_endpoint *ep = arg;
	const struct loki_request *reqs;
	size_t skipped = 0;
	int n = loki_encoder_run(ep->enc, b, &reqs, &skipped);
	if (n < 0) {
		snprintf(out->message, sizeof(out->message), "encoding failed: %s", strerror(-n));
		out->drop_reason = "too_big";
		/* out of memory: try again later rather than lose the batch; too big never gets better */
		return n == -E2BIG ? WAL_SINK_DROP : WAL_SINK_RETRY;
	}
	enum wal_sink_result res = WAL_SINK_OK;
	for (int i = 0; i < n; i++) {
		struct sender_header h[2] = { { "Content-Type", "application/x-protobuf" } };
		size_t nh = 1;
		if (reqs[i].tenant[0])
			h[nh++] = (struct sender_header){ "X-Scope-OrgID", (char *)reqs[i].tenant };
		struct sender_response resp;
		sender_post(ep->sender, reqs[i].body, reqs[i].body_len, h, nh, &resp);
		enum sender_verdict v = sender_classify(&resp, ep->retry_429);
		if (v == SENDER_RETRY) {
			/* Tenants already accepted are sent again with the retry: duplicates, never losses. */
			out->retry_after_ms = resp.retry_after_ms;
			describe(out, &resp);
			return WAL_SINK_RETRY;
		}
		if (v == SENDER_DROP) {
			res = WAL_SINK_DROP;
			out->drop_reason = loki_drop_reason(resp.status, resp.body);
			describe(out, &resp);
		}
	}
	if (skipped)
		component_count_dropped(ep->c, "no_labels", skipped, 0);
	return res;
}

static const struct wal_sink_lane_ops lane_ops = { .deliver = lw_deliver };

static int endpoint_init(struct loki_write *lw, struct lw_endpoint *ep, const struct cfg_body *body)
{
	struct sender_config cfg;
	char err[160];
	ep->c = lw->c;
	int rc = sender_config_from_body(body, &cfg, err, sizeof(err));
	if (rc < 0) {
		sender_config_free(&cfg);
		log_error(component_id(lw->c), "invalid endpoint", "error=%s", err);
		return rc;
	}
	cfg.user_agent = strdup("solder");
	struct sender_metrics_opts m = { component_metrics(lw->c), component_id(lw->c), component_agent_zone(lw->c) };
	if ((rc = sender_new(&cfg, &m, &ep->sender)) < 0) {
		log_error(component_id(lw->c), "cannot create the HTTP client", "url=%s", cfg_string(body, "url"));
		return rc;
	}
	struct labels ext = { lw->external, lw->next, 0 };
	if ((rc = loki_encoder_new(&ext, cfg_string(body, "tenant_id"), &ep->enc)) < 0)
		return rc;
	ep->retry_429 = cfg_bool(body, "retry_on_http_429", true);
	ep->opts = (struct wal_sink_options){
		.max_bytes = cfg_bytes(body, "batch_size", 1 << 20),
		.max_wait_ns = cfg_duration_ns(body, "batch_wait", 1000000000LL),
		.min_backoff_ns = cfg_duration_ns(body, "min_backoff_period", 500000000LL),
		.max_backoff_ns = cfg_duration_ns(body, "max_backoff_period", 300000000000LL),
		.max_retries = (int)cfg_int(body, "max_backoff_retries", 0),
	};
	return 0;
}

static void lw_free(struct loki_write *lw)
{
	wal_sink_free(lw->sink);
	for (size_t i = 0; i < lw->neps; i++) {
		sender_free(lw->eps[i].sender);
		loki_encoder_free(lw->eps[i].enc);
	}
	free(lw->eps);
	for (uint32_t i = 0; lw->external && i < lw->next; i++) {
		free((char *)lw->external[i].name);
		free((char *)lw->external[i].value);
	}
	free(lw->external);
	free(lw);
}

/* With no endpoint, Alloy's loki.write accepts entries and sends them nowhere. */
static int lw_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct loki_write *lw = calloc(1, sizeof(*lw));
	struct wal_sink_lane *lanes = NULL;
	int rc = -ENOMEM;
	if (!lw)
		return -ENOMEM;
	lw->c = c;
	size_t cur = 0;
	while (cfg_next_block(args, "endpoint", &cur))
		lw->neps++;
	lw->eps = calloc(lw->neps ? lw->neps : 1, sizeof(*lw->eps));
	lanes = calloc(lw->neps ? lw->neps : 1, sizeof(*lanes));
	if (!lw->eps || !lanes || (rc = wal_sink_external_labels(args, &lw->external, &lw->next)) < 0)
		goto fail;
	cur = 0;
	for (size_t i = 0; i < lw->neps; i++) {
		const struct cfg_block *blk = cfg_next_block(args, "endpoint", &cur);
		if ((rc = endpoint_init(lw, &lw->eps[i], blk->body)) < 0)
			goto fail;
		lanes[i] = (struct wal_sink_lane){ wal_sink_lane_name(blk->body, lw->neps, lw->eps[i].lane_name, sizeof(lw->eps[i].lane_name)), &lw->eps[i], &lw->eps[i].opts };
	}
	if ((rc = wal_sink_export(c, lanes, lw->neps, &lane_ops, lw->neps ? &lw->eps[0].opts : NULL, &lw->sink)) < 0)
		goto fail;
	free(lanes);
	*state = lw;
	return 0;
fail:
	free(lanes);
	lw_free(lw);
	return rc;
}

static int lw_start(void *state)
{
	struct loki_write *lw = state;
	return wal_sink_start_or_idle(lw->c, lw->sink, "entries");
}

static void lw_stop(void *state, int64_t deadline_ns)
{
	wal_sink_stop(((struct loki_write *)state)->sink, deadline_ns);
}

static void lw_destroy(void *state) { lw_free(state); }

/* ---- schema ---- */

static void endpoint_check(const struct cfg_body *body, struct diag_list *diags)
{
	common_http_client_check(body, diags);
	common_zone_endpoints_check(body, diags);
}

static const struct arg_schema endpoint_args[] = {
	{ "url", &type_string, .required = true, .doc = "Full URL to send logs to." },
	{ "batch_size", &type_bytes, .def = "1MiB", .doc = "Maximum batch size to accumulate before sending." },
	{ "batch_wait", &type_duration, .def = "1s", .doc = "Maximum time to wait before sending a batch." },
	COMMON_HTTP_CLIENT_ARGS("true"),
	COMMON_ZONE_ENDPOINT_ARGS,
	{ "headers", &type_map_string, .doc = "Extra headers to deliver with the request." },
	{ "max_backoff_period", &type_duration, .def = "5m", .doc = "Maximum backoff time between retries." },
	{ "max_backoff_retries", &type_int, .def = "0",
	  .doc = "Retries before a batch is dropped; 0 (solder's default, unlike Alloy's 10) retries for ever." },
	{ "min_backoff_period", &type_duration, .def = "500ms", .doc = "Initial backoff time between retries." },
	{ "name", &type_string, .doc = "Optional name to identify this endpoint with." },
	{ "remote_timeout", &type_duration, .def = "10s", .doc = "Timeout for requests made to the URL." },
	{ "retry_on_http_429", &type_bool, .def = "true", .doc = "Retry when an HTTP 429 status code is received." },
	{ "tenant_id", &type_string, .doc = "Tenant ID sent as X-Scope-OrgID." },
	{ 0 },
};

static const struct arg_schema queue_config_args[] = {
	{ "block_on_overflow", &type_bool, .def = "true", .doc = "Block instead of dropping when the queue is full." },
	{ "capacity", &type_bytes, .def = "10MiB", .doc = "Size of the send queue buffer." },
	{ "drain_timeout", &type_duration, .def = "1m", .doc = "Maximum time to drain the queue on shutdown." },
	{ "min_shards", &type_number, .def = "1", .doc = "Minimum number of concurrent shards." },
	{ 0 },
};
static const struct body_schema queue_config_body = { queue_config_args, NULL, NULL };

static const struct block_schema endpoint_blocks[] = {
	COMMON_HTTP_CLIENT_BLOCKS,
	COMMON_ZONE_ENDPOINT_BLOCKS,
	{ "queue_config", &queue_config_body, .doc = "Queue used for the endpoint (mapped to the WAL)." },
	{ 0 },
};
static const struct body_schema endpoint_body = { endpoint_args, endpoint_blocks, endpoint_check };

static const struct arg_schema wal_args[] = {
	{ "drain_timeout", &type_duration, .def = "30s", .doc = "Maximum time the WAL drain may take." },
	{ "enabled", &type_bool, .def = "false", .doc = "Whether to enable the WAL (solder always has one)." },
	{ "max_read_frequency", &type_duration, .def = "1s", .doc = "Maximum backoff of the WAL reader." },
	{ "max_segment_age", &type_duration, .def = "1h", .doc = "Maximum age of a WAL segment." },
	{ "min_read_frequency", &type_duration, .def = "250ms", .doc = "Minimum backoff of the WAL reader." },
	{ 0 },
};
static const struct body_schema wal_body = { wal_args, NULL, NULL };

static const struct arg_schema args[] = {
	{ "external_labels", &type_map_string, .doc = "Labels to add to logs sent over the network." },
	{ "max_streams", &type_int, .def = "0", .doc = "Maximum number of active streams (0: no limit)." },
	{ 0 },
};

/* Each endpoint has its own WAL stream, named after it: two endpoints must not share a name. */
static void loki_write_check(const struct cfg_body *body, struct diag_list *diags)
{
	size_t outer = 0;
	const struct cfg_block *a, *b;
	while ((a = cfg_next_block(body, "endpoint", &outer))) {
		size_t inner = outer;
		const char *na = cfg_string(a->body, "name"), *ua = cfg_string(a->body, "url");
		while ((b = cfg_next_block(body, "endpoint", &inner))) {
			const char *nb = cfg_string(b->body, "name"), *ub = cfg_string(b->body, "url");
			bool same = na && *na ? nb && !strcmp(na, nb) : !(nb && *nb) && ua && ub && !strcmp(ua, ub);
			if (same)
				diag_add(diags, DIAG_ERROR, body->src, b->off,
					 na && *na ? "duplicate endpoint name \"%s\"" : "duplicate endpoint url \"%s\" (give one a name)",
					 na && *na ? na : ua);
		}
	}
}

static const struct block_schema blocks[] = {
	{ "endpoint", &endpoint_body, .repeatable = true, .doc = "Location to send logs to." },
	{ "wal", &wal_body, .doc = "Accepted for Alloy compatibility; solder's WAL is always on." },
	{ 0 },
};

static const struct export_schema exports[] = {
	{ "receiver", &type_logs_receiver, .doc = "Where other components send log entries to." },
	{ 0 },
};

const struct component_schema loki_write_schema = {
	.name = "loki.write",
	.doc = "Sends log entries to Loki.",
	.args = { args, blocks, loki_write_check },
	.exports = exports,
	.runnable = true,
};

const struct component_ops loki_write_ops = {
	.version = COMPONENT_OPS_VERSION,
	.schema = &loki_write_schema,
	.create = lw_create,
	.start = lw_start,
	.stop = lw_stop,
	.destroy = lw_destroy,
};
