#!/usr/bin/env bash
# SimpleDet against torchvision on this CPU, side by side: the same architectures (torchvision's
# fine-tuning defaults: FrozenBatchNorm, three trainable backbone stages), the same seeded
# weights (exported from torchvision and loaded with --weights), 91 classes, the same input size,
# batch, threads and precision, score threshold 0. Rounds alternate ours and theirs; the table
# shows the median of the rounds' medians.
#
#   benchmarks/compare_torchvision.sh [--models a,b] [--modes infer,train] [--size 512] [--batch 2]
#                                     [--threads 2] [--rounds 3] [--iters 5] [--precision fp32|bf16]
#
# torchvision runs from a throwaway virtual environment ($TORCHVISION_VENV, default
# .deps/tvvenv), created on first use with the pinned torch wheel that scripts/bootstrap.sh
# cached, the CUDA runtime wheels `import torch` needs, and torchvision 0.29.2 (about 4 GB).
# $PEAK_GFLOPS (default 450, what oneDNN convolutions reach on this 2-core machine) is the
# ceiling the last column compares the achieved convolution and matrix throughput with.
set -euo pipefail
cd "$(dirname "$0")/.."

models=fasterrcnn_resnet50_fpn
modes=infer,train
size=512
batch=2
threads=2
rounds=3
iters=5
precision=fp32
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) models=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done

venv=${TORCHVISION_VENV:-.deps/tvvenv}
python="$venv/bin/python"
if ! "$python" -c 'import torchvision' 2>/dev/null; then
  scripts/bootstrap.sh
  cache=${SIMPLEDET_CACHE:-${HOME:-/tmp}/.cache/simpledet}/wheels
  echo "compare: creating $venv (torch 2.15.0, torchvision 0.29.2; about 4 GB)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --no-deps "$cache"/torch-2.15.0-*.whl
  "$venv/bin/pip" install -q --no-deps nvidia-cuda-runtime==13.2.86 nvidia-cuda-cupti==13.2.86 \
    nvidia-cuda-nvrtc==13.2.86 nvidia-cublas==13.4.1.3 nvidia-cufft==12.2.0.57 nvidia-cufile==1.17.1.22 \
    nvidia-cusparse==12.7.10.12 nvidia-cudnn-cu13==9.26.0.51 nvidia-cusparselt-cu13==0.8.1 \
    nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2 torchvision==0.29.2
  "$venv/bin/pip" install -q numpy pillow sympy networkx jinja2 fsspec filelock typing-extensions setuptools
fi

swift build -c release --product simpledet >/dev/null
simpledet=.build/release/simpledet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
side=benchmarks/compare_torchvision/torchvision_side.py
echo "compare: $(uname -m), $(nproc) cores, $threads threads, ${size}x${size}, batch $batch, $precision, $rounds rounds of $iters iterations" >&2

for model in ${models//,/ }; do
  "$python" "$side" --model "$model" --size "$size" --export "$work/$model.safetensors"
  for mode in ${modes//,/ }; do
    # Enough warm-up that the RoIs reaching the heads have settled (Mask R-CNN's positives grow
    # over its first ~10 training steps).
    warmup=2
    [[ $mode == train ]] && warmup=10
    for round in $(seq "$rounds"); do
      "$simpledet" benchmark --preset "$model" --weights "$work/$model.safetensors" --mode "$mode" --size "$size" \
        --batch "$batch" --iters "$iters" --warmup "$warmup" --threads "$threads" --precision "$precision" --json \
        >>"$work/$model.$mode.ours"
      "$python" "$side" --model "$model" --mode "$mode" --size "$size" --batch "$batch" --iters "$iters" \
        --warmup "$warmup" --threads "$threads" --precision "$precision" >>"$work/$model.$mode.theirs"
      echo "compare: $model $mode round $round done" >&2
    done
    "$python" "$side" --model "$model" --mode "$mode" --size "$size" --batch "$batch" --iters 1 --warmup 0 \
      --threads "$threads" --flops >"$work/$model.$mode.flops"
  done
done

"$python" - "$work" "$models" "$modes" "$size" "$batch" "$precision" "${PEAK_GFLOPS:-450}" <<'PY'
import json, statistics, sys
work, models, modes, size, batch, precision, peak = sys.argv[1:]
peak = float(peak)
def load(path):
    return [json.loads(line) for line in open(path) if line.strip().startswith("{")]
print("| model | mode | size | batch | precision | SimpleDet images/s | torchvision images/s | ratio | SimpleDet peak RSS | torchvision peak RSS | GFLOP per iteration | SimpleDet share of peak | torchvision share of peak |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for model in models.split(","):
    for mode in modes.split(","):
        ours = load(f"{work}/{model}.{mode}.ours")
        theirs = load(f"{work}/{model}.{mode}.theirs")
        gflops = load(f"{work}/{model}.{mode}.flops")[0]["gflops_per_iter"]
        a = statistics.median(r["images_per_sec"] for r in ours)
        b = statistics.median(r["images_per_sec"] for r in theirs)
        ma = max(r["peak_rss_mb"] for r in ours)
        mb = max(r["peak_rss_mb"] for r in theirs)
        share = lambda ips: gflops * ips / int(batch) / peak
        print(f"| {model} | {mode} | {size} | {batch} | {precision} | {a:.3f} | {b:.3f} | {a / b:.2f}x | {ma:.0f} MB | {mb:.0f} MB | {gflops:.0f} | {share(a):.0%} | {share(b):.0%} |")
PY
