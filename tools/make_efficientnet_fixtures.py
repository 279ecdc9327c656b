"""Writes the torchvision parity fixtures for SimpleDet's EfficientNet backbone.

- efficientnet_state_dicts.json: for each of torchvision's efficientnet_b0 ... efficientnet_b7,
  every state-dict key with its shape, and the batch norms' eps and momentum.
- efficientnet_b0_features.safetensors: torchvision's efficientnet_b0 with the integer-hash
  weights of tools/make_fasterrcnn_fixtures.py (numbered over the sorted keys of `features.0` ...
  `features.7`, the part SimpleDet builds), batch-norm running statistics taken from one
  training-mode forward pass of the input (so activations keep a realistic scale through all 16
  blocks; with the hashed statistics they would not), the input, and the outputs of features.2,
  .3, .5 and .7 (strides 4, 8, 16, 32) in eval mode. Only the statistics are stored: the Swift test
  (Tests/DetectionTests/EfficientNetTests.swift) rebuilds the hashed weights, so the fixture is
  the full B0 in float32 at a fraction of its 16 MB.

Run with Python torch 2.15.0 and torchvision 0.29.2 installed (never needed by the build):

    python tools/make_efficientnet_fixtures.py Tests/DetectionTests/Fixtures
"""
import json
import struct
import sys

import torch
import torchvision
from torch import nn

from make_fasterrcnn_fixtures import fill_value

VARIANTS = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"]
# Odd, non-square input, so that every stride rounds.
INPUT_SHAPE = (2, 3, 97, 130)
OUTPUTS = {"c2": 2, "c3": 3, "c5": 7, "c4": 5}


def write_safetensors(path, tensors):
    """The safetensors format by hand (the package is not needed for float32 tensors)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def manifests():
    out = {}
    for variant in VARIANTS:
        model = getattr(torchvision.models, f"efficientnet_{variant}")(weights=None)
        norm = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
        state = model.state_dict()
        out[variant] = {
            "eps": norm.eps,
            "momentum": norm.momentum,
            "keys": [{"key": k, "shape": list(state[k].shape)} for k in sorted(state)],
        }
    return out


def b0_features():
    model = torchvision.models.efficientnet_b0(weights=None)
    state = model.state_dict()
    built = sorted(k for k in state if k.startswith("features.") and int(k.split(".")[1]) <= 7)
    hashed = {key: fill_value(key, list(state[key].shape), k) for k, key in enumerate(built)}
    model.load_state_dict(hashed, strict=False)

    generator = torch.Generator().manual_seed(20190528)
    images = torch.randn(INPUT_SHAPE, generator=generator)
    # Running statistics from one training-mode pass: the cumulative average (momentum None) of a
    # single batch is that batch's statistics. Stochastic depth is off for it.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
        if isinstance(m, torchvision.ops.StochasticDepth):
            m.p = 0.0
    model.train()
    with torch.no_grad():
        model.features[:8](images)
    model.eval()

    tensors = {"input": images}
    with torch.no_grad():
        y = images
        for index in range(8):
            y = model.features[index](y)
            for name, at in OUTPUTS.items():
                if at == index:
                    tensors[name] = y
    for key, value in model.state_dict().items():
        if key.endswith("running_mean") or key.endswith("running_var"):
            if int(key.split(".")[1]) <= 7:
                tensors[key] = value
    for name in OUTPUTS:
        t = tensors[name]
        print(f"{name}: {tuple(t.shape)} mean |x| {t.abs().mean():.4f} max |x| {t.abs().max():.4f}")
    return tensors


def main(out_dir):
    torch.set_num_threads(2)
    with open(f"{out_dir}/efficientnet_state_dicts.json", "w") as f:
        json.dump(manifests(), f, separators=(",", ":"))
    write_safetensors(f"{out_dir}/efficientnet_b0_features.safetensors", b0_features())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/DetectionTests/Fixtures")
