# The metrics path under SIGKILL: prometheus.scrape → WAL → prometheus.remote_write. Sourced by
# tests/integration/metrics_crash.sh (100 cycles) and tests/crash/metrics_crash.sh (SOLDER_CRASH_CYCLES).
#
# What "acknowledged" means for a scrape: no client is told anything, so the acknowledgement is the
# WAL's own: an append is acknowledged when the group commit that raised its stream's high-water mark
# in meta.lmdb is done (wal/wal.h; only then does done() fire). After every SIGKILL, before the next
# start, build/tools/wal_dump reads the WAL read-only and lists every sample in a frame at or under that
# mark; all of them, from every cycle, must reach the receiver. That is the WAL's promise, checked
# against the WAL's own record of what it promised.
#
# That alone would not see a sample the scrape received but never handed to the WAL. So the target
# (tests/tools/counter_target.py) serves a counter that goes up by one per scrape and logs every value
# it served before answering: a served value can be missing at the receiver only if its scrape was in
# flight when solder died (at most one per kill: one target, one scrape at a time; plus one for slack)
# or failed (an `up` = 0 sample says so). More than that is a loss.
#
# The receiver is tests/tools/prw_capture.py --stamp (python-protobuf + python-snappy, not solder's
# code). Also checked: each series' new samples arrive in timestamp order (a resend after a crash
# repeats older ones: those are duplicates, not disorder); counter values rise with timestamps; a
# sample arrives twice only across a crash: each process runs with its own number in remote_write's
# external_labels (added at send time, not stored in the WAL: tests/integration/lib/crash_loop.sh), and
# two copies from one process fail (a scrape is never re-read, so no crash explains them).
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/crash_loop.sh"
PY=/usr/bin/python3
WAL_DUMP=${TOOLS:-./build/tools}/wal_dump

run_metrics_crash() {
	local cycles=$1
	if ! $PY -c 'import snappy, google.protobuf' 2>/dev/null; then
		echo "metrics crash: python3-snappy or python3-protobuf missing, skipped"
		return 0
	fi
	[ -x "$WAL_DUMP" ] || { echo "metrics crash: $WAL_DUMP not built"; return 1; }
	$PY tests/tools/counter_target.py --port-file "$TMP/target.port" --log "$TMP/served.txt" --series 20 2>"$TMP/target.err" &
	PIDS+=($!)
	$PY tests/tools/prw_capture.py --stamp --out "$TMP/captured.jsonl" --port-file "$TMP/cap.port" \
		2>"$TMP/capture.err" &
	PIDS+=($!)
	wait_for 10 test -s "$TMP/target.port" && wait_for 10 test -s "$TMP/cap.port" || return 1
	cat >"$TMP/metrics.tmpl" <<CFG
wal {
	max_commit_delay = "2ms"
}
prometheus.scrape "t" {
	targets         = [{"__address__" = "127.0.0.1:$(cat "$TMP/target.port")"}]
	forward_to      = [prometheus.remote_write.out.receiver]
	job_name        = "crash"
	scrape_interval = "50ms"
	scrape_timeout  = "50ms"
}
prometheus.remote_write "out" {
	external_labels = { proc = "@PROC@" }
	endpoint {
		url = "http://127.0.0.1:$(cat "$TMP/cap.port")/api/v1/write"
		queue_config {
			batch_send_deadline = "30ms"
			min_backoff         = "20ms"
			max_backoff         = "200ms"
		}
	}
}
CFG
	local cfg
	cfg=$(proc_config "$TMP/metrics.tmpl" 0)
	"$SOLDER" validate "$cfg" >/dev/null || { "$SOLDER" validate "$cfg"; return 1; }
	: >"$TMP/acked.txt"
	: >"$TMP/kills.txt"
	local kills=0 pid
	loop_start
	for i in $(seq 1 "$cycles"); do
		loop_should_stop "$kills" && break
		cfg=$(proc_config "$TMP/metrics.tmpl" "$i")
		"$SOLDER" run --server.http.listen-addr 127.0.0.1:0 --storage.path "$TMP/data" "$cfg" \
			>/dev/null 2>>"$TMP/solder.err" &
		pid=$!
		sleep "0.$(( (RANDOM % 40) + 10 ))"   # 100..490 ms
		kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
		wait "$pid" 2>/dev/null
		date +%s%3N >>"$TMP/kills.txt"
		"$WAL_DUMP" "$TMP/data" >>"$TMP/acked.txt" || { echo "wal_dump failed after kill $kills"; return 1; }
	done
	# A last clean run delivers whatever the WAL still holds; the checker waits for it.
	cfg=$(proc_config "$TMP/metrics.tmpl" final)
	"$SOLDER" run --server.http.listen-addr 127.0.0.1:0 --storage.path "$TMP/data" "$cfg" \
		>/dev/null 2>>"$TMP/solder.err" &
	pid=$!
	$PY - "$TMP/acked.txt" "$TMP/captured.jsonl" "$TMP/served.txt" "$TMP/kills.txt" <<'PYEOF'
import json, sys, time
acked_f, cap_f, served_f, kills_f = sys.argv[1:]
kills = [int(x) for x in open(kills_f)]

def norm(v):  # NaNs keep their bits (staleness markers); other values compare as floats
    return v if v.startswith("NaN") else repr(float(v))

acked = set()
for line in open(acked_f):
    if line.startswith("S "):
        _, _, _, ts, value, labels = line.rstrip("\n").split(" ", 5)
        acked.add((labels, int(ts), norm(value)))

deadline = time.time() + 60
while True:
    got, first, problems, dups, bad_dups = {}, {}, [], 0, 0
    last_ts = {}
    for line in open(cap_f):
        r = json.loads(line)
        if "labels" not in r:
            continue
        proc = dict(r["labels"]).get("proc")
        labels = "{" + ",".join('%s="%s"' % (n, v) for n, v in r["labels"] if n != "proc") + "}"
        for ts, v in r["samples"]:
            key = (labels, ts, norm(v))
            if key in got:
                dups += 1
                if proc in got[key]:
                    bad_dups += 1
                    if bad_dups <= 5:
                        problems.append("twice from process %s: %s ts %d" % (proc, labels, ts))
                got[key].add(proc)
                continue
            got[key] = {proc}
            if ts <= last_ts.get(labels, -1):
                problems.append("out of order: %s ts %d after %d" % (labels, ts, last_ts[labels]))
            last_ts[labels] = max(ts, last_ts.get(labels, -1))
    missing = acked - set(got)
    if not missing or time.time() > deadline:
        break
    time.sleep(0.5)
# the counter: values per series rise with time, and served values that never arrived are few
served = [int(l.split()[0]) for l in open(served_f)]
by_series, up0 = {}, 0
for (labels, ts, v) in got:
    if v.startswith("NaN"):
        continue
    if labels.startswith('{__name__="crash_counter_total"'):
        by_series.setdefault(labels, []).append((ts, float(v)))
    if labels.startswith('{__name__="up"') and float(v) == 0.0:
        up0 += 1
for labels, pts in by_series.items():
    vals = [v for _, v in sorted(pts)]
    if vals != sorted(vals):
        problems.append("counter went down in %s" % labels)
zero = [pts for labels, pts in by_series.items() if 'series="0"' in labels]
arrived_vals = {int(v) for _, v in zero[0]} if zero else set()
never = set(served) - arrived_vals
allowed = len(kills) + up0 + 1
print("metrics crash: %d kill cycles, %d samples acknowledged into the WAL, %d distinct arrived, "
      "lost acknowledged: %d, duplicates: %d (inside one process: %d), out of order: %d"
      % (len(kills), len(acked), len(got), len(missing), dups, bad_dups,
         sum(p.startswith("out of order") for p in problems)))
print("metrics crash: target served %d scrapes; %d never arrived (allowed %d: 1 per kill + %d failed scrapes + 1)"
      % (len(served), len(never), allowed, up0))
if missing:
    print("first missing:", sorted(missing)[:5])
for p in problems[:10]:
    print("  ", p)
sys.exit(1 if missing or problems or not acked or len(never) > allowed else 0)
PYEOF
	local rc=$?
	kill -TERM "$pid"
	wait "$pid"
	[ -n "${KEEP_TMP:-}" ] && cp -r "$TMP" "$KEEP_TMP"
	return $rc
}
