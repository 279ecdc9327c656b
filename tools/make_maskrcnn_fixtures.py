"""Writes the torchvision parity fixtures for SimpleDet's Mask R-CNN.

Weights and inputs come from the same integer hash as tools/make_fasterrcnn_fixtures.py, so only
torchvision's outputs are stored: the state-dict manifests, eval-mode detections with each
pasted mask's sum, and small cases of the mask operations (targets, loss, pasting).

Run with Python torch 2.15.0 and torchvision 0.29.2 installed (never needed by the build):

    python tools/make_maskrcnn_fixtures.py Tests/DetectionTests/Fixtures
"""
import json
import sys

import torch
import torchvision
from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn_v2
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.roi_heads import maskrcnn_loss, paste_masks_in_image, project_masks_on_boxes

from make_fasterrcnn_fixtures import fill_value, hashed_image, hashed_uniform, simpledet_layout


def v1_model():
    # The fine-tuning configuration (FrozenBatchNorm2d, three trainable stages), as for Faster R-CNN.
    body = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3)
    return MaskRCNN(backbone, num_classes=91, min_size=160, max_size=256, box_score_thresh=0.0)


def v2_model():
    return maskrcnn_resnet50_fpn_v2(
        weights=None, weights_backbone=None, num_classes=91, min_size=160, max_size=256, box_score_thresh=0.0)


def write_model_fixtures(model, out_dir, name):
    state = model.state_dict()
    keys = sorted(state.keys())
    manifest = [{"key": key, "shape": list(state[key].shape)} for key in keys]
    model.load_state_dict({key: fill_value(key, list(state[key].shape), k) for k, key in enumerate(keys)}, strict=True)
    simpledet_layout(model)
    model.eval()
    images = [hashed_image(3, 120, 150, 1000001), hashed_image(3, 100, 90, 1000002)]
    with torch.no_grad():
        detections = model(images)
    fixture = {
        "torchvision": torchvision.__version__,
        "min_size": 160,
        "max_size": 256,
        "image_shapes": [list(im.shape) for im in images],
        "image_seeds": [1000001, 1000002],
        "detections": [
            {
                "boxes": d["boxes"].tolist(),
                "scores": d["scores"].tolist(),
                "labels": d["labels"].tolist(),
                "mask_shape": list(d["masks"].shape),
                "mask_sums": d["masks"].double().sum(dim=(1, 2, 3)).tolist(),
            }
            for d in detections
        ],
    }
    with open(f"{out_dir}/{name}_parity.json", "w") as f:
        json.dump(fixture, f)
    with open(f"{out_dir}/{name}_state_dict.json", "w") as f:
        json.dump(manifest, f, indent=0)


def write_training_fixture(out_dir):
    """Training-mode losses of v1 with samplers that take every candidate, so that no random
    choice is involved and both sides see the same RoIs."""
    body = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    model = MaskRCNN(
        _resnet_fpn_extractor(body, 3), num_classes=91, min_size=160, max_size=256,
        rpn_batch_size_per_image=100000, rpn_positive_fraction=1.0,
        box_batch_size_per_image=100000, box_positive_fraction=1.0)
    state = model.state_dict()
    keys = sorted(state.keys())
    model.load_state_dict({key: fill_value(key, list(state[key].shape), k) for k, key in enumerate(keys)}, strict=True)
    simpledet_layout(model)
    model.train()
    images = [hashed_image(3, 120, 150, 1000001), hashed_image(3, 100, 90, 1000002)]
    boxes = [
        torch.tensor([[10.0, 12.0, 70.0, 90.0], [60.0, 20.0, 140.0, 60.0], [5.0, 70.0, 40.0, 115.0]]),
        torch.tensor([[20.0, 10.0, 80.0, 70.0], [0.0, 50.0, 30.0, 99.0]]),
    ]
    labels = [torch.tensor([1, 17, 62]), torch.tensor([3, 1])]
    masks = []
    for i, (image, b) in enumerate(zip(images, boxes)):
        h, w = image.shape[1:]
        m = (hashed_uniform(len(b) * h * w, 20 + i) > -0.3).to(torch.uint8).reshape(len(b), h, w)
        inside = torch.zeros_like(m)
        for j, (x1, y1, x2, y2) in enumerate(b.long().tolist()):
            inside[j, y1:y2, x1:x2] = 1
        masks.append(m * inside)
    targets = [{"boxes": b, "labels": l, "masks": m} for b, l, m in zip(boxes, labels, masks)]
    losses = model(images, targets)
    fixture = {
        "boxes": [b.tolist() for b in boxes],
        "labels": [l.tolist() for l in labels],
        "mask_seeds": [20, 21],
        "mask_threshold": -0.3,
        "losses": {k: float(v.detach()) for k, v in losses.items()},
    }
    with open(f"{out_dir}/maskrcnn_resnet50_fpn_training.json", "w") as f:
        json.dump(fixture, f)


def write_operation_fixtures(out_dir):
    # Ground-truth masks of a 30x40 image, RoIs matched to them, 8x8 targets.
    gt_masks = (hashed_uniform(2 * 30 * 40, 7) > 0.2).to(torch.uint8).reshape(2, 30, 40)
    boxes = torch.tensor([[2.0, 3.0, 20.5, 25.0], [10.0, 0.0, 39.0, 29.0], [0.5, 5.5, 12.0, 9.0]])
    matched = torch.tensor([0, 1, 1])
    targets = project_masks_on_boxes(gt_masks, boxes, matched, 8)
    # The loss of hashed logits for 4 classes against those targets.
    logits = (hashed_uniform(3 * 4 * 8 * 8, 8) * 3.0).to(torch.float32).reshape(3, 4, 8, 8)
    # Labels of the ground-truth objects; each RoI takes its matched object's label.
    gt_labels = torch.tensor([1, 3])
    loss = maskrcnn_loss(logits, [boxes], [gt_masks], [gt_labels], [matched])
    # Pasting 6x6 probabilities into a 30x40 image, boxes partly outside it.
    probabilities = ((hashed_uniform(3 * 36, 9) + 1.0) * 0.5).to(torch.float32).reshape(3, 1, 6, 6)
    paste_boxes = torch.tensor([[3.2, 4.7, 17.9, 21.1], [25.0, -3.0, 45.5, 12.0], [0.0, 0.0, 1.0, 1.0]])
    pasted = paste_masks_in_image(probabilities, paste_boxes, (30, 40))
    fixture = {
        "gt_seed": 7, "gt_threshold": 0.2, "boxes": boxes.tolist(), "matched": matched.tolist(),
        "targets": targets.tolist(),
        "logits_seed": 8, "gt_labels": gt_labels.tolist(), "loss": float(loss),
        "probabilities_seed": 9, "paste_boxes": paste_boxes.tolist(), "pasted": pasted[:, 0].tolist(),
    }
    with open(f"{out_dir}/mask_operations.json", "w") as f:
        json.dump(fixture, f)


def main(out_dir):
    torch.set_num_threads(2)
    write_operation_fixtures(out_dir)
    write_training_fixture(out_dir)
    write_model_fixtures(v1_model(), out_dir, "maskrcnn_resnet50_fpn")
    write_model_fixtures(v2_model(), out_dir, "maskrcnn_resnet50_fpn_v2")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/DetectionTests/Fixtures")
