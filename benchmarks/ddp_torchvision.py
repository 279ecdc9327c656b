"""PyTorch DDP's training speed for torchvision's Faster R-CNN R50-FPN on this CPU: the reference
side of issue 16's scaling benchmark (benchmarks/distributed.sh runs it next to SimpleDet).

The model is what `fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)` builds, except
for the backbone's norm: torchvision silently switches to BatchNorm2d with all five stages
trainable when no weights are given, so, like benchmarks/compare_torchvision, this builds its
fine-tuning default instead (FrozenBatchNorm2d, trainable_backbone_layers=3: conv1 and layer1
frozen), which is what SimpleDet's configs/coco/faster_rcnn_r50_fpn_1x.yaml trains (FrozenBN,
frozen_stages 2). `--norm bn` gives the all-trainable BatchNorm2d variant. The transform is fixed
at min_size = max_size = --size (512), so the synthetic square images are not resized.

Each worker trains on its own fixed synthetic batch (seed + rank): --batch images of size x size
with 4 random boxes each; SGD (lr 0.001, momentum 0.9, weight decay 1e-4). Every run, including
--nproc-per-node 1, is DistributedDataParallel over a Gloo process group (world size 1 then), so
the reducer, its buckets and the comm hook run in every row. Rendezvous and Gloo stay on the
loopback interface (MASTER_ADDR must be 127.0.0.1 or localhost; GLOO_SOCKET_IFNAME=lo).

    torchrun --nnodes 1 --nproc-per-node 2 --master-addr 127.0.0.1 --master-port 29511 \\
        benchmarks/ddp_torchvision.py --threads 1 --batch 1 --warmup 2 --iters 5 --compression fp16 --json

Run from the throwaway environment benchmarks/ddp_torchvision_env.sh makes (/tmp/ddpvenv: the
pinned torch 2.15.0 wheel, torchvision 0.29.2); never part of the build. Without torchrun it runs
as one worker. Rank 0 prints one JSON line (--json) or a short summary:

  world_size, batch_per_worker, threads, compression, bucket_mb
  step_time         median seconds per training step (forward, backward with its allreduces,
                    optimizer), the slowest rank's median
  images_per_sec    world_size * batch / step_time (global)
  allreduce_bytes   bytes handed to allreduce per step: the sum over buckets of the bucket's
                    element count times the element size on the wire (4 for none, 2 for fp16 and
                    bf16, whose hooks cast the fp32 bucket before allreducing it)
  bucket_bytes      the same buckets in fp32 as the hook receives them (bucket.buffer())
  buckets           buckets per step
  comm_hidden       the share of communication time hidden behind backward, median over steps
                    (see CommStats.hidden_share for the definition), rank 0's and per rank
  comm_ms           communication time per step (the union of the buckets' launch-to-completion
                    intervals), exposed_ms the part after backward's computation ended
"""
import argparse
import datetime
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torchvision
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn.parallel import DistributedDataParallel
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops.misc import FrozenBatchNorm2d

WIRE_BYTES = {"none": None, "fp16": 2, "bf16": 2}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first; DDP rebuilds its buckets after the first (default 2)")
    p.add_argument("--batch", type=int, default=1, help="images per worker per step (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads per worker (default 1)")
    p.add_argument("--size", type=int, default=512, help="square image side; also the transform's min_size and max_size (default 512)")
    p.add_argument("--classes", type=int, default=91, help="box predictor classes incl. background (torchvision's default 91; SimpleDet's COCO config has 81)")
    p.add_argument("--norm", choices=["frozen", "bn"], default="frozen", help="frozen: FrozenBatchNorm2d, 3 trainable stages (default); bn: BatchNorm2d, all 5 trainable")
    p.add_argument("--compression", choices=["none", "fp16", "bf16"], default="none")
    p.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket_cap_mb (default 25, DDP's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON line on rank 0")
    return p.parse_args()


def build_model(a):
    torch.manual_seed(a.seed)  # the same weights on every rank; DDP also broadcasts rank 0's
    fixed = dict(min_size=a.size, max_size=a.size)
    if a.norm == "frozen":
        body = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
        return FasterRCNN(_resnet_fpn_extractor(body, 3), num_classes=a.classes, **fixed)
    return torchvision.models.detection.fasterrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=a.classes, **fixed)


def synthetic_batch(a, rank):
    g = torch.Generator().manual_seed(a.seed * 1000 + rank + 1)
    images, targets = [], []
    for _ in range(a.batch):
        images.append(torch.rand(3, a.size, a.size, generator=g))
        count = 4
        corner = torch.rand(count, 2, generator=g) * (a.size * 0.7)
        extent = 16 + torch.rand(count, 2, generator=g) * (a.size * 0.3)
        boxes = torch.cat([corner, (corner + extent).clamp(max=a.size)], dim=1)
        targets.append({"boxes": boxes, "labels": torch.randint(1, a.classes, (count,), generator=g)})
    return images, targets


class CommStats:
    """What the comm hook wrapper records for one step.

    For each bucket: `launch` (perf_counter when DDP's reducer calls the hook, i.e. when the
    bucket's last gradient is ready during backward and its allreduce is started) and `done`
    (when the hook's future completes, after the allreduce and any decompression).

    hidden_share: communication time is the measure of the union of the buckets' [launch, done]
    intervals (time during which at least one allreduce is in flight, queueing behind an earlier
    bucket included). Backward's computation ends at the last bucket's launch (every gradient is
    ready then; what follows is DDP waiting for the allreduces). The hidden share is the part of
    the communication time before that moment divided by all of it: 1 - exposed / comm, where
    exposed = the union's measure after the end of computation. 1.0 means the step waited for no
    communication after backward; with one bucket it is 0. On a CPU the allreduce runs on Gloo's
    threads, which share cores with backward's compute: "hidden" means overlapped in time, not
    free.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.launch, self.done, self.elements, self.buffer_bytes = [], [], 0, 0

    def summary(self):
        intervals = sorted(zip(self.launch, self.done))
        if not intervals:
            return 0.0, 0.0, None
        compute_end = max(self.launch)
        total = exposed = 0.0
        cur_start, cur_end = intervals[0]
        merged = []
        for s, e in intervals[1:]:
            if s <= cur_end:
                cur_end = max(cur_end, e)
            else:
                merged.append((cur_start, cur_end))
                cur_start, cur_end = s, e
        merged.append((cur_start, cur_end))
        for s, e in merged:
            total += e - s
            exposed += max(0.0, e - max(s, compute_end))
        hidden = 1.0 - exposed / total if total > 0 else None
        return total, exposed, hidden


def counting_hook(inner, stats, wire_bytes):
    """Wraps a DDP comm hook: counts the bucket's bytes and times its allreduce."""

    def hook(state, bucket):
        buffer = bucket.buffer()
        stats.launch.append(time.perf_counter())
        stats.elements += buffer.numel()
        stats.buffer_bytes += buffer.numel() * buffer.element_size()
        stats.wire_element = wire_bytes or buffer.element_size()
        fut = inner(state, bucket)

        def completed(f):
            stats.done.append(time.perf_counter())
            return f.value()

        return fut.then(completed)

    return hook


def main():
    a = parse_args()
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    os.environ.setdefault("LOCAL_RANK", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(s.getsockname()[1])
    if os.environ["MASTER_ADDR"] not in ("127.0.0.1", "localhost"):
        sys.exit(f"error: MASTER_ADDR={os.environ['MASTER_ADDR']}: this benchmark stays on 127.0.0.1")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # Gloo's pairs on loopback, whatever the hostname resolves to

    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=300))
    rank, world = dist.get_rank(), dist.get_world_size()

    model = build_model(a)
    model.train()
    ddp = DistributedDataParallel(model, bucket_cap_mb=a.bucket_mb)
    stats = CommStats()
    stats.wire_element = 4
    inner = {"none": default_hooks.allreduce_hook, "fp16": default_hooks.fp16_compress_hook,
             "bf16": default_hooks.bf16_compress_hook}[a.compression]
    ddp.register_comm_hook(dist.group.WORLD, counting_hook(inner, stats, WIRE_BYTES[a.compression]))
    params = [q for q in ddp.parameters() if q.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9, weight_decay=1e-4)
    images, targets = synthetic_batch(a, rank)

    steps = []
    for i in range(a.warmup + a.iters):
        stats.reset()
        dist.barrier()  # every step starts together, so one rank's step time is the job's
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        losses = ddp(images, targets)
        loss = sum(losses.values())
        forward_end = time.perf_counter()
        loss.backward()
        backward_end = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        if not torch.isfinite(loss):
            print(f"warning: rank {rank} step {i}: non-finite loss", file=sys.stderr)
        if i >= a.warmup:
            comm, exposed, hidden = stats.summary()
            steps.append({
                "step": end - start, "forward": forward_end - start, "backward": backward_end - forward_end,
                "comm": comm, "exposed": exposed, "hidden": hidden, "buckets": len(stats.launch),
                "bytes": stats.elements * stats.wire_element, "bucket_bytes": stats.buffer_bytes,
            })

    def med(key):
        values = [s[key] for s in steps if s[key] is not None]
        return statistics.median(values) if values else None

    mine = {"rank": rank, "step_time": med("step"), "forward": med("forward"), "backward": med("backward"),
            "comm": med("comm"), "exposed": med("exposed"), "hidden": med("hidden"),
            "buckets": steps[-1]["buckets"], "bytes": steps[-1]["bytes"], "bucket_bytes": steps[-1]["bucket_bytes"]}
    everyone = [None] * world
    dist.all_gather_object(everyone, mine)
    if rank == 0:
        step_time = max(r["step_time"] for r in everyone)
        report = {
            "implementation": "pytorch-ddp", "model": "fasterrcnn_resnet50_fpn", "norm": a.norm,
            "size": a.size, "classes": a.classes, "world_size": world, "batch_per_worker": a.batch,
            "threads": a.threads, "compression": a.compression, "bucket_mb": a.bucket_mb,
            "iters": a.iters, "warmup": a.warmup,
            "step_time": step_time, "images_per_sec": world * a.batch / step_time,
            "forward_time": mine["forward"], "backward_time": mine["backward"],
            "allreduce_bytes": mine["bytes"], "bucket_bytes": mine["bucket_bytes"], "buckets": mine["buckets"],
            "comm_hidden": mine["hidden"], "comm_hidden_per_rank": [r["hidden"] for r in everyone],
            "comm_ms": None if mine["comm"] is None else mine["comm"] * 1e3,
            "exposed_ms": None if mine["exposed"] is None else mine["exposed"] * 1e3,
            "step_time_per_rank": [r["step_time"] for r in everyone],
            "torch": torch.__version__, "torchvision": torchvision.__version__,
        }
        if a.json:
            print(json.dumps(report), flush=True)
        else:
            hidden = "n/a" if report["comm_hidden"] is None else f"{report['comm_hidden']:.0%}"
            print(f"DDP {world} x {a.threads} thread(s), batch {a.batch}/worker, {a.compression}: "
                  f"{step_time:.3f} s/step, {report['images_per_sec']:.3f} images/s, "
                  f"{report['allreduce_bytes'] / 1e6:.1f} MB allreduced/step in {report['buckets']} buckets, "
                  f"hidden {hidden}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
