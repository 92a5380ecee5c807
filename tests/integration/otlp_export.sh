#!/bin/bash
# otelcol.exporter.otlp and otelcol.exporter.otlphttp through the real binary:
#   OpenTelemetry JS SDK / python3-grpcio → otelcol.receiver.otlp → WAL → exporters →
#   a gRPC Tempo stand-in (tests/tools/otlp_grpc_capture.py, python3-grpcio) and two OTLP/HTTP capture
#   servers (gzip and zstd), all decoding with python3-protobuf from the upstream .proto files.
# Checked: spans (ids, parents, names, attributes, resource), log records and metrics arrive intact;
# then the faults — UNAVAILABLE, RESOURCE_EXHAUSTED with and without RetryInfo, a partial success
# (counted, not retried), a stall (timeout, retried), 503 with Retry-After, 400 (dropped, counted) —
# and a capture server down while solder is SIGKILLed and restarted: every span the client was told
# succeeded arrives.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB="$ROOT/tests/integration/lib"
TOOLS_PY="$ROOT/tests/tools"
PY=/usr/bin/python3
NODE_PKGS="@opentelemetry/api@1.9.1 @opentelemetry/resources@2.12.1 @opentelemetry/sdk-trace-base@2.12.1
@opentelemetry/sdk-metrics@2.12.1 @opentelemetry/sdk-logs@0.223.1 @opentelemetry/exporter-trace-otlp-grpc@0.223.1
@opentelemetry/exporter-trace-otlp-proto@0.223.1 @opentelemetry/exporter-trace-otlp-http@0.223.1
@opentelemetry/exporter-logs-otlp-proto@0.223.1 @opentelemetry/exporter-logs-otlp-grpc@0.223.1
@opentelemetry/exporter-metrics-otlp-proto@0.223.0 @opentelemetry/exporter-metrics-otlp-grpc@0.223.0
@opentelemetry/exporter-metrics-otlp-http@0.223.0 @grpc/grpc-js@1.14.7"
if [ ! -d "$ROOT/tests/node_modules/@opentelemetry/exporter-metrics-otlp-http" ]; then
	# shellcheck disable=SC2086
	npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$ROOT/tests" $NODE_PKGS >"$TMP/npm.log" 2>&1 ||
		{ cat "$TMP/npm.log"; echo "npm install failed"; exit 1; }
fi

# The upstream OTLP .proto files (not committed) compiled into a descriptor set for python3-protobuf.
get_protos() {
	(cd "$TMP" && npm pack --silent @opentelemetry/otlp-grpc-exporter-base@0.38.0 >/dev/null 2>&1 &&
		tar xzf opentelemetry-otlp-grpc-exporter-base-0.38.0.tgz) || return 1
	local P="$TMP/package/build/protos"
	(cd "$P" && protoc-c --include_imports --descriptor_set_out="$TMP/otlp.pb" \
		opentelemetry/proto/collector/trace/v1/trace_service.proto \
		opentelemetry/proto/collector/metrics/v1/metrics_service.proto \
		opentelemetry/proto/collector/logs/v1/logs_service.proto)
}
check "OTLP .proto files fetched and compiled" get_protos

# start_capture NAME KIND [PORT [ARGS…]]: KIND grpc|http; sets <NAME>_PID and <NAME>_PORT.
start_capture() {
	local name=$1 kind=$2 port=${3:-0}
	shift 3 2>/dev/null || shift $#
	rm -f "$TMP/$name.port"
	$PY "$TOOLS_PY/otlp_${kind}_capture.py" --descriptors "$TMP/otlp.pb" --out "$TMP/$name.jsonl" \
		--port-file "$TMP/$name.port" --port "$port" --script "$TMP/$name.script" "$@" 2>>"$TMP/$name.err" &
	local pid=$!
	PIDS+=("$pid")
	eval "${name}_PID=$pid"
	wait_for 10 test -s "$TMP/$name.port" || return 1
	eval "${name}_PORT=$(cat "$TMP/$name.port")"
}
check "gRPC capture starts" start_capture G grpc
check "HTTP capture (gzip) starts" start_capture H1 http
check "HTTP capture (zstd) starts" start_capture H2 http
tls_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
}
check "a test certificate" tls_cert
check "gRPC capture over TLS starts" start_capture T grpc 0 --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"

RETRY='retry_on_failure {
		initial_interval = "100ms"
		max_interval     = "1s"
	}'
cat >"$TMP/export.alloy" <<CFG
otelcol.receiver.otlp "in" {
	grpc { endpoint = "127.0.0.1:0" }
	http { endpoint = "127.0.0.1:0" }
	output {
		traces  = [otelcol.exporter.otlp.tempo.input, otelcol.exporter.otlphttp.gz.input, otelcol.exporter.otlphttp.zs.input, otelcol.exporter.otlp.tls.input, otelcol.exporter.otlphttp.js.input]
		logs    = [otelcol.exporter.otlp.tempo.input, otelcol.exporter.otlphttp.gz.input, otelcol.exporter.otlphttp.zs.input, otelcol.exporter.otlphttp.js.input]
		metrics = [otelcol.exporter.otlp.tempo.input, otelcol.exporter.otlphttp.gz.input, otelcol.exporter.otlphttp.zs.input, otelcol.exporter.otlphttp.js.input]
	}
}
otelcol.exporter.otlp "tempo" {
	client {
		endpoint = "127.0.0.1:$G_PORT"
		headers  = {"X-Scope-OrgID" = "it"}
		tls { insecure = true }
	}
	timeout = "1s"
	$RETRY
	sending_queue { queue_size = 100 }
}
otelcol.exporter.otlp "tls" {
	client {
		endpoint = "localhost:$T_PORT"
		tls { ca_file = "$TMP/cert.pem" }
	}
	$RETRY
}
otelcol.exporter.otlphttp "gz" {
	client {
		endpoint = "http://127.0.0.1:$H1_PORT/gz"
		timeout  = "1s"
	}
	$RETRY
}
otelcol.exporter.otlphttp "zs" {
	client {
		endpoint    = "http://127.0.0.1:$H2_PORT"
		compression = "zstd"
	}
	traces_endpoint = "http://127.0.0.1:$H2_PORT/custom/v1/traces"
	$RETRY
}
otelcol.exporter.otlphttp "js" {
	client { endpoint = "http://127.0.0.1:$H2_PORT/json" }
	encoding = "json"
	$RETRY
}
CFG
check "solder starts" start_solder "$TMP/export.alloy"
ports() {
	G_IN=$(sed -n 's/.*msg="gRPC server listening".* port=\([0-9]*\).*/\1/p' "$TMP/solder.err" | head -n1)
	H_IN=$(sed -n 's/.*msg="HTTP server listening".* port=\([0-9]*\).*/\1/p' "$TMP/solder.err" | head -n1)
	[ -n "$G_IN" ] && [ -n "$H_IN" ]
}
check "receiver listens" wait_for 5 ports

# count FILE SPAN_NAME: how many times a span with that name was recorded
count() { $PY -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    n += sum(1 for i in r.get("items", []) if i.get("name") == sys.argv[2])
print(n)' "$1" "$2" 2>/dev/null || echo 0; }
arrived() { [ "$(count "$TMP/$1.jsonl" "$2")" -ge "${3:-1}" ]; }
metric() { # metric PATTERN: the value of the first /metrics line matching PATTERN (0 when none)
	local v
	v=$(curl -s "http://127.0.0.1:$PORT/metrics" | grep -F "$1" | head -n1 | awk '{print $NF}')
	echo "${v:-0}"
}
metric_ge() { [ "$(metric "$1" | cut -d. -f1)" -ge "$2" ]; }

# ---- the JS SDK (gRPC and HTTP/protobuf in): what arrives is what was sent ----
intact() { # intact CAPTURE PROTO: spans with ids, parent, attributes and resource; the log; the metrics
	$PY - "$TMP/node-$2.json" "$TMP/$1.jsonl" "$2" <<'PY'
import json, sys
sent = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2])]
proto = sys.argv[3]
spans = {i["name"]: (i, r) for r in recs if r.get("signal") == "traces" for i in r["items"]}
p, c = spans.get(f"parent-{proto}"), spans.get(f"child-{proto}")
sp, sc = sent["spans"][f"parent-{proto}"], sent["spans"][f"child-{proto}"]
ok = bool(p and c)
ok = ok and p[0]["trace_id"] == sp["trace_id"] and p[0]["span_id"] == sp["span_id"] and p[0]["parent_span_id"] == ""
ok = ok and c[0]["trace_id"] == sc["trace_id"] and c[0]["span_id"] == sc["span_id"] and c[0]["parent_span_id"] == sp["span_id"]
ok = ok and p[0]["kind"] == 2 and p[0]["attrs"] == {"it.proto": proto, "it.int": 42, "it.bool": True, "it.list": ["a", "b"], "it.double": 1.5}
ok = ok and c[0]["attrs"] == {"it.child": "yes"}
ok = ok and {"service.name": f"it-{proto}", "k8s.pod.name": "pod-1"} in p[1]["resources"]
logs = [i for r in recs if r.get("signal") == "logs" for i in r["items"]]
ok = ok and {"body": f"hello-{proto}", "severity": 9, "trace_id": "", "attrs": {"it.log": 7}} in logs
mets = {(i["name"], i["type"], i["points"]) for r in recs if r.get("signal") == "metrics" for i in r["items"]}
ok = ok and (f"it_counter_{proto}", "sum", 1) in mets and (f"it_histogram_{proto}", "histogram", 1) in mets
ok = ok and not any("bad" in r for r in recs)
sys.exit(0 if ok else 1)
PY
}
for proto in grpc proto; do
	(cd "$ROOT/tests" && NODE_PATH="$ROOT/tests/node_modules" timeout 60 node "$LIB/otlp_send.js" $proto "$G_IN" "$H_IN") \
		>"$TMP/node-$proto.json" 2>"$TMP/node-$proto.err"
	check "JS SDK ($proto): every export acknowledged" grep -q '"traces":\[0,0\],"logs":\[0\],"metrics":\[0' "$TMP/node-$proto.json"
	for cap in G H1 H2; do
		check "JS SDK ($proto) → $cap: spans, logs and metrics arrive intact" wait_for 10 intact $cap $proto
	done
	json_intact() { grep '"content_type": "application/json".*"prefix": "/json"' "$TMP/H2.jsonl" >"$TMP/J.jsonl"; intact J "$1"; }
	check "JS SDK ($proto) → otlphttp encoding=json: intact (OTLP/JSON read by json_format)" wait_for 10 json_intact $proto
done
tls_spans() { arrived T parent-grpc && arrived T child-grpc && arrived T parent-proto; }
check "gRPC over TLS (ALPN h2, verified against ca_file): spans arrive" wait_for 10 tls_spans
check "client.headers sent with every gRPC call" sh -c "! grep -v '\"org\": \"it\"' '$TMP/G.jsonl' | grep -q ."
check "otlphttp.gz: gzip to <endpoint>/v1/traces" grep -q '"encoding": "gzip".*"prefix": "/gz".*"signal": "traces"' "$TMP/H1.jsonl"
check "otlphttp.zs: zstd to traces_endpoint, logs to <endpoint>/v1/logs" \
	sh -c "grep -q '\"encoding\": \"zstd\".*\"prefix\": \"/custom\".*\"signal\": \"traces\"' '$TMP/H2.jsonl' &&
	       grep -q '\"encoding\": \"zstd\".*\"prefix\": \"\".*\"signal\": \"logs\"' '$TMP/H2.jsonl'"
check "sent items counted" metric_ge 'solder_otlp_exporter_sent_items_total{component_id="otelcol.exporter.otlp.tempo",signal="traces"}' 4

# ---- gRPC faults ----
py() { $PY "$LIB/otlp_grpc_client.py" "$G_IN" ok "$1" >/dev/null; }
TEMPO='component_id="otelcol.exporter.otlp.tempo"'
printf 'UNAVAILABLE\nUNAVAILABLE\n' >"$TMP/G.script"
py f-unavail
check "UNAVAILABLE twice: retried, arrives" wait_for 10 arrived G f-unavail
check "UNAVAILABLE retries counted" metric_ge "solder_otlp_exporter_retries_total{$TEMPO,reason=\"UNAVAILABLE\"}" 2

echo 'RESOURCE_EXHAUSTED RETRY=0.3' >"$TMP/G.script"
py f-re-retry
check "RESOURCE_EXHAUSTED with RetryInfo: retried, arrives" wait_for 10 arrived G f-re-retry

echo 'RESOURCE_EXHAUSTED' >"$TMP/G.script"
py f-re-drop
check "RESOURCE_EXHAUSTED without RetryInfo: dropped and counted" \
	wait_for 10 metric_ge "solder_otlp_exporter_failed_items_total{$TEMPO,signal=\"traces\",reason=\"RESOURCE_EXHAUSTED\"}" 1
check "…and the HTTP exporters still got it" wait_for 10 arrived H1 f-re-drop
check "…but not the gRPC capture" [ "$(count "$TMP/G.jsonl" f-re-drop)" = 0 ]

echo 'PARTIAL 1' >"$TMP/G.script"
py f-partial
check "partial success: arrives" wait_for 10 arrived G f-partial
check "partial success: rejected item counted" \
	wait_for 5 metric_ge "solder_otlp_exporter_rejected_items_total{$TEMPO,signal=\"traces\"}" 1
py f-after-partial
check "partial success: not retried (sent once)" sh -c "sleep 1; [ \$(grep -c f-partial '$TMP/G.jsonl') = 1 ]"

echo 'STALL 3' >"$TMP/G.script"
py f-stall
check "a stalled server: the call times out and is retried, arrives" wait_for 10 arrived G f-stall
check "the timeout counted as a transport retry" metric_ge "solder_otlp_exporter_retries_total{$TEMPO,reason=\"transport\"}" 1

# ---- HTTP faults (the gzip exporter) ----
GZ='component_id="otelcol.exporter.otlphttp.gz"'
echo 'HTTP 503 RETRY_AFTER=1' >"$TMP/H1.script"
t0=$(date +%s%N)
py h-503
check "503 with Retry-After: retried, arrives" wait_for 10 arrived H1 h-503
t1=$(date +%s%N)
check "…not before Retry-After (1 s)" [ $(( (t1 - t0) / 1000000 )) -ge 900 ]
echo 'HTTP 400' >"$TMP/H1.script"
py h-400
check "400: dropped and counted" wait_for 10 metric_ge "solder_otlp_exporter_failed_items_total{$GZ,signal=\"traces\",reason=\"http_400\"}" 1
check "…and never sent again" sh -c "sleep 1; [ \$(grep -c h-400 '$TMP/H1.jsonl') = 0 ]"
echo 'PARTIAL 1' >"$TMP/H1.script"
py h-partial
check "HTTP partial success: arrives once, rejected counted" \
	wait_for 10 sh -c "[ \$(grep -c h-partial '$TMP/H1.jsonl') = 1 ] && curl -s http://127.0.0.1:$PORT/metrics | grep -q 'solder_otlp_exporter_rejected_items_total{$GZ,signal=\"traces\"} 1'"

check "gRPC over TLS: several calls, none failed" sh -c "[ \$(grep -c . '$TMP/T.jsonl') -ge 3 ] &&
	[ \"\$(curl -s http://127.0.0.1:$PORT/metrics | grep -c 'solder_otlp_exporter_retries_total{component_id=\"otelcol.exporter.otlp.tls\"')\" = 0 ]"

# ---- the backend down while solder is killed: nothing acknowledged is lost ----
kill "$G_PID"
wait "$G_PID" 2>/dev/null
acked=0
for i in $(seq 0 19); do py "r-$i" && acked=$((acked + 1)); done
check "20 spans acknowledged while the gRPC backend is down" [ "$acked" = 20 ]
kill -9 "$SOLDER_PID"
wait "$SOLDER_PID" 2>/dev/null
check "solder restarts on the same WAL" start_solder "$TMP/export.alloy"
check "the gRPC capture restarts on its port" start_capture G grpc "$G_PORT"
all_arrived() { for i in $(seq 0 19); do arrived G "r-$i" || return 1; done; }
check "every acknowledged span arrives after the restarts" wait_for 20 all_arrived
check "…at the HTTP captures too" wait_for 10 sh -c "[ \$(grep -o '\"name\": \"r-[0-9]*\"' '$TMP/H2.jsonl' | sort -u | wc -l) = 20 ]"
check "no undecodable request anywhere" sh -c "! grep -q '\"bad\"' '$TMP/G.jsonl' '$TMP/H1.jsonl' '$TMP/H2.jsonl'"
finish
