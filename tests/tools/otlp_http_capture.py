#!/usr/bin/python3
"""An OTLP/HTTP capture server for integration tests: POST <any prefix>/v1/traces|metrics|logs with
Content-Type application/x-protobuf, Content-Encoding gzip (zlib), zstd (the zstd CLI) or none,
decoded with python3-protobuf from the upstream .proto files (see otlp_capture_common.py). Records
every accepted request (with its path prefix and encoding) and answers the faults its script asks
for: an HTTP status with Retry-After, a partial success, a stall.

  otlp_http_capture.py --descriptors otlp.pb --out capture.jsonl --port-file F [--port P] [--script S]
Run with /usr/bin/python3.
"""
import argparse
import gzip
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def make_handler(classes, script, recorder):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf" if status == 200 else "text/plain")
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
            if self.headers.get("Content-Type") != "application/x-protobuf":
                return self.answer(415, b"want application/x-protobuf")
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
                req = classes[signal_name].FromString(decode_body(body, encoding))
            except Exception as e:  # noqa: BLE001 - any decode error is the client's fault
                recorder.record({"signal": signal_name, "bad": str(e)})
                return self.answer(400, b"undecodable")
            summary = common.summarize(signal_name, req)
            extra = {"prefix": prefix, "encoding": encoding}
            if verb == "PARTIAL":
                recorder.record(summary, partial=int(action[1]), **extra)
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
