#!/bin/bash
# make test: 100 SIGKILL cycles of loki.source.journal while systemd-journal-remote appends and adds
# files; every entry arrives with its labels, in order per stream, twice only across a kill, and a
# clean restart resends nothing (see tests/crash/lib_journal_crash.sh). JOURNAL_CRASH_CYCLES overrides.
cd "$(dirname "$0")/../.." || exit 1
. tests/crash/lib_journal_crash.sh
cycles=${JOURNAL_CRASH_CYCLES:-100}
check "no journal entry lost across $cycles SIGKILLs; nothing resent after a clean stop" run_journal_crash "$cycles"
finish
