# The two tailing sources under SIGKILL, through the real binary. Sourced by
# tests/integration/container_logs_kill.sh (100 cycles) and tests/crash/tail_crash.sh (SOLDER_CRASH_CYCLES).
#
# While a writer keeps appending and rotating, solder is killed at a random moment and restarted on the
# same storage, CYCLES times; loki.write delivers to tests/tools/loki_capture.py (python-protobuf).
# A tailed file's position is committed with the WAL high-water mark, so a line is either durable or
# will be read again: every line written must arrive, in order per stream, twice only across a kill
# (tests/tools/log_crash_check.py, with each process's number in loki.write's external_labels:
# tests/integration/lib/crash_loop.sh).
# - run_container_logs_crash: solder.source.container_logs over tests/tools/kubelet_sim.py (CRI and
#   docker lines, kubelet rotation and gzip, container restarts; pods are not deleted: one deleted while
#   solder is down takes its unread lines with it, as for any tailer); labels checked by kubelet_sim.py.
# - run_file_crash: local.file_match + loki.source.file over tests/tools/file_writer.py (rename
#   rotation, also while solder is dead: the restart finds the rotated file by inode and drains it).
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/crash_loop.sh"
PY=/usr/bin/python3

# kill_loop CYCLES TEMPLATE: start process i on TEMPLATE, let it run 100..590 ms, SIGKILL it (CYCLES
# times, or fewer past the time budget: crash_loop.sh)
kill_loop() {
	local cycles=$1 tmpl=$2 killed=0 ran=0
	loop_start
	for i in $(seq 1 "$cycles"); do
		loop_should_stop "$ran" && break
		ran=$i
		start_solder "$(proc_config "$tmpl" "$i")" || { echo "solder did not start"; cat "$TMP/solder.err"; return 1; }
		sleep "0.$((RANDOM % 50 + 10))"
		kill -KILL "$SOLDER_PID" 2>/dev/null && killed=$((killed + 1))
		wait "$SOLDER_PID" 2>/dev/null
	done
	echo "$killed SIGKILL cycles (of $ran)"
	[ "$killed" -eq "$ran" ]
}

start_capture() { # start_capture OUT: sets CAP_PORT
	rm -f "$TMP/cap.port"
	: >"$1"
	$PY tests/tools/loki_capture.py serve --port 0 --port-file "$TMP/cap.port" --out "$1" 2>"$TMP/cap.err" &
	PIDS+=("$!")
	wait_for 10 test -s "$TMP/cap.port" || return 1
	CAP_PORT=$(cat "$TMP/cap.port")
}

run_container_logs_crash() {
	local cycles=$1
	mkdir -p "$TMP/pods"
	start_capture "$TMP/cap.jsonl" || return 1
	cat >"$TMP/cfg.tmpl" <<CFG
solder.source.container_logs "pods" {
	path       = "$TMP/pods"
	forward_to = [loki.write.out.receiver]
}
loki.write "out" {
	external_labels = { proc = "@PROC@" }
	endpoint {
		url        = "http://127.0.0.1:$CAP_PORT/loki/api/v1/push"
		batch_wait = "100ms"
		min_backoff_period = "20ms"
		max_backoff_period = "200ms"
	}
}
CFG
	# about as long as the loop (3 rounds of 20 containers x 1..4 lines per cycle; past 1,000 cycles the
	# later ones restart solder over files that no longer grow)
	$PY tests/tools/kubelet_sim.py run --root "$TMP/pods" --manifest "$TMP/manifest.json" --pods 10 --containers 2 \
		--rounds $(((cycles < 1000 ? cycles : 1000) * 3)) --lines 4 --sleep 0.1 --seed "$RANDOM" --no-delete >"$TMP/sim.out" 2>&1 &
	local sim=$!
	PIDS+=("$sim")
	kill_loop "$cycles" "$TMP/cfg.tmpl" || return 1
	wait "$sim" || { echo "the simulator failed"; cat "$TMP/sim.out"; return 1; }
	start_solder "$(proc_config "$TMP/cfg.tmpl" final)" || return 1
	local all_there=0
	wait_for 120 $PY tests/tools/kubelet_sim.py check --allow-duplicates --out "$TMP/cap.jsonl" \
		--manifest "$TMP/manifest.json" >"$TMP/check.out" 2>&1 && all_there=1
	echo "container_logs crash: $(cat "$TMP/sim.out"); kubelet_sim check: $(head -n1 "$TMP/check.out")"
	[ "$all_there" = 1 ] || sed -n '2,10p' "$TMP/check.out"
	$PY tests/tools/log_crash_check.py --name "container_logs crash" --out "$TMP/cap.jsonl" \
		--seq-re '^(?P<key>pod-[0-9]+/c[0-9]+) seq=(?P<seq>[0-9]+) '
	local rc=$?
	kill -TERM "$SOLDER_PID"
	wait "$SOLDER_PID"
	[ -n "${KEEP_TMP:-}" ] && cp -r "$TMP" "$KEEP_TMP.container_logs"
	[ "$all_there" = 1 ] && [ "$rc" = 0 ]
}

run_file_crash() {
	local cycles=$1
	mkdir -p "$TMP/logs"
	start_capture "$TMP/file.jsonl" || return 1
	cat >"$TMP/file.tmpl" <<CFG
local.file_match "logs" {
	path_targets = [{"__path__" = "$TMP/logs/*.log", "job" = "app"}]
	sync_period  = "100ms"
}
loki.source.file "logs" {
	targets    = local.file_match.logs.targets
	forward_to = [loki.write.out.receiver]
	file_watch {
		min_poll_frequency = "50ms"
		max_poll_frequency = "50ms"
	}
}
loki.write "out" {
	external_labels = { proc = "@PROC@" }
	endpoint {
		url        = "http://127.0.0.1:$CAP_PORT/loki/api/v1/push"
		batch_wait = "50ms"
		min_backoff_period = "20ms"
		max_backoff_period = "200ms"
	}
}
CFG
	"$SOLDER" validate "$(proc_config "$TMP/file.tmpl" 0)" >/dev/null || { "$SOLDER" validate "$TMP/file.tmpl.run"; return 1; }
	rm -f "$TMP/stop"
	$PY tests/tools/file_writer.py --dir "$TMP/logs" --files 6 --stop "$TMP/stop" --want "$TMP/file.want" \
		--seed "$RANDOM" >"$TMP/writer.out" 2>&1 &
	local writer=$!
	PIDS+=("$writer")
	kill_loop "$cycles" "$TMP/file.tmpl" || return 1
	touch "$TMP/stop"
	wait "$writer" || { echo "the writer failed"; cat "$TMP/writer.out"; return 1; }
	start_solder "$(proc_config "$TMP/file.tmpl" final)" || return 1
	cat "$TMP/writer.out"
	$PY tests/tools/log_crash_check.py --name "loki.source.file crash" --out "$TMP/file.jsonl" \
		--seq-re '^(?P<key>f[0-9]+) seq=(?P<seq>[0-9]+) ' \
		--want "$TMP/file.want" --wait 120
	local rc=$?
	kill -TERM "$SOLDER_PID"
	wait "$SOLDER_PID"
	[ -n "${KEEP_TMP:-}" ] && cp -r "$TMP" "$KEEP_TMP.file"
	return $rc
}
