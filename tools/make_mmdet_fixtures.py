"""Writes the fixtures for `simpledet weights import --from mmdet` and the command-line equality
test with mmdetection (Tests/CLITests/MMDetPresetTests.swift, Tests/NNTests/MMDetectionNamesTests.swift).

For each of mmdetection 3.3.0's `faster-rcnn_r50_fpn_1x_coco`, `mask-rcnn_r50_fpn_1x_coco`,
`retinanet_r50_fpn_1x_coco`, `cascade-rcnn_r50_fpn_1x_coco`, `cascade-mask-rcnn_r50_fpn_1x_coco`,
`faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco` (DCN v1 in C3-C5),
`faster-rcnn_r50-mdconv-c3-c5_fpn_1x_coco` (DCNv2 in C3-C5),
`retinanet_r50_nasfpn_crop640-50e_coco` (NAS-FPN, 7 stacks with BN; RetinaSepBNHead),
`tridentnet_r50-caffe_1x_coco` (caffe-style ResNet-50-C4 with TridentResNet's C4 stage),
`yolov3_d53_8xb8-320-273e_coco` (the full Darknet-53, YOLOV3Neck and YOLOV3Head; RGB input over
255, mean 0; its prediction `convs_pred` given a unit spread, see `build`) and
`retinanet_effb3_fpn_8xb4-crop896-1x_coco` (mmpretrain's EfficientNet-B3 with SAME padding and
batch norm ε 1e-3, its SyncBN run as BN; FPN with BN after the output and extra convolutions;
RetinaSepBNHead)
(its own bundled configs, `mmdet/.mim/configs/...`), the model is
built with random initialisation (`init_weights()` without the ImageNet checkpoint), given weights
that the Swift test rebuilds without a weight file, and batch-norm statistics calibrated on the
test image; then mmdetection's own `inference_detector` (cv2 decode, mmcv `Resize`, its data
preprocessor) runs on Tests/CLITests/Fixtures/torchvision/scene.png with every score threshold 0.
Stored per model, under mmdetection's tensor names:

- `<name>.weights.json`: for each state-dict tensor (sorted by mmdetection's name, index k; the
  `num_batches_tracked` counters left out), its shape and the mean and standard deviation of
  mmdetection's own initialisation (constants given a spread, and Mask R-CNN's mask logits' bias
  a mean of 10, see `build`); the tensor is `mean + std * sqrt(3) * (2u - 1)` with
  `u = torch.rand(shape, generator=Generator(seed=k), dtype=float64)`, rounded to float32 (the
  rule of tools/make_torchvision_cli_fixtures.py). A tensor the state dict holds under several
  names (RetinaSepBNHead's tower convolutions, shared by the five levels and listed once per
  level, `bbox_head.cls_convs.L.j.conv.weight`) is listed under each name with the rule (and seed)
  of its first, level 0, so every copy is equal, as in the model. TridentNet's TridentConv weights,
  which mmdetection leaves uninitialised (`torch.Tensor(...)`), are first given the Kaiming
  uniform initialisation their `init_cfg` names (see `initialise_trident_convs`).
- `<name>.bn.safetensors`: each batch norm's running mean and variance, set from its own input on
  the image (mmdetection's BN layers are `BatchNorm2d` in eval mode, `norm_eval=True`).
- `<name>.detections.json`: mmdetection's top 50 detections in original-image pixels: box,
  label (mmdetection's, 0..79), score, and for (Cascade) Mask R-CNN the mask as COCO RLE; for RetinaNet
  also (`large_boxes`) the top 50 of those larger than 150 x 150 pixels among 3000 detections
  per image, which come from P6 and P7; for Cascade R-CNN also (`soft_nms`) all 100 detections of
  the same model with its rcnn test_cfg's `nms` replaced by each of `SOFT_NMS` (soft-NMS with
  linear decay at IoU 0.3 and with Gaussian decay, sigma 0.5, both with `min_score=0.05`), each
  with the `nms` dict it ran with and how many of them standard NMS's top 100 also has
  (`in_standard_nms`, the bar a test that ran standard NMS by mistake would reach); for the DCN
  models also (`conv_offset`) the spread of the offsets each deformable convolution predicted
  (mmdetection zero-initialises `conv_offset`; here it is given a spread, see OFFSET_BIAS_STD);
  for NAS-FPN RetinaNet also `large_boxes` as for RetinaNet (these come from P6 and P7, so they
  test those levels' own head norms); for TridentNet the top 50 are TridentNet-Fast's (the
  config's test_branch_idx 1: branch 1 alone, dilation 2), and `all_branches` holds the top 50 of
  the same model with test_branch_idx -1 on the detector, the backbone, each TridentBottleneck and
  TridentConv, and the TridentRoIHead: the three branches (dilations 1, 2, 3) run as a batch of
  three, each through RPN and the R-CNN head with its own NMS and 100 detections, and the head
  merges them (class-wise NMS at the rcnn test_cfg's IoU 0.5 over the concatenation, branch 0
  first, then the best 100); `in_branch_1` counts how many of them are also in branch 1's top 50.

With the name `yolov3-loss`: mmdetection's YOLOV3Head losses on fixed prediction maps and
ground truths (see `yolov3_losses`), for Tests/DetectionTests/YOLOV3LossTests.swift.

With the name `tiny`: genuine `.pth` files of width-reduced mmdetection models (ResNet-18 with
4 base channels, 8-channel FPN, 3 classes): `tiny-mask-rcnn.mmengine.pth` saved through
mmengine's `save_checkpoint` with a `meta` dict beside `state_dict`, as a training run leaves
it; `tiny-retinanet.published.pth` the same wrapper in PyTorch's legacy format, as mmdetection's
`publish_model.py` writes its model zoo; `tiny-retinanet.state_dict.pth` a bare
`torch.save(state_dict)`. `tiny.json` lists their tensors' names, shapes and sums.

mmcv-lite has no compiled ops: this script registers a stand-in `mmcv._ext` whose RoIAlign and
NMS are torchvision.ops (NMS on boxes pre-sorted with a stable sort, as mmcv's CPU kernel
orders ties) and whose soft-NMS (`softnms`) is a port to NumPy of mmcv's CPU kernel
(`softnms_cpu` in mmcv/ops/csrc/pytorch/cpu/nms.cpp, mmcv 2.x: float32 throughout, the box of
highest score first found with a strict `<`, swapped into place, the rest decayed by
`1 - IoU` once IoU >= the threshold (linear) or by `exp(-IoU^2 / sigma)` (Gaussian), a box
decayed below `min_score` swapped with the last and dropped), whose deformable convolutions
(`deform_conv_forward` for DCN's DeformConv2dPack, `modulated_deform_conv_forward` for DCNv2's
ModulatedDeformConv2dPack; forward only) are torchvision.ops.deform_conv2d with mmcv's offset and
mask passed unchanged, and relaxes mmdetection's
`mmcv<2.2.0` import check by reporting mmcv as 2.1.0, all in this process only. Run from a throwaway virtual environment beside the pinned torch
2.15.0 / torchvision 0.29.2 (see tools/make_torchvision_cli_fixtures.py) with mmengine==0.10.7,
mmcv-lite==2.2.0, mmdet==3.3.0 (never a dependency of the build):

    python tools/make_mmdet_fixtures.py Tests/CLITests/Fixtures/mmdet [name,...]

The reference detections use mmdetection's pipeline with one step replaced: mmcv's cv2 uint8
resize becomes SimpleDet's float normalise-then-resize to the same size (`float_resize`; the
preprocessor's own normalisation is switched off, as it is done there). For a BGR model
(TridentNet's caffe-style backbone: bgr_to_rgb False, mean [103.53, 116.28, 123.675] in BGR
order, std 1) the pixels stay in cv2's BGR order, the same values as SimpleDet's RGB 0-1 image
flipped to BGR, and are normalised by the config's mean / 255 and std / 255 (float64, then
float32); for the RGB models mean and std are MEAN and STD, which equal the configs' over 255.
`check_float_resize` (printed per model) compares the batch this gives with mmdetection's own
preprocessor normalisation (and swap) after the same float32 resize of the raw pixels: they agree
to float rounding (4.6e-5 in pixel units for TridentNet's std 1, 4.8e-7 for NAS-FPN RetinaNet);
a wrong channel order would differ by tens. These randomly initialised models
are far more sensitive to the input than trained ones: the cv2 resize (pixels within 0.79 grey
levels of the float resize, 0.26 on average) reorders their detections completely, while the
float resize lets the rest of the pipeline be compared to float rounding. How many detections
survive mmcv's own resize is printed and stored as `cv2_resize_matches`.

The offset layouts are the same: mmcv's and torchvision's kernels both read, for offset group g
and kernel tap t = i * kw + j (row-major over the kernel), dy from channel g * 2K + 2t and dx from
channel g * 2K + 2t + 1 (K = kh * kw: interleaved (dy, dx) per tap, mmcv's docstring's
`[y0, x0, y1, x1, ...]`), and the mask from channel g * K + t; both sample at
(h_out * stride - pad + i * dilation + dy, ...) bilinearly, zero outside (-1, H) x (-1, W) and
for out-of-range corners. DCNv2's conv_offset predicts 3K channels per offset group, which
ModulatedDeformConv2dPack splits as `o1, o2, mask = chunk(out, 3)`, `offset = cat(o1, o2)`,
`mask = sigmoid(mask)`: the offsets are the first 2K channels (G * 2K with G offset groups) and
the mask logits the rest, as SimpleDet's DeformableConv2d splits them. Evidence: mmcv itself maps
DeformConv2dPack and ModulatedDeformConv2dPack to torchvision's deform_conv2d with the offset and
mask unchanged on MLU devices (`DeformConv2dPack_MLU`, `ModulatedDeformConv2dPack_MLU` in
mmcv/ops/deform_conv.py and modulated_deform_conv.py); and `check_deform_conv_layout` (run first,
its largest difference printed) checks the stand-in through mmcv's own autograd functions and
ModulatedDeformConv2dPack against a NumPy port of mmcv's CPU kernel
(`mmcv_deform_conv_reference`) in float64, on cases where a swapped (dx, dy), a coordinate-major
layout, swapped kernel sides or mixed-up offset groups would show (they agree to 4e-16; with
(dy, dx) swapped in the port they differ by 10).
"""
import contextlib
import json
import math
import os
import sys
import types
import warnings

import numpy as np
import torch
import torchvision

# --- mmcv stand-ins (this process only) -----------------------------------------------------

def _install_mmcv_ext():
    import importlib.machinery
    ext = types.ModuleType("mmcv._ext")
    ext.__spec__ = importlib.machinery.ModuleSpec("mmcv._ext", None)

    def roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width,
                          spatial_scale, sampling_ratio, pool_mode, aligned):
        assert pool_mode == 1, "only average RoIAlign is mapped"
        output.copy_(torchvision.ops.roi_align(
            input, rois, (aligned_height, aligned_width), spatial_scale, sampling_ratio, aligned))

    def nms(boxes, scores, iou_threshold, offset):
        assert offset == 0
        if boxes.numel() == 0:
            return torch.zeros(0, dtype=torch.long)
        order = torch.sort(scores, stable=True, descending=True)[1]
        ranks = -torch.arange(len(order), dtype=torch.float32)
        keep = torchvision.ops.nms(boxes[order].float(), ranks, float(iou_threshold))
        return order[keep]

    def softnms(boxes, scores, dets, iou_threshold, sigma, min_score, method, offset):
        """A port of mmcv's `softnms_cpu` (mmcv/ops/csrc/pytorch/cpu/nms.cpp), in the same float32
        arithmetic and the same order of swaps, so that ties and the kept order are mmcv's. The inner
        loop is vectorised: every remaining box's decay depends only on it and the box just kept, so
        all are decayed at once, and then the boxes below `min_score` are dropped in the kernel's
        order (each drop moves the last box into its place, where the kernel checks it next).
        Writes the kept boxes and decayed scores into the rows of `dets` and returns their indices."""
        if boxes.numel() == 0:
            return torch.zeros(0, dtype=torch.long)
        assert boxes.dtype == torch.float32 and scores.dtype == torch.float32 and method in (0, 1, 2)
        b = boxes.detach().cpu().numpy()
        x1, y1, x2, y2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
        sc = scores.detach().cpu().numpy().copy()
        off = np.float32(offset)
        areas = (x2 - x1 + off) * (y2 - y1 + off)
        inds = np.arange(len(sc), dtype=np.int64)
        columns = [x1, y1, x2, y2, sc, areas, inds]
        de = dets.numpy()  # dets is a CPU float tensor: the rows written here are the caller's
        threshold, s, floor = np.float32(iou_threshold), np.float32(sigma), np.float32(min_score)
        n = len(sc)
        i = 0
        while i < n:
            # The first of equal maxima, as the kernel's `max_score < sc[pos]` finds it (which
            # never moves to a NaN, nor away from one at i).
            best = i if np.isnan(sc[i]) else i + int(np.argmax(np.where(np.isnan(sc[i:n]), -np.inf, sc[i:n])))
            for c in columns:
                c[i], c[best] = c[best], c[i]
            de[i] = [x1[i], y1[i], x2[i], y2[i], sc[i]]
            rest = slice(i + 1, n)
            w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + off)
            h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + off)
            inter = w * h
            ovr = inter / (areas[i] + areas[rest] - inter)
            if method == 0:
                weight = np.where(ovr >= threshold, np.float32(0), np.float32(1))
            elif method == 1:
                weight = np.where(ovr >= threshold, np.float32(1) - ovr, np.float32(1))
            else:
                weight = np.exp(-(ovr * ovr) / s)
            sc[rest] *= weight.astype(np.float32)
            pos = i + 1
            while pos < n:
                below = np.flatnonzero(sc[pos:n] < floor)
                if below.size == 0:
                    break
                pos += int(below[0])
                for c in columns:
                    c[pos] = c[n - 1]
                n -= 1
            i += 1
        return torch.from_numpy(inds[:n].copy())

    def deform_conv_forward(input, weight, offset, output, columns, ones, kW, kH, dW, dH, padW, padH,
                            dilationW, dilationH, group, deformable_group, im2col_step):
        """mmcv's DCN (DeformConv2dFunction.forward) as torchvision's deform_conv2d: the offset
        is passed as it is (see the module docstring and `check_deform_conv_layout`)."""
        assert weight.shape[2:] == (kH, kW) and input.shape[1] == group * weight.shape[1]
        assert offset.shape[1] == deformable_group * 2 * kH * kW
        output.copy_(torchvision.ops.deform_conv2d(
            input, offset, weight, None, stride=(dH, dW), padding=(padH, padW), dilation=(dilationH, dilationW)))

    def modulated_deform_conv_forward(input, weight, bias, ones, offset, mask, output, columns, kernel_h, kernel_w,
                                      stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, group,
                                      deformable_group, with_bias):
        """mmcv's DCNv2 (ModulatedDeformConv2dFunction.forward) as torchvision's deform_conv2d
        with its mask: offset and mask passed as they are."""
        assert weight.shape[2:] == (kernel_h, kernel_w) and input.shape[1] == group * weight.shape[1]
        assert offset.shape[1] == deformable_group * 2 * kernel_h * kernel_w
        assert mask.shape[1] == deformable_group * kernel_h * kernel_w
        output.copy_(torchvision.ops.deform_conv2d(
            input, offset, weight, bias if with_bias else None, stride=(stride_h, stride_w), padding=(pad_h, pad_w),
            dilation=(dilation_h, dilation_w), mask=mask))

    ext.roi_align_forward = roi_align_forward
    ext.nms = nms
    ext.softnms = softnms
    ext.deform_conv_forward = deform_conv_forward
    ext.modulated_deform_conv_forward = modulated_deform_conv_forward

    def missing(name):
        if name.startswith("__"):
            raise AttributeError(name)

        def fail(*args, **kwargs):
            raise NotImplementedError(f"mmcv._ext.{name} is not mapped in this fixture script")
        return fail

    ext.__getattr__ = missing
    sys.modules["mmcv._ext"] = ext


_install_mmcv_ext()
import mmcv  # noqa: E402
_mmcv_version = mmcv.__version__
mmcv.__version__ = "2.1.0"  # mmdetection 3.3 asserts mmcv < 2.2.0; mmcv-lite 2.2.0 works for these models
import mmdet  # noqa: E402
from mmdet.apis import inference_detector, init_detector  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner.checkpoint import save_checkpoint  # noqa: E402
from pycocotools import mask as mask_util  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks", "compare_torchvision"))
from torchvision_side import write_safetensors  # noqa: E402  (the harness's minimal writer)

register_all_modules()
import logging  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
MMLogger.get_current_instance().setLevel(logging.WARNING)
CONFIGS = os.path.join(os.path.dirname(mmdet.__file__), ".mim", "configs")
MODELS = {
    "faster-rcnn_r50_fpn_1x_coco": "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
    "mask-rcnn_r50_fpn_1x_coco": "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py",
    "retinanet_r50_fpn_1x_coco": "retinanet/retinanet_r50_fpn_1x_coco.py",
    "cascade-rcnn_r50_fpn_1x_coco": "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py",
    "cascade-mask-rcnn_r50_fpn_1x_coco": "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py",
    "faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco": "dcn/faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py",
    "faster-rcnn_r50-mdconv-c3-c5_fpn_1x_coco": "dcnv2/faster-rcnn_r50-mdconv-c3-c5_fpn_1x_coco.py",
    "retinanet_r50_nasfpn_crop640-50e_coco": "nas_fpn/retinanet_r50_nasfpn_crop640-50e_coco.py",
    "tridentnet_r50-caffe_1x_coco": "tridentnet/tridentnet_r50-caffe_1x_coco.py",
    "yolov3_d53_8xb8-320-273e_coco": "yolo/yolov3_d53_8xb8-320-273e_coco.py",
    "retinanet_effb3_fpn_8xb4-crop896-1x_coco": "efficientnet/retinanet_effb3_fpn_8xb4-crop896-1x_coco.py",
}
# mmdetection zero-initialises every deformable convolution's offset predictor (`conv_offset`),
# which would make the DCN models ordinary (DCNv2: every mask 0.5) and leave the offsets untested.
# Their biases get std OFFSET_BIAS_STD (a fixed shift per tap and coordinate, which tells the
# layout apart) and their weights std OFFSET_WEIGHT_GAIN / sqrt(fan_in) (offsets that vary with the
# image, which tell the positions apart): predicted offsets of 0.6 to 0.8 pixels' spread on the
# test image, about 0.2 of it varying with position (printed, and stored in the fixture as
# `conv_offset`). With offsets mostly from the weights (gain 1, bias std 0.25: 0.7 pixels varying
# with position) the random network was chaotic: rounding alone (PyTorch's channels-last
# convolutions instead of NCHW) changed DCN's C5 by 7% of its largest value, and SimpleDet found 4
# (DCN) and 1 (DCNv2) of mmdetection's top 50. At these settings the same rounding changes C5 by
# 8e-5 (DCN) and 1.2e-4 (DCNv2) of its largest value, 2e-5 without DCN.
OFFSET_WEIGHT_GAIN, OFFSET_BIAS_STD = 0.3, 0.7
# mmdetection's soft-NMS settings for the R-CNN test_cfg, run on Cascade R-CNN with the min_score
# that _base_/models/faster-rcnn_r50_fpn.py's comment suggests: the linear decay at mmcv's default
# iou_threshold 0.3, and the Gaussian decay (sigma 0.5, mmcv's default). At
# faster-rcnn_r50_fpn_soft-nms_1x_coco.py's iou_threshold 0.5 the linear decay leaves this random
# model's top 100 equal to standard NMS's (no box overlapping a better one by 0.5 or more keeps
# enough score after the decay), so that setting could not tell soft-NMS from NMS. All 100
# detections per image are kept (SOFT_TOP).
SOFT_NMS = {
    "linear": dict(type="soft_nms", iou_threshold=0.3, min_score=0.05),
    "gaussian": dict(type="soft_nms", method="gaussian", sigma=0.5, min_score=0.05),
}
SOFT_TOP = 100
TOP = 50
LARGE_DETECTIONS, LARGE_AREA = 3000, 150 * 150
IMAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CLITests", "Fixtures", "torchvision", "scene.png")


def mmcv_deform_conv_reference(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups):
    """A port to NumPy (float64) of mmcv's CPU deformable convolution: `deformable_im2col_cpu_kernel`
    and `modulated_deformable_im2col_cpu_kernel` (mmcv/ops/csrc/pytorch/cpu/deform_conv.cpp and
    modulated_deform_conv.cpp, mmcv 2.x), then the grouped product with the weight. Tap t = i * kw + j
    of deformable group g reads its offset from channels g * 2K + 2t (dy) and g * 2K + 2t + 1 (dx)
    and its mask from channel g * K + t; it samples the input at (h_in + i * dilation_h + dy,
    w_in + j * dilation_w + dx), 0 unless -1 < h < H and -1 < w < W, bilinearly with out-of-range
    corners 0; the value is multiplied by the mask (v2)."""
    x, offset, weight = (t.detach().double().numpy() for t in (x, offset, weight))
    mask = None if mask is None else mask.detach().double().numpy()
    batch, channels, height, width = x.shape
    out_channels, group_channels, kh, kw = weight.shape
    taps = kh * kw
    out_h, out_w = offset.shape[2:]
    h_in = (np.arange(out_h) * stride[0] - padding[0])[:, None]
    w_in = (np.arange(out_w) * stride[1] - padding[1])[None, :]
    columns = np.zeros((batch, channels, taps, out_h, out_w))
    per_group = channels // deform_groups
    for b in range(batch):
        for c in range(channels):
            g = c // per_group
            image = x[b, c]
            for i in range(kh):
                for j in range(kw):
                    t = i * kw + j
                    h = h_in + i * dilation[0] + offset[b, g * 2 * taps + 2 * t]
                    w = w_in + j * dilation[1] + offset[b, g * 2 * taps + 2 * t + 1]
                    inside = (h > -1) & (w > -1) & (h < height) & (w < width)
                    h_low, w_low = np.floor(h).astype(int), np.floor(w).astype(int)
                    lh, lw = h - h_low, w - w_low
                    value = np.zeros_like(h)
                    for dy, wy in ((0, 1 - lh), (1, lh)):
                        for dx, wx in ((0, 1 - lw), (1, lw)):
                            yy, xx = h_low + dy, w_low + dx
                            ok = (yy >= 0) & (yy <= height - 1) & (xx >= 0) & (xx <= width - 1)
                            corner = np.where(ok, image[np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)], 0.0)
                            value += wy * wx * corner
                    value = np.where(inside, value, 0.0)
                    if mask is not None:
                        value = value * mask[b, g * taps + t]
                    columns[b, c, t] = value
    out = np.zeros((batch, out_channels, out_h, out_w))
    per_out = out_channels // groups
    for g in range(groups):
        cols = columns[:, g * group_channels:(g + 1) * group_channels].reshape(batch, group_channels * taps, out_h * out_w)
        w_g = weight[g * per_out:(g + 1) * per_out].reshape(per_out, group_channels * taps)
        out[:, g * per_out:(g + 1) * per_out] = np.einsum("ok,bkp->bop", w_g, cols).reshape(batch, per_out, out_h, out_w)
    if bias is not None:
        out += bias.detach().double().numpy()[None, :, None, None]
    return torch.from_numpy(out)


def check_deform_conv_layout():
    """Evidence for the offset layout claim: mmcv's DCN and DCNv2 functions (through the stand-in
    `mmcv._ext`, so torchvision's deform_conv2d with the offset and mask as mmcv passes them) equal
    the port of mmcv's own CPU kernel in float64, on cases that would tell (dy, dx) from (dx, dy),
    tap-major from coordinate-major, kernel height from width and one offset group from another:
    a 3 x 2 kernel, strides (2, 1), paddings (1, 2), dilations (1, 2), 2 groups, 2 offset groups,
    offsets of 1.5 pixels' spread (samples outside the image included). Then that
    ModulatedDeformConv2dPack's chunks [o1, o2, mask] of conv_offset's output are offset =
    cat(o1, o2), the first 2K channels per offset-group layout above, and mask = sigmoid(last K)."""
    from mmcv.ops.deform_conv import deform_conv2d as mmcv_dcn
    from mmcv.ops.modulated_deform_conv import ModulatedDeformConv2dPack, modulated_deform_conv2d as mmcv_mdcn
    g = torch.Generator().manual_seed(7)
    worst = 0.0
    for stride, padding, dilation in (((2, 1), (1, 2), (1, 2)), ((1, 1), (1, 1), (1, 1))):
        x = torch.randn(2, 4, 7, 9, generator=g, dtype=torch.float64)
        weight = torch.randn(6, 2, 3, 2, generator=g, dtype=torch.float64)
        bias = torch.randn(6, generator=g, dtype=torch.float64)
        out_h = (7 + 2 * padding[0] - dilation[0] * 2 - 1) // stride[0] + 1
        out_w = (9 + 2 * padding[1] - dilation[1] * 1 - 1) // stride[1] + 1
        offset = 1.5 * torch.randn(2, 2 * 2 * 6, out_h, out_w, generator=g, dtype=torch.float64)
        mask = torch.rand(2, 2 * 6, out_h, out_w, generator=g, dtype=torch.float64)
        ours = mmcv_dcn(x, offset, weight, stride, padding, dilation, 2, 2)
        theirs = mmcv_deform_conv_reference(x, offset, None, weight, None, stride, padding, dilation, 2, 2)
        worst = max(worst, float((ours - theirs).abs().max()))
        ours = mmcv_mdcn(x, offset, mask, weight, bias, stride, padding, dilation, 2, 2)
        theirs = mmcv_deform_conv_reference(x, offset, mask, weight, bias, stride, padding, dilation, 2, 2)
        worst = max(worst, float((ours - theirs).abs().max()))
    pack = ModulatedDeformConv2dPack(4, 6, 3, stride=1, padding=1, deform_groups=2).double()
    with torch.no_grad():
        for p in pack.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.5)
        x = torch.randn(1, 4, 6, 5, generator=g, dtype=torch.float64)
        raw = pack.conv_offset(x)
        theirs = mmcv_deform_conv_reference(
            x, raw[:, :2 * 2 * 9], raw[:, 2 * 2 * 9:].sigmoid(), pack.weight, pack.bias, (1, 1), (1, 1), (1, 1), 1, 2)
        worst = max(worst, float((pack(x) - theirs).abs().max()))
    assert worst < 1e-10, f"the deform conv stand-in differs from mmcv's CPU kernel by {worst}"
    return worst


def rebuilt(shape, mean, std, k):
    g = torch.Generator().manual_seed(k)
    u = torch.rand(shape, generator=g, dtype=torch.float64)
    return (mean + std * math.sqrt(3.0) * (2.0 * u - 1.0)).to(torch.float32)


def config(name, score_zero=True):
    cfg = Config.fromfile(os.path.join(CONFIGS, MODELS[name]))
    cfg.model.backbone.init_cfg = None
    if cfg.model.backbone.get("norm_cfg", {}).get("type") == "SyncBN":
        # EfficientNet-B3 RetinaNet trains with SyncBN, which at inference is a batch norm; the
        # plain one runs without a process group and is what `calibrate` hooks.
        cfg.model.backbone.norm_cfg.type = "BN"
    if cfg.model.get("roi_head", {}).get("shared_head") is not None:
        cfg.model.roi_head.shared_head.init_cfg = None  # C4 models: stage 5 in the R-CNN head
    if score_zero:
        test = cfg.model.test_cfg
        if "rcnn" in test:
            test.rcnn.score_thr = 0.0
        else:
            test.score_thr = 0.0
    return cfg


def offset_spread(model, image_path):
    """Per deformable convolution (mmdetection's module name), the standard deviation in pixels of
    the offsets its conv_offset predicts on the image (`offset_std`), the part of it that varies
    with position (`position_std`: the root mean square over offset channels of each channel's
    spread over positions), and for DCNv2 the mean of its masks."""
    spread = {}

    def hook(name, modulated):
        def record(module, inputs, output):
            o = output.detach().to(torch.float64)
            offsets = o[:, :2 * o.shape[1] // 3] if modulated else o
            spread[name] = {
                "offset_std": round(float(offsets.std()), 4),
                "position_std": round(float(offsets.var(dim=(0, 2, 3)).mean().sqrt()), 4),
            }
            if modulated:
                spread[name]["mask_mean"] = round(float(o[:, 2 * o.shape[1] // 3:].sigmoid().mean()), 4)
        return record

    from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack
    handles = [
        m.conv_offset.register_forward_hook(hook(n, isinstance(m, ModulatedDeformConv2dPack)))
        for n, m in model.named_modules() if isinstance(m, (DeformConv2dPack, ModulatedDeformConv2dPack))]
    with torch.no_grad(), float_resize(model):
        inference_detector(model, image_path)
    for h in handles:
        h.remove()
    return spread


def calibrate(model, image_path):
    """Sets every batch norm's running statistics from its own input, in one forward pass."""
    def hook(module, inputs):
        x = inputs[0].detach().to(torch.float64)
        dims = [d for d in range(x.dim()) if d != 1]
        module.running_mean.copy_(x.mean(dim=dims))
        module.running_var.copy_(x.var(dim=dims, unbiased=False))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        inference_detector(model, image_path)
    for h in handles:
        h.remove()


def detections(result, top=TOP):
    inst = result.pred_instances
    order = torch.sort(inst.scores, stable=True, descending=True)[1][:top]
    out = []
    for i in order.tolist():
        d = {
            "box": [round(float(c), 4) for c in inst.bboxes[i]],
            "label": int(inst.labels[i]),
            "score": round(float(inst.scores[i]), 6),
        }
        if "masks" in inst:
            m = inst.masks[i].numpy().astype(np.uint8)
            rle = mask_util.encode(np.asfortranarray(m))
            d["mask"] = {"size": list(rle["size"]), "counts": rle["counts"].decode()}
        out.append(d)
    return out


def box_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else float(all(abs(x - y) <= 0.01 for x, y in zip(a, b)))


def compare(theirs, ours, tolerance):
    """How many of `theirs` `ours` has (same label, box IoU >= 0.99, score within tolerance), and
    the largest score difference among the matched."""
    found, worst = 0, 0.0
    for d in theirs:
        candidates = [o for o in ours if o["label"] == d["label"] and abs(o["score"] - d["score"]) <= tolerance]
        best = max(candidates, key=lambda o: box_iou(o["box"], d["box"]), default=None)
        if best is not None and box_iou(best["box"], d["box"]) >= 0.99:
            found += 1
            worst = max(worst, abs(best["score"] - d["score"]))
    return found, worst


def initialise_trident_convs(model):
    """TridentNet's TridentConv creates its weight with `torch.Tensor(...)` (uninitialised memory)
    and its `init_cfg` (Kaiming uniform, fan_in, overriding a child `conv2` it does not have)
    never reaches it: the weight is given that Kaiming uniform initialisation here, so that the
    rule's mean and standard deviation are a convolution's."""
    from mmdet.models.backbones.trident_resnet import TridentConv
    for m in model.modules():
        if isinstance(m, TridentConv):
            torch.nn.init.kaiming_uniform_(m.weight, a=0, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)


def set_trident_test_branch(model, branch):
    """TridentNet's `test_branch_idx` on the detector, the backbone, every TridentBottleneck and
    TridentConv in it, and the TridentRoIHead: -1 runs all branches and merges their detections."""
    from mmdet.models.backbones.trident_resnet import TridentBottleneck, TridentConv
    model.test_branch_idx = branch
    model.backbone.test_branch_idx = branch
    model.roi_head.test_branch_idx = branch
    for m in model.backbone.modules():
        if isinstance(m, (TridentBottleneck, TridentConv)):
            m.test_branch_idx = branch


def build(name, image_path):
    cfg = config(name)
    model = init_detector(cfg, checkpoint=None, device="cpu")
    torch.manual_seed(0)
    model.init_weights()
    initialise_trident_convs(model)
    model.eval()
    state = model.state_dict()
    rule, new_state = [], {}
    # A tensor the state dict holds under several names (RetinaSepBNHead's tower convolutions,
    # one per level, all level 0's) gets the rule of its first name under every name.
    first_rule = {}
    for k, key in enumerate(sorted(state)):
        t = state[key]
        if key.endswith("num_batches_tracked"):
            continue
        if t.data_ptr() in first_rule:
            shared = dict(first_rule[t.data_ptr()], name=key)
            rule.append(shared)
            new_state[key] = rebuilt(shared["shape"], shared["mean"], shared["std"], shared["seed"])
            continue
        v = t.to(torch.float64)
        mean = float(v.mean())
        std = float(v.std(unbiased=False)) if v.numel() > 1 else 0.0
        if std < 1e-12 * max(1.0, abs(mean)):
            std = 0.0
        if std == 0.0 and t.dim() == 1:
            # Constants (zero biases, batch-norm weights of 1, and the zero-initialised last
            # batch norm of each residual block, which would silence the whole block) get a
            # spread, so that every tensor, and the order of every row, matters.
            if key.startswith("backbone.") and key.endswith(".weight"):
                mean, std = 1.0, 0.2
            else:
                std = 0.1
        if key == "roi_head.mask_head.conv_logits.bias":
            # The randomly initialised mask logits on this image have median -9.9 (10% below
            # -27, 10% above 1.8): masks would be a few pixels each, and one pixel flipped by
            # rounding would decide a mask's IoU. Centred, masks cover about half their boxes.
            # (Cascade Mask R-CNN's three mask heads, `roi_head.mask_head.<k>.conv_logits`, give
            # logits centred already: medians -0.35, 0.03 and -0.005 at the detected labels,
            # 10% to 90% within about -1.4 to +0.9 of them; their biases keep their rule.)
            mean = 10.0
        if key.startswith("bbox_head.convs_pred."):
            # YOLOv3's prediction: mmdetection's std 0.01 with its objectness and class priors
            # would give every anchor nearly the same scores (float rounding would then pick the
            # candidates); a unit spread of the logits and biases separates them.
            if key.endswith(".weight"):
                mean, std = 0.0, 1.0 / math.sqrt(math.prod(t.shape[1:]))
            else:
                mean, std = 0.0, 1.0
        if key.endswith(".conv_offset.weight"):
            mean, std = 0.0, OFFSET_WEIGHT_GAIN / math.sqrt(math.prod(t.shape[1:]))
        elif key.endswith(".conv_offset.bias"):
            mean, std = 0.0, OFFSET_BIAS_STD
        rule.append({"name": key, "shape": list(t.shape), "seed": k, "mean": mean, "std": std})
        first_rule[t.data_ptr()] = rule[-1]
        new_state[key] = rebuilt(list(t.shape), mean, std, k)
    model.load_state_dict(new_state, strict=False)
    with float_resize(model):
        calibrate(model, image_path)
    return model, rule


MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # mmdetection's RGB ones, over 255


def normalisation(model):
    """The preprocessor's (mean, std) over 255 as float64 lists, and whether it swaps BGR to RGB.
    For the usual RGB normalisation these are exactly MEAN and STD (kept as written, so that the
    fixtures made before stay the same); for another RGB one (YOLOv3: mean 0, std 255, so 0 and
    1) the config's values over 255; for a BGR one (caffe-style backbones: bgr_to_rgb False,
    mean [103.53, 116.28, 123.675], std 1) the config's values divided by 255 in float64."""
    cfg = model.cfg.model.data_preprocessor
    to_rgb = bool(cfg.get("bgr_to_rgb", False))
    assert not cfg.get("rgb_to_bgr", False)
    mean = [float(v) / 255 for v in cfg.mean]
    std = [float(v) / 255 for v in cfg.std]
    if to_rgb and all(abs(a - b) < 1e-12 for a, b in zip(mean + std, MEAN + STD)):
        return MEAN, STD, True
    return mean, std, to_rgb


@contextlib.contextmanager
def float_resize(model):
    """mmcv's `imresize` (cv2's uint8 bilinear resize, which rounds every pixel to a whole grey
    level with fixed-point weights) replaced by SimpleDet's float arithmetic, op for op: RGB
    pixels / 255 in float32 (flipped back to BGR when the preprocessor keeps BGR, bgr_to_rgb
    False), normalised with the same mean and std ((x - mean) / std, mmdetection's preprocessor's
    values over 255 rounded to float32, in the channel order it uses), then a float32 bilinear
    resize to mmcv's output size; the model's preprocessor then only stacks and pads (its
    normalisation and any BGR-to-RGB swap, done here, are switched off). Normalising commutes with resizing, so this is mmdetection's
    preprocessing with a float resize, rounded as SimpleDet rounds it; everything from the
    resize size (int(w * scale + 0.5)) to the model is mmdetection's."""
    import mmcv.image.geometric as geometric
    original = geometric.imresize
    preprocessor = model.data_preprocessor
    flags = (preprocessor._enable_normalize, preprocessor._channel_conversion)
    mean_values, std_values, to_rgb = normalisation(model)
    mean = torch.tensor(mean_values, dtype=torch.float64).to(torch.float32).reshape(3, 1, 1)
    std = torch.tensor(std_values, dtype=torch.float64).to(torch.float32).reshape(3, 1, 1)

    def resize(img, size, return_scale=False, interpolation="bilinear", out=None, backend=None):
        assert interpolation == "bilinear" and img.dtype == np.uint8
        h, w = img.shape[:2]
        channels = np.ascontiguousarray(img[..., ::-1] if to_rgb else img)  # cv2 decodes BGR
        pixels = torch.from_numpy(channels).permute(2, 0, 1).to(torch.float32) / 255
        normalised = (pixels - mean) / std
        r = torch.nn.functional.interpolate(normalised[None], size=(size[1], size[0]), mode="bilinear", align_corners=False)
        resized = r[0].permute(1, 2, 0).contiguous().numpy()
        return (resized, size[0] / w, size[1] / h) if return_scale else resized

    geometric.imresize = resize
    preprocessor._enable_normalize, preprocessor._channel_conversion = False, False
    try:
        yield
    finally:
        geometric.imresize = original
        preprocessor._enable_normalize, preprocessor._channel_conversion = flags


def check_float_resize(model):
    """Evidence that `float_resize` normalises as the model's preprocessor does, channel order
    included: the batch it gives equals mmdetection's own (its preprocessor's normalisation and
    any BGR-to-RGB swap on) after the same float32 bilinear resize of the raw pixels, up to float
    rounding, since normalising commutes with resizing. Returns the largest difference, in the
    normalised input's units (pixel units for std 1)."""
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    import mmcv.image.geometric as geometric
    steps = Compose([c for c in model.cfg.test_dataloader.dataset.pipeline if c.type != "LoadAnnotations"])

    def batch():
        data = steps(dict(img_path=IMAGE, img_id=0))
        return model.data_preprocessor(pseudo_collate([data]), False)["inputs"]

    with torch.no_grad():
        with float_resize(model):
            ours = batch()
        original = geometric.imresize

        def raw_resize(img, size, return_scale=False, interpolation="bilinear", out=None, backend=None):
            h, w = img.shape[:2]
            x = torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None]
            r = torch.nn.functional.interpolate(x, size=(size[1], size[0]), mode="bilinear", align_corners=False)
            resized = r[0].permute(1, 2, 0).contiguous().numpy()
            return (resized, size[0] / w, size[1] / h) if return_scale else resized

        geometric.imresize = raw_resize
        try:
            theirs = batch()
        finally:
            geometric.imresize = original
    assert ours.shape == theirs.shape
    return float((ours.double() - theirs.double()).abs().max())


def tiny_models(out):
    """Width-reduced genuine mmdetection models (ResNet-18 with 4 base channels, 8-channel FPN,
    3 classes) saved as .pth files the three ways mmdetection's users meet them."""
    summary = {}
    for kind in ["mask", "retina"]:
        cfg = config("mask-rcnn_r50_fpn_1x_coco" if kind == "mask" else "retinanet_r50_fpn_1x_coco")
        m = cfg.model
        m.backbone.update(depth=18, base_channels=4)
        m.neck.update(in_channels=[4, 8, 16, 32], out_channels=8)
        if kind == "mask":
            m.rpn_head.update(in_channels=8, feat_channels=8)
            m.roi_head.bbox_roi_extractor.update(out_channels=8)
            m.roi_head.bbox_head.update(in_channels=8, fc_out_channels=16, num_classes=3)
            m.roi_head.mask_roi_extractor.update(out_channels=8)
            m.roi_head.mask_head.update(in_channels=8, conv_out_channels=8, num_classes=3)
        else:
            m.bbox_head.update(in_channels=8, feat_channels=8, num_classes=3)
        model = init_detector(cfg, checkpoint=None, device="cpu")
        torch.manual_seed(1)
        model.init_weights()
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                with torch.no_grad():
                    p.normal_()  # so that the reordered rows can be told apart
        state = model.state_dict()
        meta = {
            "mmengine_version": "0.10.7",
            "mmdet_version": mmdet.__version__,
            "epoch": 12,
            "iter": 1234,
            "time": "20261203_190000",
            "dataset_meta": {"classes": ("ball", "box", "cone"), "palette": [(220, 20, 60), (119, 11, 32), (0, 0, 142)]},
            "cfg": cfg.pretty_text[:2000],
        }
        if kind == "mask":
            # What a training run leaves: mmengine's checkpoint saver (zip format), meta beside state_dict.
            files = {"tiny-mask-rcnn.mmengine.pth": lambda path: save_checkpoint({"meta": meta, "state_dict": state}, path)}
        else:
            files = {
                # What mmdetection's model zoo publishes (tools/model_converters/publish_model.py
                # saves with _use_new_zipfile_serialization=False): the legacy format.
                "tiny-retinanet.published.pth": lambda path: torch.save(
                    {"meta": meta, "state_dict": state}, path, _use_new_zipfile_serialization=False),
                # A bare state dict.
                "tiny-retinanet.state_dict.pth": lambda path: torch.save(state, path),
            }
        for file, save in files.items():
            path = os.path.join(out, file)
            save(path)
            summary[file] = {
                k: {"shape": list(v.shape), "sum": float(v.double().sum()), "first": float(v.reshape(-1)[0]) if v.numel() else 0.0}
                for k, v in state.items()
            }
            print(f"{file}: {len(state)} tensors, {os.path.getsize(path)} bytes")
    with open(os.path.join(out, "tiny.json"), "w") as f:
        json.dump(summary, f, separators=(",", ":"), sort_keys=True)


def yolov3_losses(out):
    """mmdetection's YOLOV3Head.loss_by_feat on fixed prediction maps and ground truths, with
    yolov3_d53_8xb8-ms-608-273e_coco's head settings (anchors, GridAssigner 0.5 / 0.5 / 0,
    summed losses with weights 1, 1, 2, 2) and 3 classes: three images padded to 256 x 192
    (levels 8 x 6, 16 x 12 and 32 x 24 at strides 32, 16, 8), the first with ground truths that
    share cells, lie on every level, and leave anchors between the IoU thresholds (ignored), the
    second with one box, the third with none. Writes `yolov3-loss.safetensors` (the prediction
    maps `pred_maps.<level>`, mmdetection's [N, A * (5 + C), H, W], level 0 the coarsest) and
    `yolov3-loss.json` (the boxes, labels, image size and the four losses, each summed over levels,
    with the counts of foreground and background anchors)."""
    from mmdet.models.dense_heads import YOLOV3Head
    from mmengine.config import ConfigDict
    from mmengine.structures import InstanceData
    cfg = Config.fromfile(os.path.join(CONFIGS, "yolo/yolov3_d53_8xb8-ms-608-273e_coco.py"))
    head_cfg = cfg.model.bbox_head.copy()
    head_cfg.pop("type")
    head_cfg.update(num_classes=3, in_channels=[4, 4, 4], out_channels=[4, 4, 4])
    head = YOLOV3Head(**head_cfg, train_cfg=ConfigDict(cfg.model.train_cfg), test_cfg=ConfigDict(cfg.model.test_cfg))
    height, width = 192, 256
    g = torch.Generator().manual_seed(21)
    maps = [torch.randn(3, 3 * 8, height // s, width // s, generator=g) * 1.5 for s in (32, 16, 8)]
    targets = [
        {"boxes": [[10.0, 12.0, 40.0, 50.0], [14.0, 16.0, 30.0, 44.0], [100.0, 60.0, 230.0, 180.0],
                   [60.5, 20.25, 180.0, 150.0], [200.0, 100.0, 216.0, 110.0], [120.0, 30.0, 180.0, 70.0]],
         "labels": [0, 2, 1, 1, 0, 2]},
        {"boxes": [[33.0, 40.0, 97.0, 120.0]], "labels": [1]},
        {"boxes": [], "labels": []},
    ]
    instances = []
    for t in targets:
        i = InstanceData()
        i.bboxes = torch.tensor(t["boxes"], dtype=torch.float32).reshape(-1, 4)
        i.labels = torch.tensor(t["labels"], dtype=torch.long)
        instances.append(i)
    metas = [{"img_shape": (height, width), "pad_shape": (height, width), "batch_input_shape": (height, width)}] * 3
    losses = head.loss_by_feat(maps, instances, metas)
    total = {k: float(sum(v).item()) for k, v in losses.items()}
    # The assignment counts, from mmdetection's own target maps.
    featmap_sizes = [m.shape[-2:] for m in maps]
    anchors = head.prior_generator.grid_priors(featmap_sizes, device="cpu")
    flags = [head.responsible_flags(featmap_sizes, i.bboxes, "cpu") for i in instances]
    target_maps, neg_maps = head.get_targets([anchors] * 3, flags, instances)
    foreground = int(sum(float(t[..., 4].sum()) for t in target_maps))
    background = int(sum(float(n.float().sum()) for n in neg_maps))
    write_safetensors({f"pred_maps.{k}": m.contiguous() for k, m in enumerate(maps)}, os.path.join(out, "yolov3-loss.safetensors"))
    with open(os.path.join(out, "yolov3-loss.json"), "w") as f:
        json.dump({"mmdet": mmdet.__version__, "image_size": [height, width], "classes": 3, "targets": targets,
                   "losses": total, "foreground": foreground, "background": background}, f, indent=1)
    print(f"yolov3-loss: {total}; {foreground} foreground and {background} background anchors")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = args[0]
    only = args[1].split(",") if len(args) > 1 else list(MODELS)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    print(f"mmdet {mmdet.__version__}, mmcv-lite {_mmcv_version}, torch {torch.__version__}")
    print(f"deform conv stand-in against the port of mmcv's CPU kernel: largest difference {check_deform_conv_layout():.1e}")
    for name in only:
        if name == "tiny":
            tiny_models(out)
            continue
        if name == "yolov3-loss":
            yolov3_losses(out)
            continue
        model, rule = build(name, IMAGE)
        print(f"{name}: float_resize against the preprocessor's own normalisation: largest difference {check_float_resize(model):.1e}")
        stats = {k: v for k, v in model.state_dict().items() if k.endswith("running_mean") or k.endswith("running_var")}
        write_safetensors(stats, os.path.join(out, f"{name}.bn.safetensors"))
        with open(os.path.join(out, f"{name}.weights.json"), "w") as f:
            json.dump({"tensors": rule}, f, separators=(",", ":"))
        with torch.no_grad(), float_resize(model):
            result = inference_detector(model, IMAGE)
        found = detections(result)
        with torch.no_grad():
            cv2_found = detections(inference_detector(model, IMAGE))
        top = ", ".join(f"{d['score']:.4f} label {d['label']}" for d in found[:3])
        print(f"{name}: {len(result.pred_instances.scores)} detections; top {top}; image shape {result.img_shape}")
        cv2_matches = {}
        for tolerance in (2e-3, 1e-2, 1e-1):
            n, worst = compare(found, cv2_found, tolerance)
            cv2_matches[str(tolerance)] = n
            print(f"  with mmcv's cv2 uint8 resize instead: {n} of {len(found)} found within {tolerance} (largest difference {worst:.5f})")
        fixture = {
            "mmdet": mmdet.__version__,
            "resize": "SimpleDet's float normalise-then-resize (see tools/make_mmdet_fixtures.py float_resize)",
            "images": {"scene.png": found},
            "cv2_resize_matches": cv2_matches,
        }
        if "dconv" in name or "mdconv" in name:
            spread = offset_spread(model, IMAGE)
            stds = [v["offset_std"] for v in spread.values()]
            positions = [v["position_std"] for v in spread.values()]
            print(f"  {len(spread)} deformable convolutions, offsets' spread {min(stds):.3f} to {max(stds):.3f} pixels"
                  f" ({min(positions):.3f} to {max(positions):.3f} varying with position)"
                  + (f", masks' mean {min(v['mask_mean'] for v in spread.values()):.3f} to {max(v['mask_mean'] for v in spread.values()):.3f}"
                     if "mask_mean" in next(iter(spread.values())) else ""))
            fixture["conv_offset"] = spread
        if name.startswith("retinanet"):
            # The top 100 of this random RetinaNet all come from P3-P5; P6 and P7 (anchor
            # strides, no ReLU before P7) show only further down. Its top 50 boxes larger than
            # 150 x 150 pixels among 3000 detections per image do come from them.
            test_cfg = model.bbox_head.test_cfg
            test_cfg.max_per_img = LARGE_DETECTIONS
            with torch.no_grad(), float_resize(model):
                many = detections(inference_detector(model, IMAGE), top=LARGE_DETECTIONS)
            test_cfg.max_per_img = 100
            large = [d for d in many if (d["box"][2] - d["box"][0]) * (d["box"][3] - d["box"][1]) > LARGE_AREA][:TOP]
            print(f"  {len(many)} detections at {LARGE_DETECTIONS} per image, {len(large)} of the largest kept")
            fixture["large_boxes"] = {"detections_per_image": LARGE_DETECTIONS, "min_area": LARGE_AREA, "images": {"scene.png": large}}
        if name.startswith("tridentnet"):
            # All three branches (dilations 1, 2, 3), their detections merged by TridentRoIHead.
            set_trident_test_branch(model, -1)
            with torch.no_grad(), float_resize(model):
                merged = inference_detector(model, IMAGE)
            set_trident_test_branch(model, 1)
            every = detections(merged)
            top = ", ".join(f"{d['score']:.4f} label {d['label']}" for d in every[:3])
            n, _ = compare(found, every, 2e-3)
            print(f"  all branches: {len(merged.pred_instances.scores)} detections; top {top}; {n} of branch 1's top {len(found)} among them")
            fixture["all_branches"] = {"test_branch_idx": -1, "in_branch_1": n, "images": {"scene.png": every}}
        if name.startswith("cascade-rcnn"):
            test_cfg = model.roi_head.test_cfg
            standard = test_cfg.nms
            fixture["soft_nms"] = {}
            hard = detections(result, top=SOFT_TOP)
            for variant, nms in SOFT_NMS.items():
                test_cfg.nms = nms
                with torch.no_grad(), float_resize(model):
                    soft = detections(inference_detector(model, IMAGE), top=SOFT_TOP)
                test_cfg.nms = standard
                top = ", ".join(f"{d['score']:.4f} label {d['label']}" for d in soft[:3])
                n, _ = compare(soft, hard, 2e-3)
                print(f"  soft-NMS {variant}: top {top}; {n} of its {len(soft)} also in standard NMS's top {len(hard)}")
                fixture["soft_nms"][variant] = {"nms": nms, "in_standard_nms": n, "images": {"scene.png": soft}}
        with open(os.path.join(out, f"{name}.detections.json"), "w") as f:
            json.dump(fixture, f, indent=1)

if __name__ == "__main__":
    main()
