#!/bin/bash
# make test-crash: SOLDER_CRASH_CYCLES (at least 1,000; fewer past the time budget of
# tests/integration/lib/crash_loop.sh) SIGKILL cycles of solder.source.container_logs over the kubelet
# simulator (see lib_tail_crash.sh; loki.source.file has its own script, file_crash.sh, so each fits
# the runner's 900 s).
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_tail_crash.sh
cycles=${SOLDER_CRASH_CYCLES:-1000}
[ "$cycles" -lt 1000 ] && cycles=1000
check "container_logs: no line lost across up to $cycles SIGKILLs, order kept" run_container_logs_crash "$cycles"
finish
