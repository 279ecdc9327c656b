#!/usr/bin/env bash
# COCO box evaluation speed: `simpledet eval` (release build) against pycocotools on the same
# files in the same run. Not a test; prints both wall-clock times and checks the numbers agree.
#
#   benchmarks/eval_coco.sh [IMAGES] [DETECTIONS_PER_IMAGE]      (default 5000 × 100)
#
# PYTHON must name an interpreter with pycocotools and numpy, e.g. a throwaway environment:
#   python3 -m venv /tmp/evalvenv && /tmp/evalvenv/bin/pip install pycocotools numpy
#   PYTHON=/tmp/evalvenv/bin/python benchmarks/eval_coco.sh
# SCRATCH picks the SwiftPM build folder (default .build); SIMPLEDET names an already built
# release binary instead (no build step).
set -euo pipefail
cd "$(dirname "$0")/.."

images=${1:-5000}
per_image=${2:-100}
python=${PYTHON:-/tmp/evalvenv/bin/python}
scratch=${SCRATCH:-.build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$python" -c 'import pycocotools, numpy' 2>/dev/null; then
  echo "error: $python has no pycocotools; see the comment at the top of $0" >&2
  exit 1
fi

if [[ -n "${SIMPLEDET:-}" ]]; then
  simpledet=$SIMPLEDET
else
  swift build -c release --scratch-path "$scratch" --product simpledet >/dev/null
  simpledet="$scratch/release/simpledet"
fi

"$python" benchmarks/make_eval_benchmark.py "$work" "$images" "$per_image"
ls -l "$work"/gt.json "$work"/results.json | awk '{print $5, $9}'

now() { date +%s.%N; }

start=$(now)
"$simpledet" eval --gt "$work/gt.json" --results "$work/results.json" --iou-type bbox --json >"$work/swift.json"
swift_seconds=$(echo "$(now) - $start" | bc)

start=$(now)
"$python" benchmarks/pycocotools_eval.py "$work/gt.json" "$work/results.json" bbox >"$work/python.txt"
python_seconds=$(echo "$(now) - $start" | bc)

echo "simpledet eval: $(cat "$work/swift.json")"
echo "pycocotools:    $(tail -n 1 "$work/python.txt")"
"$python" - "$work/swift.json" "$work/python.txt" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
theirs = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
worst = max(abs(ours[k] - theirs[k]) for k in theirs)
print("largest difference in the twelve metrics: %.3g" % worst)
PY
printf 'images %d, detections per image %d\n' "$images" "$per_image"
printf 'simpledet eval (release): %.2f s\n' "$swift_seconds"
printf 'pycocotools:              %.2f s\n' "$python_seconds"
printf 'speed-up:                 %.1fx\n' "$(echo "$python_seconds / $swift_seconds" | bc -l)"
