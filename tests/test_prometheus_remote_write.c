/*
 * Tests for sinks/prometheus_remote_write: the WriteRequest encoder (decoded again with protoc-c's
 * generated code for lib/proto/prom_remote.proto, an implementation independent of the hand-written
 * encoder), the rejection reasons, and the component end to end in the real runtime with a WAL,
 * against a loopback receiver (headers, 500 retried from the failed request on, 400 dropped).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <snappy-c.h>

#include "cmd/registry.h"
#include "lib/proto/prom_remote.pb-c.h"
#include "lib/proto/prom_remote_v2.pb-c.h"
#include "pipeline/relabel.h"
#include "sinks/prometheus_remote_write.h"
#include "support/harness.h"

#define STALE_BITS 0x7ff0000000000002ULL

static struct labels mk(const char *const *kv, size_t n)
{
	static struct labels_builder bs[4];
	static bool ready[4];
	static unsigned next;
	unsigned k = next++ % 4;
	struct labels_builder *b = &bs[k];
	if (!ready[k])
		labels_builder_init(b);
	ready[k] = true;
	labels_builder_reset(b, NULL);
	for (size_t i = 0; i + 1 < n; i += 2)
		assert_int_equal(labels_builder_set(b, kv[i], strlen(kv[i]), kv[i + 1], strlen(kv[i + 1])), 0);
	struct labels out;
	assert_int_equal(labels_builder_finish(b, &out), 0);
	return out;
}
#define MK(...) mk((const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *))

static void add(struct batch *b, struct labels ls, int64_t ts, double v, const struct metric_meta *m)
{
	assert_int_equal(batch_add_sample(b, &ls, ts, v, m), 0);
}

static double stale(void)
{
	uint64_t u = STALE_BITS;
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static Prometheus__WriteRequest *decode_body(const void *body, size_t body_len)
{
	size_t len;
	if (snappy_uncompressed_length(body, body_len, &len) != SNAPPY_OK)
		return NULL;
	char *raw = malloc(len ? len : 1);
	Prometheus__WriteRequest *wr = NULL;
	if (raw && snappy_uncompress(body, body_len, raw, &len) == SNAPPY_OK)
		wr = prometheus__write_request__unpack(NULL, len, (const uint8_t *)raw);
	free(raw);
	return wr;
}

static Prometheus__WriteRequest *decode(const struct prw_request *r)
{
	Prometheus__WriteRequest *wr = decode_body(r->body, r->body_len);
	assert_non_null(wr);
	return wr;
}

/* `{a="b",c="d"}` of a TimeSeries' labels, in wire order. */
static const char *series_text(const Prometheus__TimeSeries *ts)
{
	static char buf[512];
	size_t n = 0;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
	for (size_t i = 0; i < ts->n_labels; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s=\"%s\"", i ? "," : "", ts->labels[i]->name,
				      ts->labels[i]->value);
	snprintf(buf + n, sizeof(buf) - n, "}");
	return buf;
}

static struct prw_encoder *encoder(const struct labels *ext, size_t max, int64_t age_ms)
{
	struct prw_encoder_options o = { ext, max, age_ms, true };
	struct prw_encoder *e;
	assert_int_equal(prw_encoder_new(&o, &e), 0);
	return e;
}

/* Grouping by series, external labels (never overriding), timestamp order, values and staleness bits. */
static void test_encode_series(void **state)
{
	struct batch *b = batch_new();
	const struct metric_meta *cm = batch_intern_meta(b, "req_total", METRIC_TYPE_COUNTER, "Requests.", NULL);
	add(b, MK("__name__", "req_total", "job", "a", "path", "/x"), 2000, 5, cm);
	add(b, MK("__name__", "temp", "job", "a"), 1000, -1.5, NULL);
	add(b, MK("__name__", "req_total", "job", "a", "path", "/x"), 1000, 4, cm); /* out of order in the batch */
	add(b, MK("__name__", "req_total", "job", "a", "path", "/x"), 3000, stale(), cm);
	add(b, MK("__name__", "zero", "job", "a"), 0, 0, NULL);
	struct labels ext = MK("cluster", "c1", "job", "ext");
	struct prw_encoder *e = encoder(&ext, 0, 0);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
	assert_int_equal(st.samples, 5);
	assert_int_equal(st.series, 3);
	struct prw_request r;
	assert_int_equal(prw_encoder_request(e, 0, &r), 0);
	Prometheus__WriteRequest *wr = decode(&r);
	assert_int_equal(wr->n_timeseries, 3);
	/* sending order: by the labels other than __name__ (a shorter set first), then __name__ */
	Prometheus__TimeSeries *ts = wr->timeseries[2];
	assert_string_equal(series_text(ts), "{__name__=\"req_total\",cluster=\"c1\",job=\"a\",path=\"/x\"}");
	assert_int_equal(ts->n_samples, 3);
	assert_int_equal(ts->samples[0]->timestamp, 1000);
	assert_true(ts->samples[0]->value == 4);
	assert_int_equal(ts->samples[1]->timestamp, 2000);
	assert_int_equal(ts->samples[2]->timestamp, 3000);
	assert_true(bits(ts->samples[2]->value) == STALE_BITS);
	assert_string_equal(series_text(wr->timeseries[0]), "{__name__=\"temp\",cluster=\"c1\",job=\"a\"}");
	assert_true(wr->timeseries[0]->samples[0]->value == -1.5);
	assert_string_equal(series_text(wr->timeseries[1]), "{__name__=\"zero\",cluster=\"c1\",job=\"a\"}");
	assert_int_equal(wr->timeseries[1]->samples[0]->timestamp, 0);
	assert_true(wr->timeseries[1]->samples[0]->value == 0);
	assert_int_equal(wr->n_metadata, 1);
	assert_string_equal(wr->metadata[0]->metric_family_name, "req_total");
	assert_int_equal(wr->metadata[0]->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER);
	assert_string_equal(wr->metadata[0]->help, "Requests.");
	prometheus__write_request__free_unpacked(wr, NULL);
	prw_encoder_free(e);
	batch_free(b);
}

/* A series without __name__ is not sent (it would fail the whole request) and is counted. */
static void test_encode_no_name(void **state)
{
	struct batch *b = batch_new();
	add(b, MK("job", "a"), 1000, 1, NULL);
	add(b, MK("job", "a"), 2000, 1, NULL);
	add(b, MK("__name__", "x", "job", "a"), 1000, 1, NULL);
	struct prw_encoder *e = encoder(NULL, 0, 0);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
	assert_int_equal(st.no_name, 2);
	assert_int_equal(st.samples, 1);
	struct prw_request r;
	assert_int_equal(prw_encoder_request(e, 0, &r), 0);
	Prometheus__WriteRequest *wr = decode(&r);
	assert_int_equal(wr->n_timeseries, 1);
	assert_int_equal(wr->n_metadata, 0);
	prometheus__write_request__free_unpacked(wr, NULL);

	/* only nameless samples: nothing to send */
	batch_reset(b);
	add(b, MK("job", "a"), 1000, 1, NULL);
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 0);
	assert_int_equal(prw_encoder_request(e, 0, &r), -EINVAL);
	prw_encoder_free(e);
	batch_free(b);
}

/* max_samples_per_send cuts a long series across requests in order; the delivery's metadata in its first request. */
static void test_encode_split(void **state)
{
	struct batch *b = batch_new();
	const struct metric_meta *gm = batch_intern_meta(b, "g", METRIC_TYPE_GAUGE, NULL, "seconds");
	for (int i = 4; i >= 0; i--)
		add(b, MK("__name__", "g", "i", "1"), 1000 * i, i, gm);
	add(b, MK("__name__", "g", "i", "2"), 7, 7, gm);
	struct prw_encoder *e = encoder(NULL, 2, 0);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 3);
	int64_t want_ts[] = { 0, 1000, 2000, 3000, 4000, 7 };
	size_t k = 0;
	for (size_t i = 0; i < 3; i++) {
		struct prw_request r;
		assert_int_equal(prw_encoder_request(e, i, &r), 0);
		assert_int_equal(r.samples, 2);
		Prometheus__WriteRequest *wr = decode(&r);
		for (size_t s = 0; s < wr->n_timeseries; s++)
			for (size_t j = 0; j < wr->timeseries[s]->n_samples; j++)
				assert_int_equal(wr->timeseries[s]->samples[j]->timestamp, want_ts[k++]);
		assert_int_equal(wr->n_metadata, i == 0);
		if (i == 0)
			assert_string_equal(wr->metadata[0]->unit, "seconds");
		prometheus__write_request__free_unpacked(wr, NULL);
	}
	assert_int_equal(k, 6);
	prw_encoder_free(e);
	batch_free(b);
}

/* With a metadata interval, a family's metadata goes out once per interval, not in every request. */
static void test_encode_metadata_interval(void **state)
{
	struct batch *b = batch_new();
	const struct metric_meta *gm = batch_intern_meta(b, "g", METRIC_TYPE_GAUGE, "A gauge.", NULL);
	add(b, MK("__name__", "g"), 1000, 1, gm);
	struct prw_encoder_options o = { NULL, 0, 0, true, 60000 };
	struct prw_encoder *e;
	assert_int_equal(prw_encoder_new(&o, &e), 0);
	static const struct {
		int64_t now;
		size_t want;
	} steps[] = { { 0, 1 }, { 1000, 0 }, { 59999, 0 }, { 60000, 1 }, { 60001, 0 } };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct prw_stats st;
		struct prw_request r;
		assert_int_equal(prw_encoder_prepare(e, b, steps[i].now, &st), 1);
		assert_int_equal(prw_encoder_request(e, 0, &r), 0);
		assert_int_equal(r.metadata, steps[i].want);
		Prometheus__WriteRequest *wr = decode(&r);
		assert_int_equal(wr->n_metadata, steps[i].want);
		prometheus__write_request__free_unpacked(wr, NULL);
	}
	prw_encoder_free(e);
	batch_free(b);
}

/*
 * 1.0 sends the series of one target side by side (by the labels other than __name__, then __name__),
 * whatever the batch's order; 2.0 keeps the batch's order (families together). Either way each series
 * is whole and in timestamp order, and a label sorting before __name__ ("A") does not confuse it.
 */
static void test_encode_order(void **state)
{
	struct batch *b = batch_new();
	static const char *const fams[] = { "b_total", "a_total", "c" };
	static const char *const pods[] = { "p2", "p1" };
	for (int t = 0; t < 2; t++)
		for (int f = 0; f < 3; f++)
			for (int p = 0; p < 2; p++)
				add(b, MK("__name__", fams[f], "pod", pods[p], "A", "x"), 1000 + t, f * 10 + p, NULL);
	static const char *const want1[] = { "a_total p1", "b_total p1", "c p1", "a_total p2", "b_total p2", "c p2" };
	static const char *const want2[] = { "b_total p2", "b_total p1", "a_total p2", "a_total p1", "c p2", "c p1" };
	struct prw_encoder *e = encoder(NULL, 0, 0);
	for (int version = 1; version <= 2; version++) {
		prw_encoder_set_version(e, version);
		struct prw_stats st;
		assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
		struct prw_request r;
		assert_int_equal(prw_encoder_request(e, 0, &r), 0);
		Prometheus__WriteRequest *wr = decode(&r);
		assert_int_equal(wr->n_timeseries, 6);
		for (size_t i = 0; i < 6; i++) {
			Prometheus__TimeSeries *ts = wr->timeseries[i];
			char got[32];
			assert_string_equal(ts->labels[0]->name, "A");
			snprintf(got, sizeof(got), "%s %s", ts->labels[1]->value, ts->labels[2]->value);
			assert_string_equal(got, version == 1 ? want1[i] : want2[i]);
			assert_int_equal(ts->n_samples, 2);
			assert_int_equal(ts->samples[0]->timestamp, 1000);
			assert_int_equal(ts->samples[1]->timestamp, 1001);
		}
		prometheus__write_request__free_unpacked(wr, NULL);
	}
	prw_encoder_free(e);
	batch_free(b);
}

/*
 * A delivery's metadata go side by side (snappy compresses like entries best), metadata_max_per_request
 * per request from the first on, the rest in the last request; each family once, in order of first
 * appearance; a delivery prepared again with the same now (a retry) sends its metadata again.
 */
static void test_encode_metadata_spread(void **state)
{
	struct batch *b = batch_new();
	char fam[16];
	for (int f = 0; f < 7; f++) {
		snprintf(fam, sizeof(fam), "fam%d", f);
		const struct metric_meta *m = batch_intern_meta(b, fam, METRIC_TYPE_GAUGE, "help", NULL);
		add(b, MK("__name__", fam, "i", "1"), 1000, f, m);
		add(b, MK("__name__", fam, "i", "2"), 1000, f, m);
	}
	struct prw_encoder_options o = { NULL, 5, 0, true, 60000, NULL, 3 };
	struct prw_encoder *e;
	assert_int_equal(prw_encoder_new(&o, &e), 0);
	static const size_t want[] = { 3, 3, 1 }; /* 14 samples: requests of 5, 5, 4 */
	for (int round = 0; round < 3; round++) {
		struct prw_stats st;
		int64_t now = round == 2 ? 1000 : 0; /* rounds 0 and 1: same now (a retry); 2: inside the interval */
		assert_int_equal(prw_encoder_prepare(e, b, now, &st), 3);
		size_t k = 0;
		for (size_t i = 0; i < 3; i++) {
			struct prw_request r;
			assert_int_equal(prw_encoder_request(e, i, &r), 0);
			Prometheus__WriteRequest *wr = decode(&r);
			assert_int_equal(wr->n_metadata, round == 2 ? 0 : want[i]);
			for (size_t m = 0; m < wr->n_metadata; m++, k++) {
				snprintf(fam, sizeof(fam), "fam%zu", k);
				assert_string_equal(wr->metadata[m]->metric_family_name, fam);
			}
			prometheus__write_request__free_unpacked(wr, NULL);
		}
	}
	prw_encoder_free(e);
	batch_free(b);
}

/* write_relabel_config: applied once per series, before the external labels are merged in. */
static void test_encode_relabel(void **state)
{
	const char *drop_src[] = { "__name__" }, *keep_src[] = { "env" };
	struct relabel_rule_spec specs[] = {
		{ .action = "drop", .source_labels = drop_src, .n_source_labels = 1, .regex = "drop_me" },
		{ .action = "labeldrop", .regex = "secret" },
		{ .action = "replace", .source_labels = keep_src, .n_source_labels = 1, .target_label = "cluster",
		  .regex = "(.+)", .replacement = "from-$1" },
	};
	struct relabel_rules *rules;
	struct relabel_error err;
	assert_int_equal(relabel_compile(specs, 3, &rules, &err), 0);
	struct batch *b = batch_new();
	add(b, MK("__name__", "keep", "secret", "s", "env", "prod"), 1000, 1, NULL);
	add(b, MK("__name__", "drop_me", "env", "prod"), 1000, 2, NULL);
	add(b, MK("__name__", "plain"), 1000, 3, NULL);
	add(b, MK("__name__", "keep", "secret", "s", "env", "prod"), 2000, 4, NULL);
	struct labels ext = MK("cluster", "ext");
	struct prw_encoder_options o = { &ext, 0, 0, false, 0, rules };
	struct prw_encoder *e;
	assert_int_equal(prw_encoder_new(&o, &e), 0);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
	assert_int_equal(st.relabel_dropped, 1);
	struct prw_request r;
	assert_int_equal(prw_encoder_request(e, 0, &r), 0);
	Prometheus__WriteRequest *wr = decode(&r);
	assert_int_equal(wr->n_timeseries, 2);
	assert_string_equal(series_text(wr->timeseries[1]), "{__name__=\"keep\",cluster=\"from-prod\",env=\"prod\"}");
	assert_int_equal(wr->timeseries[1]->n_samples, 2);
	assert_string_equal(series_text(wr->timeseries[0]), "{__name__=\"plain\",cluster=\"ext\"}");
	prometheus__write_request__free_unpacked(wr, NULL);
	prw_encoder_free(e);
	relabel_rules_free(rules);
	batch_free(b);
}

/* sample_age_limit drops what is older than the limit at send time, counted. */
static void test_encode_age_limit(void **state)
{
	struct batch *b = batch_new();
	add(b, MK("__name__", "g"), 1000, 1, NULL);
	add(b, MK("__name__", "g"), 9000, 2, NULL);
	struct prw_encoder *e = encoder(NULL, 0, 5000);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 10000, &st), 1);
	assert_int_equal(st.too_old, 1);
	assert_int_equal(st.samples, 1);
	prw_encoder_free(e);
	batch_free(b);
}

/* Many series and samples: everything decodes back, each series once per request and in order. */
static void test_encode_many(void **state)
{
	struct batch *b = batch_new();
	char name[32];
	for (int t = 0; t < 20; t++)
		for (int s = 0; s < 500; s++) {
			snprintf(name, sizeof(name), "%d", s);
			add(b, MK("__name__", "m", "s", name), 1000 * t + 1, t * 1000 + s, NULL);
		}
	struct prw_encoder *e = encoder(NULL, 2000, 0);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 5);
	size_t total = 0;
	for (size_t i = 0; i < 5; i++) {
		struct prw_request r;
		assert_int_equal(prw_encoder_request(e, i, &r), 0);
		Prometheus__WriteRequest *wr = decode(&r);
		for (size_t s = 0; s < wr->n_timeseries; s++) {
			Prometheus__TimeSeries *ts = wr->timeseries[s];
			int sid = atoi(ts->labels[1]->value);
			for (size_t j = 0; j < ts->n_samples; j++) {
				assert_true(j == 0 || ts->samples[j]->timestamp > ts->samples[j - 1]->timestamp);
				int t = (int)(ts->samples[j]->timestamp / 1000);
				assert_true(ts->samples[j]->value == t * 1000 + sid);
			}
			total += ts->n_samples;
		}
		prometheus__write_request__free_unpacked(wr, NULL);
	}
	assert_int_equal(total, 10000);
	prw_encoder_free(e);
	batch_free(b);
}

static void test_drop_reasons(void **state)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "out of order sample", "out_of_order" },
		{ "err: out-of-order sample", "out_of_order" },
		{ "duplicate sample for timestamp", "duplicate" },
		{ "too old sample", "too_old" },
		{ "out of bounds", "too_old" },
		{ "invalid labels", "bad_request" },
		{ "", "bad_request" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(prw_drop_reason(400, cases[i].body), cases[i].want);
	assert_string_equal(prw_drop_reason(400, NULL), "bad_request");
	assert_string_equal(prw_drop_reason(429, "slow down"), "rate_limited");
}

/* ---- end to end: the runtime, a WAL, prometheus.remote_write and a loopback receiver ---- */

struct fake_rw {
	pthread_mutex_t lock;
	int fail_status; /* answer this instead of 204 while fail_count > 0 */
	int fail_count;
	int ok_first; /* with fail_count: accept this many before failing */
	const char *fail_body;
	int64_t ts[256]; /* sample timestamps of accepted writes, in arrival order */
	size_t nts;
	int requests, bad_headers;
	bool refuse_v2; /* answer 415 to 2.0 requests (a 1.0-only receiver that reads Content-Type) */
	int v2_requests, v2_refused;
};

/*
 * A minimal HTTP/1.1 receiver on a loopback socket (one connection at a time, Connection: close):
 * lib/httpserver answers 415 to `Content-Encoding: snappy`, which Remote Write requires.
 */
struct mini_srv {
	int fd, port;
	pthread_t thread;
	struct fake_rw *f;
};

static bool header_is(const char *head, const char *line)
{
	return strcasestr(head, line) != NULL;
}

static bool v1_headers_ok(const char *head)
{
	return header_is(head, "\r\nContent-Encoding: snappy\r\n") &&
	       header_is(head, "\r\nContent-Type: application/x-protobuf\r\n") &&
	       header_is(head, "\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n") && header_is(head, "\r\nUser-Agent: solder");
}

static bool v2_headers_ok(const char *head)
{
	return header_is(head, "\r\nContent-Encoding: snappy\r\n") &&
	       header_is(head, "\r\nContent-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request\r\n") &&
	       header_is(head, "\r\nUser-Agent: solder");
}

static void *unsnappy_body(const char *body, size_t body_len, size_t *len)
{
	if (snappy_uncompressed_length(body, body_len, len) != SNAPPY_OK)
		return NULL;
	char *raw = malloc(*len ? *len : 1);
	if (raw && snappy_uncompress(body, body_len, raw, len) == SNAPPY_OK)
		return raw;
	free(raw);
	return NULL;
}

/* Records the sample timestamps of a 2.0 body; -1 when it does not decode, else the samples in it. */
static long take_v2(struct fake_rw *f, const char *body, size_t body_len)
{
	long samples = 0;
	size_t len;
	void *raw = unsnappy_body(body, body_len, &len);
	Io__Prometheus__Write__V2__Request *q = raw ? io__prometheus__write__v2__request__unpack(NULL, len, raw) : NULL;
	free(raw);
	if (!q)
		return -1;
	for (size_t s = 0; s < q->n_timeseries; s++) {
		samples += (long)q->timeseries[s]->n_samples;
		for (size_t j = 0; j < q->timeseries[s]->n_samples && f->nts < 256; j++)
			f->ts[f->nts++] = q->timeseries[s]->samples[j]->timestamp;
	}
	io__prometheus__write__v2__request__free_unpacked(q, NULL);
	return samples;
}

/* *written: the samples a 2.0 write kept (for X-Prometheus-Remote-Write-Samples-Written), or -1. */
static void rw_answer(struct fake_rw *f, const char *head, const char *body, size_t body_len, int *status,
		      const char **text, long *written)
{
	*written = -1;
	pthread_mutex_lock(&f->lock);
	f->requests++;
	bool v2 = header_is(head, "\r\nX-Prometheus-Remote-Write-Version: 2.0.0\r\n");
	f->v2_requests += v2;
	if (!(v2 ? v2_headers_ok(head) : v1_headers_ok(head)))
		f->bad_headers++;
	*text = "";
	if (v2 && f->refuse_v2) {
		f->v2_refused++;
		*status = 415;
		pthread_mutex_unlock(&f->lock);
		return;
	}
	if (f->fail_count > 0 && f->ok_first > 0) {
		f->ok_first--;
	} else if (f->fail_count > 0) {
		f->fail_count--;
		*status = f->fail_status;
		*text = f->fail_body ? f->fail_body : "failing";
		pthread_mutex_unlock(&f->lock);
		return;
	}
	if (v2) {
		*written = take_v2(f, body, body_len);
		*status = *written >= 0 ? 204 : 400;
		pthread_mutex_unlock(&f->lock);
		return;
	}
	Prometheus__WriteRequest *wr = decode_body(body, body_len);
	for (size_t s = 0; wr && s < wr->n_timeseries; s++)
		for (size_t j = 0; j < wr->timeseries[s]->n_samples && f->nts < 256; j++)
			f->ts[f->nts++] = wr->timeseries[s]->samples[j]->timestamp;
	*status = wr ? 204 : 400;
	if (wr)
		prometheus__write_request__free_unpacked(wr, NULL);
	pthread_mutex_unlock(&f->lock);
}

static void mini_serve_one(struct mini_srv *m, int c)
{
	static char buf[1 << 20];
	size_t len = 0;
	char *end = NULL;
	while (!end && len < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = 0;
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return;
	*end = 0;
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	size_t body_len = cl ? strtoul(cl + 17, NULL, 10) : 0, have = len - (size_t)(end + 4 - buf);
	char *body = end + 4;
	if (body_len > sizeof(buf) - (size_t)(body - buf))
		return;
	while (have < body_len) {
		ssize_t n = read(c, body + have, body_len - have);
		if (n <= 0)
			return;
		have += (size_t)n;
	}
	int status;
	const char *text;
	long written;
	rw_answer(m->f, buf, body, body_len, &status, &text, &written);
	char out[512], hw[96] = "";
	if (written >= 0)
		snprintf(hw, sizeof(hw), "X-Prometheus-Remote-Write-Samples-Written: %ld\r\n", written);
	int n = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 status, hw, strlen(text), text);
	if (write(c, out, (size_t)n) < 0)
		return;
}

static void *mini_thread(void *arg)
{
	struct mini_srv *m = arg;
	for (;;) {
		int c = accept(m->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		mini_serve_one(m, c);
		close(c);
	}
}

static void mini_start(struct mini_srv *m, struct fake_rw *f)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	m->f = f;
	m->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(m->fd >= 0);
	assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(m->fd, 8), 0);
	assert_int_equal(getsockname(m->fd, (struct sockaddr *)&a, &al), 0);
	m->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&m->thread, NULL, mini_thread, m), 0);
}

static void mini_stop(struct mini_srv *m)
{
	shutdown(m->fd, SHUT_RDWR);
	close(m->fd);
	pthread_join(m->thread, NULL);
}

static size_t seen(struct fake_rw *f, size_t want, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		pthread_mutex_lock(&f->lock);
		size_t n = f->nts;
		pthread_mutex_unlock(&f->lock);
		if (n >= want || waited >= timeout_ms)
			return n;
		usleep(10000);
	}
}

struct drop_find {
	const char *reason;
	uint64_t records;
};

static void drop_cb(void *arg, const struct component_info *info)
{
	struct drop_find *d = arg;
	if (strcmp(info->id, "prometheus.remote_write.out") != 0)
		return;
	for (size_t i = 0; i < COMPONENT_DROP_REASONS; i++)
		if (info->stats.dropped[i].reason && !strcmp(info->stats.dropped[i].reason, d->reason))
			d->records = info->stats.dropped[i].records;
}

static uint64_t dropped(struct harness *h, const char *reason)
{
	struct drop_find d = { reason, 0 };
	runtime_visit(h->rt, drop_cb, &d);
	return d.records;
}

static void push_samples(int64_t from_ts, int n)
{
	struct batch *b = batch_new();
	for (int i = 0; i < n; i++)
		add(b, MK("__name__", "m", "job", "e2e"), from_ts + i, i, NULL);
	assert_int_equal(harness_push("in", b), 0);
	batch_free(b);
}

static void test_end_to_end(void **state)
{
	static struct fake_rw f = { .lock = PTHREAD_MUTEX_INITIALIZER };
	static struct mini_srv srv;
	mini_start(&srv, &f);
	char dir[] = "/tmp/remotewrite-XXXXXX", cfg[1024], cmd[64];
	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg),
		 "test.minject \"in\" { forward_to = [prometheus.remote_write.out.receiver] }\n"
		 "prometheus.remote_write \"out\" {\n"
		 "  endpoint {\n"
		 "    url = \"http://127.0.0.1:%d/api/v1/write\"\n"
		 "    queue_config {\n"
		 "      batch_send_deadline = \"20ms\"\n"
		 "      max_samples_per_send = 2\n"
		 "      min_backoff = \"10ms\"\n"
		 "      max_backoff = \"50ms\"\n"
		 "    }\n"
		 "  }\n"
		 "}\n",
		 srv.port);
	struct harness h;
	harness_start_with_wal(&h, cfg, dir);

	push_samples(1000, 1);
	assert_int_equal(seen(&f, 1, 10000), 1);

	/* Three requests of 2, 2 and 1 samples: the first is accepted, the second fails twice with 500,
	 * and the retry resumes at the second: the receiver sees every sample once, in order. */
	pthread_mutex_lock(&f.lock);
	f.fail_status = 500;
	f.fail_count = 2;
	f.ok_first = 1;
	f.nts = 0;
	pthread_mutex_unlock(&f.lock);
	struct batch *b = batch_new();
	for (int i = 0; i < 5; i++)
		add(b, MK("__name__", "m", "job", "e2e"), 2000 + i, i, NULL);
	assert_int_equal(harness_push("in", b), 0);
	batch_free(b);
	assert_int_equal(seen(&f, 5, 10000), 5);
	usleep(100000);
	pthread_mutex_lock(&f.lock);
	assert_int_equal(f.nts, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(f.ts[i], 2000 + (int64_t)i);
	pthread_mutex_unlock(&f.lock);

	/* 400 out of order: dropped and counted, the next batch flows */
	pthread_mutex_lock(&f.lock);
	f.fail_status = 400;
	f.fail_count = 1;
	f.fail_body = "out of order sample";
	f.nts = 0;
	pthread_mutex_unlock(&f.lock);
	push_samples(3000, 1);
	for (int i = 0; i < 1000 && dropped(&h, "out_of_order") == 0; i++)
		usleep(10000);
	assert_int_equal(dropped(&h, "out_of_order"), 1);
	push_samples(4000, 1);
	assert_int_equal(seen(&f, 1, 10000), 1);
	assert_int_equal(f.ts[0], 4000);
	assert_int_equal(f.bad_headers, 0);

	harness_stop(&h);
	mini_stop(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * protobuf_message = io.prometheus.write.v2.Request: 2.0 bodies while the receiver takes them; after a
 * 415 the endpoint speaks 1.0 and the refused request is sent again as 1.0 at once, so every sample
 * arrives once and in order, and later batches go as 1.0 straight away.
 */
static void test_v2_fallback(void **state)
{
	static struct fake_rw f = { .lock = PTHREAD_MUTEX_INITIALIZER };
	static struct mini_srv srv;
	mini_start(&srv, &f);
	char dir[] = "/tmp/remotewrite-XXXXXX", cfg[1024], cmd[64];
	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg),
		 "test.minject \"in\" { forward_to = [prometheus.remote_write.out.receiver] }\n"
		 "prometheus.remote_write \"out\" {\n"
		 "  endpoint {\n"
		 "    url = \"http://127.0.0.1:%d/api/v1/write\"\n"
		 "    protobuf_message = \"io.prometheus.write.v2.Request\"\n"
		 "    queue_config {\n"
		 "      batch_send_deadline = \"20ms\"\n"
		 "      max_samples_per_send = 2\n"
		 "      min_backoff = \"10ms\"\n"
		 "    }\n"
		 "  }\n"
		 "}\n",
		 srv.port);
	struct harness h;
	harness_start_with_wal(&h, cfg, dir);
	push_samples(1000, 3);
	assert_int_equal(seen(&f, 3, 10000), 3);
	pthread_mutex_lock(&f.lock);
	assert_int_equal(f.v2_requests, 2);
	f.refuse_v2 = true;
	f.nts = 0;
	pthread_mutex_unlock(&f.lock);

	push_samples(2000, 5); /* requests of 2, 2, 1: the first is refused as 2.0 and resent as 1.0 */
	assert_int_equal(seen(&f, 5, 10000), 5);
	push_samples(3000, 1);
	assert_int_equal(seen(&f, 6, 10000), 6);
	usleep(100000);
	pthread_mutex_lock(&f.lock);
	assert_int_equal(f.nts, 6);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(f.ts[i], 2000 + (int64_t)i);
	assert_int_equal(f.ts[5], 3000);
	assert_int_equal(f.v2_refused, 1);
	assert_int_equal(f.v2_requests, 3);
	assert_int_equal(f.bad_headers, 0);
	pthread_mutex_unlock(&f.lock);
	assert_int_equal(dropped(&h, "bad_request"), 0);

	harness_stop(&h);
	mini_stop(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* Settings solder does not implement are refused at create, never silently ignored; Remote Write 2.0 and
 * write_relabel_config are implemented: they must not be refused. */
static void test_unsupported(void **state)
{
	static const char *const bodies[] = {
		"url = \"http://127.0.0.1:1/w\"\n",
		"url = \"http://127.0.0.1:1/w\"\n protobuf_message = \"io.prometheus.write.v2.Request\"\n",
		"url = \"http://127.0.0.1:1/w\"\n write_relabel_config {\n action = \"drop\"\n "
		"source_labels = [\"a\"]\n regex = \"x\"\n }\n",
	};
	for (size_t i = 0; i < 3; i++) {
		char text[512];
		snprintf(text, sizeof(text), "prometheus.remote_write \"out\" {\n endpoint {\n%s }\n}\n", bodies[i]);
		struct config *cfg;
		const struct cfg_body *body = harness_body(text, "prometheus.remote_write.out", &cfg);
		size_t cur = 0;
		const struct cfg_block *ep = cfg_next_block(body, "endpoint", &cur);
		assert_non_null(ep);
		assert_null(prw_endpoint_unsupported(ep->body));
		harness_body_free(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_series),
		cmocka_unit_test(test_encode_no_name),
		cmocka_unit_test(test_encode_split),
		cmocka_unit_test(test_encode_metadata_interval),
		cmocka_unit_test(test_encode_metadata_spread),
		cmocka_unit_test(test_encode_order),
		cmocka_unit_test(test_encode_age_limit),
		cmocka_unit_test(test_encode_relabel),
		cmocka_unit_test(test_encode_many),
		cmocka_unit_test(test_drop_reasons),
		cmocka_unit_test(test_end_to_end),
		cmocka_unit_test(test_v2_fallback),
		cmocka_unit_test(test_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
