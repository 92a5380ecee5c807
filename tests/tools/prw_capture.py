#!/usr/bin/python3
"""A stand-in for a Prometheus Remote Write 1.0 and 2.0 receiver, for integration tests and
bench/remote_write.

It decodes every request with python-protobuf (message classes built at run time from descriptors
written here from the specs' field numbers: prometheus.WriteRequest for 1.0, io.prometheus.write.v2.Request
for 2.0) and python-snappy: an implementation other than solder's. The version is the Content-Type's
(`application/x-protobuf;proto=io.prometheus.write.v2.Request` is 2.0, plain `application/x-protobuf`
1.0). It checks the required headers, records every accepted TimeSeries and MetricMetadata as one
JSON line in OUT (unless --count-only; a 2.0 series' labels and metadata resolved through the symbol
table, with "v": 2), and refuses (400) a 2.0 request whose symbols[0] is not "", whose refs are out of
range or odd in number, or whose labels are not sorted and unique. It answers a 2.0 write with the
X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written headers unless --no-written, and:
  --refuse-v2          answers 415 to every 2.0 request (a 1.0-only receiver that reads Content-Type)
  --written-short K    says K fewer samples were written than each 2.0 request carried
  --forward URL        passes every accepted 1.0 body on to URL (e.g. a real Prometheus) and answers
                       with its status, so a test can check that the real receiver got everything
  --dump-dir DIR       writes every accepted body, uncompressed, to DIR (to compare senders' layouts)
It can also be told to misbehave through POST /control (JSON):
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
"raw_bytes", "by_status", "bad", "user_agents", "v2": {"requests", "accepted", "refused", "samples",
"series", "wire_bytes", "raw_bytes", "symbols"}}: wire_bytes counts the snappy bodies of accepted writes
(of both versions; "v2" repeats the 2.0 part).

Usage: prw_capture.py --port P [--out FILE] [--port-file F] [--count-only] [--any-agent] [--stamp]
                      [--refuse-v2] [--no-written] [--written-short K] [--forward URL]
Run it with Debian's /usr/bin/python3 (python3-protobuf, python3-snappy).
"""
import argparse
import json
import math
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import snappy
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


V2_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request"


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
    # Remote Write 2.0 (prompb/io/prometheus/write/v2/types.proto); histograms (TimeSeries 3) are not
    # declared: a sender that sent some would show up as unknown fields, counted below.
    msg("V2Sample", [("value", 1, T.TYPE_DOUBLE, opt, None), ("timestamp", 2, T.TYPE_INT64, opt, None)])
    msg("V2Exemplar", [("labels_refs", 1, T.TYPE_UINT32, rep, None), ("value", 2, T.TYPE_DOUBLE, opt, None),
                       ("timestamp", 3, T.TYPE_INT64, opt, None)])
    msg("V2Metadata", [("type", 1, T.TYPE_INT32, opt, None), ("help_ref", 3, T.TYPE_UINT32, opt, None),
                       ("unit_ref", 4, T.TYPE_UINT32, opt, None)])
    msg("V2TimeSeries", [("labels_refs", 1, T.TYPE_UINT32, rep, None), ("samples", 2, T.TYPE_MESSAGE, rep, "V2Sample"),
                         ("exemplars", 4, T.TYPE_MESSAGE, rep, "V2Exemplar"),
                         ("metadata", 5, T.TYPE_MESSAGE, opt, "V2Metadata"),
                         ("created_timestamp", 6, T.TYPE_INT64, opt, None)])
    msg("V2Request", [("symbols", 4, T.TYPE_STRING, rep, None), ("timeseries", 5, T.TYPE_MESSAGE, rep, "V2TimeSeries")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    out = []
    for name in ("capture.WriteRequest", "capture.V2Request"):
        desc = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            out.append(message_factory.GetMessageClass(desc))
        else:
            out.append(message_factory.MessageFactory(pool).GetPrototype(desc))
    return out


WriteRequest, V2Request = build_classes()
TYPES = ["unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"]


def fmt_value(v):
    """JSON has no NaN: values are written as Go's strconv would (staleness NaNs keep their bits)."""
    if math.isnan(v):
        import struct
        return "NaN:%016x" % struct.unpack("<Q", struct.pack("<d", v))[0]
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def decode_v2(req):
    """A 2.0 Request's series as [(labels [[name, value]...], samples, metadata dict or None)], or an error."""
    syms = list(req.symbols)
    if not syms or syms[0] != "":
        return None, "symbols[0] is not the empty string"
    series = []
    for ts in req.timeseries:
        refs = list(ts.labels_refs)
        if len(refs) % 2 or any(r >= len(syms) for r in refs):
            return None, "labels_refs odd in number or out of range"
        labels = [[syms[refs[i]], syms[refs[i + 1]]] for i in range(0, len(refs), 2)]
        names = [n for n, _ in labels]
        if names != sorted(names) or len(set(names)) != len(names):
            return None, "labels not sorted or repeated: %s" % names
        if any(v == "" or n == "" for n, v in labels):
            return None, "empty label name or value"
        md = None
        if ts.HasField("metadata"):
            m = ts.metadata
            if m.help_ref >= len(syms) or m.unit_ref >= len(syms):
                return None, "metadata ref out of range"
            md = {"type": TYPES[m.type] if m.type < 8 else m.type, "help": syms[m.help_ref], "unit": syms[m.unit_ref]}
        series.append((labels, ts.samples, md))
    return series, None


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
                      "raw_bytes": 0, "by_status": {}, "bad": 0, "user_agents": [],
                      "v2": {"requests": 0, "accepted": 0, "refused": 0, "samples": 0, "series": 0,
                             "wire_bytes": 0, "raw_bytes": 0, "symbols": 0}}
        self.refuse_v2 = False
        self.no_written = False
        self.written_short = 0
        self.forward = None
        self.dump_dir = None
        self.dumped = 0


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

    def check_headers(self, v2):
        h = self.headers
        if h.get("Content-Encoding") != "snappy":
            return "content encoding %s" % h.get("Content-Encoding")
        want_type, want_version = (V2_TYPE, "2.0.0") if v2 else ("application/x-protobuf", "0.1.0")
        if h.get("Content-Type") != want_type:
            return "content type %s" % h.get("Content-Type")
        if h.get("X-Prometheus-Remote-Write-Version") != want_version:
            return "version %s" % h.get("X-Prometheus-Remote-Write-Version")
        ua = h.get("User-Agent") or ""
        if not self.server.state.any_agent and not ua.startswith("solder"):
            return "user agent %s" % ua
        return None

    def forward_body(self, body):
        """Passes a 1.0 body on to the --forward receiver; its status (0: no answer) and body."""
        h = {k: self.headers.get(k) for k in ("Content-Encoding", "Content-Type", "X-Prometheus-Remote-Write-Version")}
        try:
            r = urllib.request.urlopen(urllib.request.Request(self.server.state.forward, data=body, headers=h), timeout=10)
            return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError as e:
            return 503, str(e).encode()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        st = self.server.state
        if self.path == "/control":
            return self.control(body)
        if self.path != "/api/v1/write":
            return self.answer(404)
        v2 = "proto=io.prometheus.write.v2.Request" in (self.headers.get("Content-Type") or "")
        if v2:
            with st.lock:
                st.stats["v2"]["requests"] += 1
                if st.refuse_v2:
                    st.stats["v2"]["refused"] += 1
            if st.refuse_v2:
                return self.answer(415, b"remote write 2.0 is not supported here")
        why = self.check_headers(v2)
        if why:
            return self.bad(why)
        try:
            raw = snappy.uncompress(body)
            req = (V2Request if v2 else WriteRequest)()
            req.ParseFromString(raw)
        except Exception as e:  # noqa: BLE001 - any decoding failure is the client's fault here
            return self.bad("undecodable body: %s" % e)
        if v2:
            series, why = decode_v2(req)
            if why:
                return self.bad(why)
        else:
            series = [([[l.name, l.value] for l in ts.labels], ts.samples, None) for ts in req.timeseries]
        with st.lock:
            st.stats["requests"] += 1
            ua = self.headers.get("User-Agent") or ""
            if ua not in st.stats["user_agents"]:
                st.stats["user_agents"].append(ua)
            failing = st.fail.pop(0) if st.fail else None
        nsamples = sum(len(samples) for _, samples, _ in series)
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
        status, text = 204, b""
        if st.forward and not v2:
            status, text = self.forward_body(body)
            if status // 100 != 2:
                return self.answer(status, text)
        if st.dump_dir:
            with st.lock:
                st.dumped += 1
                n = st.dumped
            with open("%s/%06d.%s" % (st.dump_dir, n, "v2" if v2 else "v1"), "wb") as f:
                f.write(raw)
        lines = []
        if not st.count_only:
            for labels, samples, md in series:
                line = {"labels": labels, "samples": [[s.timestamp, fmt_value(s.value)] for s in samples]}
                if st.stamp:
                    line["recv"] = recv
                if v2:
                    line["v"] = 2
                    line["series_metadata"] = md
                lines.append(json.dumps(line))
            for m in getattr(req, "metadata", ()):
                lines.append(json.dumps({"metadata": m.metric_family_name, "type": TYPES[m.type] if m.type < 8 else m.type,
                                         "help": m.help, "unit": m.unit}))
        with st.lock:
            for line in lines:
                st.out.write(line + "\n")
            st.stats["accepted"] += 1
            st.stats["series"] += len(series)
            st.stats["samples"] += nsamples
            st.stats["metadata"] += len(getattr(req, "metadata", ()))
            st.stats["wire_bytes"] += len(body)
            st.stats["raw_bytes"] += len(raw)
            if v2:
                s2 = st.stats["v2"]
                s2["accepted"] += 1
                s2["samples"] += nsamples
                s2["series"] += len(series)
                s2["wire_bytes"] += len(body)
                s2["raw_bytes"] += len(raw)
                s2["symbols"] += len(req.symbols)
        hdrs = []
        if v2 and not st.no_written:
            hdrs = [("X-Prometheus-Remote-Write-Samples-Written", str(max(nsamples - st.written_short, 0))),
                    ("X-Prometheus-Remote-Write-Histograms-Written", "0"),
                    ("X-Prometheus-Remote-Write-Exemplars-Written", "0")]
        self.log_request_at(recv, status, nsamples)
        self.answer(status, text, hdrs)

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
    ap.add_argument("--refuse-v2", action="store_true", help="answer 415 to Remote Write 2.0 requests")
    ap.add_argument("--no-written", action="store_true", help="no *-Written headers in 2.0 answers")
    ap.add_argument("--written-short", type=int, default=0, help="report this many fewer samples written")
    ap.add_argument("--forward", help="pass accepted 1.0 bodies on to this URL and answer with its status")
    ap.add_argument("--dump-dir", help="write each accepted body, uncompressed, to DIR/NNNNNN.v1|v2 (analysis)")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args.out, args.count_only or not args.out, args.any_agent, args.stamp)
    srv.state.refuse_v2 = args.refuse_v2
    srv.state.no_written = args.no_written
    srv.state.written_short = args.written_short
    srv.state.forward = args.forward
    srv.state.dump_dir = args.dump_dir
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
