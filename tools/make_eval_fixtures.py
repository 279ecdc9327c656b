#!/usr/bin/env python3
"""Writes the fixtures of MasksTests and EvaluationTests with pycocotools as the reference.

Run once by hand in a throwaway environment; nothing in the build or the tests runs Python:

    python3 -m venv /tmp/evalvenv && /tmp/evalvenv/bin/pip install pycocotools numpy
    /tmp/evalvenv/bin/python tools/make_eval_fixtures.py

Outputs (small, committed):
  Tests/MasksTests/Fixtures/masks.json          encode/decode/area/toBbox/merge/iou/frPyObjects
  Tests/EvaluationTests/Fixtures/*.gt.json      ground truth of each scenario
  Tests/EvaluationTests/Fixtures/*.results.json detections of each scenario
  Tests/EvaluationTests/Fixtures/cases.json     expected COCOeval output for each evaluation
  Tests/EvaluationTests/Fixtures/voc.json       VOC cases with AP from voc_reference() below

The scenarios are random but seeded, and each one aims at a rule of COCOeval: crowds, empty
images, images without detections, score ties (stable sort), IoUs exactly on a threshold,
more than 100 detections in one image, categories without ground truth, gt `area` differing
from the box area, and the box-area-versus-mask-area rule of result files.
"""

import contextlib
import copy
import io
import json
import os
import sys

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASKS_DIR = os.path.join(ROOT, "Tests", "MasksTests", "Fixtures")
EVAL_DIR = os.path.join(ROOT, "Tests", "EvaluationTests", "Fixtures")


def rle_string(rle):
    counts = rle["counts"]
    return counts.decode("ascii") if isinstance(counts, bytes) else counts


def runs_of(bits):
    """Column-major 0/1 list -> run lengths starting with background (written independently of
    pycocotools so that the fixture also checks pycocotools' own strings)."""
    counts, current, run = [], 0, 0
    for b in bits:
        if b != current:
            counts.append(run)
            run, current = 0, b
        run += 1
    counts.append(run)
    return counts


def bits_of(mask):
    return [int(v) for v in np.asarray(mask).flatten(order="F")]


def random_polygon(rng, h, w, spill=0.2):
    cx, cy = rng.uniform(-spill * w, (1 + spill) * w), rng.uniform(-spill * h, (1 + spill) * h)
    n = int(rng.randint(3, 11))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = rng.uniform(1, max(h, w) * 0.5, n)
    xs = cx + radius * np.cos(angles)
    ys = cy + radius * np.sin(angles)
    poly = []
    for x, y in zip(xs, ys):
        poly += [round(float(x), int(rng.randint(0, 4))), round(float(y), int(rng.randint(0, 4)))]
    return poly


# ---------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------

def make_masks_fixtures(rng):
    out = {"encode": [], "polygons": [], "boxes": [], "merge": [], "iou": [], "box_iou": [], "uncompressed": []}

    shapes = [(1, 1), (3, 4), (7, 9), (20, 13), (32, 32), (45, 61)]
    for h, w in shapes:
        for kind in ["random", "blobs", "empty", "full", "first_pixel"]:
            if kind == "random":
                m = (rng.rand(h, w) < 0.5).astype(np.uint8)
            elif kind == "blobs":
                m = np.zeros((h, w), np.uint8)
                for _ in range(3):
                    y0, x0 = rng.randint(0, h), rng.randint(0, w)
                    m[y0:y0 + rng.randint(1, h + 1), x0:x0 + rng.randint(1, w + 1)] = 1
            elif kind == "empty":
                m = np.zeros((h, w), np.uint8)
            elif kind == "full":
                m = np.ones((h, w), np.uint8)
            else:
                m = np.zeros((h, w), np.uint8)
                m[0, 0] = 1
            rle = mask_utils.encode(np.asfortranarray(m))
            bits = bits_of(m)
            out["encode"].append({
                "height": h, "width": w, "mask": "".join(map(str, bits)),
                "counts": runs_of(bits), "string": rle_string(rle),
                "area": int(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            })

    # Large masks exercise long numbers and negative differences in the compressed strings.
    for h, w in [(300, 400), (480, 640)]:
        m = np.zeros((h, w), np.uint8)
        m[10:250, 30:390] = 1
        m[100:120, 50:60] = 0
        m[260:, 395:] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        out["encode"].append({
            "height": h, "width": w, "mask": None, "counts": runs_of(bits_of(m)), "string": rle_string(rle),
            "area": int(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        })

    # Uncompressed counts, including non-canonical ones that toBbox treats specially.
    for h, w, counts in [
        (4, 5, [20]), (4, 5, [20, 0]), (4, 5, [0, 20]), (4, 5, [3, 0, 2, 5, 10]), (4, 5, [5, 4, 11]),
        (4, 5, [2, 3, 15]), (4, 5, [0, 1, 18, 1]), (6, 3, [1, 2, 3, 4, 5, 3]), (4, 5, [6, 0, 0, 3, 11]),
    ]:
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        out["uncompressed"].append({
            "height": h, "width": w, "counts": counts, "string": rle_string(rle),
            "area": int(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        })

    for i in range(60):
        h, w = int(rng.randint(5, 70)), int(rng.randint(5, 70))
        polys = [random_polygon(rng, h, w) for _ in range(int(rng.randint(1, 4)))]
        if i % 10 == 0:
            # Repeated corners (zero-length edges) appear in real annotations.
            p = polys[0]
            polys[0] = p[:2] + p[:2] + p[2:] + p[-2:]
        if i % 10 == 1:
            # Integer and half-pixel corners sit exactly on the rounding boundaries.
            polys = [[float(int(v)) + (0.5 if j % 3 == 0 else 0.0) for j, v in enumerate(p)] for p in polys]
        rles = mask_utils.frPyObjects(polys, h, w)
        merged = mask_utils.merge(rles)
        out["polygons"].append({
            "height": h, "width": w, "polygons": polys,
            "parts": [rle_string(r) for r in rles], "merged": rle_string(merged),
            "area": int(mask_utils.area(merged)), "bbox": [float(v) for v in mask_utils.toBbox(merged)],
        })

    for _ in range(30):
        h, w = int(rng.randint(5, 60)), int(rng.randint(5, 60))
        box = [round(float(rng.uniform(-5, w)), 2), round(float(rng.uniform(-5, h)), 2),
               round(float(rng.uniform(0, w)), 2), round(float(rng.uniform(0, h)), 2)]
        rle = mask_utils.frPyObjects(np.array([box], dtype=np.double), h, w)[0]
        out["boxes"].append({"height": h, "width": w, "box": box, "string": rle_string(rle)})

    def random_rle(h, w):
        m = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.randint(0, 4))):
            y0, x0 = rng.randint(0, h), rng.randint(0, w)
            m[y0:y0 + rng.randint(1, h), x0:x0 + rng.randint(1, w)] = 1
        if rng.rand() < 0.3:
            m ^= (rng.rand(h, w) < 0.1).astype(np.uint8)
        return mask_utils.encode(np.asfortranarray(m))

    for _ in range(25):
        h, w = int(rng.randint(3, 40)), int(rng.randint(3, 40))
        rles = [random_rle(h, w) for _ in range(int(rng.randint(1, 5)))]
        out["merge"].append({
            "height": h, "width": w, "inputs": [rle_string(r) for r in rles],
            "union": rle_string(mask_utils.merge(rles, intersect=0)),
            "intersection": rle_string(mask_utils.merge(rles, intersect=1)),
        })

    for _ in range(15):
        h, w = int(rng.randint(5, 40)), int(rng.randint(5, 40))
        dts = [random_rle(h, w) for _ in range(int(rng.randint(1, 6)))]
        gts = [random_rle(h, w) for _ in range(int(rng.randint(1, 6)))]
        crowd = [int(rng.rand() < 0.3) for _ in gts]
        ious = mask_utils.iou(dts, gts, crowd)
        out["iou"].append({
            "height": h, "width": w, "detections": [rle_string(r) for r in dts],
            "groundTruths": [rle_string(r) for r in gts], "isCrowd": crowd,
            "iou": [[float(v) for v in row] for row in np.asarray(ious)],
        })

    for _ in range(15):
        dts = [[round(float(v), 1) for v in (rng.uniform(0, 50), rng.uniform(0, 50), rng.uniform(0, 30), rng.uniform(0, 30))]
               for _ in range(int(rng.randint(1, 8)))]
        gts = [[round(float(v), 1) for v in (rng.uniform(0, 50), rng.uniform(0, 50), rng.uniform(0, 30), rng.uniform(0, 30))]
               for _ in range(int(rng.randint(1, 8)))]
        gts.append(list(dts[0]))
        crowd = [int(rng.rand() < 0.3) for _ in gts]
        ious = mask_utils.iou(dts, gts, crowd)
        out["box_iou"].append({
            "detections": dts, "groundTruths": gts, "isCrowd": crowd,
            "iou": [[float(v) for v in row] for row in np.asarray(ious)],
        })

    os.makedirs(MASKS_DIR, exist_ok=True)
    with open(os.path.join(MASKS_DIR, "masks.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# COCO evaluation scenarios
# ---------------------------------------------------------------------------------------------

def random_box(rng, w, h, size_class=None):
    size_class = size_class or rng.choice(["small", "medium", "large"])
    side = {"small": (2, 30), "medium": (33, 95), "large": (100, 300)}[size_class]
    bw = float(rng.uniform(*side))
    bh = float(rng.uniform(*side))
    bw, bh = min(bw, w - 1), min(bh, h - 1)
    x = float(rng.uniform(0, max(w - bw, 1)))
    y = float(rng.uniform(0, max(h - bh, 1)))
    return [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]


def jitter(rng, box, amount):
    x, y, w, h = box
    return [round(x + rng.normal(0, amount * w), 2), round(y + rng.normal(0, amount * h), 2),
            round(max(w * (1 + rng.normal(0, amount)), 0.5), 2), round(max(h * (1 + rng.normal(0, amount)), 0.5), 2)]


def score(rng):
    # Two decimals make ties common, which exercises the stable sort.
    return round(float(rng.uniform(0.05, 1.0)), 2)


def bbox_scenario(rng, n_images, cat_ids, edge=False, zero_id=False):
    images, anns, results = [], [], []
    image_ids = sorted(rng.choice(np.arange(1, 10 * n_images), n_images, replace=False).tolist())
    rng.shuffle(image_ids)  # file order differs from sorted order
    ann_id = 0 if zero_id else 1
    gt_cats = cat_ids[:-1]  # the last category has detections but no ground truth
    for index, image_id in enumerate(image_ids):
        w, h = int(rng.randint(200, 640)), int(rng.randint(200, 640))
        images.append({"id": int(image_id), "width": w, "height": h, "file_name": "%d.jpg" % image_id})
        kind = index % 6
        n_gt = 0 if kind == 0 else int(rng.randint(1, 9))
        for _ in range(n_gt):
            size_class = rng.choice(["medium", "large"]) if edge else None
            box = random_box(rng, w, h, size_class)
            crowd = int(rng.rand() < 0.12)
            area = round(box[2] * box[3] * float(rng.uniform(0.45, 1.0)), 2)
            cat = int(rng.choice(gt_cats))
            anns.append({"id": ann_id, "image_id": int(image_id), "category_id": cat, "bbox": box,
                         "area": area, "iscrowd": crowd, "segmentation": [[box[0], box[1], box[0] + box[2], box[1], box[0] + box[2], box[1] + box[3]]]})
            ann_id += 1
            if kind == 1:
                continue  # images whose ground truth has no detections at all
            for _ in range(int(rng.randint(0, 3))):
                det_cat = cat if rng.rand() < 0.85 else int(rng.choice(cat_ids))
                results.append({"image_id": int(image_id), "category_id": det_cat,
                                "bbox": jitter(rng, box, float(rng.choice([0.02, 0.08, 0.2]))), "score": score(rng)})
        if kind != 1:
            for _ in range(int(rng.randint(0, 5))):
                results.append({"image_id": int(image_id), "category_id": int(rng.choice(cat_ids)),
                                "bbox": random_box(rng, w, h), "score": score(rng)})
    if edge:
        # One image with many detections of one category: maxDets truncation at 100.
        image_id = int(image_ids[2])
        cat = int(gt_cats[0])
        for j in range(130):
            results.append({"image_id": image_id, "category_id": cat,
                            "bbox": [float(j), float(j), 40.0, 40.0], "score": round(0.3 + 0.005 * (j % 40), 3)})
        # Overlaps exactly on thresholds, and two identical ground truths (the later one wins ties).
        image_id = int(image_ids[3])
        for box_gt, box_dt in [([10, 10, 100, 100], [10, 10, 100, 50]), ([200, 10, 100, 100], [200, 10, 100, 75]),
                               ([10, 200, 80, 80], [10, 200, 80, 80])]:
            for _ in range(2 if box_gt[0] == 10 and box_gt[1] == 200 else 1):
                anns.append({"id": ann_id, "image_id": image_id, "category_id": int(gt_cats[1]), "bbox": [float(v) for v in box_gt],
                             "area": float(box_gt[2] * box_gt[3]), "iscrowd": 0, "segmentation": []})
                ann_id += 1
            results.append({"image_id": image_id, "category_id": int(gt_cats[1]), "bbox": [float(v) for v in box_dt], "score": 0.5})
            results.append({"image_id": image_id, "category_id": int(gt_cats[1]), "bbox": [float(v) for v in box_dt], "score": 0.5})
        # A crowd region that several detections fall inside.
        image_id = int(image_ids[4])
        anns.append({"id": ann_id, "image_id": image_id, "category_id": int(gt_cats[0]), "bbox": [0.0, 0.0, 150.0, 150.0],
                     "area": 20000.0, "iscrowd": 1, "segmentation": []})
        ann_id += 1
        for j in range(4):
            results.append({"image_id": image_id, "category_id": int(gt_cats[0]),
                            "bbox": [10.0 + 30 * j, 10.0, 40.0, 40.0], "score": 0.6})
    categories = [{"id": int(c), "name": "class%d" % c, "supercategory": "thing"} for c in cat_ids]
    order = rng.permutation(len(results))
    results = [results[i] for i in order]
    return {"images": images, "annotations": anns, "categories": categories}, results


def segm_scenario(rng, n_images, cat_ids):
    images, anns, results = [], [], []
    ann_id = 1
    for index in range(n_images):
        image_id = 100 + 7 * index
        w, h = int(rng.randint(40, 110)), int(rng.randint(40, 110))
        images.append({"id": image_id, "width": w, "height": h, "file_name": "%d.png" % image_id})
        n_gt = 0 if index % 5 == 0 else int(rng.randint(1, 6))
        for k in range(n_gt):
            cat = int(rng.choice(cat_ids[:-1]))
            crowd = int(rng.rand() < 0.15)
            if crowd:
                m = np.zeros((h, w), np.uint8)
                y0, x0 = rng.randint(0, h // 2), rng.randint(0, w // 2)
                m[y0:y0 + rng.randint(5, h // 2 + 5), x0:x0 + rng.randint(5, w // 2 + 5)] = 1
                segm = {"size": [h, w], "counts": runs_of(bits_of(m))}  # COCO writes crowds uncompressed
                rle = mask_utils.frPyObjects(segm, h, w)
            elif k % 4 == 3:
                m = np.zeros((h, w), np.uint8)
                y0, x0 = rng.randint(0, h - 4), rng.randint(0, w - 4)
                m[y0:y0 + rng.randint(3, 30), x0:x0 + rng.randint(3, 30)] = 1
                rle = mask_utils.encode(np.asfortranarray(m))
                segm = {"size": [h, w], "counts": rle_string(rle)}
            else:
                polys = [random_polygon(rng, h, w, spill=0.05) for _ in range(int(rng.randint(1, 3)))]
                segm = polys
                rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
            area = float(mask_utils.area(rle))
            if area == 0:
                continue
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            if rng.rand() < 0.3:
                area = round(area * float(rng.uniform(0.6, 1.4)), 2)  # files' area need not match the mask
            anns.append({"id": ann_id, "image_id": image_id, "category_id": cat, "segmentation": segm,
                         "area": area, "bbox": bbox, "iscrowd": crowd})
            ann_id += 1
            if index % 5 == 1:
                continue
            mask = mask_utils.decode(rle)
            for _ in range(int(rng.randint(0, 3))):
                dy, dx = int(rng.randint(-3, 4)), int(rng.randint(-3, 4))
                moved = np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
                if rng.rand() < 0.5:
                    moved = moved ^ (rng.rand(h, w) < 0.05).astype(np.uint8)
                det_rle = mask_utils.encode(np.asfortranarray(moved.astype(np.uint8)))
                det_cat = cat if rng.rand() < 0.85 else int(rng.choice(cat_ids))
                results.append({"image_id": image_id, "category_id": det_cat,
                                "segmentation": {"size": [h, w], "counts": rle_string(det_rle)}, "score": score(rng)})
        if index % 5 != 1:
            for _ in range(int(rng.randint(0, 3))):
                m = np.zeros((h, w), np.uint8)
                y0, x0 = rng.randint(0, h - 2), rng.randint(0, w - 2)
                m[y0:y0 + rng.randint(2, 40), x0:x0 + rng.randint(2, 40)] = 1
                det_rle = mask_utils.encode(np.asfortranarray(m))
                results.append({"image_id": image_id, "category_id": int(rng.choice(cat_ids)),
                                "segmentation": {"size": [h, w], "counts": rle_string(det_rle)}, "score": score(rng)})
    categories = [{"id": int(c), "name": "class%d" % c} for c in cat_ids]
    return {"images": images, "annotations": anns, "categories": categories}, results


def with_boxes(results, segmentation=True):
    out = []
    for r in results:
        r2 = dict(r)
        r2["bbox"] = [float(v) for v in mask_utils.toBbox(r["segmentation"])]
        # Results in files list bbox before segmentation; keep that order.
        ordered = {"image_id": r2["image_id"], "category_id": r2["category_id"], "bbox": r2["bbox"], "score": r2["score"]}
        if segmentation:
            ordered["segmentation"] = r2["segmentation"]
        out.append(ordered)
    return out


def run_cocoeval(gt_path, results_path, iou_type, params=None):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(results_path)
        ev = COCOeval(gt, dt, iou_type)
        if params:
            ev.params.imgIds = params["imageIds"]
            ev.params.catIds = params["categoryIds"]
            ev.params.maxDets = params["maxDets"]
        ev.evaluate()
        ev.accumulate()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        ev.summarize()
    return ev, buffer.getvalue()


def expected_case(name, gt_file, results_file, iou_type, rng, params=None):
    ev, summary = run_cocoeval(os.path.join(EVAL_DIR, gt_file), os.path.join(EVAL_DIR, results_file), iou_type, params)
    precision = ev.eval["precision"]
    recall = ev.eval["recall"]
    T, R, K, A, M = precision.shape
    samples = []
    for _ in range(300):
        t, r, k, a, m = (int(rng.randint(0, n)) for n in (T, R, K, A, M))
        samples.append([t, r, k, a, m, float(precision[t, r, k, a, m])])
    per_category = {}
    for k, cat in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_category[str(cat)] = float(np.mean(p)) if p.size else -1.0
    return {
        "name": name, "groundTruth": gt_file, "results": results_file, "iouType": iou_type,
        "stats": [float(s) for s in ev.stats], "summary": summary,
        "categoryIds": [int(c) for c in ev.params.catIds],
        "recall": [float(v) for v in recall.flatten(order="C")],
        "precisionSamples": samples,
        "precisionSum": float(precision.sum()),
        "perCategoryAP": per_category,
        "parameters": params,
    }


def write_json(name, value):
    with open(os.path.join(EVAL_DIR, name), "w") as f:
        json.dump(value, f, separators=(",", ":"))


def make_eval_fixtures(rng):
    os.makedirs(EVAL_DIR, exist_ok=True)
    cases = []

    gt, results = bbox_scenario(rng, 60, [1, 3, 7, 12, 40, 90])
    write_json("bbox_basic.gt.json", gt)
    write_json("bbox_basic.results.json", results)
    cases.append(expected_case("bbox_basic", "bbox_basic.gt.json", "bbox_basic.results.json", "bbox", rng))

    gt, results = bbox_scenario(rng, 24, [2, 5, 11, 13], edge=True)
    write_json("bbox_edge.gt.json", gt)
    write_json("bbox_edge.results.json", results)
    cases.append(expected_case("bbox_edge", "bbox_edge.gt.json", "bbox_edge.results.json", "bbox", rng))

    gt, results = bbox_scenario(rng, 12, [4, 8, 15], zero_id=True)
    write_json("bbox_zero_id.gt.json", gt)
    write_json("bbox_zero_id.results.json", results)
    cases.append(expected_case("bbox_zero_id", "bbox_zero_id.gt.json", "bbox_zero_id.results.json", "bbox", rng))

    gt, results = segm_scenario(rng, 40, [1, 2, 6, 9])
    write_json("segm_basic.gt.json", gt)
    write_json("segm_basic.results.json", results)
    write_json("segm_basic.boxed.results.json", with_boxes(results))
    write_json("segm_basic.boxonly.results.json", with_boxes(results, segmentation=False))
    cases.append(expected_case("segm_basic", "segm_basic.gt.json", "segm_basic.results.json", "segm", rng))
    cases.append(expected_case("segm_basic_boxed", "segm_basic.gt.json", "segm_basic.boxed.results.json", "segm", rng))
    cases.append(expected_case("segm_basic_boxonly", "segm_basic.gt.json", "segm_basic.boxonly.results.json", "segm", rng))
    cases.append(expected_case("segm_basic_as_bbox", "segm_basic.gt.json", "segm_basic.results.json", "bbox", rng))
    cases.append(expected_case("segm_basic_boxed_as_bbox", "segm_basic.gt.json", "segm_basic.boxed.results.json", "bbox", rng))

    # Non-default parameters: a subset of images and categories, other detection caps.
    gt = json.load(open(os.path.join(EVAL_DIR, "bbox_basic.gt.json")))
    image_ids = sorted(img["id"] for img in gt["images"])[::2]
    params = {"imageIds": image_ids, "categoryIds": [3, 12, 40, 90], "maxDets": [1, 3, 20]}
    cases.append(expected_case("bbox_basic_subset", "bbox_basic.gt.json", "bbox_basic.results.json", "bbox", rng, params))

    write_json("cases.json", cases)


# ---------------------------------------------------------------------------------------------
# VOC: an independent implementation of the devkit's algorithm (voc_eval) as the reference
# ---------------------------------------------------------------------------------------------

def voc_reference(gts, dets, class_id, iou_threshold, eleven_point, inclusive):
    """gts: [(image, class, x1, y1, x2, y2, difficult)], dets: [(image, class, score, x1, y1, x2, y2)]."""
    one = 1.0 if inclusive else 0.0
    per_image = {}
    positives = 0
    for image, cls, x1, y1, x2, y2, difficult in gts:
        if cls != class_id:
            continue
        per_image.setdefault(image, []).append([x1, y1, x2, y2, difficult, False])
        positives += 0 if difficult else 1
    mine = [d for d in dets if d[1] == class_id]
    mine.sort(key=lambda d: -d[2])  # Python's sort is stable
    tp, fp = [], []
    for image, _, _, x1, y1, x2, y2 in mine:
        best, best_j = -np.inf, -1
        for j, g in enumerate(per_image.get(image, [])):
            iw = max(min(x2, g[2]) - max(x1, g[0]) + one, 0.0)
            ih = max(min(y2, g[3]) - max(y1, g[1]) + one, 0.0)
            inter = iw * ih
            union = (x2 - x1 + one) * (y2 - y1 + one) + (g[2] - g[0] + one) * (g[3] - g[1] + one) - inter
            overlap = inter / union
            if overlap > best:
                best, best_j = overlap, j
        if best > iou_threshold:
            g = per_image[image][best_j]
            if g[4]:
                tp.append(0); fp.append(0)
            elif not g[5]:
                g[5] = True
                tp.append(1); fp.append(0)
            else:
                tp.append(0); fp.append(1)
        else:
            tp.append(0); fp.append(1)
    if positives == 0:
        return None
    tp, fp = np.cumsum(tp, dtype=float), np.cumsum(fp, dtype=float)
    recall = tp / positives
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if eleven_point:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = precision[recall >= t].max() if np.any(recall >= t) else 0.0
            ap += p / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def make_voc_fixtures(rng):
    cases = []
    for case in range(4):
        classes = list(range(5))
        gts, dets = [], []
        for image in range(30):
            for _ in range(int(rng.randint(0, 6))):
                cls = int(rng.choice(classes[:-1]))
                x1, y1 = float(rng.randint(0, 300)), float(rng.randint(0, 300))
                x2, y2 = x1 + float(rng.randint(5, 150)), y1 + float(rng.randint(5, 150))
                difficult = bool(rng.rand() < 0.15)
                gts.append((image, cls, x1, y1, x2, y2, difficult))
                for _ in range(int(rng.randint(0, 3))):
                    j = lambda v: float(v + rng.randint(-12, 13))
                    dets.append((image, cls if rng.rand() < 0.9 else int(rng.choice(classes)), score(rng), j(x1), j(y1), j(x2), j(y2)))
            for _ in range(int(rng.randint(0, 3))):
                x1, y1 = float(rng.randint(0, 300)), float(rng.randint(0, 300))
                dets.append((image, int(rng.choice(classes)), score(rng), x1, y1, x1 + 40.0, y1 + 40.0))
        iou_threshold = [0.5, 0.5, 0.7, 0.5][case]
        inclusive = case != 3
        expected = {}
        for method in ["elevenPoint", "area"]:
            expected[method] = {str(c): voc_reference(gts, dets, c, iou_threshold, method == "elevenPoint", inclusive) for c in classes}
        cases.append({
            "iouThreshold": iou_threshold, "inclusivePixels": inclusive,
            "groundTruths": [list(g) for g in gts], "detections": [list(d) for d in dets], "expected": expected,
        })
    write_json("voc.json", cases)


def main():
    rng = np.random.RandomState(20240605)
    make_masks_fixtures(rng)
    make_eval_fixtures(rng)
    make_voc_fixtures(rng)
    total = 0
    for d in (MASKS_DIR, EVAL_DIR):
        for name in os.listdir(d):
            total += os.path.getsize(os.path.join(d, name))
    print("fixtures written, %.0f kB in all" % (total / 1024), file=sys.stderr)


if __name__ == "__main__":
    main()
