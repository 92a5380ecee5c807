# loki.source.journal under SIGKILL, through the real binary. Sourced by
# tests/integration/journal_crash.sh (100 cycles) and tests/crash/journal_crash.sh (SOLDER_CRASH_CYCLES).
#
# Each cycle starts solder, then appends PER entries to the journal directory with
# systemd-journal-remote while solder follows it (a new file every FILE_EVERY cycles, as rotation adds
# files; in between, live appends to the file solder has open), kills it at a random moment and
# restarts it on the same storage. loki.write delivers to tests/tools/loki_capture.py (python-protobuf).
# "Acknowledged" for a pull source is its cursor: it is committed with the WAL high-water mark, so an
# entry is either durable or will be read again. So every entry written must arrive, with its labels
# (job/unit) and in order per stream; a copy twice only across a kill (tests/tools/log_crash_check.py,
# with each process's number in loki.write's external_labels: tests/integration/lib/crash_loop.sh);
# and a clean restart at the end resends nothing.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/crash_loop.sh"
PY=/usr/bin/python3
REMOTE=/lib/systemd/systemd-journal-remote
PER=${JOURNAL_CRASH_PER:-100}
FILE_EVERY=5

# write_entries FILE FIRST: PER entries "seq FIRST..", 1 ms apart, on a clock that only goes forward
write_entries() {
	$PY - "$2" "$PER" <<'PYEOF' | "$REMOTE" --output="$1" - 2>/dev/null
import sys
first, n = int(sys.argv[1]), int(sys.argv[2])
base = 1700000000000000
out = []
for i in range(first, first + n):
    out.append("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a\n"
               "_SYSTEMD_UNIT=u%d.service\nPRIORITY=6\nMESSAGE=seq %d\n\n" % (base + i * 1000, i + 1, i % 3, i))
sys.stdout.write("".join(out))
PYEOF
}

run_journal_crash() {
	local cycles=$1
	[ -x "$REMOTE" ] || { echo "skipping: $REMOTE not installed"; return 0; }
	mkdir -p "$TMP/journal"
	local cap_port
	cap_port=$(free_port)
	: >"$TMP/captured.jsonl"
	$PY tests/tools/loki_capture.py serve --port "$cap_port" --out "$TMP/captured.jsonl" >"$TMP/capture.log" 2>&1 &
	PIDS+=($!)
	cat >"$TMP/journal.tmpl" <<CFG
wal {
	max_commit_delay = "2ms"
}
loki.relabel "unit" {
	forward_to = []
	rule {
		source_labels = ["__journal__systemd_unit"]
		target_label  = "unit"
	}
}
loki.source.journal "node" {
	path          = "$TMP/journal"
	max_age       = "87600h"
	relabel_rules = loki.relabel.unit.rules
	forward_to    = [loki.write.out.receiver]
}
loki.write "out" {
	external_labels = { proc = "@PROC@" }
	endpoint {
		url        = "http://127.0.0.1:$cap_port/loki/api/v1/push"
		batch_wait = "50ms"
		min_backoff_period = "20ms"
		max_backoff_period = "200ms"
	}
}
CFG
	local cfg
	cfg=$(proc_config "$TMP/journal.tmpl" 0)
	"$SOLDER" validate "$cfg" >/dev/null || { "$SOLDER" validate "$cfg"; return 1; }
	local kills=0 total=0 pid
	loop_start
	for i in $(seq 1 "$cycles"); do
		loop_should_stop "$kills" && break
		cfg=$(proc_config "$TMP/journal.tmpl" "$i")
		"$SOLDER" run --server.http.listen-addr 127.0.0.1:0 --storage.path "$TMP/data" "$cfg" \
			>/dev/null 2>>"$TMP/solder.err" &
		pid=$!
		write_entries "$TMP/journal/f$((i / FILE_EVERY)).journal" "$total"
		total=$((total + PER))
		sleep "0.$(( (RANDOM % 25) + 2 ))"
		kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
		wait "$pid" 2>/dev/null
	done
	$PY -c 'import sys
for i in range(int(sys.argv[1])):
    print("{job=\"loki.source.journal.node\", unit=\"u%d.service\"}\t%d" % (i % 3, i))' "$total" >"$TMP/want.txt"
	# a clean run delivers the rest; then a second clean run must add nothing
	cfg=$(proc_config "$TMP/journal.tmpl" final)
	"$SOLDER" run --server.http.listen-addr 127.0.0.1:0 --storage.path "$TMP/data" "$cfg" \
		>/dev/null 2>>"$TMP/solder.err" &
	pid=$!
	$PY tests/tools/log_crash_check.py --name "journal crash" --out "$TMP/captured.jsonl" \
		--seq-re '^seq (?P<seq>[0-9]+)$' --key-from-labels \
		--want "$TMP/want.txt" --wait 120
	local rc=$?
	sleep 1
	kill -TERM "$pid"
	wait "$pid"
	local before after
	before=$(wc -l <"$TMP/captured.jsonl")
	"$SOLDER" run --server.http.listen-addr 127.0.0.1:0 --storage.path "$TMP/data" "$cfg" \
		>/dev/null 2>>"$TMP/solder.err" &
	pid=$!
	sleep 2
	kill -TERM "$pid"
	wait "$pid"
	after=$(wc -l <"$TMP/captured.jsonl")
	echo "journal crash: $kills kills, $total entries in $(ls "$TMP/journal" | wc -l) files; a clean restart resent $((after - before)) entries"
	[ -n "${KEEP_TMP:-}" ] && cp -r "$TMP" "$KEEP_TMP"
	[ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]
}
