"""Writes the torchvision parity fixtures for SimpleDet's Faster R-CNN.

Both sides build the same weights and inputs from an integer hash, computed with exact int64
arithmetic and one float rounding, so the fixtures need no weight files: only torchvision's
outputs are stored. The Swift tests (Tests/DetectionTests/FasterRCNNParityTests.swift) rebuild
the weights with the same rule and compare.

Run with Python torch 2.15.0 and torchvision 0.29.2 installed (never needed by the build):

    python tools/make_fasterrcnn_fixtures.py Tests/DetectionTests/Fixtures
"""
import json
import math
import sys
from functools import partial

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torchvision.models.detection import FasterRCNN, fasterrcnn_resnet50_fpn_v2
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor


def hashed_uniform(n, k):
    """n values in [-1, 1) from an integer hash of (element index, tensor index k)."""
    i = torch.arange(n, dtype=torch.int64)
    h = (i * 2654435761 + k * 40503 + 12345) % 4294967296
    return h.to(torch.float64) / 4294967296.0 * 2.0 - 1.0


def fill_value(key, shape, k):
    if key.endswith("num_batches_tracked"):
        return torch.zeros((), dtype=torch.int64)
    n = math.prod(shape)
    u = hashed_uniform(n, k)
    if key.endswith("running_var"):
        v = 0.75 + 0.25 * u
    elif key.endswith("running_mean"):
        v = 0.1 * u
    elif len(shape) == 1 and key.endswith("weight"):
        v = 1.0 + 0.1 * u
    elif key.endswith("bias"):
        v = 0.05 * u
    else:
        fan_in = shape[1] * math.prod(shape[2:])
        v = u * math.sqrt(6.0 / fan_in)
    return v.to(torch.float32).reshape(shape)


def hashed_image(channels, height, width, k):
    return ((hashed_uniform(channels * height * width, k) + 1.0) * 0.5).to(torch.float32).reshape(channels, height, width)


class FoldedConvNorm(nn.Module):
    """A convolution followed by FrozenBatchNorm2d, computed as one convolution with per-channel
    scaled weights and the shift as bias, in the same float operations as SimpleDet's ResNet."""

    def __init__(self, conv, norm):
        super().__init__()
        self.conv, self.norm = conv, norm

    def forward(self, x):
        scale = self.norm.weight * (self.norm.running_var + self.norm.eps).rsqrt()
        shift = self.norm.bias - self.norm.running_mean * scale
        weight = self.conv.weight * scale.reshape(-1, 1, 1, 1)
        bias = shift if self.conv.bias is None else self.conv.bias * scale + shift
        c = self.conv
        return F.conv2d(x, weight, bias, c.stride, c.padding, c.dilation, c.groups)


def onednn_linear(layer, x):
    """SimpleDet's float32 Linear: oneDNN's matmul (aten::mkldnn_linear) instead of MKL's sgemm."""
    if x.dim() == 2 and x.dtype == torch.float32 and x.shape[0] > 0:
        return torch._C._nn.mkldnn_linear(x.contiguous().to_mkldnn(), layer.weight, layer.bias).to_dense()
    return F.linear(x, layer.weight, layer.bias)


def simpledet_layout(model):
    """Runs the model as SimpleDet does: the ResNet body and the mask head on channels-last
    input, FrozenBatchNorm2d folded into the preceding convolution, and fully connected layers
    through oneDNN. These only change float rounding, but with hashed weights many scores are within
    rounding of each other, so the fixtures must come from the same arithmetic for the
    comparisons to be exact. Call after loading the weights (the module tree changes)."""
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            layer.forward = partial(onednn_linear, layer)
    body = model.backbone.body
    for module in list(body.modules()):
        for k in ("1", "2", "3"):
            conv, norm = getattr(module, "conv" + k, None), getattr(module, "bn" + k, None)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, torchvision.ops.misc.FrozenBatchNorm2d):
                setattr(module, "conv" + k, FoldedConvNorm(conv, norm))
                setattr(module, "bn" + k, nn.Identity())
        shortcut = getattr(module, "downsample", None)
        if isinstance(shortcut, nn.Sequential) and isinstance(shortcut[1], torchvision.ops.misc.FrozenBatchNorm2d):
            shortcut[0], shortcut[1] = FoldedConvNorm(shortcut[0], shortcut[1]), nn.Identity()
    forward = body.forward
    body.forward = lambda x: forward(x.contiguous(memory_format=torch.channels_last))
    mask_head = getattr(getattr(model, "roi_heads", None), "mask_head", None)
    if mask_head is not None:
        mask_forward = mask_head.forward
        mask_head.forward = lambda x: mask_forward(x.contiguous(memory_format=torch.channels_last))
    return model


def v1_model():
    # fasterrcnn_resnet50_fpn(weights_backbone=None) silently switches to BatchNorm2d with all
    # stages trainable; build its fine-tuning configuration (FrozenBatchNorm2d, three trainable
    # stages) by hand, as the pretrained model has it.
    body = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.misc.FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3)
    return FasterRCNN(backbone, num_classes=91, min_size=160, max_size=256, box_score_thresh=0.0)


def v2_model():
    return fasterrcnn_resnet50_fpn_v2(
        weights=None, weights_backbone=None, num_classes=91, min_size=160, max_size=256, box_score_thresh=0.0)


def main(out_dir):
    torch.set_num_threads(2)
    write_fixtures(v1_model(), out_dir, "fasterrcnn_resnet50_fpn")
    write_fixtures(v2_model(), out_dir, "fasterrcnn_resnet50_fpn_v2")


def write_fixtures(model, out_dir, name):
    state = model.state_dict()
    keys = sorted(state.keys())
    manifest = [{"key": key, "shape": list(state[key].shape)} for key in keys]
    new_state = {key: fill_value(key, list(state[key].shape), k) for k, key in enumerate(keys)}
    model.load_state_dict(new_state, strict=True)
    simpledet_layout(model)
    model.eval()

    images = [hashed_image(3, 120, 150, 1000001), hashed_image(3, 100, 90, 1000002)]
    with torch.no_grad():
        image_list, _ = model.transform(images)
        features = model.backbone(image_list.tensors)
        proposals, _ = model.rpn(image_list, features)
        detections = model(images)

    fixture = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "min_size": 160,
        "max_size": 256,
        "image_shapes": [list(im.shape) for im in images],
        "image_seeds": [1000001, 1000002],
        "batch_shape": list(image_list.tensors.shape),
        "image_sizes": [list(s) for s in image_list.image_sizes],
        "feature_sums": {name: float(f.double().sum()) for name, f in features.items()},
        "proposals": [p.tolist() for p in proposals],
        "detections": [
            {"boxes": d["boxes"].tolist(), "scores": d["scores"].tolist(), "labels": d["labels"].tolist()}
            for d in detections
        ],
    }
    with open(f"{out_dir}/{name}_parity.json", "w") as f:
        json.dump(fixture, f)
    with open(f"{out_dir}/{name}_state_dict.json", "w") as f:
        json.dump(manifest, f, indent=0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/DetectionTests/Fixtures")
