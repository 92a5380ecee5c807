#!/bin/bash
# make test-crash: SOLDER_CRASH_CYCLES (at least 1,000; fewer past the time budget of
# tests/integration/lib/crash_loop.sh) SIGKILL cycles of the metrics path.
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_metrics_crash.sh
cycles=${SOLDER_CRASH_CYCLES:-1000}
[ "$cycles" -lt 1000 ] && cycles=1000
check "no sample acknowledged into the WAL lost across up to $cycles SIGKILLs" run_metrics_crash "$cycles"
finish
