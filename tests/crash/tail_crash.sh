#!/bin/bash
# make test-crash: SOLDER_CRASH_CYCLES (at least 1,000) SIGKILL cycles of each tailing source:
# solder.source.container_logs and loki.source.file (see lib_tail_crash.sh).
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_tail_crash.sh
cycles=${SOLDER_CRASH_CYCLES:-1000}
[ "$cycles" -lt 1000 ] && cycles=1000
check "container_logs: no line lost across $cycles SIGKILLs, order kept" run_container_logs_crash "$cycles"
check "loki.source.file: no line lost across $cycles SIGKILLs, order kept" run_file_crash "$cycles"
finish
