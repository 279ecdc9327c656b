"""Writes the torchvision parity fixtures for SimpleDet's FCOS.

Same hashed weights, images, targets and fixture layout as tools/make_retinanet_fixtures.py;
the Swift tests are Tests/DetectionTests/FCOSParityTests.swift.

Run with Python torch 2.15.0 and torchvision 0.29.2 installed (never needed by the build):

    python tools/make_fcos_fixtures.py Tests/DetectionTests/Fixtures
"""
import sys

import torch
import torchvision
from torchvision.models.detection import FCOS
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from make_retinanet_fixtures import MAX_SIZE, MIN_SIZE, write_fixtures


def model():
    # fcos_resnet50_fpn(weights_backbone=None) switches to BatchNorm2d with all stages trainable;
    # build its fine-tuning configuration (FrozenBatchNorm2d, three trainable stages) by hand.
    body = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    return FCOS(backbone, num_classes=91, min_size=MIN_SIZE, max_size=MAX_SIZE)


def main(out_dir):
    torch.set_num_threads(2)
    write_fixtures(model(), out_dir, "fcos_resnet50_fpn")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/DetectionTests/Fixtures")
