#!/usr/bin/python3
"""An OTLP/HTTP capture server for integration tests: POST <any prefix>/v1/traces|metrics|logs with
Content-Type application/x-protobuf or application/json (OTLP/JSON, hex ids), Content-Encoding gzip,
zstd (the zstd CLI) or none, decoded with python3-protobuf from the upstream .proto files (see otlp_capture_common.py). Records
every accepted request (with its path prefix and encoding) and answers the faults its script asks
for: an HTTP status with Retry-After, a partial success, a stall.

  otlp_http_capture.py --descriptors otlp.pb --out capture.jsonl --port-file F [--port P] [--script S]
Run with /usr/bin/python3.
"""
import argparse
import base64
import gzip
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otlp_capture_common as common  # noqa: E402


def decode_body(body, encoding):
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "zstd":
        return subprocess.run(["zstd", "-dcq"], input=body, capture_output=True, check=True).stdout
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding}")


HEX_IDS = ("traceId", "spanId", "parentSpanId")


def hex_ids_to_base64(node):
    """OTLP/JSON writes ids as hex where proto3 JSON (json_format) expects base64."""
    if isinstance(node, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in HEX_IDS and isinstance(v, str)
                    else hex_ids_to_base64(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [hex_ids_to_base64(x) for x in node]
    return node


def parse(cls, body, content_type):
    if content_type == "application/json":
        msg = cls()
        json_format.ParseDict(hex_ids_to_base64(json.loads(body)), msg, ignore_unknown_fields=True)  # as OTLP asks
        return msg
    return cls.FromString(body)


def make_handler(classes, script, recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body=b"", headers=(), as_json=False):
            self.send_response(status)
            ctype = "application/json" if as_json else "application/x-protobuf" if status == 200 else "text/plain"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            prefix, _, signal_name = self.path.rpartition("/v1/")
            if signal_name not in classes:
                return self.answer(404, b"unknown path")
            ctype = self.headers.get("Content-Type")
            if ctype not in ("application/x-protobuf", "application/json"):
                return self.answer(415, b"want application/x-protobuf or application/json")
            action = script.next()
            verb = action[0]
            if verb == "STALL":
                time.sleep(float(action[1]))
                verb = "OK"
            if verb == "HTTP":
                opts = dict(a.split("=", 1) for a in action[2:] if "=" in a)
                hdrs = [("Retry-After", opts["RETRY_AFTER"])] if "RETRY_AFTER" in opts else []
                return self.answer(int(action[1]), b"scripted failure", hdrs)
            encoding = self.headers.get("Content-Encoding", "")
            try:
                req = parse(classes[signal_name], decode_body(body, encoding), ctype)
            except Exception as e:  # noqa: BLE001 - any decode error is the client's fault
                recorder.record({"signal": signal_name, "bad": str(e)})
                return self.answer(400, b"undecodable")
            summary = common.summarize(signal_name, req)
            extra = {"prefix": prefix, "encoding": encoding, "content_type": ctype}
            if verb == "PARTIAL":
                recorder.record(summary, partial=int(action[1]), **extra)
                if ctype == "application/json":
                    key = {"traces": "rejectedSpans", "metrics": "rejectedDataPoints", "logs": "rejectedLogRecords"}
                    body = {"partialSuccess": {key[signal_name]: str(action[1]), "errorMessage": "scripted"}}
                    return self.answer(200, json.dumps(body).encode(), as_json=True)
                return self.answer(200, common.partial_success(signal_name, int(action[1])))
            recorder.record(summary, **extra)
            return self.answer(200)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--descriptors", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--script", default="")
    args = ap.parse_args()
    classes = common.load_classes(args.descriptors)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port),
                              make_handler(classes, common.Script(args.script), common.Recorder(args.out)))
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


main()
