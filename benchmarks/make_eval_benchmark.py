#!/usr/bin/env python3
"""Writes the COCO evaluation benchmark's inputs: IMAGES images × DETECTIONS detections (boxes).

COCO-like statistics: 80 categories with non-contiguous ids, about 7 objects per image (some
crowds), areas spread over small/medium/large, and per image 100 detections mixing jittered
copies of the objects with random boxes. Only numpy is needed.

    python3 benchmarks/make_eval_benchmark.py OUT_DIR [IMAGES] [DETECTIONS]
"""

import json
import os
import sys

import numpy as np


def main():
    out = sys.argv[1]
    images = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    per_image = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    rng = np.random.RandomState(0)
    os.makedirs(out, exist_ok=True)
    category_ids = sorted(rng.choice(np.arange(1, 91), 80, replace=False).tolist())
    image_records, annotations, results = [], [], []
    ann_id = 1
    for image_id in range(1, images + 1):
        w, h = int(rng.randint(320, 641)), int(rng.randint(240, 481))
        image_records.append({"id": image_id, "width": w, "height": h, "file_name": "%012d.jpg" % image_id})
        n = int(rng.poisson(7))
        side = np.exp(rng.uniform(np.log(4), np.log(min(w, h) * 0.9), (n, 2)))
        xs = rng.uniform(0, 1, n) * (w - side[:, 0])
        ys = rng.uniform(0, 1, n) * (h - side[:, 1])
        cats = rng.choice(category_ids, n)
        crowd = rng.rand(n) < 0.01
        boxes = []
        for j in range(n):
            box = [round(float(xs[j]), 2), round(float(ys[j]), 2), round(float(side[j, 0]), 2), round(float(side[j, 1]), 2)]
            boxes.append((box, int(cats[j])))
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": int(cats[j]), "bbox": box,
                                "area": round(box[2] * box[3] * 0.7, 2), "iscrowd": int(crowd[j]), "segmentation": []})
            ann_id += 1
        for j in range(per_image):
            if boxes and j < 3 * len(boxes):
                (x, y, bw, bh), cat = boxes[j % len(boxes)]
                noise = rng.normal(0, 0.1, 4)
                box = [x + noise[0] * bw, y + noise[1] * bh, bw * (1 + noise[2]), bh * (1 + noise[3])]
                if rng.rand() < 0.1:
                    cat = int(rng.choice(category_ids))
            else:
                bw, bh = np.exp(rng.uniform(np.log(4), np.log(min(w, h) * 0.9), 2))
                box = [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]
                cat = int(rng.choice(category_ids))
            results.append({"image_id": image_id, "category_id": cat,
                            "bbox": [round(float(max(v, 0.5)) if k >= 2 else float(v), 2) for k, v in enumerate(box)],
                            "score": round(float(rng.uniform(0.01, 1.0)), 3)})
    gt = {"images": image_records, "annotations": annotations,
          "categories": [{"id": c, "name": "class%d" % c, "supercategory": "thing"} for c in category_ids]}
    with open(os.path.join(out, "gt.json"), "w") as f:
        json.dump(gt, f)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f)
    print("%d images, %d objects, %d detections" % (images, len(annotations), len(results)), file=sys.stderr)


if __name__ == "__main__":
    main()
