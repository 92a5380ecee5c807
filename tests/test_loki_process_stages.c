/*
 * loki.process stages, table-driven: each case compiles a loki.process body, runs one batch of
 * input entries through the engine at a fixed clock, and compares every output record
 * ({labels} ts line | {metadata}) and the drop counts with what Alloy produces for the same input.
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

#include "pipeline/stages/process.h"
#include "support/harness.h"

#define S 1000000000LL
#define T0 (1704164645LL * S) /* 2024-01-02T03:04:05Z */
#define NOW (1732356000LL * S) /* 2024-11-23T10:00:00Z */

struct in_entry {
	const char *labels; /* "a=b,c=d" */
	int64_t ts;
	const char *line;
};

struct stage_case {
	const char *name;
	const char *stages;
	struct in_entry in[8];
	const char *want;
	const char *drops; /* "reason=n,…" or NULL for none */
};

static void parse_labels(const char *text, struct labels_builder *b, struct labels *out)
{
	labels_builder_reset(b, NULL);
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", text ? text : "");
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		assert_non_null(eq);
		*eq = '\0';
		labels_builder_set(b, kv, strlen(kv), eq + 1, strlen(eq + 1));
	}
	assert_int_equal(labels_builder_finish(b, out), 0);
}

static struct batch *make_batch(const struct in_entry *in, size_t n)
{
	struct batch *b = batch_new();
	struct labels_builder lb;
	labels_builder_init(&lb);
	for (size_t i = 0; i < n && in[i].line; i++) {
		struct labels ls;
		parse_labels(in[i].labels, &lb, &ls);
		assert_int_equal(batch_add_log(b, &ls, in[i].ts, in[i].line, strlen(in[i].line), NULL), 0);
	}
	labels_builder_free(&lb);
	return b;
}

static struct process *compile(const char *stages, struct config **cfg)
{
	char text[8192];
	snprintf(text, sizeof(text), "loki.process \"p\" {\n\tforward_to = []\n%s\n}\n", stages);
	const struct cfg_body *body = harness_body(text, "loki.process.p", cfg);
	struct process *p = NULL;
	char err[512] = "";
	int rc = process_compile(body, &p, err, sizeof(err));
	if (rc)
		fail_msg("compile: %s", err);
	return p;
}

static void drops_text(struct process *p, char *out, size_t cap)
{
	struct lp_drop d[LP_MAX_DROP_REASONS];
	size_t n = process_take_drops(p, d, LP_MAX_DROP_REASONS), used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s=%llu", i ? "," : "", d[i].reason,
					 (unsigned long long)d[i].records);
}

static void run_case(const struct stage_case *c)
{
	struct config *cfg;
	struct process *p = compile(c->stages, &cfg);
	struct batch *in = make_batch(c->in, 8), *out = batch_new();
	assert_int_equal(process_batch(p, in, out, NOW, 0), 0);
	char got[16384], drops[512];
	harness_format_batch(out, got, sizeof(got));
	drops_text(p, drops, sizeof(drops));
	if (strcmp(got, c->want) != 0)
		fail_msg("%s: output\n%s\nwant\n%s", c->name, got, c->want);
	if (strcmp(drops, c->drops ? c->drops : "") != 0)
		fail_msg("%s: drops %s, want %s", c->name, drops, c->drops ? c->drops : "");
	/* the pass-through variant gives the same output, whether it copied nothing or fell back */
	struct config *cfg2;
	struct process *p2 = compile(c->stages, &cfg2);
	batch_reset(out);
	bool same = true;
	assert_int_equal(process_batch_pass(p2, in, out, NOW, 0, &same), 0);
	harness_format_batch(same ? in : out, got, sizeof(got));
	if (same)
		assert_int_equal(out->n_records, 0);
	if (strcmp(got, c->want) != 0)
		fail_msg("%s (pass-through, same=%d): output\n%s\nwant\n%s", c->name, same, got, c->want);
	process_free(p2);
	harness_body_free(cfg2);
	batch_free(in);
	batch_free(out);
	process_free(p);
	harness_body_free(cfg);
}

/* Nothing changed: the input is the output; one changed entry in the middle: all copied, in order. */
static void test_pass_through(void **state)
{
	struct config *cfg;
	struct process *p = compile("stage.cri { }", &cfg);
	static const struct in_entry plain[] = { { "app=a", 1, "{\"msg\":\"a b\"}" }, { "app=b", 2, "plain" }, { 0 } };
	static const struct in_entry mixed[] = { { "app=a", 1, "one" },
						  { "app=a", 2, "2024-01-02T03:04:05Z stdout F two" },
						  { "app=b", 3, "three" },
						  { 0 } };
	struct batch *in = make_batch(plain, 8), *out = batch_new();
	bool same = false;
	assert_int_equal(process_batch_pass(p, in, out, NOW, 0, &same), 0);
	assert_true(same);
	assert_int_equal(out->n_records, 0);
	batch_free(in);
	in = make_batch(mixed, 8);
	assert_int_equal(process_batch_pass(p, in, out, NOW, 0, &same), 0);
	assert_false(same);
	char got[1024];
	harness_format_batch(out, got, sizeof(got));
	assert_string_equal(got, "{app=\"a\"} 1 one\n{app=\"a\", stream=\"stdout\"} 1704164645000000000 two\n"
				 "{app=\"b\"} 3 three\n");
	batch_free(in);
	batch_free(out);
	process_free(p);
	harness_body_free(cfg);
}

static void run_cases(const struct stage_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_case(&cases[i]);
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_cri(void **state)
{
	static const struct stage_case cases[] = {
		{ "full line", "stage.cri { }",
		  { { "app=a", 1, "2024-01-02T03:04:05.123456789Z stdout F hello world" } },
		  "{app=\"a\", stream=\"stdout\"} 1704164645123456789 hello world\n" },
		{ "flag optional, stderr", "stage.cri { }", { { "app=a", 1, "2024-01-02T03:04:05Z stderr hi" } },
		  "{app=\"a\", stream=\"stderr\"} 1704164645000000000 hi\n" },
		{ "not cri passes unchanged", "stage.cri { }", { { "app=a", 7, "just a line" }, { "app=a", 8, "x stdin F y" } },
		  "{app=\"a\"} 7 just a line\n{app=\"a\"} 8 x stdin F y\n" },
		{ "bad timestamp keeps the entry time", "stage.cri { }", { { "app=a", 9, "yesterday stdout F ok" } },
		  "{app=\"a\", stream=\"stdout\"} 9 ok\n" },
		{ "partials joined per stream",
		  "stage.cri { }",
		  { { "app=a", 1, "2024-01-02T03:04:05Z stdout P hel" },
		    { "app=a", 1, "2024-01-02T03:04:05Z stderr P err " },
		    { "app=a", 1, "2024-01-02T03:04:05Z stdout P lo " },
		    { "app=a", 1, "2024-01-02T03:04:06Z stdout F world" },
		    { "app=a", 1, "2024-01-02T03:04:07Z stderr F line" } },
		  "{app=\"a\", stream=\"stdout\"} 1704164646000000000 hello world\n"
		  "{app=\"a\", stream=\"stderr\"} 1704164647000000000 err line\n" },
		{ "max_partial_lines flushes what is held",
		  "stage.cri { max_partial_lines = 1 }",
		  { { "app=a", 1, "2024-01-02T03:04:05Z stdout P one" },
		    { "app=b", 1, "2024-01-02T03:04:05Z stdout P two" },
		    { "app=b", 1, "2024-01-02T03:04:05Z stdout F !" } },
		  "{app=\"a\", stream=\"stdout\"} 1704164645000000000 one\n"
		  "{app=\"b\", stream=\"stdout\"} 1704164645000000000 two!\n" },
		{ "max_partial_line_size truncates",
		  "stage.cri {\n max_partial_line_size = 4\n max_partial_line_size_truncate = true\n}",
		  { { "app=a", 1, "2024-01-02T03:04:05Z stdout P abcdef" }, { "app=a", 1, "2024-01-02T03:04:05Z stdout F gh" } },
		  "{app=\"a\", stream=\"stdout\"} 1704164645000000000 abcd\n" },
		{ "extracted fields",
		  "stage.cri { }\nstage.labels { values = { f = \"flags\", t = \"time\" } }",
		  { { "app=a", 1, "2024-01-02T03:04:05Z stdout F x" } },
		  "{app=\"a\", f=\"F\", stream=\"stdout\", t=\"2024-01-02T03:04:05Z\"} 1704164645000000000 x\n" },
	};
	RUN(cases);
}

static void test_docker_json_logfmt(void **state)
{
	static const struct stage_case cases[] = {
		{ "docker", "stage.docker { }",
		  { { "app=a", 1, "{\"log\":\"hi there\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-02T03:04:05.5Z\"}" } },
		  "{app=\"a\", stream=\"stderr\"} 1704164645500000000 hi there\n\n" },
		{ "docker on a non-json line leaves it", "stage.docker { }", { { "app=a", 3, "plain" } },
		  "{app=\"a\"} 3 plain\n" },
		{ "json types to labels",
		  "stage.json { expressions = { level = \"\", n = \"\", b = \"\", o = \"\", arr = \"\", first = \"arr[0]\","
		  " last = \"arr[-1]\", nul = \"\", missing = \"\" } }\n"
		  "stage.labels { values = { level = \"\", n = \"\", b = \"\", o = \"\", first = \"\", last = \"\", nul = \"\","
		  " missing = \"\" } }",
		  { { "app=a", 1,
		      "{\"level\":\"info\",\"n\":1.50,\"b\":true,\"o\":{\"z\":1e2,\"a\":\"<\\u00e9>\"},\"arr\":[1,2,\"x\"],"
		      "\"nul\":null}" } },
		  "{app=\"a\", b=\"true\", first=\"1\", last=\"x\", level=\"info\", n=\"1.5\", o=\"{\\\"a\\\":\\\"\\\\u003c\xc3\xa9\\\\u003e\\\",\\\"z\\\":100}\"} 1 "
		  "{\"level\":\"info\",\"n\":1.50,\"b\":true,\"o\":{\"z\":1e2,\"a\":\"<\\u00e9>\"},\"arr\":[1,2,\"x\"],\"nul\":null}\n" },
		{ "json nested and quoted keys",
		  "stage.json { expressions = { app = \"kubernetes.labels.\\\"app.kubernetes.io/name\\\"\", "
		  "ns = \"kubernetes.namespace\" } }\nstage.labels { values = { app = \"\", ns = \"\" } }\n"
		  "stage.output { source = \"app\" }",
		  { { "", 1, "{\"kubernetes\":{\"namespace\":\"prod\",\"labels\":{\"app.kubernetes.io/name\":\"api\"}}}" } },
		  "{app=\"api\", ns=\"prod\"} 1 api\n" },
		{ "json duplicate keys: the last wins, escapes decoded",
		  "stage.json { expressions = { k = \"\" } }\nstage.output { source = \"k\" }",
		  { { "", 1, "{\"k\":\"a\",\"k\":\"b\\tc\\ud83d\\ude00\"}" } }, "{} 1 b\tc\xf0\x9f\x98\x80\n" },
		{ "json malformed passes when not dropping", "stage.json { expressions = { k = \"\" } }",
		  { { "", 1, "{\"k\":1" }, { "", 2, "[1]" }, { "", 3, "{\"k\":1} x" } },
		  "{} 1 {\"k\":1\n{} 2 [1]\n{} 3 {\"k\":1} x\n" },
		{ "json drop_malformed",
		  "stage.json {\n expressions = { k = \"\" }\n drop_malformed = true\n}",
		  { { "", 1, "nope" }, { "", 2, "{\"k\":1e999}" }, { "", 3, " {\"k\" : 2 } " } }, "{} 3  {\"k\" : 2 } \n",
		  "malformed_json=2" },
		{ "json source from an earlier stage",
		  "stage.json { expressions = { inner = \"\" } }\n"
		  "stage.json {\n expressions = { v = \"a.b\" }\n source = \"inner\"\n}\n"
		  "stage.labels { values = { v = \"\" } }",
		  { { "", 1, "{\"inner\":\"{\\\"a\\\":{\\\"b\\\":42}}\"}" } },
		  "{v=\"42\"} 1 {\"inner\":\"{\\\"a\\\":{\\\"b\\\":42}}\"}\n" },
		{ "logfmt",
		  "stage.logfmt { mapping = { lvl = \"level\", msg = \"\", empty = \"\", flag = \"\" } }\n"
		  "stage.labels { values = { lvl = \"\" } }\nstage.output { source = \"msg\" }",
		  { { "", 1, "ts=1 level=warn msg=\"hello \\\"you\\\"\" empty= flag" } }, "{lvl=\"warn\"} 1 hello \"you\"\n" },
		{ "logfmt stops at a syntax error, keeping what came before",
		  "stage.logfmt { mapping = { a = \"\", b = \"\" } }\nstage.labels { values = { a = \"\", b = \"\" } }",
		  { { "", 1, "a=1 x\"y b=2" } }, "{a=\"1\"} 1 a=1 x\"y b=2\n" },
	};
	RUN(cases);
}

static void test_regex_labels_output(void **state)
{
	static const struct stage_case cases[] = {
		{ "regex named groups",
		  "stage.regex { expression = \"^(?P<ip>\\\\S+) (?P<method>[A-Z]+) (?:(?P<opt>x)|y)\" }\n"
		  "stage.labels { values = { method = \"\", ip = \"\", opt = \"\" } }",
		  { { "", 1, "10.0.0.1 GET y /" }, { "", 2, "nomatch" } },
		  "{ip=\"10.0.0.1\", method=\"GET\"} 1 10.0.0.1 GET y /\n{} 2 nomatch\n" },
		{ "regex labels_from_groups skips invalid values",
		  "stage.regex {\n expression = \"(?P<code>\\\\d+)\"\n labels_from_groups = true\n}",
		  { { "", 1, "status 404" } }, "{code=\"404\"} 1 status 404\n" },
		{ "regex on a source; labels read the original labels too",
		  "stage.regex {\n expression = \"^(?P<first>[a-z]+)-\"\n source = \"pod\"\n}\n"
		  "stage.labels { values = { app = \"first\" } }",
		  { { "pod=web-1234", 1, "x" } }, "{app=\"web\", pod=\"web-1234\"} 1 x\n" },
		{ "static_labels, label_drop, label_keep",
		  "stage.static_labels { values = { env = \"prod\", team = \"\" } }\n"
		  "stage.label_drop { values = [\"tmp\"] }\nstage.label_keep { values = [\"env\", \"app\"] }",
		  { { "app=a,tmp=1,other=2", 1, "x" } }, "{app=\"a\", env=\"prod\"} 1 x\n" },
		{ "tenant from value, source and label",
		  "stage.tenant { value = \"t1\" }", { { "app=a", 1, "x" } }, "{__tenant_id__=\"t1\", app=\"a\"} 1 x\n" },
		{ "tenant from source", "stage.regex { expression = \"org=(?P<org>\\\\w+)\" }\nstage.tenant { source = \"org\" }",
		  { { "", 1, "org=acme" }, { "", 2, "none" } }, "{__tenant_id__=\"acme\"} 1 org=acme\n{} 2 none\n" },
		{ "tenant from label", "stage.tenant { label = \"ns\" }", { { "ns=team-a", 1, "x" } },
		  "{__tenant_id__=\"team-a\", ns=\"team-a\"} 1 x\n" },
		{ "output missing source leaves the line",
		  "stage.output { source = \"nothing\" }", { { "", 1, "kept" } }, "{} 1 kept\n" },
		{ "structured_metadata from extracted and labels",
		  "stage.regex { expression = \"trace=(?P<trace_id>\\\\w+)\" }\n"
		  "stage.structured_metadata { values = { trace_id = \"\", pod = \"\" } }",
		  { { "app=a,pod=p1", 1, "trace=abc" } }, "{app=\"a\"} 1 trace=abc | {pod=\"p1\", trace_id=\"abc\"}\n" },
		{ "structured_metadata regex moves labels",
		  "stage.structured_metadata { regex = \"^meta_(.*)\" }",
		  { { "app=a,meta_node=n1", 1, "x" } }, "{app=\"a\"} 1 x | {node=\"n1\"}\n" },
		{ "decolorize", "stage.decolorize { }", { { "", 1, "\x1b[31mred\x1b[0m and \x1b[1;32mgreen\x1b[m" } },
		  "{} 1 red and green\n" },
		{ "decolorize cursor moves, OSC and C1 CSI", "stage.decolorize { }",
		  { { "", 1, "a\x1b[2Kb\x1b]0;title\x07" "c\xc2\x9b" "1;2Hd\x1b[?25le" } }, "{} 1 abcde\n" },
	};
	RUN(cases);
}

static void test_replace_truncate(void **state)
{
	static const struct stage_case cases[] = {
		{ "replace a group",
		  "stage.replace {\n expression = \"password=(\\\\S+)\"\n replace = \"****\"\n}",
		  { { "", 1, "user=a password=secret x=1 password=two" } }, "{} 1 user=a password=**** x=1 password=****\n" },
		{ "replace with a template and named group",
		  "stage.replace {\n expression = \"(?P<lvl>info|warn)\"\n replace = \"{{ .Value | ToUpper }}\"\n}\n"
		  "stage.labels { values = { lvl = \"\" } }",
		  { { "", 1, "level=info msg=x" } }, "{lvl=\"INFO\"} 1 level=INFO msg=x\n" },
		{ "replace on a source",
		  "stage.regex { expression = \"ip=(?P<ip>\\\\S+)\" }\n"
		  "stage.replace {\n expression = \"(\\\\d+)$\"\n source = \"ip\"\n replace = \"x\"\n}\n"
		  "stage.labels { values = { ip = \"\" } }",
		  { { "", 1, "ip=10.0.0.7" } }, "{ip=\"10.0.0.x\"} 1 ip=10.0.0.7\n" },
		{ "replace without match leaves the line",
		  "stage.replace {\n expression = \"(zzz)\"\n replace = \"y\"\n}", { { "", 1, "abc" } }, "{} 1 abc\n" },
		{ "truncate line, label, and the truncated marker",
		  "stage.truncate {\n rule {\n  limit = 8\n  suffix = \"...\"\n }\n rule {\n  limit = 3\n  source_type = \"label\"\n"
		  "  sources = [\"app\"]\n }\n}\nstage.labels { values = { truncated = \"\" } }",
		  { { "app=abcdef,ns=longvalue", 1, "0123456789" } },
		  "{app=\"abc\", ns=\"longvalue\", truncated=\"label,line\"} 1 01234...\n" },
	};
	RUN(cases);
}

static void test_match(void **state)
{
	static const struct stage_case cases[] = {
		{ "selector = and =~, nested stages on matches only",
		  "stage.match {\n selector = \"{app=\\\"api\\\", ns=~\\\"prod|stage\\\"}\"\n"
		  " stage.static_labels { values = { hit = \"yes\" } }\n}",
		  { { "app=api,ns=prod", 1, "a" }, { "app=api,ns=dev", 2, "b" }, { "app=web,ns=prod", 3, "c" },
		    { "app=api,ns=production", 4, "d" } },
		  "{app=\"api\", hit=\"yes\", ns=\"prod\"} 1 a\n{app=\"api\", ns=\"dev\"} 2 b\n{app=\"web\", ns=\"prod\"} 3 c\n"
		  "{app=\"api\", ns=\"production\"} 4 d\n" },
		{ "!= and !~ with a missing label reading as empty",
		  "stage.match {\n selector = \"{app!=\\\"web\\\", tier!~\\\"db.*\\\"}\"\n action = \"drop\"\n}",
		  { { "app=api", 1, "a" }, { "app=web", 2, "b" }, { "app=api,tier=db1", 3, "c" } },
		  "{app=\"web\"} 2 b\n{app=\"api\", tier=\"db1\"} 3 c\n", "match_stage=1" },
		{ "line filters chained",
		  "stage.match {\n selector = \"{app=\\\"a\\\"} |= \\\"error\\\" != \\\"debug\\\" |~ `code=\\\\d+` !~ \\\"ignore\\\"\"\n"
		  " action = \"drop\"\n drop_counter_reason = \"noisy\"\n}",
		  { { "app=a", 1, "error code=5" }, { "app=a", 2, "error debug code=5" }, { "app=a", 3, "error code=x" },
		    { "app=a", 4, "error code=1 ignore" }, { "app=b", 5, "error code=5" } },
		  "{app=\"a\"} 2 error debug code=5\n{app=\"a\"} 3 error code=x\n{app=\"a\"} 4 error code=1 ignore\n"
		  "{app=\"b\"} 5 error code=5\n",
		  "noisy=1" },
		{ "the nested pipeline sees labels set before the match in extracted",
		  "stage.static_labels { values = { env = \"prod\" } }\n"
		  "stage.match {\n selector = \"{env=\\\"prod\\\"}\"\n stage.labels { values = { copy = \"env\" } }\n}",
		  { { "", 1, "x" } }, "{copy=\"prod\", env=\"prod\"} 1 x\n" },
		{ "nested json and stages after the match continue",
		  "stage.match {\n selector = \"{app=\\\"j\\\"}\"\n stage.json { expressions = { lvl = \"level\" } }\n}\n"
		  "stage.labels { values = { lvl = \"\" } }",
		  { { "app=j", 1, "{\"level\":\"warn\"}" }, { "app=k", 2, "{\"level\":\"info\"}" } },
		  "{app=\"j\", lvl=\"warn\"} 1 {\"level\":\"warn\"}\n{app=\"k\"} 2 {\"level\":\"info\"}\n" },
	};
	RUN(cases);
}

static void test_drop(void **state)
{
	static const struct stage_case cases[] = {
		{ "expression on the line", "stage.drop { expression = \"health\" }",
		  { { "", 1, "GET /healthz" }, { "", 2, "GET /api" } }, "{} 2 GET /api\n", "drop_stage=1" },
		{ "source present",
		  "stage.regex { expression = \"(?P<dbg>DEBUG)\" }\nstage.drop { source = \"dbg\" }",
		  { { "", 1, "DEBUG x" }, { "", 2, "INFO x" } }, "{} 2 INFO x\n", "drop_stage=1" },
		{ "source + value, custom reason",
		  "stage.drop {\n source = \"app\"\n value = \"noisy\"\n drop_counter_reason = \"noise\"\n}",
		  { { "app=noisy", 1, "a" }, { "app=noisy2", 2, "b" }, { "", 3, "c" } }, "{app=\"noisy2\"} 2 b\n{} 3 c\n",
		  "noise=1" },
		{ "several sources joined by the separator",
		  "stage.drop {\n source = \"a,b\"\n separator = \"/\"\n expression = \"^x/y$\"\n}",
		  { { "a=x,b=y", 1, "1" }, { "a=x,b=z", 2, "2" } }, "{a=\"x\", b=\"z\"} 2 2\n", "drop_stage=1" },
		{ "older_than", "stage.drop { older_than = \"1h\" }",
		  { { "", NOW - 2 * 3600 * S, "old" }, { "", NOW - 60 * S, "new" } }, "{} 1732355940000000000 new\n",
		  "drop_stage=1" },
		{ "longer_than", "stage.drop { longer_than = \"5B\" }",
		  { { "", 1, "short" }, { "", 2, "longer" } }, "{} 1 short\n", "drop_stage=1" },
		{ "all criteria must hold",
		  "stage.drop {\n longer_than = \"3B\"\n expression = \"x\"\n}",
		  { { "", 1, "xxxx" }, { "", 2, "x" }, { "", 3, "yyyy" } }, "{} 2 x\n{} 3 yyyy\n", "drop_stage=1" },
	};
	RUN(cases);
}

static void test_limit(void **state)
{
	static const struct stage_case cases[] = {
		{ "burst then drop",
		  "stage.limit {\n rate = 1\n burst = 2\n drop = true\n}",
		  { { "", 1, "a" }, { "", 2, "b" }, { "", 3, "c" }, { "", 4, "d" } }, "{} 1 a\n{} 2 b\n",
		  "ratelimit_drop_stage=2" },
		{ "by label",
		  "stage.limit {\n rate = 1\n burst = 1\n drop = true\n by_label_name = \"app\"\n}",
		  { { "app=a", 1, "a1" }, { "app=b", 2, "b1" }, { "app=a", 3, "a2" }, { "", 4, "none" }, { "", 5, "none" } },
		  "{app=\"a\"} 1 a1\n{app=\"b\"} 2 b1\n{} 4 none\n{} 5 none\n", "ratelimit_drop_stage=1" },
	};
	RUN(cases);
}

static void test_limit_refills_and_blocks(void **state)
{
	struct config *cfg;
	struct process *p = compile("stage.limit {\n rate = 100\n burst = 1\n}", &cfg);
	struct in_entry in[] = { { "", 1, "a" }, { "", 2, "b" }, { "", 3, "c" } };
	struct batch *b = make_batch(in, 3), *out = batch_new();
	/* without PUSH_NONBLOCK the push waits ~10ms per extra line; with it, the push is refused */
	assert_int_equal(process_batch(p, b, out, NOW, 0), 0);
	assert_int_equal(out->n_records, 3);
	batch_reset(out);
	assert_int_equal(process_batch(p, b, out, NOW + 20000000, 1 /* PUSH_NONBLOCK */), -EAGAIN);
	batch_free(b);
	batch_free(out);
	process_free(p);
	harness_body_free(cfg);
}

static void test_multiline(void **state)
{
	struct config *cfg;
	struct process *p = compile("stage.multiline {\n firstline = \"^\\\\[\"\n max_wait_time = \"1s\"\n max_lines = 3\n}", &cfg);
	struct in_entry in[] = { { "app=a", 1, "no block yet" }, { "app=a", 2, "[1] start" }, { "app=b", 3, "[b] other" },
				 { "app=a", 4, "  at x\r\n" }, { "app=a", 5, "[2] next" },  { "app=a", 6, "  one" },
				 { "app=a", 7, "  two" },      { "app=a", 8, "  three" } };
	struct batch *b = make_batch(in, 8), *out = batch_new();
	assert_int_equal(process_batch(p, b, out, NOW, 0), 0);
	char got[4096];
	harness_format_batch(out, got, sizeof(got));
	assert_string_equal(got, "{app=\"a\"} 1 no block yet\n{app=\"a\"} 2 [1] start\n  at x\n"
				 "{app=\"a\"} 5 [2] next\n  one\n  two\n");
	/* "  three" continues the stream after the max_lines flush; app=b's block is still open */
	assert_int_equal(process_next_deadline(p), NOW + S);
	batch_reset(out);
	assert_int_equal(process_flush(p, out, NOW + S / 2, false), 0);
	assert_int_equal(out->n_records, 0);
	assert_int_equal(process_flush(p, out, NOW + S, false), 0);
	harness_format_batch(out, got, sizeof(got));
	assert_string_equal(got, "{app=\"a\"} 5   three\n{app=\"b\"} 3 [b] other\n");
	assert_int_equal(process_next_deadline(p), INT64_MAX);
	batch_free(b);
	batch_free(out);
	process_free(p);
	harness_body_free(cfg);
}

static void test_cri_partials_across_batches_and_flush_all(void **state)
{
	struct config *cfg;
	struct process *p = compile("stage.cri { }\nstage.static_labels { values = { after = \"cri\" } }", &cfg);
	struct in_entry first[] = { { "app=a", 1, "2024-01-02T03:04:05Z stdout P part one, " },
				    { "app=b", 1, "2024-01-02T03:04:05Z stdout P held until stop" } };
	struct in_entry second[] = { { "app=a", 1, "2024-01-02T03:04:06Z stdout F part two" } };
	struct batch *b1 = make_batch(first, 2), *b2 = make_batch(second, 1), *out = batch_new();
	assert_int_equal(process_batch(p, b1, out, NOW, 0), 0);
	assert_int_equal(out->n_records, 0);
	assert_int_equal(process_batch(p, b2, out, NOW, 0), 0);
	char got[4096];
	harness_format_batch(out, got, sizeof(got));
	assert_string_equal(got, "{after=\"cri\", app=\"a\", stream=\"stdout\"} 1704164646000000000 part one, part two\n");
	batch_reset(out);
	assert_int_equal(process_flush(p, out, NOW, true), 0);
	harness_format_batch(out, got, sizeof(got));
	assert_string_equal(got, "{after=\"cri\", app=\"b\", stream=\"stdout\"} 1704164645000000000 held until stop\n");
	batch_free(b1);
	batch_free(b2);
	batch_free(out);
	process_free(p);
	harness_body_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cri),
		cmocka_unit_test(test_pass_through),
		cmocka_unit_test(test_docker_json_logfmt),
		cmocka_unit_test(test_regex_labels_output),
		cmocka_unit_test(test_replace_truncate),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_limit_refills_and_blocks),
		cmocka_unit_test(test_multiline),
		cmocka_unit_test(test_cri_partials_across_batches_and_flush_all),
	};
	return cmocka_run_group_tests_name("loki_process_stages", tests, NULL, NULL);
}
