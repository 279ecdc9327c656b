"""Writes Tests/DetectionTests/Fixtures/deform_conv.json: torchvision.ops.deform_conv2d's outputs
and the gradients of all five inputs on small cases, for DeformableConvolutionTests.

Each case draws its tensors in float64 from a seeded generator: offsets of a few pixels (some
samples land outside the map, some exactly on pixel centres), a mask in [0, 1] for the
modulated (v2) cases, a bias where stated. The loss is sum(output * probe) with a random
probe, so each gradient is probe pulled back through the operation. Run from a throwaway
virtual environment with the pinned torch 2.15.0 and torchvision 0.29.2 (see
tools/make_torchvision_cli_fixtures.py); never a dependency of the build:

    python tools/make_deform_conv_fixtures.py Tests/DetectionTests/Fixtures/deform_conv.json
"""
import json
import sys

import torch
import torchvision

CASES = [
    # name, N, C, H, W, O, kh, kw, stride, padding, dilation, groups, offset groups, mask, bias, offset scale
    ("v2_plain", 2, 4, 7, 6, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1, 1, True, False, 2.0),
    ("v1_groups_stride_dilation", 1, 6, 9, 8, 4, 3, 3, (2, 2), (2, 2), (2, 2), 2, 3, False, True, 1.5),
    ("v2_far_offsets_rect_kernel", 1, 3, 5, 6, 2, 2, 3, (1, 2), (0, 1), (1, 1), 1, 1, True, True, 6.0),
    ("v2_offset_groups_2", 2, 8, 6, 6, 6, 3, 3, (1, 1), (1, 1), (1, 1), 2, 2, True, True, 1.0),
]


def case(name, n, c, h, w, o, kh, kw, stride, padding, dilation, groups, offset_groups, use_mask, use_bias, scale):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    rand = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64)
    x = rand(n, c, h, w) * 2 - 1
    offset = (rand(n, 2 * offset_groups * kh * kw, out_h, out_w) * 2 - 1) * scale
    # Some samples exactly on integer positions (a corner weight of exactly 1).
    offset[..., 0, 0] = torch.round(offset[..., 0, 0])
    mask = rand(n, offset_groups * kh * kw, out_h, out_w) if use_mask else None
    weight = rand(o, c // groups, kh, kw) * 2 - 1
    bias = rand(o) * 2 - 1 if use_bias else None
    leaves = [t for t in (x, offset, mask, weight, bias) if t is not None]
    for t in leaves:
        t.requires_grad_(True)
    out = torchvision.ops.deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask)
    probe = rand(*out.shape) * 2 - 1
    (out * probe).sum().backward()
    flat = lambda t: None if t is None else t.detach().reshape(-1).tolist()
    shape = lambda t: None if t is None else list(t.shape)
    return {
        "name": name, "stride": list(stride), "padding": list(padding), "dilation": list(dilation), "groups": groups,
        "input": flat(x), "input_shape": shape(x), "offset": flat(offset), "offset_shape": shape(offset),
        "mask": flat(mask), "mask_shape": shape(mask), "weight": flat(weight), "weight_shape": shape(weight),
        "bias": flat(bias), "probe": flat(probe), "output": flat(out), "output_shape": shape(out),
        "grad_input": flat(x.grad), "grad_offset": flat(offset.grad), "grad_mask": flat(mask.grad if mask is not None else None),
        "grad_weight": flat(weight.grad), "grad_bias": flat(bias.grad if bias is not None else None),
    }


def main():
    path = sys.argv[1]
    cases = [case(*c) for c in CASES]
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
