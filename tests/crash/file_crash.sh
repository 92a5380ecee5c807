#!/bin/bash
# make test-crash: SOLDER_CRASH_CYCLES (at least 1,000; fewer past the time budget of
# tests/integration/lib/crash_loop.sh) SIGKILL cycles of local.file_match + loki.source.file while
# tests/tools/file_writer.py appends and rotates (see lib_tail_crash.sh).
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_tail_crash.sh
cycles=${SOLDER_CRASH_CYCLES:-1000}
[ "$cycles" -lt 1000 ] && cycles=1000
check "loki.source.file: no line lost across up to $cycles SIGKILLs, order kept" run_file_crash "$cycles"
finish
