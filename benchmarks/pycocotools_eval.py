#!/usr/bin/env python3
"""pycocotools' side of benchmarks/eval_coco.sh: load, evaluate, accumulate, summarize, and
print the stats as JSON on the last line (for the equality check)."""

import contextlib
import io
import json
import sys

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

gt_path, results_path, iou_type = sys.argv[1], sys.argv[2], sys.argv[3]
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_path)
    dt = gt.loadRes(results_path)
    evaluator = COCOeval(gt, dt, iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
evaluator.summarize()
names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
print(json.dumps(dict(zip(names, [float(s) for s in evaluator.stats]))))
