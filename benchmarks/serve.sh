#!/usr/bin/env bash
# Load on `simpledet serve` from wrk over loopback: throughput and p50/p99 latency of
# POST /v1/detect at 1, 4 and 16 concurrent clients, with dynamic batching (up to 8 images a
# pass) and without it (batch size 1). Both servers run side by side and the rounds alternate
# between them; the table shows medians over rounds. See docs/serving.md.
#
#   benchmarks/serve.sh [--config runs/demo/config.yaml] [--weights runs/demo/model_final.safetensors]
#                       [--seconds 20] [--rounds 3] [--clients "1 4 16"] [--max-batch-wait 5]
#                       [--same-size]
#
# --same-size sends copies of one image (as from a fixed camera) instead of eight shapes images of
# different sizes and orientations, which a batch pads to its largest.
# Needs wrk (Debian: apt-get install wrk) and a trained model (`make demo` trains the default one).
set -euo pipefail
cd "$(dirname "$0")/.."

config=runs/demo/config.yaml; weights=runs/demo/model_final.safetensors
seconds=20; rounds=3; clients="1 4 16"; wait_ms=5; same_size=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --weights) weights=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --max-batch-wait) wait_ms=$2; shift 2 ;;
    --same-size) same_size=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done
command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install wrk)" >&2; exit 1; }
[ -f "$weights" ] || { echo "error: $weights: no such weight file (make demo trains it)" >&2; exit 1; }
bin=.build/release/simpledet
[ -x "$bin" ] || swift build -c release --product simpledet

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Held-out shapes images (another seed than training and testing), sent in turn.
"$bin" dataset synth --out "$work/images" --images 8 --seed 515151 >/dev/null
if [ "$same_size" = 1 ]; then
  for i in 1 2 3 4 5 6 7; do cp "$work/images/images/000000.png" "$work/images/images/$(printf %06d "$i").png"; done
fi
# A wrk script that POSTs the files PATTERN % 0..COUNT-1 in turn and prints one JSON line.
write_script() { # out pattern count
  cat >"$1" <<LUA
local bodies = {}
local next_body = 1
function init(args)
  for i = 0, $3 - 1 do
    local f = assert(io.open(string.format("$2", i), "rb"))
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
end
function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/v1/detect", {}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
LUA
}
write_script "$work/load.lua" "$work/images/images/%06d.png" 8

start_server() { # name max_batch_size; sets address_<name> and pid_<name>
  "$bin" serve --config "$config" --weights "$weights" --port 0 --max-batch-size "$2" --max-batch-wait "$wait_ms" \
    >"$work/$1.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    grep -q "listening on" "$work/$1.log" 2>/dev/null && break
    sleep 0.1
  done
  local address
  address=$(grep -o '127.0.0.1:[0-9]*' "$work/$1.log") || { cat "$work/$1.log" >&2; exit 1; }
  printf -v "address_$1" '%s' "$address"
  printf -v "pid_$1" '%s' "$pid"
}
start_server batched 8
start_server single 1
batched=$address_batched
single=$address_single
echo "servers: batching up to 8 on $batched, batch size 1 on $single; $rounds rounds of ${seconds} s per point" >&2

results="$work/results"
for round in $(seq "$rounds"); do
  for c in $clients; do
    threads=$(( c < 2 ? c : 2 ))
    for mode in batched single; do
      address=${!mode}
      # Warm the server's caches so the first point does not pay for them.
      [ "$round" = 1 ] && wrk -t1 -c1 -d2s -s "$work/load.lua" "http://$address" >/dev/null
      line=$(wrk -t"$threads" -c"$c" -d"${seconds}s" --timeout 30s -s "$work/load.lua" "http://$address" | grep '^{')
      echo "$mode|$c|$line" >>"$results"
      echo "round $round, $c clients, $mode: $line" >&2
    done
  done
done

# Hostile input: the batching server takes a stream of bad bodies (random bytes, a truncated PNG,
# a PNG header declaring 100000² pixels, an empty body) from 4 clients; every answer must be a 4xx,
# the server must still answer /healthz, and its resident memory should not grow.
python3 - "$work" <<'PY'
import os, random, struct, sys, zlib
work = sys.argv[1]
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
good = open(os.path.join(work, "images/images/000000.png"), "rb").read()
random.seed(7)
bodies = [bytes(random.getrandbits(8) for _ in range(4096)), good[: len(good) // 2], bomb, b""]
for i, b in enumerate(bodies):
    open(os.path.join(work, f"bad{i}.bin"), "wb").write(b)
PY
write_script "$work/hostile.lua" "$work/bad%d.bin" 4
server_pid=$pid_batched
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
rss_before=$(rss)
hostile=$(wrk -t2 -c4 -d"${seconds}s" -s "$work/hostile.lua" "http://$batched" | grep '^{')
rss_after=$(rss)
health=$(curl -s -o /dev/null -w '%{http_code}' "http://$batched/healthz" || echo none)
echo "hostile: $hostile; server RSS ${rss_before} kB before, ${rss_after} kB after; /healthz then: $health" >&2
echo "hostile|$hostile|$rss_before|$rss_after|$health" >"$work/hostile"

python3 - "$results" "$work/hostile" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, clients, payload = line.rstrip("\n").split("|", 2)
    rows.setdefault((mode, int(clients)), []).append(json.loads(payload))
def summary(runs):
    rps = statistics.median(r["requests"] / r["seconds"] for r in runs)
    p50 = statistics.median(r["p50_ms"] for r in runs)
    p99 = statistics.median(r["p99_ms"] for r in runs)
    errors = sum(r["errors"] + r["non_2xx"] for r in runs)
    return rps, p50, p99, errors
clients = sorted({c for _, c in rows})
print("| clients | batching ≤8: images/s | p50 ms | p99 ms | errors | batch 1: images/s | p50 ms | p99 ms | errors | batching gain |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in clients:
    b = summary(rows[("batched", c)]); s = summary(rows[("single", c)])
    print(f"| {c} | {b[0]:.1f} | {b[1]:.0f} | {b[2]:.0f} | {b[3]} | {s[0]:.1f} | {s[1]:.0f} | {s[2]:.0f} | {s[3]} | {b[0] / s[0]:.2f}× |")
lo, hi = min(clients), max(clients)
b_lo, b_hi = summary(rows[("batched", lo)]), summary(rows[("batched", hi)])
print()
print(f"batching, {hi} clients vs {lo}: throughput {b_hi[0] / b_lo[0]:.2f}× (target ≥ 1.5×), "
      f"p99/p50 {b_hi[2] / b_hi[1]:.2f} (target ≤ 4), errors {b_hi[3]} (target 0)")
_, payload, before, after, health = open(sys.argv[2]).read().strip().split("|")
h = json.loads(payload)
print(f"hostile bodies: {h['requests']} requests, {h['non_2xx']} answered 4xx, {h['errors']} socket errors; "
      f"server RSS {int(before) / 1024:.0f} → {int(after) / 1024:.0f} MB; /healthz afterwards: {health}")
PY
