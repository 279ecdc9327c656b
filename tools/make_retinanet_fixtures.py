"""Writes the torchvision parity fixtures for SimpleDet's RetinaNet.

The weights and images come from the integer hash of tools/make_fasterrcnn_fixtures.py, so the
fixtures store only torchvision's outputs: the state-dict manifest, eval-mode detections, and
training-mode losses for fixed targets. The Swift tests
(Tests/DetectionTests/RetinaNetParityTests.swift) rebuild the weights with the same rule.

Run with Python torch 2.15.0 and torchvision 0.29.2 installed (never needed by the build):

    python tools/make_retinanet_fixtures.py Tests/DetectionTests/Fixtures
"""
import json
import sys
from functools import partial

import torch
import torchvision
from torch import nn
from torchvision.models.detection import RetinaNet
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.retinanet import RetinaNetHead, _default_anchorgen
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from make_fasterrcnn_fixtures import fill_value, hashed_image, simpledet_layout

MIN_SIZE = 160
MAX_SIZE = 256
IMAGE_SHAPES = [(3, 120, 150), (3, 100, 90)]
IMAGE_SEEDS = [1000001, 1000002]

# Targets in original image pixels. Labels index the sigmoid outputs directly (no background
# class), as torchvision's RetinaNet expects. The second set leaves the second image empty.
TARGETS = [
    [
        {"boxes": [[10.0, 20.0, 80.0, 100.0], [50.0, 30.0, 140.0, 110.0]], "labels": [1, 17]},
        {"boxes": [[5.0, 5.0, 60.0, 70.0]], "labels": [90]},
    ],
    [
        {"boxes": [[30.0, 10.0, 120.0, 60.0]], "labels": [0]},
        {"boxes": [], "labels": []},
    ],
]


def v1_model():
    # retinanet_resnet50_fpn(weights_backbone=None) switches to BatchNorm2d with all stages
    # trainable; build its fine-tuning configuration (FrozenBatchNorm2d, three trainable stages)
    # by hand, as the pretrained model has it.
    body = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    return RetinaNet(backbone, num_classes=91, min_size=MIN_SIZE, max_size=MAX_SIZE)


def v2_model():
    # retinanet_resnet50_fpn_v2 as built with ImageNet backbone weights: BatchNorm2d, three
    # trainable stages, P6 from C5, GroupNorm in the head, GIoU box loss.
    body = torchvision.models.resnet50(weights=None)
    backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(2048, 256))
    anchor_generator = _default_anchorgen()
    head = RetinaNetHead(
        backbone.out_channels,
        anchor_generator.num_anchors_per_location()[0],
        91,
        norm_layer=partial(nn.GroupNorm, 32),
    )
    head.regression_head._loss_type = "giou"
    return RetinaNet(
        backbone, num_classes=91, anchor_generator=anchor_generator, head=head, min_size=MIN_SIZE, max_size=MAX_SIZE)


def rounded(values, digits=6):
    return [round(v, digits) for v in values]


def write_fixtures(model, out_dir, name):
    state = model.state_dict()
    keys = sorted(state.keys())
    manifest = [{"key": key, "shape": list(state[key].shape)} for key in keys]
    new_state = {key: fill_value(key, list(state[key].shape), k) for k, key in enumerate(keys)}
    model.load_state_dict(new_state, strict=True)
    simpledet_layout(model)

    images = [hashed_image(*shape, seed) for shape, seed in zip(IMAGE_SHAPES, IMAGE_SEEDS)]
    model.eval()
    with torch.no_grad():
        image_list, _ = model.transform(images)
        features = model.backbone(image_list.tensors)
        detections = model(images)

    losses = []
    model.train()
    for targets in TARGETS:
        tensors = [
            {"boxes": torch.tensor(t["boxes"], dtype=torch.float32).reshape(-1, 4),
             "labels": torch.tensor(t["labels"], dtype=torch.int64)}
            for t in targets
        ]
        with torch.no_grad():
            out = model(images, tensors)
        losses.append({k: float(v) for k, v in out.items()})

    fixture = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "min_size": MIN_SIZE,
        "max_size": MAX_SIZE,
        "image_shapes": [list(s) for s in IMAGE_SHAPES],
        "image_seeds": IMAGE_SEEDS,
        "batch_shape": list(image_list.tensors.shape),
        "image_sizes": [list(s) for s in image_list.image_sizes],
        "feature_sums": {name: float(f.double().sum()) for name, f in features.items()},
        "detections": [
            {
                "boxes": [rounded(b) for b in d["boxes"].tolist()],
                "scores": rounded(d["scores"].tolist(), 8),
                "labels": d["labels"].tolist(),
            }
            for d in detections
        ],
        "targets": TARGETS,
        "losses": losses,
    }
    with open(f"{out_dir}/{name}_parity.json", "w") as f:
        json.dump(fixture, f)
    with open(f"{out_dir}/{name}_state_dict.json", "w") as f:
        json.dump(manifest, f, indent=0)


def main(out_dir):
    torch.set_num_threads(2)
    write_fixtures(v1_model(), out_dir, "retinanet_resnet50_fpn")
    write_fixtures(v2_model(), out_dir, "retinanet_resnet50_fpn_v2")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/DetectionTests/Fixtures")
