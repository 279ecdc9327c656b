"""The torchvision side of benchmarks/compare_torchvision: one model, one mode, timed as
`simpledet benchmark` times ours, printed as one JSON object. Also exports the model's seeded
random initialisation as safetensors (`--export`) so both sides run the same weights.

Never used by SimpleDet itself; run by compare_torchvision.sh in a throwaway environment.
"""
import argparse
import json
import resource
import statistics
import struct
import sys
import time

import torch
import torchvision
from torchvision.models.detection import (
    FCOS, FasterRCNN, MaskRCNN, RetinaNet, fasterrcnn_resnet50_fpn_v2, maskrcnn_resnet50_fpn_v2,
    retinanet_resnet50_fpn_v2)
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops.feature_pyramid_network import LastLevelP6P7


def build(name, size):
    """torchvision's model with its fine-tuning defaults (FrozenBatchNorm2d, three trainable
    stages), 91 classes, no resize at `size`, score threshold 0."""
    torch.manual_seed(0)
    fixed = dict(min_size=size, max_size=size)
    if name.endswith("_v2"):
        builder = {"fasterrcnn_resnet50_fpn_v2": fasterrcnn_resnet50_fpn_v2,
                   "maskrcnn_resnet50_fpn_v2": maskrcnn_resnet50_fpn_v2,
                   "retinanet_resnet50_fpn_v2": retinanet_resnet50_fpn_v2}[name]
        thresh = "score_thresh" if name.startswith("retinanet") else "box_score_thresh"
        return builder(weights=None, weights_backbone=None, num_classes=91, **fixed, **{thresh: 0.0})
    body = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    if name == "fasterrcnn_resnet50_fpn":
        return FasterRCNN(_resnet_fpn_extractor(body, 3), num_classes=91, box_score_thresh=0.0, **fixed)
    if name == "maskrcnn_resnet50_fpn":
        return MaskRCNN(_resnet_fpn_extractor(body, 3), num_classes=91, box_score_thresh=0.0, **fixed)
    if name == "retinanet_resnet50_fpn":
        backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
        return RetinaNet(backbone, num_classes=91, score_thresh=0.0, **fixed)
    if name == "fcos_resnet50_fpn":
        backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
        return FCOS(backbone, num_classes=91, score_thresh=0.0, **fixed)
    raise SystemExit(f"unknown model {name}")


def write_safetensors(state, path):
    """A minimal safetensors writer (the format is a JSON header and raw little-endian data)."""
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, chunks, offset = {}, [], 0
    for key in sorted(state):
        t = state[key].detach().contiguous().cpu()
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[key] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for c in chunks:
            f.write(c)


def random_targets(size, count, generator, masks):
    corner = torch.rand(count, 2, generator=generator) * size * 0.6
    extent = torch.rand(count, 2, generator=generator) * size * 0.3 + 16
    boxes = torch.cat([corner, (corner + extent).clamp(max=size)], dim=1)
    target = {"boxes": boxes, "labels": torch.randint(1, 91, (count,), generator=generator)}
    if masks:
        m = torch.zeros(count, size, size, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
            m[i, y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)] = 1
        target["masks"] = m
    return target


def flops_per_iteration(model, images, targets, train):
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        if train:
            loss = sum(model(images, targets).values())
            loss.backward()
        else:
            with torch.no_grad():
                model(images)
    return counter.get_total_flops()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--mode", choices=["train", "infer"], default="infer")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--export", help="write the seeded initialisation here as safetensors and exit")
    p.add_argument("--flops", action="store_true", help="also count FLOPs of one iteration")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = build(a.model, a.size)
    if a.export:
        write_safetensors(model.state_dict(), a.export)
        return
    g = torch.Generator().manual_seed(42)
    images = [torch.rand(3, a.size, a.size, generator=g) for _ in range(a.batch)]
    targets = [random_targets(a.size, 4, g, a.model.startswith("maskrcnn")) for _ in range(a.batch)]
    train = a.mode == "train"
    model.train(train)
    optimizer = torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=0.001, momentum=0.9, weight_decay=1e-4)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            if train:
                loss = sum(model(images, targets).values())
            else:
                with torch.no_grad():
                    model(images)
                return
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(a.warmup):
        step()
    seconds = []
    for _ in range(a.iters):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    per_iteration = statistics.median(seconds)
    report = {
        "images_per_sec": a.batch / per_iteration,
        "sec_per_iter": per_iteration,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if a.flops:
        report["gflops_per_iter"] = flops_per_iteration(model, images, targets, train) / 1e9
    print(json.dumps(report))


if __name__ == "__main__":
    main()
