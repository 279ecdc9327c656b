#!/usr/bin/env bash
# Builds the foundation benchmark in release mode and runs it; arguments go to the runner.
#
#   benchmarks/foundation.sh              full run: convs at ResNet-50 shapes, then ResNet-50 (~1 min on 2 cores)
#   benchmarks/foundation.sh --quick      smoke check on tiny sizes (seconds)
#   benchmarks/foundation.sh --json       one JSON object on stdout
#   benchmarks/foundation.sh --help       every option
#
# Timings on a shared machine are only as good as its quiet: the runner prints the load average
# at start and end. SIMPLEDET_BENCH_SCRATCH picks the build folder (default .build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scratch="${SIMPLEDET_BENCH_SCRATCH:-.build}"

# Build output goes to stderr so that --json leaves stdout holding the JSON object alone.
"${SWIFT:-swift}" build -c release --scratch-path "$scratch" --product simpledet-bench-foundation >&2
exec "$scratch/release/simpledet-bench-foundation" "$@"
