#!/usr/bin/env bash
# The SimpleDet paper's Figure 1b on this machine: peak tensor memory and speed of one training
# step of Faster R-CNN R50-FPN and R50-C4 with batch norm trained in the whole backbone (the
# from-scratch setting, where activations dominate), batch 2, for the fp32 baseline, +bf16,
# +activation checkpointing (stages), +IABN, and all three. Rounds alternate the settings; the
# table shows medians over rounds. See docs/memory.md.
#
#   benchmarks/memory.sh [--size 800] [--batch 2] [--threads 2] [--rounds 1] [--iters 2]
#
# At --size 800 (the paper's 800-pixel shorter side, square here) a step takes tens of seconds on
# two cores and R50-FPN's fp32 baseline holds about 4 GB of tensors.
set -euo pipefail
cd "$(dirname "$0")/.."

size=800; batch=2; threads=2; rounds=1; iters=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done
bin=.build/release/simpledet
[ -x "$bin" ] || swift build -c release --product simpledet

# name | precision | norm | checkpoint
settings=(
  "fp32 baseline|fp32|BN|none"
  "+bf16|bf16|BN|none"
  "+checkpointing|fp32|BN|stages"
  "+IABN|fp32|IABN|none"
  "all three|bf16|IABN|stages"
)
models=("R50-FPN|" "R50-C4|configs/coco/faster_rcnn_r50_c4_1x.yaml")
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq "$rounds"); do
  for model in "${models[@]}"; do
    IFS='|' read -r model_name config <<<"$model"
    for setting in "${settings[@]}"; do
      IFS='|' read -r name precision norm checkpoint <<<"$setting"
      config_args=()
      [ -n "$config" ] && config_args=(--config "$config")
      json=$("$bin" benchmark "${config_args[@]}" --mode train --size "$size" --batch "$batch" --threads "$threads" \
        --iters "$iters" --warmup 1 --precision "$precision" --json \
        --set model.backbone.norm="$norm" --set model.backbone.frozen_stages=0 --set model.backbone.checkpoint="$checkpoint")
      echo "$model_name|$name|$json" >>"$results"
    done
  done
done
python3 - "$results" "$size" "$batch" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    model, name, payload = line.rstrip("\n").split("|", 2)
    rows.setdefault((model, name), []).append(json.loads(payload))
print(f"training step, {sys.argv[2]}x{sys.argv[2]}, batch {sys.argv[3]}, BN (or IABN) trained in the whole backbone")
print("| model | setting | peak tensors (MB) | vs baseline | images/s | vs baseline | peak RSS (MB) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
baseline = {}
for (model, name), runs in rows.items():
    memory = statistics.median(r["peak_tensor_mb"] for r in runs)
    speed = statistics.median(r["images_per_sec"] for r in runs)
    rss = statistics.median(r["peak_rss_mb"] for r in runs)
    if name == "fp32 baseline":
        baseline[model] = (memory, speed)
    m0, s0 = baseline[model]
    print(f"| {model} | {name} | {memory:.0f} | {memory / m0:.0%} | {speed:.3f} | {speed / s0:.2f}x | {rss:.0f} |")
PY
