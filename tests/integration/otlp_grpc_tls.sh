#!/bin/bash
# otelcol.receiver.otlp's gRPC server over TLS (lib/tlsconn): Debian's python3-grpcio with
# ssl_channel_credentials and the official OpenTelemetry JS SDK gRPC exporter with an https URL send
# traces to `solder run`; solder.otlp.echo prints the spans. A cleartext gRPC client is refused and
# solder keeps serving; a receiver whose cert_file is missing fails create naming the file.
. "$(dirname "$0")/lib/common.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null ||
	{ echo "openssl failed"; exit 1; }

cat >"$TMP/tls.alloy" <<CFG
otelcol.receiver.otlp "tls" {
	grpc {
		endpoint = "127.0.0.1:0"
		tls {
			cert_file   = "$TMP/cert.pem"
			key_file    = "$TMP/key.pem"
			min_version = "1.2"
		}
	}
	output { traces = [solder.otlp.echo.e.input] }
}
solder.otlp.echo "e" { }
CFG

check "solder starts" start_solder "$TMP/tls.alloy"
check "the TLS gRPC server listens" wait_for 5 grep -q 'component=otelcol.receiver.otlp.tls msg="gRPC server listening"' "$TMP/solder.err"
G=$(sed -n 's/.*msg="gRPC server listening".* port=\([0-9]*\).*/\1/p' "$TMP/solder.err" | head -n1)
OUT="$TMP/solder.out"

# python3-grpcio: one call over a secure channel; prints the status name.
py_send() { # py_send PORT NAME secure|insecure
	/usr/bin/python3 - "$1" "$2" "$3" "$TMP/cert.pem" <<'PY'
import sys
import grpc
port, name, mode, cert = sys.argv[1:5]
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
def ld(field, payload):  # a length-delimited protobuf field (payloads here are < 128 bytes)
    return bytes([field << 3 | 2, len(payload)]) + payload
def trace_request(name):  # as lib/otlp_grpc_client.py makes it
    kv = ld(1, b"py.client") + ld(2, ld(1, b"grpcio"))
    span = ld(1, bytes(range(16))) + ld(2, bytes(range(8))) + ld(5, name.encode()) + ld(9, kv)
    return ld(1, ld(2, ld(2, span)))
if mode == "secure":
    creds = grpc.ssl_channel_credentials(root_certificates=open(cert, "rb").read())
    ch = grpc.secure_channel(f"localhost:{port}", creds)
else:
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
call = ch.unary_unary(TRACES)
try:
    call(trace_request(name), timeout=5)
    print("OK")
except grpc.RpcError as e:
    print(e.code().name)
PY
}
check "grpcio over TLS: OK" [ "$(py_send "$G" py-tls secure)" = OK ]
check "grpcio over TLS: the span arrives intact" wait_for 5 grep -q 'name="py-tls" trace_id=000102030405060708090a0b0c0d0e0f span_id=0001020304050607 .*attrs={py.client="grpcio"}' "$OUT"
r=$(py_send "$G" py-clear insecure); check "a cleartext client is refused ($r)" [ "$r" = UNAVAILABLE ]
check "the refused handshake is logged" wait_for 5 grep -q 'msg="TLS handshake failed"' "$TMP/solder.err"
check "and counted in solder_otlp_receiver_tls_handshake_failures_total" sh -c \
	"curl -sf http://127.0.0.1:$PORT/metrics | grep -q '^solder_otlp_receiver_tls_handshake_failures_total{component_id=\"otelcol.receiver.otlp.[a-z_]*\"} [1-9]'"
check "nothing from the cleartext client arrives" sh -c "! grep -q py-clear '$OUT'"
check "grpcio over TLS still OK after it" [ "$(py_send "$G" py-tls-2 secure)" = OK ]
check "the second span arrives" wait_for 5 grep -q 'name="py-tls-2"' "$OUT"

# The OpenTelemetry JS SDK gRPC exporter (@grpc/grpc-js) with an https URL and the CA from the
# standard environment variable. Skipped when the SDK is not installed in tests/node_modules.
if [ -d "$ROOT/tests/node_modules/@opentelemetry/exporter-trace-otlp-grpc" ]; then
	cat >"$TMP/send.js" <<'JS'
'use strict';
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const exp = new OTLPTraceExporter({ url: `https://localhost:${process.argv[2]}` });
const codes = [];
const orig = exp.export.bind(exp);
exp.export = (items, cb) => orig(items, (r) => { codes.push(r.code); if (r.error) console.error(String(r.error)); cb(r); });
const tp = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exp)] });
const s = tp.getTracer('it').startSpan('js-tls');
s.end();
tp.forceFlush().then(() => tp.shutdown()).then(() => console.log(JSON.stringify({ codes, trace_id: s.spanContext().traceId })));
JS
	js=$(cd "$ROOT/tests" && OTEL_EXPORTER_OTLP_CERTIFICATE="$TMP/cert.pem" NODE_PATH="$ROOT/tests/node_modules" \
		timeout 60 node "$TMP/send.js" "$G" 2>"$TMP/node.err")
	check "JS SDK gRPC exporter over TLS: export acknowledged ($js)" grep -q '"codes":\[0\]' <<<"$js"
	tid=$(sed -n 's/.*"trace_id":"\([0-9a-f]*\)".*/\1/p' <<<"$js")
	check "JS SDK gRPC exporter over TLS: the span arrives" wait_for 5 grep -q "name=\"js-tls\" trace_id=$tid" "$OUT"
else
	echo "  skip JS SDK over TLS (tests/node_modules not installed)"
fi

kill -TERM "$SOLDER_PID"
wait "$SOLDER_PID"
check "SIGTERM exits 0" [ $? = 0 ]

# Credentials are loaded at create: a missing cert_file is an error that names the file.
sed "s|$TMP/cert.pem|$TMP/missing.pem|" "$TMP/tls.alloy" >"$TMP/bad.alloy"
timeout 10 "$SOLDER" run --server.http.listen-addr 127.0.0.1:0 --storage.path "$TMP/data2" "$TMP/bad.alloy" \
	>"$TMP/bad.out" 2>"$TMP/bad.err" &
BAD_PID=$!
PIDS+=("$BAD_PID")
check "a missing cert_file is reported with its path" wait_for 8 grep -q "cert_file $TMP/missing.pem" "$TMP/bad.err"
kill -TERM "$BAD_PID" 2>/dev/null
wait "$BAD_PID" 2>/dev/null
finish
