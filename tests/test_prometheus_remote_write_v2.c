/*
 * Tests for the Remote Write 2.0 half of sinks/prometheus_remote_write: the io.prometheus.write.v2.Request
 * encoder, decoded again with protoc-c's generated code for lib/proto/prom_remote_v2.proto (an
 * implementation independent of the hand-written encoder), and the reading of the *-Written headers.
 * The 415 fallback runs end to end in tests/test_prometheus_remote_write.c (its loopback receiver).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <snappy-c.h>

#include "lib/proto/prom_remote.pb-c.h"
#include "lib/proto/prom_remote_v2.pb-c.h"
#include "sinks/prometheus_remote_write.h"

#define STALE_BITS 0x7ff0000000000002ULL

typedef Io__Prometheus__Write__V2__Request Req2;
typedef Io__Prometheus__Write__V2__TimeSeries Ts2;

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
#define MK(...) mk((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

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

static void *unsnappy(const struct prw_request *r, size_t *len)
{
	assert_int_equal(snappy_uncompressed_length((const char *)r->body, r->body_len, len), SNAPPY_OK);
	char *raw = malloc(*len ? *len : 1);
	assert_non_null(raw);
	assert_int_equal(snappy_uncompress((const char *)r->body, r->body_len, raw, len), SNAPPY_OK);
	assert_int_equal(*len, r->raw_len);
	assert_memory_equal(raw, r->raw, *len);
	return raw;
}

static Req2 *decode2(const struct prw_request *r)
{
	size_t len;
	void *raw = unsnappy(r, &len);
	Req2 *q = io__prometheus__write__v2__request__unpack(NULL, len, raw);
	free(raw);
	assert_non_null(q);
	return q;
}

/* symbols[ref], checked to be in range. */
static const char *sym(const Req2 *q, uint32_t ref)
{
	assert_true(ref < q->n_symbols);
	return q->symbols[ref];
}

/* `{a="b",c="d"}` of a series' labels_refs, resolved through the symbol table, in wire order. */
static const char *series_text(const Req2 *q, const Ts2 *ts)
{
	static char buf[512];
	size_t n = 0;
	assert_int_equal(ts->n_labels_refs % 2, 0);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
	for (size_t i = 0; i < ts->n_labels_refs; i += 2)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s=\"%s\"", i ? "," : "", sym(q, ts->labels_refs[i]),
				      sym(q, ts->labels_refs[i + 1]));
	snprintf(buf + n, sizeof(buf) - n, "}");
	return buf;
}

/* The symbol table's invariants: "" first, every string once. */
static void check_symbols(const Req2 *q)
{
	assert_true(q->n_symbols >= 1);
	assert_string_equal(q->symbols[0], "");
	for (size_t i = 1; i < q->n_symbols; i++) {
		assert_true(q->symbols[i][0] != 0);
		for (size_t j = 1; j < i; j++)
			assert_string_not_equal(q->symbols[i], q->symbols[j]);
	}
}

static struct prw_encoder *encoder(const struct labels *ext, size_t max, bool meta)
{
	struct prw_encoder_options o = {ext, max, 0, meta};
	struct prw_encoder *e;
	assert_int_equal(prw_encoder_new(&o, &e), 0);
	prw_encoder_set_version(e, 2); /* the batch's order */
	return e;
}

/* Symbols, sorted label refs with external labels, timestamp order, values, staleness and metadata. */
static void test_v2_series(void **state)
{
	struct batch *b = batch_new();
	const struct metric_meta *cm = batch_intern_meta(b, "req_total", METRIC_TYPE_COUNTER, "Requests.", NULL);
	const struct metric_meta *gm = batch_intern_meta(b, "temp", METRIC_TYPE_GAUGE, NULL, "celsius");
	add(b, MK("__name__", "req_total", "job", "a", "path", "/x"), 2000, 5, cm);
	add(b, MK("__name__", "temp", "job", "a"), 1000, -1.5, gm);
	add(b, MK("__name__", "req_total", "job", "a", "path", "/x"), 1000, 4, cm); /* out of order in the batch */
	add(b, MK("__name__", "req_total", "job", "a", "path", "/x"), 3000, stale(), cm);
	add(b, MK("__name__", "zero", "job", "a", "a", "job"), 0, 0, NULL);
	struct labels ext = MK("cluster", "c1", "job", "ext");
	struct prw_encoder *e = encoder(&ext, 0, true);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
	struct prw_request r;
	assert_int_equal(prw_encoder_request_v2(e, 0, &r), 0);
	assert_int_equal(r.samples, 5);
	assert_int_equal(r.series, 3);
	assert_int_equal(r.metadata, 2);
	Req2 *q = decode2(&r);
	check_symbols(q);
	assert_int_equal(q->n_symbols, r.symbols);
	assert_int_equal(q->n_timeseries, 3);

	Ts2 *ts = q->timeseries[0];
	assert_string_equal(series_text(q, ts), "{__name__=\"req_total\",cluster=\"c1\",job=\"a\",path=\"/x\"}");
	assert_int_equal(ts->n_samples, 3);
	assert_int_equal(ts->samples[0]->timestamp, 1000);
	assert_true(ts->samples[0]->value == 4);
	assert_int_equal(ts->samples[1]->timestamp, 2000);
	assert_true(ts->samples[1]->value == 5);
	assert_int_equal(ts->samples[2]->timestamp, 3000);
	assert_true(bits(ts->samples[2]->value) == STALE_BITS);
	assert_non_null(ts->metadata);
	assert_int_equal(ts->metadata->type, IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_COUNTER);
	assert_string_equal(sym(q, ts->metadata->help_ref), "Requests.");
	assert_int_equal(ts->metadata->unit_ref, 0); /* no unit: the empty symbol */
	assert_int_equal(ts->created_timestamp, 0);

	ts = q->timeseries[1];
	assert_string_equal(series_text(q, ts), "{__name__=\"temp\",cluster=\"c1\",job=\"a\"}");
	assert_true(ts->samples[0]->value == -1.5);
	assert_int_equal(ts->metadata->type, IO__PROMETHEUS__WRITE__V2__METADATA__METRIC_TYPE__METRIC_TYPE_GAUGE);
	assert_int_equal(ts->metadata->help_ref, 0);
	assert_string_equal(sym(q, ts->metadata->unit_ref), "celsius");

	/* a value that is also a name ("job", "a") is one symbol; zero value and timestamp decode as zero */
	ts = q->timeseries[2];
	assert_string_equal(series_text(q, ts), "{__name__=\"zero\",a=\"job\",cluster=\"c1\",job=\"a\"}");
	assert_int_equal(ts->samples[0]->timestamp, 0);
	assert_true(ts->samples[0]->value == 0);
	assert_null(ts->metadata);
	io__prometheus__write__v2__request__free_unpacked(q, NULL);
	prw_encoder_free(e);
	batch_free(b);
}

/* A 2.0 body is the wrong message for a 1.0 decoder and the reverse: the reserved fields make each
 * decode as an empty request of the other version (the spec's "deterministic error"). */
static void test_v2_not_v1(void **state)
{
	struct batch *b = batch_new();
	add(b, MK("__name__", "m", "job", "a"), 1000, 1, NULL);
	struct prw_encoder *e = encoder(NULL, 0, true);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
	struct prw_request r;
	size_t len;
	assert_int_equal(prw_encoder_request_v2(e, 0, &r), 0);
	void *raw = unsnappy(&r, &len);
	Prometheus__WriteRequest *wr = prometheus__write_request__unpack(NULL, len, raw);
	assert_non_null(wr);
	assert_int_equal(wr->n_timeseries, 0);
	prometheus__write_request__free_unpacked(wr, NULL);
	free(raw);
	assert_int_equal(prw_encoder_request(e, 0, &r), 0);
	raw = unsnappy(&r, &len);
	Req2 *q = io__prometheus__write__v2__request__unpack(NULL, len, raw);
	assert_non_null(q);
	assert_int_equal(q->n_timeseries, 0);
	io__prometheus__write__v2__request__free_unpacked(q, NULL);
	free(raw);
	prw_encoder_free(e);
	batch_free(b);
}

static const char *modes[] = {"idle", "user", "system", "iowait"};

static int mode_index(const char *m)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(modes[i], m))
			return i;
	fail_msg("unknown mode %s", m);
	return -1;
}

/*
 * Request i holds the same samples in both versions (the 415 fallback resends request i as 1.0), each
 * request has a symbol table of its own, metadata rides in every series when send_metadata is set and
 * in none when not; 2.0 is smaller than 1.0 for node-exporter-like series (less than half before snappy).
 */
static void test_v2_split_matches_v1(void **state)
{
	for (int meta = 0; meta < 2; meta++) {
		struct batch *b = batch_new();
		const struct metric_meta *cm = batch_intern_meta(b, "node_cpu_seconds_total", METRIC_TYPE_COUNTER,
								 "Seconds the CPUs spent.", NULL);
		char cpu[16];
		for (int t = 0; t < 3; t++)
			for (int s = 0; s < 700; s++) {
				snprintf(cpu, sizeof(cpu), "%d", s / 4);
				add(b,
				    MK("__name__", "node_cpu_seconds_total", "cpu", cpu, "instance", "10.0.0.1:9100",
				       "job", "node", "mode", modes[s % 4]),
				    1700000000000LL + t * 15000, s * 1.5 + t, cm);
			}
		struct prw_encoder *e = encoder(NULL, 500, meta);
		struct prw_stats st;
		int n = prw_encoder_prepare(e, b, 0, &st);
		assert_int_equal(n, 5);
		size_t v1_bytes = 0, v2_bytes = 0, v1_raw = 0, v2_raw = 0, total = 0;
		for (int i = 0; i < n; i++) {
			struct prw_request r1, r2;
			assert_int_equal(prw_encoder_request(e, (size_t)i, &r1), 0);
			v1_bytes += r1.body_len;
			v1_raw += r1.raw_len;
			assert_int_equal(prw_encoder_request_v2(e, (size_t)i, &r2), 0);
			v2_bytes += r2.body_len;
			v2_raw += r2.raw_len;
			assert_int_equal(r1.samples, r2.samples);
			assert_int_equal(r1.series, r2.series);
			Req2 *q = decode2(&r2);
			check_symbols(q);
			for (size_t s = 0; s < q->n_timeseries; s++) {
				Ts2 *ts = q->timeseries[s];
				assert_string_equal(sym(q, ts->labels_refs[0]), "__name__");
				for (size_t k = 2; k < ts->n_labels_refs; k += 2)
					assert_true(strcmp(sym(q, ts->labels_refs[k - 2]), sym(q, ts->labels_refs[k])) <
						    0);
				if (meta)
					assert_string_equal(sym(q, ts->metadata->help_ref), "Seconds the CPUs spent.");
				else
					assert_null(ts->metadata);
				int cpu_no = atoi(sym(q, ts->labels_refs[3]));
				for (size_t j = 0; j < ts->n_samples; j++) {
					int t = (int)((ts->samples[j]->timestamp - 1700000000000LL) / 15000);
					assert_true(j == 0 ||
						    ts->samples[j]->timestamp > ts->samples[j - 1]->timestamp);
					int sid = cpu_no * 4 + mode_index(sym(q, ts->labels_refs[9]));
					assert_true(ts->samples[j]->value == sid * 1.5 + t);
				}
				total += ts->n_samples;
			}
			io__prometheus__write__v2__request__free_unpacked(q, NULL);
		}
		assert_int_equal(total, 2100);
		print_message("v2 encoder: metadata=%d: 1.0 %.2f B/sample (%.2f before snappy), 2.0 %.2f (%.2f)\n",
			      meta, (double)v1_bytes / 2100, (double)v1_raw / 2100, (double)v2_bytes / 2100,
			      (double)v2_raw / 2100);
		assert_true(v2_bytes < v1_bytes);
		assert_true(v2_raw * 2 < v1_raw);
		prw_encoder_free(e);
		batch_free(b);
	}
}

/* Many distinct strings: the symbol table grows past its first size and every ref still resolves. */
static void test_v2_many_symbols(void **state)
{
	struct batch *b = batch_new();
	char v[32];
	for (int s = 0; s < 5000; s++) {
		snprintf(v, sizeof(v), "value-%d", s);
		add(b, MK("__name__", "m", "k", v), 1000, s, NULL);
	}
	struct prw_encoder *e = encoder(NULL, 10000, true);
	struct prw_stats st;
	assert_int_equal(prw_encoder_prepare(e, b, 0, &st), 1);
	for (int round = 0; round < 2; round++) { /* the encoder's buffers are reused */
		struct prw_request r;
		assert_int_equal(prw_encoder_request_v2(e, 0, &r), 0);
		Req2 *q = decode2(&r);
		check_symbols(q);
		assert_int_equal(q->n_symbols, 1 + 3 + 5000);
		for (size_t s = 0; s < q->n_timeseries; s++) {
			snprintf(v, sizeof(v), "value-%d", (int)q->timeseries[s]->samples[0]->value);
			assert_string_equal(sym(q, q->timeseries[s]->labels_refs[3]), v);
		}
		io__prometheus__write__v2__request__free_unpacked(q, NULL);
	}
	assert_int_equal(prw_encoder_request_v2(e, 1, &(struct prw_request){0}), -EINVAL);
	prw_encoder_free(e);
	batch_free(b);
}

/* The *-Written headers against what a request of 10 samples carried. */
static void test_written_check(void **state)
{
	static const struct {
		const char *samples, *histograms, *exemplars;
		enum prw_written want;
		size_t rejected;
	} cases[] = {
		{NULL, NULL, NULL, PRW_WRITTEN_ABSENT, 0},
		{"10", "0", "0", PRW_WRITTEN_ALL, 0},
		{"10", NULL, NULL, PRW_WRITTEN_ALL, 0},
		{" 12 ", NULL, NULL, PRW_WRITTEN_ALL, 0},
		{"7", "0", "0", PRW_WRITTEN_PARTIAL, 3},
		{"0", "0", "0", PRW_WRITTEN_PARTIAL, 10},
		{"abc", NULL, NULL, PRW_WRITTEN_ABSENT, 0},
		{"-1", NULL, NULL, PRW_WRITTEN_ABSENT, 0},
		{"5x", "0", NULL, PRW_WRITTEN_ALL, 0}, /* a broken samples header: only what can be read counts */
		{NULL, "0", "0", PRW_WRITTEN_ALL, 0},
		{"99999999999999999999999", NULL, NULL, PRW_WRITTEN_ABSENT, 0},
	};
	struct prw_request req = {.samples = 10};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t rejected = 99;
		assert_int_equal(
			prw_written_check(&req, cases[i].samples, cases[i].histograms, cases[i].exemplars, &rejected),
			cases[i].want);
		assert_int_equal(rejected, cases[i].rejected);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_series),	    cmocka_unit_test(test_v2_not_v1),
		cmocka_unit_test(test_v2_split_matches_v1), cmocka_unit_test(test_v2_many_symbols),
		cmocka_unit_test(test_written_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
