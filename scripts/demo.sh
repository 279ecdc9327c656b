#!/usr/bin/env bash
# The demo `make demo` runs: train a small Faster R-CNN from scratch on the built-in synthetic
# shapes, evaluate it on held-out shapes, and draw what it sees. Everything lands in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

run=runs/demo
bin=.build/release/simpledet
start=$(date +%s)

if [ -e "$run" ]; then
  echo "demo: removing the previous $run"
  rm -rf "$run"
fi

"$bin" info
"$bin" train --config configs/shapes/demo.yaml --output "$run"

# Held-out pictures: images the model never saw (another seed than training and testing).
"$bin" dataset synth --out "$run/heldout" --images 6 --seed 424242 > /dev/null
"$bin" predict --config "$run/config.yaml" --weights "$run/model_final.safetensors" \
  --input "$run/heldout/images" --output "$run/predictions" --score-threshold 0.5

ap=$(tr -d ' \n' < "$run/eval.json" | sed -E 's/.*"AP":([-0-9.e]+).*/\1/')
echo
echo "demo: box AP (COCO-style, IoU 0.5:0.95) on held-out shapes: $ap (the table above is in %)"
echo "demo: finished in $(( $(date +%s) - start )) s; see $run/ (config.yaml, metrics.jsonl, checkpoints/,"
echo "      model_final.safetensors, eval.json, curves.png, predictions/*.png)"
