#!/bin/bash
# prometheus.remote_write against a misbehaving receiver, beyond remote_write_compliance.sh (which checks
# that a 500 and a 429 are retried and a 400 is not, with the out_of_order reason). Here the target is
# tests/tools/counter_target.py (a counter that goes up by one per scrape, 30 series), so a lost sample
# shows as a gap in the values; the receiver is tests/tools/prw_capture.py (python-protobuf), told to
# misbehave through /control, and its /requests log gives each write's arrival time and status.
# Checked, one fault at a time, on one solder run:
# - 500 three times: each retried, then accepted; nothing lost;
# - 400 once: dropped, not retried, counted under reason bad_request with exactly its samples;
# - 429 with Retry-After: 2 (seconds) and with an HTTP-date 3 s ahead: the next attempt waits at least
#   that long (min_backoff is 20 ms, so the wait is the header's). Prometheus waits for any Retry-After
#   (storage/remote/queue_manager.go, sendWriteRequestWithBackoff), and so does solder: a Retry-After of
#   8 s with max_backoff 5 s waits 8 s;
# - a stalled receiver (reads the write, never answers): the request times out after remote_timeout and
#   is retried; meanwhile scraping goes on into the WAL (`solder wal inspect` backlog grows);
# - the receiver killed and restarted on its port: nothing lost;
# - a slow receiver (300 ms per write) with max_shards = 4: every series' samples arrive in timestamp order.
# At the end: every counter value served arrived except the 400's (and scrapes that failed, up = 0), and
# each series' new samples are in timestamp order.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/crash_loop.sh"
SOLDER=${SOLDER:-./solder}
PY=/usr/bin/python3
if ! $PY -c 'import snappy, google.protobuf' 2>/dev/null; then
	echo "remote_write_faults: python3-snappy or python3-protobuf missing, skipped"
	exit 0
fi

$PY tests/tools/counter_target.py --port-file "$TMP/target.port" --log "$TMP/served.txt" --series 30 \
	2>"$TMP/target.err" &
PIDS+=("$!")
C_PORT=$(free_port)
start_capture() {
	$PY tests/tools/prw_capture.py --stamp --out "$TMP/capture.jsonl" --port "$C_PORT" 2>>"$TMP/capture.err" &
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	wait_for 10 curl -sf "http://127.0.0.1:$C_PORT/stats" -o /dev/null
}
start_capture
wait_for 10 test -s "$TMP/target.port"
cat >"$TMP/config.alloy" <<CFG
prometheus.scrape "t" {
	targets         = [{"__address__" = "127.0.0.1:$(cat "$TMP/target.port")"}]
	forward_to      = [prometheus.remote_write.out.receiver]
	job_name        = "faults"
	scrape_interval = "200ms"
	scrape_timeout  = "200ms"
}
prometheus.remote_write "out" {
	endpoint {
		url            = "http://127.0.0.1:$C_PORT/api/v1/write"
		remote_timeout = "2s"
		queue_config {
			batch_send_deadline = "100ms"
			min_backoff         = "20ms"
			max_backoff         = "5s"
			min_shards          = 2
			max_shards          = 4
		}
	}
}
CFG
check "solder starts" start_solder "$TMP/config.alloy"

ctl() { curl -sf -d "$1" "http://127.0.0.1:$C_PORT/control" >/dev/null; }
stat() { curl -sf "http://127.0.0.1:$C_PORT/stats" | $PY -c "import json,sys; s=json.load(sys.stdin); print(s$1)"; }
accepted_at_least() { [ "$(stat '["accepted"]')" -ge "$1" ]; }
accepted_grows() { local b; b=$(stat '["accepted"]'); wait_for 20 accepted_at_least $((b + ${1:-3})); }
now_ms() { date +%s%3N; }
requests() { curl -sf "http://127.0.0.1:$C_PORT/requests" >"$TMP/requests.json"; }
# after STATUS: ms from the last write answered STATUS (0 = stalled) to the next write, any answer
gap_after() {
	requests
	$PY - "$TMP/requests.json" "$1" <<'PYEOF'
import json, sys
reqs, status = json.load(open(sys.argv[1])), int(sys.argv[2])
idx = [i for i, r in enumerate(reqs) if r[1] == status]
print(reqs[idx[-1] + 1][0] - reqs[idx[-1]][0] if idx and idx[-1] + 1 < len(reqs) else -1)
PYEOF
}
dropped() { # dropped samples counted under reason $1
	curl -sf "http://127.0.0.1:$PORT/metrics" | $PY -c "
import re, sys
n = 0
for l in sys.stdin:
    if l.startswith('solder_component_records_dropped_total{') and 'prometheus.remote_write.out' in l and 'reason=\"$1\"' in l:
        n += float(l.rsplit(' ', 1)[1])
print(int(n))"
}
check "writes arrive" wait_for 20 accepted_at_least 3

# ---- 500 x3: retried until accepted ----
ctl '{"status": 500, "count": 3}'
check "after three 500s writes are accepted again" accepted_grows 3
check "the 500s were answered three times" test "$(stat '["by_status"].get("500", 0)')" -eq 3

# ---- 400 once: dropped, not retried, counted with its samples ----
before=$(dropped bad_request)
ctl '{"status": 400, "count": 1, "body": "bad request: nope"}'
check "after a 400 writes go on" accepted_grows 3
check "the 400 was answered once (not retried)" test "$(stat '["by_status"].get("400", 0)')" -eq 1
requests
n400=$($PY -c 'import json,sys; print(sum(r[2] for r in json.load(open(sys.argv[1])) if r[1] == 400))' "$TMP/requests.json")
after=$(dropped bad_request)
check "its $n400 samples are counted as dropped, reason bad_request ($before -> $after)" test "$((after - before))" -eq "$n400" -a "$n400" -gt 0

# ---- 429 with Retry-After: the next attempt waits at least that long ----
ctl '{"status": 429, "count": 1, "retry_after": "2"}'
check "after a 429 writes are accepted again" accepted_grows 2
g=$(gap_after 429)
# (10 ms of slack: the receiver stamps whole milliseconds)
check "Retry-After: 2 honoured: the next attempt came after $g ms (>= 2000)" test "$g" -ge 1990
date_ra=$($PY -c 'import email.utils, time; t = int(time.time()) + 3; print(t); print(email.utils.formatdate(t, usegmt=True))')
until_s=$(head -n1 <<<"$date_ra")
ctl "{\"status\": 429, \"count\": 1, \"retry_after\": \"$(tail -n1 <<<"$date_ra")\"}"
check "after a 429 with an HTTP-date writes are accepted again" accepted_grows 2
requests
next=$($PY -c '
import json, sys
reqs = json.load(open(sys.argv[1]))
idx = [i for i, r in enumerate(reqs) if r[1] == 429]
print(reqs[idx[-1] + 1][0] if idx[-1] + 1 < len(reqs) else 0)' "$TMP/requests.json")
check "Retry-After as an HTTP-date honoured: next attempt $((next - until_s * 1000)) ms after that date (>= 0)" \
	test "$next" -ge "$((until_s * 1000 - 10))"
ctl '{"status": 429, "count": 1, "retry_after": "8"}'
accepted_grows 2
g=$(gap_after 429)
check "Retry-After: 8 beyond max_backoff (5s) honoured, as Prometheus does: next attempt after $g ms" test "$g" -ge 8000

# ---- a stalled receiver: timeout, retry; scraping goes on into the WAL ----
backlog() { "$SOLDER" wal inspect "$TMP/data" | sed -n 's/^  backlog [0-9]* batches, \([0-9]*\) records.*/\1/p' | head -n1; }
ctl '{"stall": true, "count": 1}'
wait_for 10 sh -c "curl -sf http://127.0.0.1:$C_PORT/requests | grep -q ', 0, '"
served0=$(wc -l <"$TMP/served.txt")
sleep 0.5
b1=$(backlog)
sleep 1
b2=$(backlog)
served1=$(wc -l <"$TMP/served.txt")
check "while the receiver stalls, scrapes go on ($served0 -> $served1) into the WAL (backlog $b1 -> $b2 records)" \
	test "$served1" -gt "$served0" -a "${b2:-0}" -gt "${b1:-0}"
check "after the stall writes are accepted again" accepted_grows 3
g=$(gap_after 0)
check "the stalled write timed out (remote_timeout 2s) and was retried after $g ms" test "$g" -ge 2000 -a "$g" -lt 10000

# ---- the receiver killed and restarted on its port ----
kill -KILL "$CAP_PID"
wait "$CAP_PID" 2>/dev/null
sleep 2
check "the receiver restarts" start_capture
check "after the restart writes are accepted again" wait_for 30 accepted_at_least 3

# ---- a slow receiver, several shards ----
ctl '{"delay_ms": 300, "count": 15}'
check "a slow receiver still gets writes" accepted_grows 15
check "the last writes are accepted" accepted_grows 3

kill -TERM "$SOLDER_PID"
wait "$SOLDER_PID" 2>/dev/null
check "no request lacked the required headers" test "$(stat '["bad"]')" -eq 0
$PY - "$TMP/capture.jsonl" "$TMP/served.txt" "$n400" >"$TMP/verdict" <<'PYEOF'
import json, sys
cap, served_f, n400 = sys.argv[1], sys.argv[2], int(sys.argv[3])
series, last, problems, dups, up0 = {}, {}, [], 0, 0
for line in open(cap):
    r = json.loads(line)
    if "labels" not in r:
        continue
    ls = dict(r["labels"])
    key = tuple(map(tuple, r["labels"]))
    seen = series.setdefault(key, {})
    for ts, v in r["samples"]:
        if ts in seen:
            dups += 1
            continue
        if ts <= last.get(key, -1):
            problems.append("out of order: %s ts %d after %d" % (ls, ts, last[key]))
        last[key] = max(ts, last.get(key, -1))
        seen[ts] = v
        if ls["__name__"] == "up" and v == "0.0":
            up0 += 1
counters = {k: v for k, v in series.items() if dict(k)["__name__"] == "crash_counter_total"}
if len(counters) != 30:
    problems.append("%d counter series, want 30" % len(counters))
served = [int(l.split()[0]) for l in open(served_f)]
missing = []
for key, samples in counters.items():
    vals = sorted(int(float(v)) for v in samples.values())
    if [v for _, v in sorted(samples.items())] != [repr(float(x)) for x in vals]:
        problems.append("counter values not rising with time in %s" % dict(key))
    missing.append(set(range(vals[0], vals[-1] + 1)) - set(vals))
gap = missing[0] if missing else set()
if any(m != gap for m in missing):
    problems.append("series miss different scrapes")
runs = sum(1 for v in gap if v - 1 not in gap)
# the 400 dropped one request: its samples (30 counters + 5 scrape series per scrape) are one run of
# values; anything else missing must be a failed scrape
dropped_scrapes = n400 // 35
if len(gap) - dropped_scrapes > up0 or len(gap) < dropped_scrapes:
    problems.append("%d counter values never arrived (the 400 dropped %d scrapes, %d scrapes failed): %s"
                    % (len(gap), dropped_scrapes, up0, sorted(gap)[:10]))
print("served %d scrapes; values %d..%d arrived in %d series; missing %d (in %d runs; the 400 dropped %d "
      "samples = %d scrapes; failed scrapes %d); duplicates %d; out of order %d"
      % (len(served), min(min(int(float(v)) for v in s.values()) for s in counters.values()),
         max(max(int(float(v)) for v in s.values()) for s in counters.values()), len(counters), len(gap), runs,
         n400, dropped_scrapes, up0, dups, sum(p.startswith("out of order") for p in problems)))
for p in problems[:10]:
    print(p)
sys.exit(1 if problems else 0)
PYEOF
rc=$?
sed 's/^/  /' "$TMP/verdict"
check "nothing lost but the 400's samples; every series in timestamp order" test "$rc" -eq 0
[ -n "${KEEP_TMP:-}" ] && cp -r "$TMP" "$KEEP_TMP"
finish
