"""What the OTLP capture servers (otlp_grpc_capture.py, otlp_http_capture.py) share.

Decoding uses Debian's python3-protobuf with message classes built from a FileDescriptorSet of the
upstream OTLP .proto files (the test fetches them with `npm pack @opentelemetry/otlp-grpc-exporter-base`
and compiles the set with `protoc-c --descriptor_set_out`): an implementation other than solder's.

Faults are scripted through a plain file (--script): each request takes the first line and the file is
rewritten without it; an empty file means "answer OK". Lines:
  OK                                  accept and record
  UNAVAILABLE | INVALID_ARGUMENT | …  (gRPC) fail with that status
  RESOURCE_EXHAUSTED [RETRY=<s>]      (gRPC) with a google.rpc.RetryInfo of <s> seconds when given
  HTTP <status> [RETRY_AFTER=<s>]     (HTTP) answer that status (with Retry-After)
  PARTIAL <n>                         accept, record, and answer partial_success.rejected_<items> = n
  STALL <s>                           wait s seconds, then accept and record (the client gave up by then)
Every accepted request is one JSON line in --out: {"signal", "items": [...], "resources": [...]}, with
spans as {name, trace_id, span_id, parent_span_id, attrs}, log records as {body, trace_id, attrs},
metrics as {name, type, points}.
"""
import json
import threading

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PKG = "opentelemetry.proto.collector"
NAMES = {
    "traces": f"{PKG}.trace.v1.ExportTraceServiceRequest",
    "metrics": f"{PKG}.metrics.v1.ExportMetricsServiceRequest",
    "logs": f"{PKG}.logs.v1.ExportLogsServiceRequest",
}
REJECTED_FIELD = {"traces": "rejected_spans", "metrics": "rejected_data_points", "logs": "rejected_log_records"}


def load_classes(descriptor_set_path):
    with open(descriptor_set_path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    out = {}
    for signal, name in NAMES.items():
        desc = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            out[signal] = message_factory.GetMessageClass(desc)
        else:
            out[signal] = message_factory.MessageFactory(pool).GetPrototype(desc)
    return out


def any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attrs(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def metric_points(m):
    kind = m.WhichOneof("data")
    return kind, len(getattr(m, kind).data_points) if kind else 0


def summarize(signal, req):
    """The request as a JSON-able dict."""
    items, resources = [], []
    if signal == "traces":
        for rs in req.resource_spans:
            resources.append(attrs(rs.resource.attributes))
            for ss in rs.scope_spans:
                for s in ss.spans:
                    items.append({"name": s.name, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                                  "parent_span_id": s.parent_span_id.hex(), "kind": s.kind,
                                  "attrs": attrs(s.attributes)})
    elif signal == "logs":
        for rl in req.resource_logs:
            resources.append(attrs(rl.resource.attributes))
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    items.append({"body": any_value(r.body), "severity": r.severity_number,
                                  "trace_id": r.trace_id.hex(), "attrs": attrs(r.attributes)})
    else:
        for rm in req.resource_metrics:
            resources.append(attrs(rm.resource.attributes))
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind, n = metric_points(m)
                    items.append({"name": m.name, "type": kind, "points": n})
    return {"signal": signal, "items": items, "resources": resources}


def partial_success(signal, rejected, message="rejected by the capture server"):
    """Export<Signal>ServiceResponse{partial_success{rejected_<items>, error_message}}, hand-encoded
    (the 0.38.0 .proto files predate partial_success)."""
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

    return ld(1, varint(1, rejected) + ld(2, message.encode()))


class Script:
    """The fault script: one line per request, consumed in order."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def next(self):
        if not self.path:
            return ["OK"]
        with self.lock:
            try:
                with open(self.path) as f:
                    lines = [l for l in f.read().splitlines() if l.strip()]
            except FileNotFoundError:
                return ["OK"]
            if not lines:
                return ["OK"]
            with open(self.path, "w") as f:
                f.write("".join(l + "\n" for l in lines[1:]))
            return lines[0].split()


class Recorder:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def record(self, summary, **extra):
        summary.update(extra)
        with self.lock, open(self.path, "a") as f:
            f.write(json.dumps(summary, sort_keys=True) + "\n")
