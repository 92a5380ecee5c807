#!/bin/bash
# make test: 100 SIGKILL cycles of solder.source.container_logs while the kubelet simulator writes,
# rotates, gzips and restarts containers: every line arrives with its labels, in order per stream,
# twice only across a kill (see tests/crash/lib_tail_crash.sh). KILL_CYCLES overrides the count.
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_tail_crash.sh
cycles=${KILL_CYCLES:-100}
check "container_logs: no line lost across $cycles SIGKILLs, order kept" run_container_logs_crash "$cycles"
finish
