#!/usr/bin/env bash
# Issue 16's scaling benchmark on this machine: data-parallel training speed of SimpleDet
# (`simpledet train --nproc-per-node N`) next to PyTorch DDP (torchrun, Gloo, torchvision's
# Faster R-CNN R50-FPN; benchmarks/ddp_torchvision.py) with the same per-worker batch and threads,
# measured in the same run. Rounds alternate the two sides (A/B, then B/A in the next round); the
# table shows each row's median over rounds.
#
#   benchmarks/distributed.sh [--models r50,demo] [--workers 1,2] [--threads 1] [--batch 1]
#                             [--compression none,fp16] [--size 512] [--rounds 1] [--warmup 2]
#                             [--iters 5] [--demo-iters 20] [--pytorch-only] [--simpledet-only]
#                             [--set KEY=VALUE]... [--raw FILE] [--from-raw FILE]...
#
# --set (repeatable) passes a config override to every SimpleDet run (for example
# data.batch_grouping=size or runtime.distributed.bucket_mb=4).
# --raw keeps the measured rows (JSON lines); --from-raw (repeatable) pools such files, with the
# rows of this run if any is measured (--rounds 0 measures none), into the table.
#
#   r50   Faster R-CNN R50-FPN at size (512): SimpleDet's configs/coco/faster_rcnn_r50_fpn_1x
#         (FrozenBN, frozen_stages 2, no pretrained weights, model.classes 4) on the built-in
#         shapes data with model.transform min_size [size], max_size size and size_divisible
#         size, against torchvision's fasterrcnn_resnet50_fpn (FrozenBatchNorm2d, three trainable
#         stages, 4 classes) on synthetic size x size images. Shapes images have independent sides
#         of 256-384 pixels: resized to size on the long side and padded to size x size, every
#         image costs the same, as PyTorch's do (unequal images would make each step wait for the
#         worker with the larger one, which is no cost of communication).
#   demo  configs/shapes/demo.yaml at its own size, --demo-iters timed iterations (a step takes a
#         fraction of a second); SimpleDet only: torchvision has no such model.
#
# images/s is global: workers x batch / (median seconds per step), with the step time of
# metrics.jsonl's `step_time` (SimpleDet, one record per iteration, warm-up records dropped) and of
# the script's timed steps (PyTorch); data loading is not in either. Scaling efficiency =
# images/s of N workers / (N x images/s of 1 worker with the same threads, uncompressed, measured
# in the same round), median over rounds (the machine's load drifts between rounds): one
# worker needs no communication, so every compression is measured against plain single-worker
# training (the 1-worker rows with compression show what the hook costs without any peer).
# bytes/step = bytes allreduced per step (compressed size on the wire for fp16/bf16); hidden =
# share of communication time overlapped with backward (definition: ddp_torchvision.py's
# CommStats; SimpleDet's `comm_hidden` field).
#
# PyTorch runs from a throwaway virtual environment ($DDP_VENV, default /tmp/ddpvenv) that
# benchmarks/ddp_torchvision_env.sh creates on first use (about 4 GB). $SIMPLEDET_BIN overrides
# .build/release/simpledet. If `simpledet train --help` has no --nproc-per-node, SimpleDet's rows
# are skipped with a note. Every process talks over 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

models=r50,demo; workers=1,2; threads=1; batch=1; compressions=none,fp16; size=512
rounds=1; warmup=2; iters=5; demo_iters=20; run_pytorch=1; run_simpledet=1; raw=; from_raw=(); overrides=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) models=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --compression) compressions=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --demo-iters) demo_iters=$2; shift 2 ;;
    --pytorch-only) run_simpledet=0; shift ;;
    --simpledet-only) run_pytorch=0; shift ;;
    --set) overrides+=(--set "$2"); shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    --from-raw) from_raw+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.jsonl
: >"$results"
notes=()

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PyTorch side.
venv=${DDP_VENV:-/tmp/ddpvenv}
((rounds > 0)) || { run_pytorch=0; run_simpledet=0; }
if ((run_pytorch)); then
  benchmarks/ddp_torchvision_env.sh "$venv"
fi

# SimpleDet side.
bin=${SIMPLEDET_BIN:-.build/release/simpledet}
simpledet_port_flags=0
if ((run_simpledet)); then
  [ -x "$bin" ] || swift build -c release --product simpledet
  help=$("$bin" train --help 2>&1 || true)
  if ! grep -q -- '--nproc-per-node' <<<"$help"; then
    notes+=("SimpleDet's distributed training is not built ($bin train --help has no --nproc-per-node): its rows are skipped.")
    echo "distributed: ${notes[-1]}" >&2
    run_simpledet=0
  elif grep -q -- '--master-port' <<<"$help"; then
    simpledet_port_flags=1
  fi
fi

# Appends one PyTorch row: $1 model, $2 workers, $3 compression.
run_pytorch_row() {
  local model=$1 n=$2 compression=$3 json
  [[ $model == r50 ]] || return 0
  if ! json=$(OMP_NUM_THREADS=$threads GLOO_SOCKET_IFNAME=lo "$venv/bin/torchrun" --nnodes 1 --nproc-per-node "$n" \
      --master-addr 127.0.0.1 --master-port "$(free_port)" benchmarks/ddp_torchvision.py \
      --batch "$batch" --threads "$threads" --size "$size" --classes 4 --compression "$compression" \
      --warmup "$warmup" --iters "$iters" --json 2>"$work/pytorch.err" | tail -n 1); then
    echo "distributed: PyTorch DDP $model $n x $threads $compression failed:" >&2
    tail -n 20 "$work/pytorch.err" >&2
    return 0
  fi
  python3 - "$model" "$n" "$threads" "$compression" "$json" "$round_id" >>"$results" <<'PY'
import json, sys
model, n, threads, compression, payload, round_id = sys.argv[1:]
r = json.loads(payload)
print(json.dumps({"round": round_id, "model": model, "impl": "PyTorch DDP", "workers": int(n), "threads": int(threads),
                  "compression": compression, "step_time": r["step_time"], "images_per_sec": r["images_per_sec"],
                  "allreduce_bytes": r["allreduce_bytes"], "comm_hidden": r["comm_hidden"]}))
PY
}

# Appends one SimpleDet row: $1 model, $2 workers, $3 compression. Images are read in the
# training thread between steps (data.workers=0; outside step_time), as the PyTorch side feeds
# synthetic tensors, so that no loader thread competes with the step for the two cores; and as
# PyTorch DDP's default, the reducer does not look for unused parameters (both models use all).
run_simpledet_row() {
  local model=$1 n=$2 compression=$3 out=$work/simpledet-run timed=$iters
  [[ $model == demo ]] && timed=$demo_iters
  local args=(--set solver.max_iter=$((warmup + timed)) --set solver.batch_size=$((n * batch))
    --set runtime.threads="$threads" --set runtime.distributed.gradient_compression="$compression"
    --set runtime.log_period=1 --set runtime.checkpoint_period=0 --set runtime.eval_period=0
    --set runtime.tensorboard=false --set data.test.image_count=1 --set data.workers=0
    --set runtime.distributed.find_unused_parameters=false)
  case $model in
    r50) args=(--config configs/coco/faster_rcnn_r50_fpn_1x.yaml "${args[@]}"
           --set data.kind=shapes --set data.train.annotations=null --set data.train.images=null
           --set data.test.annotations=null --set data.test.images=null --set data.train.image_count=200
           --set model.classes=4 --set model.weights=null --set "model.transform.min_size=[$size]" --set model.transform.max_size="$size" --set model.transform.size_divisible="$size"
           --set solver.base_lr=0.001 --set solver.warmup_iters=0) ;;
    demo) args=(--config configs/shapes/demo.yaml "${args[@]}") ;;
    *) echo "error: unknown model $model (r50, demo)" >&2; exit 1 ;;
  esac
  ((${#overrides[@]})) && args+=("${overrides[@]}")
  ((simpledet_port_flags)) && args+=(--master-addr 127.0.0.1 --master-port "$(free_port)")
  rm -rf "$out"
  if ! "$bin" train --nproc-per-node "$n" --output "$out" "${args[@]}" >"$work/simpledet.log" 2>&1; then
    echo "distributed: SimpleDet $model $n x $threads $compression failed:" >&2
    tail -n 20 "$work/simpledet.log" >&2
    return 0
  fi
  python3 - "$model" "$n" "$threads" "$compression" "$batch" "$warmup" "$out/metrics.jsonl" "$round_id" >>"$results" <<'PY'
import json, statistics, sys
model, n, threads, compression, batch, warmup, path, round_id = sys.argv[1:]
n, batch, warmup = int(n), int(batch), int(warmup)
records = [r for r in map(json.loads, open(path)) if "step_time" in r]
timed = [r for r in records if r.get("iteration", 0) > warmup] or records[warmup:]
if not timed:
    sys.exit(f"distributed: no timed records in {path}")
def med(key):
    values = [r[key] for r in timed if r.get(key) is not None]
    return statistics.median(values) if values else None
step = med("step_time")
print(json.dumps({"round": round_id, "model": model, "impl": "SimpleDet", "workers": n, "threads": int(threads),
                  "compression": compression, "step_time": step, "images_per_sec": n * batch / step,
                  "allreduce_bytes": med("allreduce_bytes"), "comm_hidden": med("comm_hidden")}))
PY
}

load_start=$(cut -d' ' -f1 /proc/loadavg)
echo "distributed: $(nproc) cores, workers ${workers}, $threads thread(s) and batch $batch per worker, ${size}x${size} (r50), $rounds round(s) of $warmup + $iters iterations" >&2
run_id=$(date +%s)-$$
for round in $(seq "$rounds"); do
  round_id=$run_id-$round
  for model in ${models//,/ }; do
    for compression in ${compressions//,/ }; do
      for n in ${workers//,/ }; do
        if ((round % 2)); then
          ((run_pytorch)) && run_pytorch_row "$model" "$n" "$compression"
          ((run_simpledet)) && run_simpledet_row "$model" "$n" "$compression"
        else
          ((run_simpledet)) && run_simpledet_row "$model" "$n" "$compression"
          ((run_pytorch)) && run_pytorch_row "$model" "$n" "$compression"
        fi
        echo "distributed: round $round: $model $compression $n worker(s) done" >&2
      done
    done
  done
done
[[ -n $raw ]] && cp "$results" "$raw"
for f in "${from_raw[@]+"${from_raw[@]}"}"; do cat "$f" >>"$results"; done

((rounds > 0)) && notes+=("1-minute load average $load_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end, on $(nproc) cores.")
python3 - "$results" "$batch" "$size" "${notes[@]+"${notes[@]}"}" <<'PY'
import json, statistics, sys
path, batch, size, *notes = sys.argv[1:]
rows = {}
for line in open(path):
    r = json.loads(line)
    rows.setdefault((r["model"], r["impl"], r["workers"], r["threads"], r["compression"]), []).append(r)
names = {"r50": f"Faster R-CNN R50-FPN {size}²", "demo": "shapes demo"}
def med(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None
speed = {k: med(v, "images_per_sec") for k, v in rows.items()}
print(f"batch {batch} per worker; images/s over all workers; median of {max((len(v) for v in rows.values()), default=0)} round(s)")
print("| model | implementation | workers × threads | compression | images/s | scaling efficiency | bytes/step | hidden share |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for key in sorted(rows, key=lambda k: (k[0] != "r50", k[0], k[1], k[4] != "none", k[4], k[2])):
    model, impl, n, threads, compression = key
    ips = speed[key]
    base = (model, impl, 1, threads, "none") if (model, impl, 1, threads, "none") in rows else (model, impl, 1, threads, compression)
    # Paired within rounds (the 1-worker run next to it), median over rounds; the ratio of the
    # medians where no round has both.
    ones = {r.get("round"): r["images_per_sec"] for r in rows.get(base, []) if r.get("round") is not None}
    ratios = [r["images_per_sec"] / (n * ones[r["round"]]) for r in rows[key] if r.get("round") in ones]
    one = speed.get(base)
    eff = f"{statistics.median(ratios):.2f}" if ratios else "—" if one is None else f"{ips / (n * one):.2f}"
    if (n, compression) == (1, "none"):
        eff = "1 (base)"
    b = med(rows[key], "allreduce_bytes")
    h = med(rows[key], "comm_hidden")
    print(f"| {names.get(model, model)} | {impl} | {n} × {threads} | {compression} | {ips:.3f} | {eff} | "
          f"{'—' if b is None else f'{b / 1e6:.1f} MB'} | {'—' if h is None or n == 1 else f'{h:.0%}'} |")
print()
for note in notes:
    print(f"Note: {note}")
PY
