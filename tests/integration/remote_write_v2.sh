#!/bin/bash
# prometheus.remote_write with protobuf_message = "io.prometheus.write.v2.Request" (Remote Write 2.0).
# `solder run` scrapes Debian's prometheus-node-exporter on loopback and remote-writes to
# tests/tools/prw_capture.py, which decodes 2.0 with python-protobuf from the spec's field numbers:
#  1. 2.0 accepted: every request is 2.0, symbols resolve, labels sorted with __name__, metadata per
#     series equals node exporter's HELP/TYPE, stable values equal what node exporter served.
#  2. 415: a capture that refuses 2.0 and forwards 1.0 to Debian's prometheus (2.42 speaks 1.0 only):
#     solder falls back once (log + metric) and Prometheus's query API has every node exporter series.
#  3. *-Written smaller than sent: the shortfall is counted as dropped (reason partial_write), and not
#     retried. No *-Written header at all (a 1.0-only receiver): solder falls back to 1.0 and resends.
# Skips when prometheus or node exporter is not installed. Peers are killed by PID only.
. "$(dirname "$0")/lib/common.sh"
SOLDER=${SOLDER:-./solder}
PROM=$(command -v prometheus || true)
NE=$(command -v prometheus-node-exporter || true)
if [ -z "$PROM" ] || [ -z "$NE" ]; then
	echo "remote_write_v2: prometheus or prometheus-node-exporter not installed, skipped"
	exit 0
fi
PY=/usr/bin/python3
CAPTURE=tests/tools/prw_capture.py
JOB=rwv2

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NE_PORT=$(free_port)
PROM_PORT=$(free_port)
INST="127.0.0.1:$NE_PORT"
"$NE" --web.listen-address=$INST --no-collector.systemd >"$TMP/ne.log" 2>&1 &
NE_PID=$!
PIDS+=("$NE_PID")
check "node exporter serves /metrics" wait_for 10 curl -sf -o /dev/null "http://$INST/metrics"

# start_capture NAME ARGS... : sets CAP_PID and CAP_PORT; decoded series in $TMP/NAME.jsonl
start_capture() {
	local name=$1; shift
	$PY "$CAPTURE" --out "$TMP/$name.jsonl" --port-file "$TMP/$name.port" "$@" 2>"$TMP/$name.err" &
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	wait_for 10 test -s "$TMP/$name.port" && CAP_PORT=$(cat "$TMP/$name.port")
}

# write_config URL : scrape node exporter every 1 s, remote write 2.0 to URL
write_config() {
	cat >"$TMP/config.alloy" <<CFG
prometheus.scrape "node" {
	targets         = [{"__address__" = "$INST"}]
	forward_to      = [prometheus.remote_write.out.receiver]
	job_name        = "$JOB"
	scrape_interval = "1s"
	scrape_timeout  = "1s"
}

prometheus.remote_write "out" {
	endpoint {
		url              = "$1"
		protobuf_message = "io.prometheus.write.v2.Request"
		queue_config {
			batch_send_deadline  = "200ms"
			max_samples_per_send = 300
		}
	}
}
CFG
}

stats() { curl -sf "http://127.0.0.1:$1/stats"; }
stat_of() { # stat_of PORT PYEXPR(s) -> value
	stats "$1" | $PY -c "import json,sys; s=json.load(sys.stdin); print($2)"
}
metric() { # metric NAME_AND_LABELS_PREFIX -> sum of matching samples in solder's /metrics
	curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { print s + 0 }'
}
stop_solder() {
	kill "$SOLDER_PID"
	wait "$SOLDER_PID" 2>/dev/null
	rm -rf "$TMP/data"
}

# ---- 1. 2.0 accepted ----
start_capture v2
write_config "http://127.0.0.1:$CAP_PORT/api/v1/write"
V2_CAP=$CAP_PID
V2_PORT=$CAP_PORT
check "solder starts (2.0 endpoint)" start_solder "$TMP/config.alloy"
curl -sf "http://$INST/metrics" >"$TMP/ne1.txt"
check "2.0 samples arrive" wait_for 20 bash -c "[ \"\$(curl -sf http://127.0.0.1:$V2_PORT/stats | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"v2\"][\"samples\"] > 2000)')\" = True ]"
sleep 3
curl -sf "http://$INST/metrics" >"$TMP/ne2.txt"
stop_solder
$PY - "$TMP/ne1.txt" "$TMP/ne2.txt" "$TMP/v2.jsonl" "$JOB" "$INST" >"$TMP/compare.out" <<'PYEOF'
import json, math, re, sys
ne1, ne2, cap_path, job, inst = sys.argv[1:]
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
pair_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
def unescape(v): return v.replace('\\n', '\n').replace('\\"', '"').replace('\\\\', '\\')
def unescape_help(v): return v.replace('\\n', '\n').replace('\\\\', '\\')
def parse(path):
    series, meta = {}, {}
    for line in open(path):
        line = line.rstrip('\n')
        if line.startswith('# HELP '):
            name, _, text = line[7:].partition(' ')
            meta.setdefault(name, {})['help'] = unescape_help(text)
            continue
        if line.startswith('# TYPE '):
            name, _, t = line[7:].partition(' ')
            meta.setdefault(name, {})['type'] = t
            continue
        if line.startswith('#') or not line.strip():
            continue
        m = line_re.match(line.strip())
        if not m:
            continue
        labels = {k: unescape(v) for k, v in pair_re.findall(m.group(3) or '') if v != ''}
        labels.update({'__name__': m.group(1), 'job': job, 'instance': inst})
        series[tuple(sorted(labels.items()))] = float(m.group(4))
    return series, meta
a, meta = parse(ne1)
b, _ = parse(ne2)
stable = {k: v for k, v in a.items() if k in b and (b[k] == v or (math.isnan(v) and math.isnan(b[k])))}
cap, cap_meta, not_v2, unsorted = {}, {}, 0, 0
for line in open(cap_path):
    r = json.loads(line)
    if 'labels' not in r:
        continue
    not_v2 += r.get('v') != 2
    names = [n for n, _ in r['labels']]
    unsorted += names != sorted(names) or names[0] != '__name__'
    k = tuple(sorted((n, v) for n, v in r['labels']))
    vals = cap.setdefault(k, [])
    vals.extend(s[1] for s in r['samples'])
    if r.get('series_metadata'):
        cap_meta[dict(k)['__name__']] = r['series_metadata']
def family(name):
    for suffix in ('_bucket', '_sum', '_count'):
        if name.endswith(suffix) and name[:-len(suffix)] in meta and meta[name[:-len(suffix)]].get('type') in ('histogram', 'summary'):
            return name[:-len(suffix)]
    return name
missing = [k for k in a if k not in cap]
compared = mismatched = moved_gauges = 0
for k, v in stable.items():
    if k not in cap:
        continue
    compared += 1
    # the value node exporter served in both fetches must be among those sent in between (a gauge such
    # as node_procs_running may move and come back between the two fetches)
    want = 'NaN' if math.isnan(v) else ('+Inf' if v > 0 else '-Inf') if math.isinf(v) else repr(v)
    if not any(got == want or (want == 'NaN' and got.startswith('NaN')) for got in cap[k]):
        # A gauge may hold one value at both fetches and another at every scrape of solder's in between:
        # serving a scrape moves go_memstats_stack_* and node_procs_running on a loaded host. Those are
        # tolerated (a few, gauges only); a counter or an untyped series must match.
        fam = meta.get(family(dict(k)['__name__']), {})
        if fam.get('type') == 'gauge':
            moved_gauges += 1
        else:
            mismatched += 1
        print('value mismatch', fam.get('type'), dict(k), v, cap[k][-3:])
meta_bad = 0
for name, md in cap_meta.items():
    fam = family(name)
    want = meta.get(fam)
    if want is None:
        continue  # the scrape's own series (up, scrape_*)
    if md['type'] != {'untyped': 'unknown'}.get(want.get('type'), want.get('type', 'unknown')) or md['help'] != want.get('help', ''):
        meta_bad += 1
        print('metadata mismatch', name, md, want)
print('ne_series', len(a), 'captured', len(cap), 'missing', len(missing), 'stable_compared', compared,
      'mismatched', mismatched, 'moved_gauges', moved_gauges, 'not_v2', not_v2, 'unsorted', unsorted, 'families_with_metadata', len(cap_meta),
      'metadata_mismatched', meta_bad)
for k in missing[:5]:
    print('missing', dict(k))
ok = len(a) > 100 and not missing and compared > 100 and not mismatched and moved_gauges * 20 <= compared and not not_v2 and not unsorted \
    and len(cap_meta) > 20 and not meta_bad and any(dict(k)['__name__'] == 'up' for k in cap)
sys.exit(0 if ok else 1)
PYEOF
rc=$?
sed 's/^/  /' "$TMP/compare.out" | head -12
check "2.0: every node exporter series arrives, labels sorted, metadata and stable values equal" test "$rc" -eq 0
check "2.0: the capture refused nothing" test "$(stat_of "$V2_PORT" 's["bad"]')" = 0
check "2.0: every request was 2.0" test "$(stat_of "$V2_PORT" 's["requests"] == s["v2"]["accepted"] > 0')" = True
echo "  2.0 from node exporter: $(stat_of "$V2_PORT" '"%.2f B/sample on the wire, %.2f before snappy, %d requests" % (s["v2"]["wire_bytes"] / s["v2"]["samples"], s["v2"]["raw_bytes"] / s["v2"]["samples"], s["v2"]["accepted"])')"
check "2.0: no fallback, no partial write" bash -c "! grep -q 'falling back\\|wrote part' '$TMP/solder.err'"
kill "$V2_CAP"

# ---- 2. 415: fall back to 1.0, Debian's prometheus gets everything ----
printf 'global:\n  scrape_interval: 1m\n' >"$TMP/prom.yml"
"$PROM" --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address=127.0.0.1:$PROM_PORT --web.enable-remote-write-receiver >"$TMP/prom.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")
check "prometheus is ready" wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready"
start_capture refuse --refuse-v2 --forward "http://127.0.0.1:$PROM_PORT/api/v1/write"
REF_PORT=$CAP_PORT
write_config "http://127.0.0.1:$REF_PORT/api/v1/write"
check "solder starts (2.0 endpoint, 1.0-only receiver)" start_solder "$TMP/config.alloy"
value_of() {
	curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		$PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
is_value() { [ "$(value_of "$1")" = "$2" ]; }
check "415: up = 1 reaches prometheus as 1.0" wait_for 30 is_value "up{job=\"$JOB\",instance=\"$INST\"}" 1
sleep 2
check "415: exactly one 2.0 request was refused, then 1.0 only" test "$(stat_of "$REF_PORT" 's["v2"]["refused"]')" = 1
check "415: the fallback is logged once" test "$(grep -c 'falling back to Remote Write 1.0.*415' "$TMP/solder.err")" = 1
check "415: the fallback is counted" test "$(metric 'solder_prometheus_remote_write_v1_fallbacks_total{')" = 1
curl -sf "http://$INST/metrics" >"$TMP/ne3.txt"
NE_SERIES=$(grep -vc '^#' "$TMP/ne3.txt")
prom_count() { value_of "count({job=\"$JOB\",instance=\"$INST\",__name__!~\"up|scrape_.*\"})"; }
check "415: prometheus has every node exporter series ($NE_SERIES)" wait_for 10 bash -c "[ \"\$($(declare -f value_of prom_count); PY=$PY; PROM_PORT=$PROM_PORT; JOB=$JOB; INST=$INST; prom_count)\" = $NE_SERIES ]"
check "415: prometheus refused nothing" test "$(stat_of "$REF_PORT" 'sum(v for k, v in s["by_status"].items() if k not in ("200", "204", "415"))')" = 0
check "415: nothing dropped" bash -c "! grep -q 'batch dropped\\|request rejected' '$TMP/solder.err'"
stop_solder
kill "$PROM_PID"

# ---- 3. *-Written smaller than sent: counted as rejected, not retried ----
{
	start_capture short --written-short 1
	SHORT_PORT=$CAP_PORT
	write_config "http://127.0.0.1:$SHORT_PORT/api/v1/write"
	check "solder starts (2.0 endpoint, partial writes)" start_solder "$TMP/config.alloy"
	dropped_partial() { metric 'solder_component_records_dropped_total{component_id="prometheus.remote_write.out",reason="partial_write"'; }
	check "partial writes are counted as dropped (partial_write)" wait_for 20 bash -c "[ \$($(declare -f metric dropped_partial); PORT=$PORT; dropped_partial) -gt 0 ]"
	sleep 1
	BEFORE=$(stat_of "$SHORT_PORT" 's["v2"]["accepted"]')
	DROPPED=$(dropped_partial)
	AFTER=$(stat_of "$SHORT_PORT" 's["v2"]["accepted"]')
	check "one sample counted per partial request ($DROPPED dropped, $BEFORE..$AFTER requests)" \
		bash -c "[ $DROPPED -ge $BEFORE ] && [ $DROPPED -le $AFTER ]"
	check "partial writes are not retried (no sample arrives twice)" $PY -c '
import json, sys
seen, dup = set(), 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    for ts, _ in r.get("samples", []):
        k = (tuple(map(tuple, r["labels"])), ts)
        dup += k in seen
        seen.add(k)
sys.exit(1 if dup or not seen else 0)' "$TMP/short.jsonl"
	stop_solder
	start_capture nowritten --no-written
	write_config "http://127.0.0.1:$CAP_PORT/api/v1/write"
	check "solder starts (2.0 endpoint, no *-Written headers)" start_solder "$TMP/config.alloy"
	check "no *-Written headers: solder falls back to 1.0" \
		wait_for 20 grep -q 'falling back to Remote Write 1.0.*without X-Prometheus-Remote-Write' "$TMP/solder.err"
	check "... counted once" test "$(metric 'solder_prometheus_remote_write_v1_fallbacks_total{')" = 1
	v1_arrived() { [ "$(stat_of "$CAP_PORT" 's["accepted"] - s["v2"]["accepted"]')" -gt 0 ]; }
	check "... and the samples arrive as 1.0" wait_for 20 v1_arrived
	stop_solder
}
finish
