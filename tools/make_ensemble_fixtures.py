"""Writes Tests/DetectionTests/Fixtures/ensemble_boxes.json: the outputs of ensemble-boxes'
`nms`, `non_maximum_weighted` and `weighted_boxes_fusion` on random detections of three models,
which Tests/DetectionTests/EnsembleTests.swift compares with `ensemble(_:weights:method:)`.

Run in a throwaway virtual environment, never as a build dependency:

    python3 -m venv /tmp/ebvenv && /tmp/ebvenv/bin/pip install ensemble-boxes==1.0.9 numpy
    /tmp/ebvenv/bin/python tools/make_ensemble_fixtures.py

The detections are in ensemble-boxes' normalised [0, 1] coordinates, inside the image (so its
clipping changes nothing), clustered so that the models agree on most objects, with distinct
scores (its sorts are not stable, so ties could order differently).
"""

import json
import os

import numpy as np
from ensemble_boxes import nms, non_maximum_weighted, weighted_boxes_fusion

rng = np.random.default_rng(20261203)


def model_detections(objects, labels):
    boxes, scores, out_labels = [], [], []
    for (cx, cy, w, h), label in zip(objects, labels):
        if rng.random() < 0.2:  # this model misses the object
            continue
        for _ in range(rng.integers(1, 4)):
            jitter = rng.normal(0, 0.02, 4)
            x1 = np.clip(cx - w / 2 + jitter[0], 0.0, 1.0)
            y1 = np.clip(cy - h / 2 + jitter[1], 0.0, 1.0)
            x2 = np.clip(cx + w / 2 + jitter[2], 0.0, 1.0)
            y2 = np.clip(cy + h / 2 + jitter[3], 0.0, 1.0)
            if x2 - x1 < 0.01 or y2 - y1 < 0.01:
                continue
            boxes.append([x1, y1, x2, y2])
            scores.append(rng.uniform(0.05, 1.0))
            out_labels.append(label)
    return boxes, scores, out_labels


cases = []
for case in range(6):
    count = int(rng.integers(3, 9))
    objects = [(rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4))
               for _ in range(count)]
    labels = [int(rng.integers(1, 4)) for _ in range(count)]
    models = [model_detections(objects, labels) for _ in range(3)]
    boxes = [m[0] for m in models]
    scores = [m[1] for m in models]
    model_labels = [m[2] for m in models]
    weights = None if case % 2 == 0 else [2.0, 1.0, 0.5]
    skip = 0.0 if case < 3 else 0.2
    iou = 0.55 if case % 3 else 0.4
    outputs = {}
    for name, function, kwargs in [
        ("nms", nms, {"iou_thr": iou, "weights": weights}),
        ("nmw", non_maximum_weighted, {"iou_thr": iou, "skip_box_thr": skip, "weights": weights}),
        ("wbf", weighted_boxes_fusion, {"iou_thr": iou, "skip_box_thr": skip, "weights": weights}),
    ]:
        out_boxes, out_scores, out_labels = function(
            [np.array(b) for b in boxes], [np.array(s) for s in scores], [np.array(l) for l in model_labels], **kwargs)
        outputs[name] = {
            "boxes": np.asarray(out_boxes, dtype=np.float64).tolist(),
            "scores": np.asarray(out_scores, dtype=np.float64).tolist(),
            "labels": [int(l) for l in out_labels],
        }
    cases.append({
        "boxes": [np.asarray(b, dtype=np.float64).tolist() for b in boxes],
        "scores": [np.asarray(s, dtype=np.float64).tolist() for s in scores],
        "labels": model_labels,
        "weights": weights, "skip_box_thr": skip, "iou_thr": iou, "outputs": outputs,
    })

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectionTests", "Fixtures", "ensemble_boxes.json")
with open(path, "w") as f:
    json.dump({"ensemble_boxes": "1.0.9", "cases": cases}, f, indent=1)
print("wrote", os.path.normpath(path), sum(len(c["outputs"]["wbf"]["scores"]) for c in cases), "fused boxes")
