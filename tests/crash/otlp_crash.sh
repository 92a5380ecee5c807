#!/bin/bash
# make test-crash: the OTLP receiver's SIGKILL loop at 1,000 cycles (OTLP_CRASH_CYCLES overrides).
# The method is tests/integration/otlp_durable.sh's, run as is (it reads OTLP_KILL_CYCLES): a gRPC
# client (tests/integration/lib/otlp_grpc_client.py) sends while solder is killed and restarted; every
# request it saw acknowledged must be printed by some later run of the WAL-backed echo sink. The
# script's other checks (acknowledged before a kill, WAL full → UNAVAILABLE/503) run once more too.
# Not SOLDER_CRASH_CYCLES (5,000 in make test-crash): at ~0.6 s a cycle that would outlast the 900 s
# .ci/run-integration gives a script, and otlp_durable.sh has no time budget to stop early.
cd "$(dirname "$0")/../.." || exit 1
OTLP_KILL_CYCLES=${OTLP_CRASH_CYCLES:-1000} exec tests/integration/otlp_durable.sh
