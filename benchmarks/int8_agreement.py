#!/usr/bin/env python3
"""How closely INT8 inference follows the fake-quantized model: two predictions.json files of
`simpledet predict` on the same images (fake quantization first, then runtime.precision=int8).
Each detection of the first is paired with the second's detection of the same image and class
that overlaps it most; it agrees when the four box coordinates are within `--pixels` and the
scores within `--score`. Prints the share that agrees. Standard library only."""
import argparse
import json
from collections import defaultdict


def iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reference", help="predictions.json of the fake-quantized model")
    parser.add_argument("candidate", help="predictions.json of the INT8 model")
    parser.add_argument("--pixels", type=float, default=1.0)
    parser.add_argument("--score", type=float, default=0.02)
    args = parser.parse_args()
    with open(args.reference) as f:
        reference = json.load(f)
    with open(args.candidate) as f:
        candidate = json.load(f)
    pool = defaultdict(list)
    for d in candidate:
        pool[(d["file_name"], d["category_id"])].append(d)
    agree = 0
    for d in reference:
        matches = pool[(d["file_name"], d["category_id"])]
        best = max(matches, key=lambda m: iou(d["bbox"], m["bbox"]), default=None)
        if best is None:
            continue
        a = [d["bbox"][0], d["bbox"][1], d["bbox"][0] + d["bbox"][2], d["bbox"][1] + d["bbox"][3]]
        b = [best["bbox"][0], best["bbox"][1], best["bbox"][0] + best["bbox"][2], best["bbox"][1] + best["bbox"][3]]
        if max(abs(x - y) for x, y in zip(a, b)) <= args.pixels and abs(d["score"] - best["score"]) <= args.score:
            agree += 1
    total = len(reference)
    share = agree / total if total else float("nan")
    print(json.dumps({"detections": total, "int8_detections": len(candidate), "agree": agree, "share": share}))


if __name__ == "__main__":
    main()
