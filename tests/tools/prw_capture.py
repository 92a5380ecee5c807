#!/usr/bin/python3
"""A stand-in for a Prometheus Remote Write 1.0 receiver, for integration tests and bench/remote_write.

It decodes every request with python-protobuf (message classes built at run time from descriptors
written here from the spec's field numbers) and python-snappy: an implementation other than solder's.
It checks the three required headers, records every accepted TimeSeries and MetricMetadata as one
JSON line in OUT (unless --count-only), and can be told to misbehave through POST /control (JSON):
  {"status": 500, "count": 2}                 answer 500 to the next 2 writes
  {"status": 400, "count": 1, "body": "out of order sample"}
  {"status": 429, "count": 1, "retry_after": "1"}
  {"delay_ms": 300, "count": 50}              hold the next 50 writes 300 ms before answering
  {"stall": true, "count": 1}                 read the next write and never answer it (the socket stays
                                              open until the client gives up)
Each entry is consumed by one write, in order. With --stamp every recorded line carries "recv", the
receiver's clock (ms) when the write was decoded. GET /requests answers the last 1,000 writes as
[[recv ms, status, samples], ...] (stalled ones with status 0), to check retry timing.
GET /stats answers {"requests", "accepted", "series", "samples", "metadata", "wire_bytes",
"raw_bytes", "by_status", "bad", "user_agents"}: wire_bytes counts the snappy bodies of accepted writes.

Usage: prw_capture.py --port P [--out FILE] [--port-file F] [--count-only] [--any-agent] [--stamp]
Run it with Debian's /usr/bin/python3 (python3-protobuf, python3-snappy).
"""
import argparse
import json
import math
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import snappy
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def build_classes():
    fdp = descriptor_pb2.FileDescriptorProto(name="capture_prw.proto", package="capture", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto

    def msg(name, fields):
        m = fdp.message_type.add(name=name)
        for fname, num, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if type_name:
                f.type_name = ".capture." + type_name

    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    msg("Label", [("name", 1, T.TYPE_STRING, opt, None), ("value", 2, T.TYPE_STRING, opt, None)])
    msg("Sample", [("value", 1, T.TYPE_DOUBLE, opt, None), ("timestamp", 2, T.TYPE_INT64, opt, None)])
    msg("TimeSeries", [("labels", 1, T.TYPE_MESSAGE, rep, "Label"), ("samples", 2, T.TYPE_MESSAGE, rep, "Sample")])
    msg("MetricMetadata", [("type", 1, T.TYPE_INT32, opt, None), ("metric_family_name", 2, T.TYPE_STRING, opt, None),
                           ("help", 4, T.TYPE_STRING, opt, None), ("unit", 5, T.TYPE_STRING, opt, None)])
    msg("WriteRequest", [("timeseries", 1, T.TYPE_MESSAGE, rep, "TimeSeries"),
                         ("metadata", 3, T.TYPE_MESSAGE, rep, "MetricMetadata")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("capture.WriteRequest")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


WriteRequest = build_classes()
TYPES = ["unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"]


def fmt_value(v):
    """JSON has no NaN: values are written as Go's strconv would (staleness NaNs keep their bits)."""
    if math.isnan(v):
        import struct
        return "NaN:%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


class State:
    def __init__(self, out, count_only, any_agent, stamp=False):
        self.lock = threading.Lock()
        self.out = open(out, "a", buffering=1) if out else None
        self.count_only = count_only
        self.any_agent = any_agent
        self.stamp = stamp
        self.fail = []  # [(status, body, retry_after, delay_ms, stall)], consumed in order
        self.requests = []  # [(recv ms, status, samples)], the last 1,000
        self.stats = {"requests": 0, "accepted": 0, "series": 0, "samples": 0, "metadata": 0, "wire_bytes": 0,
                      "raw_bytes": 0, "by_status": {}, "bad": 0, "user_agents": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        st = self.server.state
        with st.lock:
            st.stats["by_status"][str(status)] = st.stats["by_status"].get(str(status), 0) + 1

    def do_GET(self):
        if self.path == "/requests":
            with self.server.state.lock:
                body = json.dumps(self.server.state.requests).encode()
            self.answer(200, body)
        elif self.path == "/stats":
            with self.server.state.lock:
                body = json.dumps(self.server.state.stats).encode()
            self.answer(200, body)
        else:
            self.answer(404)

    def bad(self, why):
        with self.server.state.lock:
            self.server.state.stats["bad"] += 1
        sys.stderr.write("prw_capture: bad request: %s\n" % why)
        self.answer(400, why.encode())

    def control(self, body):
        c = json.loads(body or b"{}")
        st = self.server.state
        with st.lock:
            for _ in range(c.get("count", 1)):
                st.fail.append((c.get("status", 204), c.get("body", "failing"), c.get("retry_after"),
                                c.get("delay_ms", 0), c.get("stall", False)))
        self.answer(200, b"ok")

    def check_headers(self):
        h = self.headers
        if h.get("Content-Encoding") != "snappy":
            return "content encoding %s" % h.get("Content-Encoding")
        if h.get("Content-Type") != "application/x-protobuf":
            return "content type %s" % h.get("Content-Type")
        if h.get("X-Prometheus-Remote-Write-Version") != "0.1.0":
            return "version %s" % h.get("X-Prometheus-Remote-Write-Version")
        ua = h.get("User-Agent") or ""
        if not self.server.state.any_agent and not ua.startswith("solder"):
            return "user agent %s" % ua
        return None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        st = self.server.state
        if self.path == "/control":
            return self.control(body)
        if self.path != "/api/v1/write":
            return self.answer(404)
        why = self.check_headers()
        if why:
            return self.bad(why)
        try:
            raw = snappy.uncompress(body)
            req = WriteRequest()
            req.ParseFromString(raw)
        except Exception as e:  # noqa: BLE001 - any decoding failure is the client's fault here
            return self.bad("undecodable body: %s" % e)
        with st.lock:
            st.stats["requests"] += 1
            ua = self.headers.get("User-Agent") or ""
            if ua not in st.stats["user_agents"]:
                st.stats["user_agents"].append(ua)
            failing = st.fail.pop(0) if st.fail else None
        nsamples = sum(len(ts.samples) for ts in req.timeseries)
        recv = int(time.time() * 1000)
        if failing:
            status, text, retry_after, delay_ms, stall = failing
            if stall:
                self.log_request_at(recv, 0, nsamples)
                self.stall()
                return None
            if delay_ms:
                time.sleep(delay_ms / 1000.0)
            if status not in (200, 204):
                self.log_request_at(recv, status, nsamples)
                hdrs = [("Retry-After", retry_after)] if retry_after else []
                return self.answer(status, text.encode(), hdrs)
        lines = []
        if not st.count_only:
            for ts in req.timeseries:
                rec = {"labels": [[l.name, l.value] for l in ts.labels],
                       "samples": [[s.timestamp, fmt_value(s.value)] for s in ts.samples]}
                if st.stamp:
                    rec["recv"] = recv
                lines.append(json.dumps(rec))
            for m in req.metadata:
                lines.append(json.dumps({"metadata": m.metric_family_name, "type": TYPES[m.type] if m.type < 8 else m.type,
                                         "help": m.help, "unit": m.unit}))
        with st.lock:
            for line in lines:
                st.out.write(line + "\n")
            st.stats["accepted"] += 1
            st.stats["series"] += len(req.timeseries)
            st.stats["samples"] += nsamples
            st.stats["metadata"] += len(req.metadata)
            st.stats["wire_bytes"] += len(body)
            st.stats["raw_bytes"] += len(raw)
        self.log_request_at(recv, 204, nsamples)
        self.answer(204)

    def log_request_at(self, recv, status, nsamples):
        st = self.server.state
        with st.lock:
            st.requests.append((recv, status, nsamples))
            del st.requests[:-1000]

    def stall(self):
        """Never answers: waits until the client closes the connection (or 10 minutes)."""
        self.close_connection = True
        self.connection.settimeout(600)
        try:
            while self.connection.recv(4096):
                pass
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--port-file")
    ap.add_argument("--count-only", action="store_true")
    ap.add_argument("--any-agent", action="store_true", help="accept any User-Agent (Prometheus's own)")
    ap.add_argument("--stamp", action="store_true", help='add "recv" (receiver ms) to every recorded line')
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args.out, args.count_only or not args.out, args.any_agent, args.stamp)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
