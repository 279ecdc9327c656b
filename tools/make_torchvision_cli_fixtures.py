"""Writes the fixtures for the command-line equality test with plain torchvision
(Tests/CLITests/TorchvisionPresetTests.swift).

For each torchvision preset under configs/torchvision/, the unmodified torchvision model
(torchvision 0.29.2's builder, `weights=None, weights_backbone=None`, so batch norm is
`BatchNorm2d` in eval mode) is given weights that the Swift test can rebuild without a weight
file, and batch-norm statistics calibrated on the test image, then run on a PNG file at score
threshold 0. Stored per preset:

- `<preset>.weights.json`: for each state-dict tensor (sorted by name, index k), its shape and
  the mean and standard deviation of torchvision's own initialisation of it; the tensor is then
  `mean + std * sqrt(3) * (2u - 1)` with `u = torch.rand(shape, generator=Generator(seed=k),
  dtype=float64)`, rounded to float32. So every tensor has the scale torchvision gives it
  (constants stay constants: batch-norm weights 1, RetinaNet's prior bias) and no structure.
- `<preset>.bn.safetensors`: each batch norm's running mean and variance, set from its own input
  on the image (the model runs once with hooks that set the statistics just before each batch
  norm uses them). With statistics (0, 1) activations grow layer after layer and rounding alone
  would reorder the scores; calibrated, the model behaves like a trained one.
- `<preset>.detections.json`: torchvision's top detections on each test image in original-image
  pixels: box, label, score, and for Mask R-CNN the mask (probability >= 0.5) as COCO RLE.

`scene.png` is a 640x480 RGB image of coloured discs and squares with noise, `scene.jpg` the same
at JPEG quality 90 (decoded by Pillow here and by TurboJPEG in SimpleDet; run for Faster R-CNN
only, as decoding does not depend on the model), and
`coco_categories.json` torchvision's COCO class names by label (`__background__` and "N/A" included).

Run from a throwaway virtual environment with torch 2.15.0, torchvision 0.29.2, numpy, pillow
and pycocotools (never a dependency of the build):

    python tools/make_torchvision_cli_fixtures.py Tests/CLITests/Fixtures/torchvision
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from pycocotools import mask as mask_util
from torchvision.models import detection
from torchvision.models._meta import _COCO_CATEGORIES

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks", "compare_torchvision"))
from torchvision_side import write_safetensors  # noqa: E402  (the harness's minimal writer)

PRESETS = {
    "fasterrcnn_resnet50_fpn": (detection.fasterrcnn_resnet50_fpn, "box_score_thresh"),
    "fasterrcnn_resnet50_fpn_v2": (detection.fasterrcnn_resnet50_fpn_v2, "box_score_thresh"),
    "maskrcnn_resnet50_fpn": (detection.maskrcnn_resnet50_fpn, "box_score_thresh"),
    "maskrcnn_resnet50_fpn_v2": (detection.maskrcnn_resnet50_fpn_v2, "box_score_thresh"),
    "retinanet_resnet50_fpn": (detection.retinanet_resnet50_fpn, "score_thresh"),
    "retinanet_resnet50_fpn_v2": (detection.retinanet_resnet50_fpn_v2, "score_thresh"),
    "fcos_resnet50_fpn": (detection.fcos_resnet50_fpn, "score_thresh"),
}
TOP = 50


def scene(path):
    """Discs and squares in six colours on a gradient, with Gaussian noise (sigma 6)."""
    rng = np.random.default_rng(0)
    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([40 + 60 * x / w, 60 + 40 * y / h, 90 + 0 * x], axis=-1)
    colours = [(220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 210, 40), (200, 60, 200), (240, 240, 240)]
    for i in range(14):
        c = np.array(colours[i % len(colours)], dtype=np.float64)
        cx, cy, r = rng.uniform(40, w - 40), rng.uniform(40, h - 40), rng.uniform(12, 70)
        if i % 2 == 0:
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        else:
            inside = (abs(x - cx) <= r) & (abs(y - cy) <= r)
        img[inside] = c
    img = img + rng.normal(0, 6, img.shape)
    Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB").save(path, optimize=True)


def rebuilt(shape, mean, std, k):
    g = torch.Generator().manual_seed(k)
    u = torch.rand(shape, generator=g, dtype=torch.float64)
    return (mean + std * math.sqrt(3.0) * (2.0 * u - 1.0)).to(torch.float32)


def calibrate(model, image):
    """Sets every batch norm's running statistics from its own input, in one forward pass."""
    def hook(module, inputs):
        x = inputs[0].detach().to(torch.float64)
        dims = [d for d in range(x.dim()) if d != 1]
        module.running_mean.copy_(x.mean(dim=dims))
        module.running_var.copy_(x.var(dim=dims, unbiased=False))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        model([image])
    for h in handles:
        h.remove()


def main():
    out = sys.argv[1]
    only = sys.argv[2].split(",") if len(sys.argv) > 2 else list(PRESETS)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    png = os.path.join(out, "scene.png")
    if not os.path.exists(png):
        scene(png)
    jpg = os.path.join(out, "scene.jpg")
    if not os.path.exists(jpg):
        Image.open(png).save(jpg, quality=90)
    with open(os.path.join(out, "coco_categories.json"), "w") as f:
        json.dump(_COCO_CATEGORIES, f, indent=0)

    def decoded(path):
        pixels = np.array(Image.open(path).convert("RGB"))
        return torch.from_numpy(pixels).permute(2, 0, 1).float().div(255)

    image = decoded(png)

    for name in only:
        builder, thresh = PRESETS[name]
        torch.manual_seed(0)
        model = builder(weights=None, weights_backbone=None, num_classes=91, **{thresh: 0.0}).eval()
        state = model.state_dict()
        rule = []
        new_state = {}
        for k, key in enumerate(sorted(state)):
            t = state[key]
            if key.endswith("num_batches_tracked"):
                continue
            v = t.to(torch.float64)
            mean = float(v.mean())
            std = float(v.std(unbiased=False)) if v.numel() > 1 else 0.0
            if std < 1e-12 * max(1.0, abs(mean)):
                std = 0.0
            rule.append({"name": key, "shape": list(t.shape), "seed": k, "mean": mean, "std": std})
            new_state[key] = rebuilt(list(t.shape), mean, std, k)
        model.load_state_dict(new_state, strict=False)
        calibrate(model, image)
        stats = {k: v for k, v in model.state_dict().items() if k.endswith("running_mean") or k.endswith("running_var")}
        write_safetensors(stats, os.path.join(out, f"{name}.bn.safetensors"))
        with open(os.path.join(out, f"{name}.weights.json"), "w") as f:
            json.dump({"tensors": rule}, f, separators=(",", ":"))

        images = {"scene.png": image}
        if name == "fasterrcnn_resnet50_fpn":
            images["scene.jpg"] = decoded(jpg)
        found = {}
        for file, pixels in images.items():
            with torch.no_grad():
                result = model([pixels])[0]
            detections = []
            for i in range(min(TOP, len(result["scores"]))):
                d = {
                    "box": [round(float(c), 4) for c in result["boxes"][i]],
                    "label": int(result["labels"][i]),
                    "score": round(float(result["scores"][i]), 6),
                }
                if "masks" in result:
                    m = (result["masks"][i, 0] >= 0.5).numpy().astype(np.uint8)
                    rle = mask_util.encode(np.asfortranarray(m))
                    d["mask"] = {"size": list(rle["size"]), "counts": rle["counts"].decode()}
                detections.append(d)
            found[file] = detections
            top = ", ".join(f"{d['score']:.4f} label {d['label']}" for d in detections[:3])
            print(f"{name} on {file}: {len(result['scores'])} detections; top {top}")
        with open(os.path.join(out, f"{name}.detections.json"), "w") as f:
            json.dump({"torchvision": torchvision.__version__, "images": found}, f, indent=1)


if __name__ == "__main__":
    main()
