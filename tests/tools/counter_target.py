#!/usr/bin/python3
"""A scrape target for the metrics SIGKILL loop: every scrape of /metrics serves the next value N of a
counter (1, 2, 3, ...) as SERIES series `crash_counter_total{series="i"} N`, and appends "N <unix ms>"
to LOG *before* answering, so LOG is a superset of what any scraper can have received.

Usage: counter_target.py --port-file F --log LOG [--series 20]
"""
import argparse
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        st = self.server.st
        if self.path != "/metrics":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with st["lock"]:
            st["n"] += 1
            n = st["n"]
            st["log"].write("%d %d\n" % (n, int(time.time() * 1000)))
        body = "# HELP crash_counter_total Scrapes served.\n# TYPE crash_counter_total counter\n" + "".join(
            'crash_counter_total{series="%d"} %d\n' % (i, n) for i in range(st["series"]))
        body = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a scraper killed mid-request resets the connection: expected here


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--series", type=int, default=20)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.st = {"lock": threading.Lock(), "n": 0, "series": args.series, "log": open(args.log, "a", buffering=1)}
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
