/*
 * otlp_metrics_prom — see otlp_metrics_prom.h for the rules.
 *
 * Shape: the payload is unpacked by protobuf-c into an arena (one reset instead of thousands of frees);
 * each resource's job, instance and sanitised attributes are computed once, each scope's labels once,
 * and each data point's label set once, sorted and merged; every sample of the point (buckets, sum,
 * count) then only inserts __name__ (and le or quantile) into that set before batch_add_sample
 * interns it. String attribute values are never copied until the batch interns them.
 */
#include "pipeline/otlp_metrics_prom.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"
#include "lib/proto/otlp/metrics_service.pb-c.h"
#include "pipeline/arena.h"
#include "pipeline/labels.h"

typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest Request;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric Metric;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define CUMULATIVE	  OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define NO_RECORDED_VALUE 1u
#define STALE_NAN_BITS	  0x7ff0000000000002ull
#define ARENA_KEEP	  (4u << 20) /* an arena that grew past this is released after the payload */

/* A label before precedence and collisions are settled. */
struct cand {
	const char *name, *key, *value;
	uint32_t name_len, key_len, value_len;
	uint8_t cls;   /* CLS_*: the higher class wins a name */
	uint8_t src;   /* SRC_*: for one original key, the higher source wins */
	uint8_t ident; /* a resource attribute that makes job/instance */
};
enum { CLS_BASE = 0, CLS_ATTR = 1 };
enum { SRC_POINT = 0, SRC_RESOURCE = 1 };

struct otlp_prom {
	struct arena pb;		/* the unpacked payload and per-payload strings */
	size_t unpacked, unpack_budget; /* bytes protobuf-c took from pb; its cap for this payload */
	struct arena dp;		/* per data point strings */
	ProtobufCAllocator alloc;
	struct cand *cands, *res;
	size_t n_cands, cap_cands, n_res, cap_res;
	struct label *common, *out; /* a point's labels; one sample's labels */
	size_t n_common, cap_common, cap_out;
	struct otlp_prom_buf sb; /* rendering scratch for non-string attribute values */
	double *le_bounds;	 /* the bounds whose `le` strings (in pb) le holds: points of a metric share them */
	const char **le;
	size_t le_n, cap_le_bounds, cap_le;
	bool le_valid;
};

/* One conversion's state. */
struct conv {
	struct otlp_prom *cv;
	const struct otlp_prom_options *o;
	struct batch *out;
	struct otlp_prom_stats *st;
	struct cand base[4];	   /* job, instance, otel_scope_name, otel_scope_version */
	size_t n_base, n_res_base; /* n_res_base: job and instance only */
};

const char *otlp_prom_drop_reason(enum otlp_prom_drop d)
{
	static const char *const names[OTLP_PROM_DROPS] = {"delta", "exponential_histogram", "invalid"};
	return (unsigned)d < OTLP_PROM_DROPS ? names[d] : "unknown";
}

void otlp_prom_default_options(struct otlp_prom_options *o)
{
	*o = (struct otlp_prom_options){
		.add_metric_suffixes = true, .include_target_info = true, .include_scope_labels = true};
}

/*
 * Text usable as a label value: s itself when it is valid UTF-8 (no copy unless copy is set), else
 * its repaired copy in arena a; "" when too long for a label (no label).
 */
static int label_text(struct arena *a, const char *s, size_t n, bool copy, const char **out, uint32_t *len)
{
	if (n > LABELS_MAX_STRING) {
		*out = "", *len = 0;
		return 0;
	}
	bool valid = otlp_prom_utf8_valid(s, n);
	if (valid && !copy) {
		*out = s, *len = (uint32_t)n;
		return 0;
	}
	char *dst = arena_alloc_bytes(a, valid ? n + 1 : 3 * n + 1);
	if (!dst)
		return -ENOMEM;
	size_t m = valid ? n : otlp_prom_utf8_fix(s, n, dst);
	if (valid)
		memcpy(dst, s, n);
	dst[m] = '\0';
	if (m > LABELS_MAX_STRING)
		m = 0;
	*out = dst, *len = (uint32_t)m;
	return 0;
}

/* An attribute value as a label value: strings as they are, anything else rendered (pdata's AsString). */
static int any_string(struct otlp_prom *cv, struct arena *a, const AnyValue *v, const char **s, uint32_t *len)
{
	if (v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
		return label_text(a, v->string_value, strlen(v->string_value), false, s, len);
	if (otlp_prom_render_value(&cv->sb, v))
		return -ENOMEM;
	return label_text(a, cv->sb.p, cv->sb.len, true, s, len);
}

/* ---------------- label sets ---------------- */

static int cand_cmp(const struct cand *a, const struct cand *b)
{
	int c = labels_strcmp(a->name, a->name_len, b->name, b->name_len);
	if (c)
		return c;
	if (a->cls != b->cls)
		return a->cls > b->cls ? -1 : 1; /* the winning class first */
	c = labels_strcmp(a->key, a->key_len, b->key, b->key_len);
	if (c)
		return c;
	return a->src > b->src ? -1 : a->src < b->src ? 1 : 0; /* resource first */
}

static int cand_qcmp(const void *a, const void *b)
{
	return cand_cmp(a, b);
}

static void sort_cands(struct cand *c, size_t n)
{
	if (n > 24) {
		qsort(c, n, sizeof(*c), cand_qcmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct cand x = c[i];
		size_t j = i;
		while (j > 0 && cand_cmp(&c[j - 1], &x) > 0)
			c[j] = c[j - 1], j--;
		c[j] = x;
	}
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && !memcmp(a, b, an);
}

/* Settles precedence and collisions of the sorted candidates into cv->common (joined values in cv->dp). */
static int merge_cands(struct otlp_prom *cv, const struct cand *c, size_t n)
{
	if (grow_array((void **)&cv->common, &cv->cap_common, n + 1, sizeof(*cv->common)))
		return -ENOMEM;
	cv->n_common = 0;
	for (size_t i = 0; i < n;) {
		size_t end = i + 1, win = i + 1, parts = 1, total = c[i].value_len;
		while (end < n && same(c[end].name, c[end].name_len, c[i].name, c[i].name_len))
			end++;
		while (win < end && c[win].cls == c[i].cls) {
			if (!same(c[win].key, c[win].key_len, c[win - 1].key, c[win - 1].key_len))
				parts++, total += 1 + c[win].value_len;
			win++;
		}
		const char *value = c[i].value;
		uint32_t value_len = c[i].value_len;
		if (parts > 1) {
			if (total > LABELS_MAX_STRING) { /* too long for a label: left out */
				i = end;
				continue;
			}
			char *v = arena_alloc_bytes(&cv->dp, total + 1), *p = v;
			if (!v)
				return -ENOMEM;
			for (size_t k = i; k < win; k++) {
				if (k > i && same(c[k].key, c[k].key_len, c[k - 1].key, c[k - 1].key_len))
					continue;
				if (p > v)
					*p++ = ';';
				memcpy(p, c[k].value, c[k].value_len);
				p += c[k].value_len;
			}
			*p = '\0';
			value = v, value_len = (uint32_t)total;
		}
		if (value_len)
			cv->common[cv->n_common++] = (struct label){c[i].name, value, c[i].name_len, value_len};
		i = end;
	}
	return 0;
}

static int add_cand(struct otlp_prom *cv, struct cand x)
{
	if (grow_array((void **)&cv->cands, &cv->cap_cands, cv->n_cands + 1, sizeof(*cv->cands)))
		return -ENOMEM;
	cv->cands[cv->n_cands++] = x;
	return 0;
}

/* An attribute as a candidate: its name sanitised and its value rendered into arena a. */
static int attr_cand(struct otlp_prom *cv, struct arena *a, const KeyValue *kv, uint8_t src, struct cand *out)
{
	size_t klen = strlen(kv->key);
	klen = klen > LABELS_MAX_STRING ? 0 : klen; /* too long for a label name: left out */
	char *name = arena_alloc_bytes(a, klen + 5);
	if (!name)
		return -ENOMEM;
	*out = (struct cand){.name = name, .key = kv->key, .key_len = (uint32_t)klen, .cls = CLS_ATTR, .src = src};
	out->name_len = (uint32_t)otlp_prom_label_name(kv->key, klen, name, klen + 5);
	return any_string(cv, a, kv->value, &out->value, &out->value_len);
}

/*
 * The label set shared by every sample of one point (or info metric) into cv->common: the base
 * labels, the resource's attributes when asked, and attrs. Attributes without a usable name are
 * left out.
 */
static int point_labels(struct conv *x, const struct cand *base, size_t n_base, bool with_res, bool res_ident,
			KeyValue **attrs, size_t n_attrs)
{
	struct otlp_prom *cv = x->cv;
	arena_reset(&cv->dp);
	cv->n_cands = 0;
	int rc = 0;
	for (size_t i = 0; i < n_base && rc == 0; i++)
		rc = add_cand(cv, base[i]);
	for (size_t i = 0; with_res && i < cv->n_res && rc == 0; i++)
		if (res_ident || !cv->res[i].ident)
			rc = add_cand(cv, cv->res[i]);
	for (size_t i = 0; i < n_attrs && rc == 0; i++) {
		struct cand c;
		rc = attr_cand(cv, &cv->dp, attrs[i], SRC_POINT, &c);
		if (rc == 0 && c.name_len)
			rc = add_cand(cv, c);
	}
	if (rc)
		return rc;
	sort_cands(cv->cands, cv->n_cands);
	return merge_cands(cv, cv->cands, cv->n_cands);
}

/* Appends one sample: cv->common plus __name__ and, when xname, one more structural label. */
static int emit(struct conv *x, const char *name, size_t name_len, const char *xname, const char *xval, int64_t ts,
		double v, const struct metric_meta *meta)
{
	struct otlp_prom *cv = x->cv;
	struct label extra[2] = {{"__name__", name, 8, (uint32_t)name_len}};
	size_t ne = 1, o = 0, i = 0, e = 0;
	if (xname)
		extra[ne++] = (struct label){xname, xval, (uint32_t)strlen(xname), (uint32_t)strlen(xval)};
	if (grow_array((void **)&cv->out, &cv->cap_out, cv->n_common + 2, sizeof(*cv->out)))
		return -ENOMEM;
	while (i < cv->n_common || e < ne) {
		int c = e == ne		    ? -1
			: i == cv->n_common ? 1
					    : labels_strcmp(cv->common[i].name, cv->common[i].name_len, extra[e].name,
							    extra[e].name_len);
		if (c < 0)
			cv->out[o++] = cv->common[i++];
		else {
			i += c == 0; /* the structural label shadows an attribute of the same name */
			cv->out[o++] = extra[e++];
		}
	}
	struct labels ls = {cv->out, (uint32_t)o, labels_hash(cv->out, o)};
	int rc = batch_add_sample(x->out, &ls, ts, v, meta);
	if (rc == 0)
		x->st->samples++;
	return rc;
}

/* ---------------- metrics ---------------- */

static double stale_nan(void)
{
	union {
		uint64_t u;
		double d;
	} s = {STALE_NAN_BITS};
	return s.d;
}

static int64_t point_ms(const struct conv *x, uint64_t ns)
{
	return ns ? (int64_t)(ns / 1000000u) : x->o->now_ms;
}

/* One name with a suffix, in the payload arena. */
struct names {
	const char *base, *bucket, *sum, *count;
	size_t base_len;
};

static int number_point(struct conv *x, const struct names *nm, const NumberDataPoint *p,
			const struct metric_meta *meta)
{
	double v;
	if (p->flags & NO_RECORDED_VALUE)
		v = stale_nan();
	else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
		v = p->as_double;
	else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
		v = (double)p->as_int;
	else {
		x->st->dropped[OTLP_PROM_DROP_INVALID]++;
		return 0;
	}
	int rc = point_labels(x, x->base, x->n_base, x->o->resource_to_telemetry_conversion, true, p->attributes,
			      p->n_attributes);
	if (rc == 0)
		rc = emit(x, nm->base, nm->base_len, NULL, NULL, point_ms(x, p->time_unix_nano), v, meta);
	x->st->points += rc == 0;
	return rc;
}

/* The `le` values of bounds[0..n), formatted once per distinct bounds array of the payload. */
static const char **le_strings(struct otlp_prom *cv, const double *bounds, size_t n)
{
	if (cv->le_valid && n == cv->le_n && (!n || !memcmp(bounds, cv->le_bounds, n * sizeof(*bounds))))
		return cv->le;
	cv->le_valid = false;
	if (grow_array((void **)&cv->le_bounds, &cv->cap_le_bounds, n + 1, sizeof(*cv->le_bounds)) ||
	    grow_array((void **)&cv->le, &cv->cap_le, n + 1, sizeof(*cv->le)))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char tmp[OTLP_PROM_FLOAT_MAX];
		if (!(cv->le[i] = arena_strndup(&cv->pb, tmp, otlp_prom_format_float(bounds[i], tmp, sizeof(tmp)))))
			return NULL;
	}
	if (n)
		memcpy(cv->le_bounds, bounds, n * sizeof(*bounds));
	cv->le_n = n;
	cv->le_valid = true;
	return cv->le;
}

/* Usable bounds: strictly increasing, no NaN; a final +Inf bound is left to the implicit +Inf bucket. */
static bool bounds_usable(const HistogramDataPoint *p, size_t *n)
{
	size_t nb = p->n_explicit_bounds;
	if (nb && isinf(p->explicit_bounds[nb - 1]) && p->explicit_bounds[nb - 1] > 0)
		nb--;
	for (size_t i = 0; i < nb; i++)
		if (isnan(p->explicit_bounds[i]) || (i && !(p->explicit_bounds[i] > p->explicit_bounds[i - 1])))
			return false;
	*n = nb < p->n_bucket_counts ? nb : p->n_bucket_counts;
	return true;
}

static int histogram_point(struct conv *x, const struct names *nm, const HistogramDataPoint *p,
			   const struct metric_meta *meta)
{
	size_t nb;
	if (!bounds_usable(p, &nb)) {
		x->st->dropped[OTLP_PROM_DROP_INVALID]++;
		return 0;
	}
	const char **le = le_strings(x->cv, p->explicit_bounds, nb);
	if (!le)
		return -ENOMEM;
	int rc = point_labels(x, x->base, x->n_base, x->o->resource_to_telemetry_conversion, true, p->attributes,
			      p->n_attributes);
	bool stale = p->flags & NO_RECORDED_VALUE;
	int64_t ts = point_ms(x, p->time_unix_nano);
	uint64_t cum = 0;
	for (size_t i = 0; i < nb && rc == 0; i++) {
		cum += p->bucket_counts[i];
		rc = emit(x, nm->bucket, nm->base_len + 7, "le", le[i], ts, stale ? stale_nan() : (double)cum, meta);
	}
	if (rc == 0)
		rc = emit(x, nm->bucket, nm->base_len + 7, "le", "+Inf", ts, stale ? stale_nan() : (double)p->count,
			  meta);
	if (rc == 0 && p->_sum_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM)
		rc = emit(x, nm->sum, nm->base_len + 4, NULL, NULL, ts, stale ? stale_nan() : p->sum, meta);
	if (rc == 0)
		rc = emit(x, nm->count, nm->base_len + 6, NULL, NULL, ts, stale ? stale_nan() : (double)p->count, meta);
	x->st->points += rc == 0;
	return rc;
}

static int summary_point(struct conv *x, const struct names *nm, const SummaryDataPoint *p,
			 const struct metric_meta *meta)
{
	int rc = point_labels(x, x->base, x->n_base, x->o->resource_to_telemetry_conversion, true, p->attributes,
			      p->n_attributes);
	bool stale = p->flags & NO_RECORDED_VALUE;
	int64_t ts = point_ms(x, p->time_unix_nano);
	char q[OTLP_PROM_FLOAT_MAX];
	for (size_t i = 0; i < p->n_quantile_values && rc == 0; i++) {
		otlp_prom_format_float(p->quantile_values[i]->quantile, q, sizeof(q));
		rc = emit(x, nm->base, nm->base_len, "quantile", q, ts,
			  stale ? stale_nan() : p->quantile_values[i]->value, meta);
	}
	if (rc == 0)
		rc = emit(x, nm->sum, nm->base_len + 4, NULL, NULL, ts, stale ? stale_nan() : p->sum, meta);
	if (rc == 0)
		rc = emit(x, nm->count, nm->base_len + 6, NULL, NULL, ts, stale ? stale_nan() : (double)p->count, meta);
	x->st->points += rc == 0;
	return rc;
}

/* The value of metric.metadata["prometheus.type"], or "". */
static const char *prom_type_hint(const Metric *m)
{
	for (size_t i = 0; i < m->n_metadata; i++)
		if (!strcmp(m->metadata[i]->key, "prometheus.type") && m->metadata[i]->value &&
		    m->metadata[i]->value->value_case ==
			    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
			return m->metadata[i]->value->string_value;
	return "";
}

/* How a metric converts: its kind for naming, its Prometheus type, its points; false = drop them all. */
struct shape {
	enum otlp_prom_kind kind;
	enum metric_type type;
	size_t n_points;
	int drop; /* enum otlp_prom_drop, or -1 */
};

static struct shape shape_of(const Metric *m)
{
	struct shape s = {OTLP_PROM_KIND_OTHER, METRIC_TYPE_GAUGE, 0, -1};
	const char *hint = prom_type_hint(m);
	switch (m->data_case) {
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
		s.kind = OTLP_PROM_KIND_GAUGE;
		s.type = !strcmp(hint, "unknown") ? METRIC_TYPE_UNKNOWN : METRIC_TYPE_GAUGE;
		s.n_points = m->gauge ? m->gauge->n_data_points : 0;
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
		s.n_points = m->sum ? m->sum->n_data_points : 0;
		if (!m->sum || m->sum->aggregation_temporality != CUMULATIVE)
			s.drop = OTLP_PROM_DROP_DELTA;
		else if (m->sum->is_monotonic)
			s.kind = OTLP_PROM_KIND_COUNTER, s.type = METRIC_TYPE_COUNTER;
		else
			s.type = !strcmp(hint, "info")	     ? METRIC_TYPE_INFO
				 : !strcmp(hint, "stateset") ? METRIC_TYPE_STATESET
							     : METRIC_TYPE_GAUGE;
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
		s.type = METRIC_TYPE_HISTOGRAM;
		s.n_points = m->histogram ? m->histogram->n_data_points : 0;
		if (!m->histogram || m->histogram->aggregation_temporality != CUMULATIVE)
			s.drop = OTLP_PROM_DROP_DELTA;
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
		s.n_points = m->exponential_histogram ? m->exponential_histogram->n_data_points : 0;
		s.drop = OTLP_PROM_DROP_EXPONENTIAL;
		break;
	case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
		s.type = METRIC_TYPE_SUMMARY;
		s.n_points = m->summary ? m->summary->n_data_points : 0;
		break;
	default:
		s.n_points = 1; /* a metric without data counts as one invalid point */
		s.drop = OTLP_PROM_DROP_INVALID;
		break;
	}
	return s;
}

/* The family name and its _bucket/_sum/_count forms in the payload arena; base_len 0 = unusable. */
static int make_names(struct conv *x, const Metric *m, enum otlp_prom_kind kind, struct names *nm)
{
	size_t len = 0;
	char *base = otlp_prom_metric_name_in(&x->cv->pb, m->name, m->unit, kind, x->o->add_metric_suffixes, &len);
	if (!base)
		return -ENOMEM;
	*nm = (struct names){.base = base, .base_len = len};
	if (!len || len > LABELS_MAX_STRING - 8) {
		nm->base_len = 0;
		return 0;
	}
	char *all = arena_alloc_bytes(&x->cv->pb, 3 * (len + 8));
	if (!all)
		return -ENOMEM;
	nm->bucket = all, nm->sum = all + len + 8, nm->count = all + 2 * (len + 8);
	sprintf(all, "%s_bucket", base);
	sprintf(all + len + 8, "%s_sum", base);
	sprintf(all + 2 * (len + 8), "%s_count", base);
	return 0;
}

static int convert_metric(struct conv *x, const Metric *m)
{
	struct shape s = shape_of(m);
	struct names nm;
	int rc = s.drop < 0 ? make_names(x, m, s.kind, &nm) : 0;
	if (rc)
		return rc;
	if (s.drop < 0 && !nm.base_len)
		s.drop = OTLP_PROM_DROP_INVALID;
	if (s.drop >= 0) {
		x->st->dropped[s.drop] += s.n_points;
		return 0;
	}
	const struct metric_meta *meta = NULL;
	if (x->o->with_metadata) {
		const char *unit = otlp_prom_unit_in(&x->cv->pb, m->unit, s.kind);
		const char *help;
		uint32_t help_len;
		if (!unit || label_text(&x->cv->pb, m->description, strlen(m->description), false, &help, &help_len) ||
		    !(meta = batch_intern_meta(x->out, nm.base, s.type, help, unit)))
			return -ENOMEM;
	}
	for (size_t i = 0; i < s.n_points && rc == 0; i++) {
		if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM)
			rc = histogram_point(x, &nm, m->histogram->data_points[i], meta);
		else if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY)
			rc = summary_point(x, &nm, m->summary->data_points[i], meta);
		else
			rc = number_point(x, &nm,
					  m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE
						  ? m->gauge->data_points[i]
						  : m->sum->data_points[i],
					  meta);
	}
	return rc;
}

/* An info-style gauge with value 1 over cv->common (target_info, otel_scope_info). */
static int emit_info(struct conv *x, const char *name, const char *help)
{
	const struct metric_meta *meta = NULL;
	if (x->o->with_metadata && !(meta = batch_intern_meta(x->out, name, METRIC_TYPE_GAUGE, help, NULL)))
		return -ENOMEM;
	return emit(x, name, strlen(name), NULL, NULL, x->o->now_ms, 1, meta);
}

static int convert_scope(struct conv *x, const ScopeMetrics *sm)
{
	const char *name = sm->scope ? sm->scope->name : "", *version = sm->scope ? sm->scope->version : "";
	x->n_base = x->n_res_base;
	struct cand scope[2] = {
		{"otel_scope_name", "otel_scope_name", NULL, 15, 15, 0, CLS_BASE, SRC_RESOURCE, 0},
		{"otel_scope_version", "otel_scope_version", NULL, 18, 18, 0, CLS_BASE, SRC_RESOURCE, 0},
	};
	int rc = label_text(&x->cv->pb, name, strlen(name), false, &scope[0].value, &scope[0].value_len);
	if (rc == 0)
		rc = label_text(&x->cv->pb, version, strlen(version), false, &scope[1].value, &scope[1].value_len);
	if (rc == 0 && x->o->include_scope_info) {
		struct cand info[4];
		memcpy(info, x->base, x->n_res_base * sizeof(*info));
		memcpy(info + x->n_res_base, scope, sizeof(scope));
		rc = point_labels(x, info, x->n_res_base + 2, false, false, sm->scope ? sm->scope->attributes : NULL,
				  sm->scope ? sm->scope->n_attributes : 0);
		if (rc == 0)
			rc = emit_info(x, "otel_scope_info", "Instrumentation Scope metadata");
	}
	if (x->o->include_scope_labels) {
		x->base[x->n_base++] = scope[0];
		x->base[x->n_base++] = scope[1];
	}
	for (size_t i = 0; i < sm->n_metrics && rc == 0; i++)
		rc = convert_metric(x, sm->metrics[i]);
	return rc;
}

static bool key_is(const KeyValue *kv, const char *k)
{
	return !strcmp(kv->key, k);
}

/* job and instance from the service attributes (first occurrence), rendered in the payload arena. */
static int job_instance(struct conv *x, KeyValue **attrs, size_t n)
{
	struct otlp_prom *cv = x->cv;
	const KeyValue *svc = NULL, *ns = NULL, *inst = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!svc && key_is(attrs[i], "service.name"))
			svc = attrs[i];
		else if (!ns && key_is(attrs[i], "service.namespace"))
			ns = attrs[i];
		else if (!inst && key_is(attrs[i], "service.instance.id"))
			inst = attrs[i];
	}
	x->n_res_base = 0;
	int rc = 0;
	if (svc) {
		const char *s, *nsv = "";
		uint32_t sl, nsl = 0;
		rc = any_string(cv, &cv->pb, svc->value, &s, &sl);
		if (rc == 0 && ns)
			rc = any_string(cv, &cv->pb, ns->value, &nsv, &nsl);
		if (rc)
			return rc;
		char *job = arena_alloc_bytes(&cv->pb, (size_t)sl + nsl + 2);
		if (!job)
			return -ENOMEM;
		int jl = ns ? sprintf(job, "%.*s/%.*s", (int)nsl, nsv, (int)sl, s) : sprintf(job, "%.*s", (int)sl, s);
		jl = jl > (int)LABELS_MAX_STRING ? 0 : jl; /* too long for a label: left out */
		x->base[x->n_res_base++] = (struct cand){"job", "job", job, 3, 3, (uint32_t)jl, CLS_BASE, 0, 0};
	}
	if (inst) {
		struct cand c = {"instance", "instance", NULL, 8, 8, 0, CLS_BASE, 0, 0};
		if ((rc = any_string(cv, &cv->pb, inst->value, &c.value, &c.value_len)))
			return rc;
		x->base[x->n_res_base++] = c;
	}
	return 0;
}

static int convert_resource(struct conv *x, const ResourceMetrics *rm)
{
	struct otlp_prom *cv = x->cv;
	KeyValue **attrs = rm->resource ? rm->resource->attributes : NULL;
	size_t n = rm->resource ? rm->resource->n_attributes : 0;
	int rc = job_instance(x, attrs, n);
	if (rc == 0 && grow_array((void **)&cv->res, &cv->cap_res, n + 1, sizeof(*cv->res)))
		rc = -ENOMEM;
	cv->n_res = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct cand c;
		rc = attr_cand(cv, &cv->pb, attrs[i], SRC_RESOURCE, &c);
		if (rc || !c.name_len)
			continue;
		c.ident = key_is(attrs[i], "service.name") || key_is(attrs[i], "service.namespace") ||
			  key_is(attrs[i], "service.instance.id");
		cv->res[cv->n_res++] = c;
	}
	if (rc == 0 && x->o->include_target_info && n) {
		rc = point_labels(x, x->base, x->n_res_base, true, x->o->keep_identifying_resource_attributes, NULL, 0);
		if (rc == 0)
			rc = emit_info(x, "target_info", "Target metadata");
	}
	for (size_t i = 0; i < rm->n_scope_metrics && rc == 0; i++)
		rc = convert_scope(x, rm->scope_metrics[i]);
	return rc;
}

/* ---------------- lifecycle ---------------- */

/* protobuf-c's allocator: the arena, within the payload's budget (a failed allocation fails the unpack). */
static void *pb_alloc(void *data, size_t size)
{
	struct otlp_prom *cv = data;
	cv->unpacked += size;
	return cv->unpacked > cv->unpack_budget ? NULL : arena_alloc(&cv->pb, size ? size : 1);
}

static void pb_free(void *data, void *p)
{
	(void)data, (void)p; /* released with the arena */
}

int otlp_prom_new(struct otlp_prom **out)
{
	struct otlp_prom *cv = calloc(1, sizeof(*cv));
	if (!cv)
		return -ENOMEM;
	arena_init(&cv->pb, 65536);
	arena_init(&cv->dp, 0);
	cv->alloc = (ProtobufCAllocator){pb_alloc, pb_free, cv};
	*out = cv;
	return 0;
}

void otlp_prom_free(struct otlp_prom *cv)
{
	if (!cv)
		return;
	arena_free(&cv->pb);
	arena_free(&cv->dp);
	free(cv->cands);
	free(cv->res);
	free(cv->common);
	free(cv->out);
	otlp_prom_buf_free(&cv->sb);
	free(cv->le_bounds);
	free(cv->le);
	free(cv);
}

static void release(struct arena *a, size_t chunk)
{
	if (arena_reserved(a) > ARENA_KEEP) {
		arena_free(a);
		arena_init(a, chunk);
	} else {
		arena_reset(a);
	}
}

int otlp_prom_convert(struct otlp_prom *cv, const struct otlp_prom_options *o, const void *data, size_t len,
		      struct batch *out, struct otlp_prom_stats *st)
{
	cv->unpacked = 0;
	cv->unpack_budget = OTLP_PROM_UNPACK_FACTOR * len + (1u << 20);
	Request *req = (Request *)protobuf_c_message_unpack(
		&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor, &cv->alloc,
		len, data);
	int rc = req ? 0 : cv->unpacked > cv->unpack_budget ? -EFBIG : -EINVAL;
	struct conv x = {.cv = cv, .o = o, .out = out, .st = st};
	for (size_t i = 0; req && i < req->n_resource_metrics && rc == 0; i++)
		rc = convert_resource(&x, req->resource_metrics[i]);
	release(&cv->pb, 65536);
	release(&cv->dp, 0);
	cv->le_valid = false; /* its strings were in pb */
	if (cv->sb.cap > ARENA_KEEP)
		otlp_prom_buf_free(&cv->sb);
	return rc;
}
