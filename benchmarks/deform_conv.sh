#!/usr/bin/env bash
# Deformable convolution (v2) forward + backward: ours against torchvision.ops.deform_conv2d and
# against a plain 3x3 convolution of the same shape, at ResNet-50's C4 and C5 block shapes
# (issue 20's target: >= 3x torchvision, within 2.5x of the plain convolution). Rounds alternate
# ours and torchvision; the table shows the median of the rounds' medians.
#
#   benchmarks/deform_conv.sh [--size 512] [--batch 2] [--threads 2] [--rounds 3] [--iters 5]
#
# torchvision runs from a throwaway virtual environment ($TORCHVISION_VENV, default
# .deps/tvvenv; see benchmarks/compare_torchvision.sh, which creates it).
set -euo pipefail
cd "$(dirname "$0")/.."

size=512; batch=2; threads=2; rounds=3; iters=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done
venv=${TORCHVISION_VENV:-.deps/tvvenv}
[ -x "$venv/bin/python" ] || { echo "error: no torchvision environment at $venv (run benchmarks/compare_torchvision.sh once, or set TORCHVISION_VENV)" >&2; exit 1; }
bin=.build/release/simpledet
[ -x "$bin" ] || swift build -c release --product simpledet
ours=(); theirs=()
for _ in $(seq "$rounds"); do
  ours+=("$("$bin" benchmark --mode dcn --size "$size" --batch "$batch" --threads "$threads" --iters "$iters" --warmup 2 --json)")
  theirs+=("$("$venv/bin/python" benchmarks/deform_conv_torchvision.py "$size" "$batch" "$iters" 2 "$threads")")
done
python3 - "$rounds" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, statistics, sys
rounds = int(sys.argv[1])
ours = [json.loads(s)["rows"] for s in sys.argv[2:2 + rounds]]
theirs = [json.loads(s)["rows"] for s in sys.argv[2 + rounds:]]
print("| stage | shape | ours (ms) | plain 3x3 conv (ms) | torchvision (ms) | torchvision / ours | ours / conv |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for i, row in enumerate(ours[0]):
    d = statistics.median(r[i]["deformable"] for r in ours)
    c = statistics.median(r[i]["convolution"] for r in ours)
    t = statistics.median(r[i]["torchvision"] for r in theirs)
    print(f"| {row['stage']} | {row['shape']} | {d:.1f} | {c:.1f} | {t:.1f} | {t / d:.2f} | {d / c:.2f} |")
PY
