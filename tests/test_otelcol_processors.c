/*
 * otelcol.processor.batch and otelcol.processor.memory_limiter in the real runtime. batch: every
 * payload reaches every list of its signal's output at once, a mixed push is split by signal, a
 * signal without consumer is dropped and counted, a refusal downstream is the push's result.
 * memory_limiter: a limit far below this process's resident set refuses (-EAGAIN) and counts the
 * refused items; a generous one passes everything through; limits that leave no room do not validate.
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

#include "cmd/registry.h"
#include "config/types.h"
#include "lib/metrics.h"
#include "lib/otlp.h"
#include "pipeline/runtime.h"

/* test.otelsink: counts the payloads it receives per signal, by component id. */
#define MAX_SINKS 8
static struct sink_state {
	char id[64];
	int got[OTLP_SIGNALS];
	int result; /* what its push answers */
} sinks[MAX_SINKS];

static struct sink_state *sink_named(const char *id)
{
	for (int i = 0; i < MAX_SINKS; i++)
		if (!strcmp(sinks[i].id, id))
			return &sinks[i];
	for (int i = 0; i < MAX_SINKS; i++)
		if (!sinks[i].id[0]) {
			snprintf(sinks[i].id, sizeof(sinks[i].id), "%s", id);
			return &sinks[i];
		}
	fail();
	return NULL;
}

static int sink_push(void *arg, struct batch *b, unsigned flags)
{
	struct sink_state *s = arg;
	if (s->result)
		return s->result;
	for (size_t i = 0; i < b->n_records; i++) {
		const struct payload *p = &b->records[i].payload;
		assert_int_equal(b->records[i].kind, RECORD_PAYLOAD);
		s->got[p->kind == PAYLOAD_OTLP_TRACES ? OTLP_TRACES
		       : p->kind == PAYLOAD_OTLP_LOGS ? OTLP_LOGS
						      : OTLP_METRICS]++;
	}
	return 0;
}
static int sink_create(struct component *c, const struct cfg_body *args, void **state)
{
	struct sink_state *s = sink_named(component_id(c));
	*state = s;
	return component_export_receiver(c, "input", sink_push, s);
}
static struct component *src_c;
static struct forward_list src_fl;
static int src_create(struct component *c, const struct cfg_body *args, void **state)
{
	src_c = c;
	forward_list_free(&src_fl);
	*state = c;
	return forward_list_from(cfg_get(args, "forward_to"), &src_fl);
}

static const struct export_schema otel_rx[] = {{"input", &type_otel_consumer}, {0}};
static const struct arg_schema src_args[] = {{"forward_to", &type_list_any}, {0}};
static const struct component_schema s_sink = {"test.otelsink", .exports = otel_rx, .runnable = true};
static const struct component_schema s_src = {"test.src", .args = {src_args}, .runnable = true};
static const struct component_ops o_sink = {COMPONENT_OPS_VERSION, &s_sink, sink_create};
static const struct component_ops o_src = {COMPONENT_OPS_VERSION, &s_src, src_create};

static const struct component_ops *find_ops(const struct component_schema *s)
{
	return s == &s_sink ? &o_sink : s == &s_src ? &o_src : registry_find_ops(s);
}

static const struct component_registry *test_registry(void)
{
	static const struct component_schema *schemas[64];
	static struct component_registry reg;
	if (!reg.n) {
		const struct component_registry *real = registry_components();
		for (size_t i = 0; i < real->n; i++)
			schemas[reg.n++] = real->schemas[i];
		schemas[reg.n++] = &s_sink;
		schemas[reg.n++] = &s_src;
		reg.schemas = schemas;
	}
	return &reg;
}

/* Loads text; returns the diagnostics' status (0 valid) and the config in *cfg. */
static int load(const char *text, struct config **cfg, struct diag_list *d)
{
	diag_list_init(d);
	*cfg = NULL;
	return config_load_source(source_from_memory("t.alloy", text, strlen(text)), test_registry(), NULL, d, cfg);
}

static struct runtime *start(const char *text, struct metrics_registry *metrics)
{
	memset(sinks, 0, sizeof(sinks));
	struct diag_list d;
	struct config *cfg;
	if (load(text, &cfg, &d) != 0) {
		diag_print_brief(&d, stderr);
		fail();
	}
	struct runtime *rt;
	struct runtime_options o = {find_ops, NULL, metrics, NULL};
	assert_int_equal(runtime_new(&o, &rt), 0);
	assert_int_equal(runtime_apply(rt, cfg, &d), 0);
	diag_list_free(&d);
	return rt;
}

static const char *const json_of[OTLP_SIGNALS] = {
	"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
	"\"spanId\":\"0102030405060708\",\"name\":\"a\"},{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
	"\"spanId\":\"0102030405060709\",\"name\":\"b\"}]}]}]}",
	"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"g\",\"gauge\":{\"dataPoints\":"
	"[{\"asDouble\":1.5,\"timeUnixNano\":\"1\"}]}}]}]}]}",
	"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"x\"}}]}]}]}",
};
static const enum payload_kind kind_of[OTLP_SIGNALS] = {PAYLOAD_OTLP_TRACES, PAYLOAD_OTLP_METRICS, PAYLOAD_OTLP_LOGS};

static void add_payload(struct batch *b, enum otlp_signal s)
{
	uint8_t *pb;
	size_t len;
	char err[200];
	assert_int_equal(otlp_from_json(s, json_of[s], strlen(json_of[s]), 1 << 20, &pb, &len, err, sizeof(err)), 0);
	assert_int_equal(batch_add_payload(b, kind_of[s], pb, len), 0);
	free(pb);
}

static int push_signal(enum otlp_signal s)
{
	struct batch *b = batch_new();
	add_payload(b, s);
	int rc = forward_push(src_c, &src_fl, b, PUSH_NONBLOCK);
	batch_free(b);
	return rc;
}

struct drop_find {
	const char *id, *reason;
	uint64_t n;
};
static void drop_cb(void *arg, const struct component_info *info)
{
	struct drop_find *f = arg;
	if (strcmp(info->id, f->id) == 0)
		for (size_t i = 0; i < COMPONENT_DROP_REASONS && info->stats.dropped[i].reason; i++)
			if (!strcmp(info->stats.dropped[i].reason, f->reason))
				f->n += info->stats.dropped[i].records;
}
static uint64_t dropped_of(struct runtime *rt, const char *id, const char *reason)
{
	struct drop_find f = {id, reason, 0};
	runtime_visit(rt, drop_cb, &f);
	return f.n;
}

/* ---- otelcol.processor.batch ---- */

static const char *const batch_cfg =
	"test.otelsink \"t1\" { }\ntest.otelsink \"t2\" { }\ntest.otelsink \"m\" { }\ntest.otelsink \"l\" { }\n"
	"otelcol.processor.batch \"b\" {\n\ttimeout = \"5s\"\n\tsend_batch_size = 100\n\toutput {\n"
	"\t\ttraces = [test.otelsink.t1.input, test.otelsink.t2.input]\n"
	"\t\tmetrics = [test.otelsink.m.input]\n\t\tlogs = [test.otelsink.l.input]\n\t}\n}\n"
	"test.src \"in\" {\n\tforward_to = [otelcol.processor.batch.b.input]\n}\n";

static void test_batch_every_signal_to_every_list(void **state)
{
	struct runtime *rt = start(batch_cfg, NULL);
	for (int s = 0; s < OTLP_SIGNALS; s++)
		assert_int_equal(push_signal((enum otlp_signal)s), 0);
	/* forwarded at once: nothing waits for timeout or send_batch_size */
	static const struct {
		const char *id;
		int traces, metrics, logs;
	} want[] = {
		{"test.otelsink.t1", 1, 0, 0},
		{"test.otelsink.t2", 1, 0, 0},
		{"test.otelsink.m", 0, 1, 0},
		{"test.otelsink.l", 0, 0, 1},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		struct sink_state *s = sink_named(want[i].id);
		assert_int_equal(s->got[OTLP_TRACES], want[i].traces);
		assert_int_equal(s->got[OTLP_METRICS], want[i].metrics);
		assert_int_equal(s->got[OTLP_LOGS], want[i].logs);
	}
	/* one push holding all three signals is split among the lists */
	struct batch *b = batch_new();
	for (int s = OTLP_SIGNALS - 1; s >= 0; s--)
		add_payload(b, (enum otlp_signal)s);
	assert_int_equal(forward_push(src_c, &src_fl, b, PUSH_NONBLOCK), 0);
	assert_int_equal(sink_named("test.otelsink.t2")->got[OTLP_TRACES], 2);
	assert_int_equal(sink_named("test.otelsink.m")->got[OTLP_METRICS], 2);
	assert_int_equal(sink_named("test.otelsink.l")->got[OTLP_LOGS], 2);
	/* a full WAL downstream reaches the pusher */
	sink_named("test.otelsink.l")->result = -EAGAIN;
	assert_int_equal(push_signal(OTLP_LOGS), -EAGAIN);
	assert_int_equal(forward_push(src_c, &src_fl, b, PUSH_NONBLOCK), -EAGAIN);
	batch_free(b);
	runtime_free(rt);
}

static void test_batch_no_consumer_is_counted(void **state)
{
	struct runtime *rt =
		start("test.otelsink \"t\" { }\n"
		      "otelcol.processor.batch \"b\" {\n\toutput {\n\t\ttraces = [test.otelsink.t.input]\n\t}\n}\n"
		      "test.src \"in\" {\n\tforward_to = [otelcol.processor.batch.b.input]\n}\n",
		      NULL);
	assert_int_equal(push_signal(OTLP_LOGS), 0);
	assert_int_equal(dropped_of(rt, "otelcol.processor.batch.b", "no_consumer"), 1);
	assert_int_equal(push_signal(OTLP_TRACES), 0);
	assert_int_equal(sink_named("test.otelsink.t")->got[OTLP_TRACES], 1);
	runtime_free(rt);
}

/* ---- otelcol.processor.memory_limiter ---- */

static char *limiter_cfg(const char *limits)
{
	char *text = NULL;
	assert_true(asprintf(&text,
			     "test.otelsink \"t\" { }\ntest.otelsink \"l\" { }\n"
			     "otelcol.processor.memory_limiter \"m\" {\n\tcheck_interval = \"1h\"\n%s\toutput {\n"
			     "\t\ttraces = [test.otelsink.t.input]\n\t\tlogs = [test.otelsink.l.input]\n\t}\n}\n"
			     "test.src \"in\" {\n\tforward_to = [otelcol.processor.memory_limiter.m.input]\n}\n",
			     limits) > 0);
	return text;
}

static double metric_value(struct metrics_registry *reg, const char *series)
{
	char *text;
	size_t len;
	assert_int_equal(metrics_expose_text(reg, &text, &len), 0);
	const char *p = strstr(text, series);
	double v = p ? strtod(p + strlen(series), NULL) : -1;
	free(text);
	return v;
}

static void test_limiter_refuses_above_limit(void **state)
{
	struct metrics_registry *reg;
	assert_int_equal(metrics_registry_new(&reg), 0);
	char *cfg = limiter_cfg("\tlimit = \"1MiB\"\n"); /* any process is bigger than 1 MiB resident */
	struct runtime *rt = start(cfg, reg);
	assert_int_equal(push_signal(OTLP_TRACES), -EAGAIN);
	assert_int_equal(push_signal(OTLP_TRACES), -EAGAIN);
	assert_int_equal(push_signal(OTLP_LOGS), -EAGAIN);
	assert_int_equal(sink_named("test.otelsink.t")->got[OTLP_TRACES], 0);
	assert_int_equal(sink_named("test.otelsink.l")->got[OTLP_LOGS], 0);
	const char *id = "component_id=\"otelcol.processor.memory_limiter.m\"";
	char series[256];
	snprintf(series, sizeof(series), "solder_memory_limiter_refused_items_total{%s,signal=\"traces\"} ", id);
	assert_true(metric_value(reg, series) == 4); /* two spans per push */
	snprintf(series, sizeof(series), "solder_memory_limiter_refused_items_total{%s,signal=\"logs\"} ", id);
	assert_true(metric_value(reg, series) == 1);
	snprintf(series, sizeof(series), "solder_memory_limiter_refusing{%s} ", id);
	assert_true(metric_value(reg, series) == 1);
	snprintf(series, sizeof(series), "solder_memory_limiter_soft_limit_bytes{%s} ", id);
	assert_true(metric_value(reg, series) == 1048576 - 1048576 / 5);
	snprintf(series, sizeof(series), "solder_memory_limiter_rss_bytes{%s} ", id);
	assert_true(metric_value(reg, series) > 1048576);
	/* the heap was trimmed once (the stand-in for the Collector's forced GC), then refusal went on */
	snprintf(series, sizeof(series), "solder_memory_limiter_heap_trims_total{%s} ", id);
	assert_true(metric_value(reg, series) == 1);
	/* refusals are not drops: the client keeps the data and retries */
	assert_int_equal(dropped_of(rt, "otelcol.processor.memory_limiter.m", "no_consumer"), 0);
	runtime_free(rt);
	free(cfg);
	metrics_registry_free(reg);
}

static void test_limiter_passes_below_limit(void **state)
{
	static const char *const limits[] = {
		"\tlimit = \"64GiB\"\n\tspike_limit = \"1GiB\"\n",
		"\tlimit_percentage = 100\n\tspike_limit_percentage = 10\n",
	};
	for (size_t i = 0; i < sizeof(limits) / sizeof(*limits); i++) {
		char *cfg = limiter_cfg(limits[i]);
		struct runtime *rt = start(cfg, NULL);
		assert_int_equal(push_signal(OTLP_TRACES), 0);
		assert_int_equal(push_signal(OTLP_LOGS), 0);
		assert_int_equal(push_signal(OTLP_LOGS), 0);
		assert_int_equal(sink_named("test.otelsink.t")->got[OTLP_TRACES], 1);
		assert_int_equal(sink_named("test.otelsink.l")->got[OTLP_LOGS], 2);
		/* metrics have no consumer here: dropped and counted, not refused */
		assert_int_equal(push_signal(OTLP_METRICS), 0);
		assert_int_equal(dropped_of(rt, "otelcol.processor.memory_limiter.m", "no_consumer"), 1);
		/* a refusal downstream is still the pusher's answer */
		sink_named("test.otelsink.l")->result = -EAGAIN;
		assert_int_equal(push_signal(OTLP_LOGS), -EAGAIN);
		runtime_free(rt);
		free(cfg);
	}
}

static void test_limiter_limits_validate(void **state)
{
	static const struct {
		const char *limits, *error; /* NULL: valid */
	} cases[] = {
		{"\tlimit = \"10MiB\"\n\tspike_limit = \"10MiB\"\n", "spike_limit must be less than limit"},
		{"\tlimit = \"10MiB\"\n\tspike_limit = \"2MiB\"\n", NULL},
		{"\tlimit_percentage = 101\n", "limit_percentage must be between 1 and 100"},
		{"\tlimit_percentage = 80\n\tspike_limit_percentage = 100\n",
		 "spike_limit_percentage must be at least 0"},
		{"\tlimit = \"10MiB\"\n\tlimit_percentage = 50\n", "mutually exclusive"},
		{"", "either limit or limit_percentage must be set"},
		{"\tlimit = \"0MiB\"\n", "limit must be greater than zero"},
		{"\tlimit_percentage = 50\n\tspike_limit_percentage = 50\n", "less than limit_percentage"},
		{"\tlimit_percentage = 50\n\tspike_limit_percentage = 49\n", NULL},
		{"\tlimit = \"1GiB\"\n\tmin_gc_interval_when_hard_limited = \"20s\"\n",
		 "must be greater than or equal to"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *cfg = limiter_cfg(cases[i].limits);
		struct diag_list d;
		struct config *c;
		int rc = load(cfg, &c, &d);
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		diag_print_brief(&d, f);
		fclose(f);
		if (cases[i].error) {
			assert_int_not_equal(rc, 0);
			if (!strstr(text, cases[i].error))
				fprintf(stderr, "case %zu: %s\n", i, text);
			assert_non_null(strstr(text, cases[i].error));
		} else {
			assert_int_equal(rc, 0);
		}
		config_free(c); /* set whenever the text was read, valid or not */
		free(text);
		diag_list_free(&d);
		free(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_every_signal_to_every_list),
		cmocka_unit_test(test_batch_no_consumer_is_counted),
		cmocka_unit_test(test_limiter_refuses_above_limit),
		cmocka_unit_test(test_limiter_passes_below_limit),
		cmocka_unit_test(test_limiter_limits_validate),
	};
	int rc = cmocka_run_group_tests_name("otelcol_processors", tests, NULL, NULL);
	forward_list_free(&src_fl);
	return rc;
}
