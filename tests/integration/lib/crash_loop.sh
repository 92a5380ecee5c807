# Helpers for the SIGKILL loops (sourced after common.sh).

# Each agent process of a loop runs with its own number in the sink's external_labels (added at send
# time, never stored in the WAL), so the receiver can tell which process sent each copy of a record:
# a record twice from one process is a duplicate that no crash explains.
# proc_config TEMPLATE N: writes TEMPLATE with @PROC@ replaced by N to TEMPLATE.run, prints that path.
proc_config() {
	sed "s/@PROC@/$2/g" "$1" >"$1.run"
	echo "$1.run"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# .ci/run-integration gives every script 900 s, and make test-crash asks for SOLDER_CRASH_CYCLES=5000,
# more than fits at ~0.3-0.6 s per cycle. So a loop stops early once it has run at least
# CRASH_MIN_CYCLES (1,000, what the issues ask for) and SOLDER_CRASH_BUDGET seconds (720) have passed
# since loop_start; the count it ran is printed. The 100-cycle loops of make test never stop early.
loop_start() { LOOP_T0=$(date +%s); }
loop_should_stop() { # loop_should_stop CYCLES_DONE
	[ "$1" -ge "${CRASH_MIN_CYCLES:-1000}" ] && [ $(($(date +%s) - LOOP_T0)) -ge "${SOLDER_CRASH_BUDGET:-720}" ]
}
