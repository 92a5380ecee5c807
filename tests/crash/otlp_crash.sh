#!/bin/bash
# make test-crash: the OTLP receiver's SIGKILL loop at SOLDER_CRASH_CYCLES (at least 1,000) cycles.
# The method is tests/integration/otlp_durable.sh's, run as is (it reads OTLP_KILL_CYCLES): a gRPC
# client (tests/integration/lib/otlp_grpc_client.py) sends while solder is killed and restarted; every
# request it saw acknowledged must be printed by some later run of the WAL-backed echo sink. The
# script's other checks (acknowledged before a kill, WAL full → UNAVAILABLE/503) run once more too.
cd "$(dirname "$0")/../.." || exit 1
cycles=${SOLDER_CRASH_CYCLES:-1000}
[ "$cycles" -lt 1000 ] && cycles=1000
OTLP_KILL_CYCLES=$cycles exec tests/integration/otlp_durable.sh
