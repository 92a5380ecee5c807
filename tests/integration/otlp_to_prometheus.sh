#!/bin/bash
# OTLP metrics all the way into a real Prometheus: the official OpenTelemetry JS SDK (MeterProvider with
# the OTLP/HTTP-protobuf and OTLP/gRPC metric exporters) sends counters, a histogram, an up/down
# counter and a gauge to `solder run`; otelcol.receiver.otlp → otelcol.exporter.prometheus →
# prometheus.remote_write → Debian's prometheus (--web.enable-remote-write-receiver, loopback). The series
# are read back through /api/v1/query: names with unit suffixes and _total, job and instance from the
# service attributes, scope labels, cumulative histogram buckets with +Inf, _sum and _count, target_info
# with the other resource attributes; a client exporting delta temporality gets its delta sums and
# histograms dropped and counted on /metrics, while its cumulative up/down counter still arrives. Then
# a full WAL behind an unreachable remote_write makes OTLP/HTTP answer 503 with Retry-After, and once a
# Prometheus appears every acknowledged request's series arrive. Skips when prometheus is not installed.
. "$(dirname "$0")/lib/common.sh"
SOLDER=${SOLDER:-./solder}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROM=$(command -v prometheus || true)
if [ -z "$PROM" ]; then
	echo "otlp_to_prometheus: prometheus not installed, skipped"
	exit 0
fi
PY=/usr/bin/python3
NODE_PKGS="@opentelemetry/api@1.9.1 @opentelemetry/resources@2.12.1 @opentelemetry/sdk-metrics@2.12.1
@opentelemetry/exporter-metrics-otlp-proto@0.223.0 @opentelemetry/exporter-metrics-otlp-grpc@0.223.0 @grpc/grpc-js@1.14.7"
# The JS SDK lives in tests/node_modules (git-ignored), installed once.
if [ ! -d "$ROOT/tests/node_modules/@opentelemetry/exporter-metrics-otlp-grpc" ]; then
	# shellcheck disable=SC2086
	npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$ROOT/tests" $NODE_PKGS >"$TMP/npm.log" 2>&1 ||
		{ cat "$TMP/npm.log"; echo "npm install failed"; exit 1; }
fi

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROM_PORT=$(free_port)
GRPC_PORT=$(free_port)
HTTP_PORT=$(free_port)

printf 'global:\n  scrape_interval: 1m\n' >"$TMP/prom.yml"
"$PROM" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address=127.0.0.1:$PROM_PORT --web.enable-remote-write-receiver >"$TMP/prom.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")
check "prometheus is ready" wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready"

cat >"$TMP/config.alloy" <<CFG
otelcol.receiver.otlp "in" {
	grpc { endpoint = "127.0.0.1:$GRPC_PORT" }
	http { endpoint = "127.0.0.1:$HTTP_PORT" }
	output { metrics = [otelcol.exporter.prometheus.default.input] }
}

otelcol.exporter.prometheus "default" {
	forward_to = [prometheus.remote_write.prom.receiver]
}

prometheus.remote_write "prom" {
	endpoint {
		url = "http://127.0.0.1:$PROM_PORT/api/v1/write"
		queue_config {
			batch_send_deadline = "500ms"
		}
	}
}
CFG
check "solder starts" start_solder "$TMP/config.alloy"
check "the OTLP servers listen" wait_for 5 sh -c "[ \$(grep -c 'server listening' '$TMP/solder.err') = 2 ]"

# The client: one MeterProvider per run, exported once by forceFlush and once more by shutdown.
cat >"$TMP/send_metrics.js" <<'JS'
'use strict';
// node send_metrics.js grpc|proto GRPC_PORT HTTP_PORT SUFFIX [delta]
const [proto, grpcPort, httpPort, suffix, temporality] = process.argv.slice(2);
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
const opts = temporality === 'delta' ? { temporalityPreference: AggregationTemporality.DELTA } : {};
const exporter = proto === 'grpc'
  ? new (require('@opentelemetry/exporter-metrics-otlp-grpc').OTLPMetricExporter)({ url: `http://127.0.0.1:${grpcPort}`, ...opts })
  : new (require('@opentelemetry/exporter-metrics-otlp-proto').OTLPMetricExporter)({ url: `http://127.0.0.1:${httpPort}/v1/metrics`, ...opts });
const results = [];
const orig = exporter.export.bind(exporter);
exporter.export = (items, cb) => orig(items, (r) => { results.push(r.code); cb(r); });
async function main() {
  const resource = resourceFromAttributes({
    'service.name': `shop-${suffix}`, 'service.namespace': 'it', 'service.instance.id': `pod-${suffix}`,
    'k8s.pod.name': 'pod-1', 'deployment.environment': 'test',
  });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60000 });
  const mp = new MeterProvider({ resource, readers: [reader] });
  const meter = mp.getMeter('solder-it', '1.2.3');
  meter.createCounter(`it.requests.${suffix}`, { description: 'Requests served', unit: '{request}' })
    .add(7, { 'http.route': '/a', '1code': 'x' });
  meter.createCounter(`it.sent.${suffix}`, { unit: 'By' }).add(1024);
  const h = meter.createHistogram(`it.latency.${suffix}`, { unit: 'ms', advice: { explicitBucketBoundaries: [5, 10, 25, 50] } });
  for (const v of [3, 7, 12, 12, 30, 100]) h.record(v, { method: 'GET' });
  meter.createUpDownCounter(`it.queue.${suffix}`).add(-3);
  meter.createGauge(`it.utilization.${suffix}`, { unit: '1' }).record(0.25);
  await mp.forceFlush();
  await mp.shutdown();
  console.log(JSON.stringify({ results }));
}
main().catch((e) => { console.error(e); process.exit(1); });
JS
send() { # send PROTOCOL SUFFIX [delta]
	(cd "$ROOT/tests" && NODE_PATH="$ROOT/tests/node_modules" timeout 60 node "$TMP/send_metrics.js" "$1" \
		"$GRPC_PORT" "$HTTP_PORT" "$2" ${3:-}) >"$TMP/send-$2.json" 2>"$TMP/send-$2.err"
}
acked() { grep -q '"results":\[0\(,0\)*\]' "$TMP/send-$1.json"; }
check "the JS SDK exports cumulative metrics over OTLP/HTTP protobuf" send proto a
check "solder acknowledged every HTTP export" acked a
check "the JS SDK exports delta metrics over OTLP/gRPC" send grpc b delta
check "solder acknowledged every gRPC export" acked b

query() { curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"; }
value_of() { # value_of EXPR -> the first result's value, or nothing
	query "$1" | $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
is_value() { [ "$(value_of "$1")" = "$2" ]; }
absent() { [ -z "$(value_of "$1")" ]; }
A='job="it/shop-a",instance="pod-a",otel_scope_name="solder-it",otel_scope_version="1.2.3"'
check "counter: unit annotation dropped, _total added, attributes sanitised (http_route, key_1code)" \
	wait_for 30 is_value "it_requests_a_total{$A,http_route=\"/a\",key_1code=\"x\"}" 7
check "counter with unit By: _bytes_total" is_value "it_sent_a_bytes_total{$A}" 1024
check "histogram: cumulative bucket le=5" is_value "it_latency_a_milliseconds_bucket{$A,method=\"GET\",le=\"5\"}" 1
check "histogram: cumulative bucket le=10" is_value "it_latency_a_milliseconds_bucket{$A,method=\"GET\",le=\"10\"}" 2
check "histogram: cumulative bucket le=50" is_value "it_latency_a_milliseconds_bucket{$A,method=\"GET\",le=\"50\"}" 5
check "histogram: le=+Inf is the count" is_value "it_latency_a_milliseconds_bucket{$A,method=\"GET\",le=\"+Inf\"}" 6
check "histogram: _sum" is_value "it_latency_a_milliseconds_sum{$A,method=\"GET\"}" 164
check "histogram: _count" is_value "it_latency_a_milliseconds_count{$A,method=\"GET\"}" 6
check "histogram_quantile works on the buckets" is_value \
	"histogram_quantile(0.5, sum by (le) (it_latency_a_milliseconds_bucket{job=\"it/shop-a\"}))" 17.5
check "up/down counter: a gauge without _total" is_value "it_queue_a{$A}" -3
check "no it_queue_a_total" absent "it_queue_a_total"
check "gauge of unit 1: _ratio" is_value "it_utilization_a_ratio{$A}" 0.25
check "target_info: job, instance and the other resource attributes" is_value \
	'target_info{job="it/shop-a",instance="pod-a",k8s_pod_name="pod-1",deployment_environment="test"}' 1
check "target_info carries no service.* labels" absent 'target_info{job="it/shop-a",service_name!=""}'

B='job="it/shop-b",instance="pod-b"'
check "delta client: its cumulative up/down counter arrives" wait_for 30 is_value "it_queue_b{$B}" -3
check "delta client: its gauge arrives" is_value "it_utilization_b_ratio{$B}" 0.25
check "delta client: delta counters are dropped" absent "{__name__=~\"it_(requests|sent)_b.*\"}"
check "delta client: delta histograms are dropped" absent "{__name__=~\"it_latency_b.*\"}"
dropped() { # dropped REASON -> the exporter's dropped records for that reason on solder's /metrics
	curl -sf "http://127.0.0.1:$PORT/metrics" |
		sed -n "s/^solder_component_records_dropped_total{.*component_id=\"otelcol.exporter.prometheus.default\".*reason=\"$1\".*} \([0-9]*\)$/\1/p"
}
check "the dropped delta points are counted on /metrics" bash -c "[ \"\$($(declare -f dropped); PORT=$PORT; dropped delta)\" -ge 3 ]"
check "solder dropped nothing downstream" bash -c "! grep -q 'batch dropped\\|request rejected' '$TMP/solder.err'"

kill "$SOLDER_PID"
wait "$SOLDER_PID" 2>/dev/null
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null

# ---- a full WAL behind remote_write reaches the OTLP client as 503; what was acknowledged arrives ----
# remote_write points at a port where nothing listens yet, the WAL is small: OTLP/JSON requests of 300
# points with incompressible labels are acknowledged until the WAL is full, then refused with 503 and
# Retry-After. Then a Prometheus starts on that port: every acknowledged request's series arrive.
PROM2_PORT=$(free_port)
rm -rf "$TMP/data"
cat >"$TMP/full.alloy" <<CFG
wal {
	max_size     = "3MiB"
	segment_size = "512KiB"
}
otelcol.receiver.otlp "in" {
	http { endpoint = "127.0.0.1:$HTTP_PORT" }
	output { metrics = [otelcol.exporter.prometheus.default.input] }
}
otelcol.exporter.prometheus "default" {
	forward_to = [prometheus.remote_write.prom.receiver]
}
prometheus.remote_write "prom" {
	endpoint {
		url = "http://127.0.0.1:$PROM2_PORT/api/v1/write"
		queue_config {
			batch_send_deadline = "500ms"
			max_backoff         = "1s"
		}
	}
}
CFG
check "solder starts with a small WAL and an unreachable remote_write" start_solder "$TMP/full.alloy"
check "the HTTP receiver listens" wait_for 5 grep -q 'HTTP server listening' "$TMP/solder.err"
make_request() { # make_request N -> an OTLP/JSON metrics request of 300 gauge points on stdout
	$PY - "$1" <<'PYEOF'
import json, os, sys, time
n = sys.argv[1]
now = str(time.time_ns())
points = [{"timeUnixNano": now, "asDouble": j, "attributes": [
    {"key": "req", "value": {"stringValue": n}}, {"key": "i", "value": {"intValue": str(j)}},
    {"key": "blob", "value": {"stringValue": os.urandom(200).hex()}}]} for j in range(300)]
print(json.dumps({"resourceMetrics": [{"resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "filler"}}]},
    "scopeMetrics": [{"metrics": [{"name": "it.fill", "gauge": {"dataPoints": points}}]}]}]}))
PYEOF
}
: >"$TMP/acked.txt"
refused=""
for n in $(seq 1 400); do
	make_request "$n" >"$TMP/req.json"
	code=$(curl -s -o /dev/null -D "$TMP/headers.txt" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @"$TMP/req.json" "http://127.0.0.1:$HTTP_PORT/v1/metrics")
	if [ "$code" = 200 ]; then echo "$n" >>"$TMP/acked.txt"; continue; fi
	refused="$code"
	break
done
ACKED=$(wc -l <"$TMP/acked.txt")
check "requests were acknowledged before the WAL filled ($ACKED)" [ "$ACKED" -ge 3 ]
check "the full WAL answers 503 (got ${refused:-none})" [ "$refused" = 503 ]
check "the 503 carries Retry-After" grep -qi '^Retry-After:' "$TMP/headers.txt"

"$PROM" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom2" \
	--web.listen-address=127.0.0.1:$PROM2_PORT --web.enable-remote-write-receiver >"$TMP/prom2.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")
check "the late prometheus is ready" wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PROM2_PORT/-/ready"
PROM_PORT=$PROM2_PORT
check "every acknowledged request's 300 series arrive" \
	wait_for 90 is_value 'count(it_fill{job="filler"})' "$((ACKED * 300))"
check "as $ACKED distinct requests" is_value 'count(count by (req) (it_fill{job="filler"}))' "$ACKED"
kill "$SOLDER_PID"
wait "$SOLDER_PID" 2>/dev/null
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null
finish
