#!/usr/bin/env bash
# Data loader throughput: raw JPEG decode next to decode + resize (800) + flip + normalise +
# batch with 1 and 2 worker threads. Release build in its own scratch folder.
# Usage: benchmarks/data_loader.sh [--images N] [--width W --height H] [--repeats R]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh >/dev/null
swift build -c release --scratch-path .build-bench-data --product simpledet-bench-data >/dev/null
exec .build-bench-data/release/simpledet-bench-data "$@"
