#!/bin/bash
# OTLP logs to Loki end to end: the official OpenTelemetry JS SDK logs exporters (gRPC and
# HTTP/protobuf) and curl (OTLP/HTTP JSON) send to otelcol.receiver.otlp → memory_limiter → batch →
# otelcol.exporter.loki → loki.write → tests/tools/loki_capture.py, which decodes Loki's push protobuf
# with python-protobuf (not our code). Each entry must carry Loki's OTLP mapping: index labels from the
# listed resource attributes, service_name discovered or "unknown_service", the other attributes,
# scope, severity, flags, trace and span ids as structured metadata, the body as the line (maps as
# JSON), the record's nanosecond timestamp. Then a Loki that answers 500 fills a small WAL: the
# receiver refuses with 503 + Retry-After, and every request acknowledged before arrives once Loki
# recovers.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
CAPTURE=tests/tools/loki_capture.py
NODE_PKGS="@opentelemetry/api@1.9.1 @opentelemetry/resources@2.12.1 @opentelemetry/sdk-logs@0.223.1
@opentelemetry/exporter-logs-otlp-proto@0.223.1 @opentelemetry/exporter-logs-otlp-grpc@0.223.1 @grpc/grpc-js@1.14.7"
if [ ! -d "$ROOT/tests/node_modules/@opentelemetry/exporter-logs-otlp-grpc" ]; then
	# shellcheck disable=SC2086
	npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$ROOT/tests" $NODE_PKGS >"$TMP/npm.log" 2>&1 ||
		{ cat "$TMP/npm.log"; echo "npm install failed"; exit 1; }
fi

rm -f "$TMP/loki.port"
$PY $CAPTURE serve --port 0 --out "$TMP/loki.jsonl" --tenant t1 --port-file "$TMP/loki.port" 2>>"$TMP/loki.err" &
PIDS+=("$!")
check "the Loki capture server starts" wait_for 10 test -s "$TMP/loki.port"
LOKI=$(cat "$TMP/loki.port")
control() { curl -sf -X POST -d "$1" "http://127.0.0.1:$LOKI/control" >/dev/null; }

cat >"$TMP/cfg.alloy" <<CFG
wal {
	max_size     = "3MiB"
	segment_size = "512KiB"
}
otelcol.receiver.otlp "in" {
	grpc { endpoint = "127.0.0.1:0" }
	http { endpoint = "127.0.0.1:0" }
	output { logs = [otelcol.processor.memory_limiter.m.input] }
}
otelcol.processor.memory_limiter "m" {
	check_interval = "1s"
	limit          = "4GiB"
	output { logs = [otelcol.processor.batch.b.input] }
}
otelcol.processor.batch "b" {
	output { logs = [otelcol.exporter.loki.x.input] }
}
otelcol.receiver.otlp "tight" {
	http { endpoint = "127.0.0.1:0" }
	output { logs = [otelcol.processor.memory_limiter.tight.input] }
}
otelcol.processor.memory_limiter "tight" {
	check_interval = "1s"
	limit          = "1MiB"
	output { logs = [otelcol.processor.batch.b.input] }
}
otelcol.exporter.loki "x" {
	forward_to = [loki.write.w.receiver]
}
loki.write "w" {
	endpoint {
		url                = "http://127.0.0.1:$LOKI/loki/api/v1/push"
		tenant_id          = "t1"
		batch_wait         = "100ms"
		min_backoff_period = "100ms"
		max_backoff_period = "500ms"
	}
}
CFG
check "solder validates the pipeline" "$SOLDER" validate "$TMP/cfg.alloy"
check "solder starts" start_solder "$TMP/cfg.alloy"
check "the three OTLP servers listen" wait_for 5 sh -c "[ \$(grep -c 'server listening' '$TMP/solder.err') = 3 ]"
port_of() { # port_of RECEIVER gRPC|HTTP
	sed -n "s/.*component=otelcol.receiver.otlp.$1 msg=\"$2 server listening\".* port=\([0-9]*\).*/\1/p" "$TMP/solder.err" | head -n1
}
G=$(port_of in gRPC); H=$(port_of in HTTP); T=$(port_of tight HTTP)
check "the batch processor says the WAL lanes batch" grep -q 'component=otelcol.processor.batch.b msg="forwarding at once' "$TMP/solder.err"

# ---- the JS SDK, gRPC and HTTP/protobuf ----
cat >"$TMP/send_logs.js" <<'JS'
'use strict';
const [proto, grpcPort, httpPort] = process.argv.slice(2);
const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const exporter = proto === 'grpc'
  ? new (require('@opentelemetry/exporter-logs-otlp-grpc').OTLPLogExporter)({ url: `http://127.0.0.1:${grpcPort}` })
  : new (require('@opentelemetry/exporter-logs-otlp-proto').OTLPLogExporter)({ url: `http://127.0.0.1:${httpPort}/v1/logs` });
const results = [];
const orig = exporter.export.bind(exporter);
exporter.export = (items, cb) => orig(items, (r) => { results.push(r.code); cb(r); });
const resource = resourceFromAttributes({
  'service.name': `shop-${proto}`, 'service.namespace': 'demo', 'k8s.namespace.name': 'prod',
  'k8s.pod.name': 'pod-7', 'k8s.container.name': 'app', 'host.name': 'node-3',
});
async function main() {
  const lp = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
  const logger = lp.getLogger('solder-it', '1.0.0');
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736', spanId = '00f067aa0ba902b7';
  const ctx = api.trace.setSpanContext(api.context.active(), { traceId, spanId, traceFlags: 1, isRemote: false });
  logger.emit({ severityNumber: 9, severityText: 'INFO', body: `hello-${proto}`, timestamp: [1700000000, 123456789],
                attributes: { 'http.method': 'GET', 'it.count': 7, 'it.map': { inner: 'v' } }, context: ctx });
  logger.emit({ severityNumber: 17, severityText: 'ERROR', body: { b: 'x', a: 1, c: [true, 'q<'] },
                timestamp: [1700000001, 5] });
  await lp.forceFlush();
  await lp.shutdown();
  console.log(JSON.stringify({ results, traceId, spanId }));
}
main().catch((e) => { console.error(e); process.exit(1); });
JS
for proto in grpc proto; do
	check "JS SDK logs exporter ($proto) runs, every export acknowledged" sh -c \
		"cd '$ROOT/tests' && NODE_PATH='$ROOT/tests/node_modules' timeout 60 node '$TMP/send_logs.js' $proto $G $H \
		>'$TMP/node-$proto.json' 2>'$TMP/node-$proto.err' && grep -q '\"results\":\[0,0\]' '$TMP/node-$proto.json'"
done

# ---- OTLP/HTTP JSON by curl: service_name discovery and unknown_service ----
cat >"$TMP/json-logs.json" <<'JSON'
{"resourceLogs":[
 {"resource":{"attributes":[{"key":"k8s.container.name","value":{"stringValue":"sidecar"}},
  {"key":"k8s.namespace.name","value":{"stringValue":"ops"}}]},
  "scopeLogs":[{"logRecords":[{"observedTimeUnixNano":"1700000002000000000","body":{"stringValue":"curl-discovered"}}]}]},
 {"resource":{"attributes":[{"key":"cloud.region","value":{"stringValue":"eu-west-1"}},
  {"key":"weird-key/1","value":{"intValue":"5"}}]},
  "scopeLogs":[{"scope":{"name":"raw"},"logRecords":[{"timeUnixNano":"1700000003000000000",
   "body":{"stringValue":"curl-unknown"},"attributes":[{"key":"1st","value":{"doubleValue":2.5}}]}]}]}]}
JSON
code=$(curl -s -o "$TMP/json.body" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "@$TMP/json-logs.json" "http://127.0.0.1:$H/v1/logs")
check "OTLP/HTTP JSON logs acknowledged ($code)" [ "$code" = 200 ]

check "all 6 entries reach Loki" wait_for 15 sh -c "[ \$(wc -l <'$TMP/loki.jsonl') -ge 6 ]"
entries_ok() {
	$PY - "$TMP/loki.jsonl" "$TMP/node-grpc.json" "$TMP/node-proto.json" <<'PY'
import json, re, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
def labels(s):
    return dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', s))
by_line = {e["line"]: e for e in entries}
bad = []
def expect(what, got, want):
    if got != want:
        bad.append(f"{what}: got {got!r}, want {want!r}")
for proto, path in (("grpc", sys.argv[2]), ("proto", sys.argv[3])):
    sent = json.load(open(path))
    e = by_line.get(f"hello-{proto}")
    if not e:
        bad.append(f"hello-{proto} missing"); continue
    expect(f"{proto} labels", labels(e["labels"]), {"service_name": f"shop-{proto}", "service_namespace": "demo",
           "k8s_namespace_name": "prod", "k8s_pod_name": "pod-7", "k8s_container_name": "app"})
    expect(f"{proto} ts", e["ts"], 1700000000123456789)
    md = dict(e["md"])
    obs = md.pop("observed_timestamp", None)
    if not obs or not obs.isdigit():
        bad.append(f"{proto}: observed_timestamp {obs!r}")
    expect(f"{proto} metadata", md, {"host_name": "node-3", "http_method": "GET", "it_count": "7",
           "it_map_inner": "v", "severity_number": "9", "severity_text": "INFO", "flags": "1",
           "trace_id": sent["traceId"], "span_id": sent["spanId"], "scope_name": "solder-it",
           "scope_version": "1.0.0"})
    maps = [x for x in entries if x["line"] == '{"a":1,"b":"x","c":[true,"q\\u003c"]}' and f"shop-{proto}" in x["labels"]]
    if len(maps) != 1:
        bad.append(f"{proto}: the map body as JSON: {[x['line'] for x in entries]}")
    else:
        expect(f"{proto} map ts", maps[0]["ts"], 1700000001000000005)
        expect(f"{proto} map severity", maps[0]["md"].get("severity_text"), "ERROR")
        expect(f"{proto} map no ids", "trace_id" in maps[0]["md"], False)
d = by_line.get("curl-discovered")
if d:
    expect("discovered labels", labels(d["labels"]), {"service_name": "sidecar", "k8s_container_name": "sidecar",
           "k8s_namespace_name": "ops"})
    expect("discovered ts (observed)", d["ts"], 1700000002000000000)
    expect("discovered metadata", d["md"], {})
else:
    bad.append("curl-discovered missing")
u = by_line.get("curl-unknown")
if u:
    expect("unknown labels", labels(u["labels"]), {"service_name": "unknown_service", "cloud_region": "eu-west-1"})
    expect("unknown metadata", u["md"], {"weird_key_1": "5", "key_1st": "2.5", "scope_name": "raw"})
else:
    bad.append("curl-unknown missing")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
}
check "labels, structured metadata, lines, timestamps and trace ids follow Loki's OTLP mapping" entries_ok

# ---- memory_limiter below this process's resident set: refused with 503, the client keeps the data ----
code=$(curl -s -D "$TMP/tight.hdr" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "@$TMP/json-logs.json" "http://127.0.0.1:$T/v1/logs")
check "memory_limiter over its limit: 503 ($code)" [ "$code" = 503 ]
check "with Retry-After" grep -qi '^Retry-After: ' "$TMP/tight.hdr"
check "the refused records are counted" sh -c "curl -sf 'http://127.0.0.1:$PORT/metrics' | grep -q \
	'^solder_memory_limiter_refused_items_total{component_id=\"otelcol.processor.memory_limiter.tight\",signal=\"logs\"} 2\$'"
check "and never reach Loki" [ "$(grep -c curl-unknown "$TMP/loki.jsonl")" = 1 ]

# ---- Loki failing: the WAL fills, the receiver refuses, nothing acknowledged is lost ----
control '{"status": 500, "seconds": 600}'
: >"$TMP/acked.txt"
fill() { # posts padded logs until one is refused; records acknowledged names, prints the last status
	local i=0 code
	while [ $i -lt 400 ]; do
		$PY -c "import base64, os, json, sys; print(json.dumps({'resourceLogs': [{'resource': {'attributes': [
{'key': 'service.name', 'value': {'stringValue': 'filler'}}]}, 'scopeLogs': [{'logRecords': [{'body': {'stringValue':
'fill-$i ' + base64.b64encode(os.urandom(60000)).decode()}}]}]}]}))" >"$TMP/fill.json"
		code=$(curl -s -D "$TMP/fill.hdr" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "@$TMP/fill.json" "http://127.0.0.1:$H/v1/logs")
		[ "$code" = 200 ] || { echo "$code"; return; }
		echo "fill-$i" >>"$TMP/acked.txt"
		i=$((i + 1))
	done
	echo "never refused"
}
last=$(fill)
n=$(wc -l <"$TMP/acked.txt")
check "a full WAL behind otelcol.exporter.loki answers 503 after $n acknowledged requests ($last)" [ "$last" = 503 ]
check "with Retry-After" grep -qi '^Retry-After: ' "$TMP/fill.hdr"
check "it took a few MiB ($n requests of 80 KB)" [ "$n" -ge 10 ]
control '{"status": 500, "seconds": 0}'
all_fill_arrived() {
	$PY - "$TMP/loki.jsonl" "$TMP/acked.txt" <<'PY'
import json, sys
got = {json.loads(l)["line"].split(" ")[0] for l in open(sys.argv[1])}
want = [l.strip() for l in open(sys.argv[2]) if l.strip()]
sys.exit(0 if all(w in got for w in want) else 1)
PY
}
check "once Loki recovers, all $n acknowledged requests arrive" wait_for 60 all_fill_arrived

kill -TERM "$SOLDER_PID"
check "solder stops cleanly" wait "$SOLDER_PID"
finish
