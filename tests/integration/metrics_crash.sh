#!/bin/bash
# make test: 100 SIGKILL cycles of prometheus.scrape → WAL → prometheus.remote_write; every sample
# acknowledged into the WAL arrives, in order per series (see tests/crash/lib_metrics_crash.sh).
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_metrics_crash.sh
cycles=${METRICS_CRASH_CYCLES:-100}
check "no sample acknowledged into the WAL lost across $cycles SIGKILLs" run_metrics_crash "$cycles"
finish
