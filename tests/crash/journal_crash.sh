#!/bin/bash
# make test-crash: SOLDER_CRASH_CYCLES (at least 1,000; fewer past the time budget of
# tests/integration/lib/crash_loop.sh) SIGKILL cycles of loki.source.journal.
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_journal_crash.sh
cycles=${SOLDER_CRASH_CYCLES:-1000}
[ "$cycles" -lt 1000 ] && cycles=1000
check "no journal entry lost across up to $cycles SIGKILLs; nothing resent after a clean stop" run_journal_crash "$cycles"
finish
