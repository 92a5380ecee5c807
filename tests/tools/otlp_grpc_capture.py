#!/usr/bin/python3
"""A gRPC Tempo stand-in for integration tests: the three OTLP Export services on Debian's
python3-grpcio, registered by hand (grpc.method_handlers_generic_handler, raw bytes in and out) and
decoded with python3-protobuf from the upstream .proto files (see otlp_capture_common.py). It records
every accepted request and answers the faults its script asks for: any status, RESOURCE_EXHAUSTED
with a RetryInfo detail, a partial success, a stall.

  otlp_grpc_capture.py --descriptors otlp.pb --out capture.jsonl --port-file F [--port P] [--script S]
                       [--tls-cert CERT.pem --tls-key KEY.pem]   (TLS, ALPN h2, instead of h2c)
Prints nothing; writes the bound port to --port-file once serving. Run with /usr/bin/python3.
"""
import argparse
import os
import signal
import sys
import time
from concurrent import futures

import grpc

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_capture_common as common  # noqa: E402

SERVICES = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
}


def status_details(code, message, retry_seconds):
    """google.rpc.Status{code, message, details: [Any{RetryInfo{retry_delay}}]}, hand-encoded."""
    def ld(field, payload):
        n, out = len(payload), bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                break
        return bytes([field << 3 | 2]) + bytes(out) + payload

    def varint(field, v):
        out = bytearray([field << 3])
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                break
        return bytes(out)

    secs = int(retry_seconds)
    nanos = int(round((retry_seconds - secs) * 1e9))
    duration = (varint(1, secs) if secs else b"") + (varint(2, nanos) if nanos else b"")
    any_msg = ld(1, b"type.googleapis.com/google.rpc.RetryInfo") + ld(2, ld(1, duration))
    return varint(1, code) + ld(2, message.encode()) + ld(3, any_msg)


def make_handler(signal_name, classes, script, recorder):
    def export(request, context):
        action = script.next()
        verb = action[0]
        if verb == "STALL":
            time.sleep(float(action[1]))
            verb = "OK"
        if verb not in ("OK", "PARTIAL"):
            code = getattr(grpc.StatusCode, verb)
            opts = dict(a.split("=", 1) for a in action[1:] if "=" in a)
            if "RETRY" in opts:
                context.set_trailing_metadata(
                    (("grpc-status-details-bin", status_details(code.value[0], "scripted", float(opts["RETRY"]))),))
            context.abort(code, f"scripted {verb}")
        try:
            req = classes[signal_name].FromString(request)
        except Exception as e:  # noqa: BLE001 - any decode error is the client's fault
            recorder.record({"signal": signal_name, "bad": str(e)})
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "undecodable")
        md = dict(context.invocation_metadata())
        summary = common.summarize(signal_name, req)
        extra = {"org": md.get("x-scope-orgid", ""), "user_agent": md.get("user-agent", "")}
        if verb == "PARTIAL":
            recorder.record(summary, partial=int(action[1]), **extra)
            return common.partial_success(signal_name, int(action[1]))
        recorder.record(summary, **extra)
        return b""

    return export


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--descriptors", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--script", default="")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    args = ap.parse_args()
    classes = common.load_classes(args.descriptors)
    script, recorder = common.Script(args.script), common.Recorder(args.out)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.max_receive_message_length", 64 << 20)])
    for sig, service in SERVICES.items():
        handler = grpc.unary_unary_rpc_method_handler(make_handler(sig, classes, script, recorder))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
    if args.tls_cert:
        with open(args.tls_key, "rb") as k, open(args.tls_cert, "rb") as c:
            creds = grpc.ssl_server_credentials([(k.read(), c.read())])
        port = server.add_secure_port(f"127.0.0.1:{args.port}", creds)
    else:
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


main()
