"""torchvision.ops.deform_conv2d's forward + backward at the shapes of `simpledet benchmark
--mode dcn` (ResNet-50's C4 and C5 blocks: 256 channels at size/16, 512 at size/32; v2 with a
mask, offsets of a few pixels), median milliseconds as JSON. Run by benchmarks/deform_conv.sh
from a throwaway virtual environment; never part of the build.

    python benchmarks/deform_conv_torchvision.py SIZE BATCH ITERS WARMUP THREADS
"""
import json
import sys
import time

import torch
import torchvision


def main():
    size, batch, iters, warmup, threads = map(int, sys.argv[1:6])
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(5)
    rows = []
    for stage, channels, side in (("C4", 256, size // 16), ("C5", 512, size // 32)):
        x = torch.rand(batch, channels, side, side, generator=g).requires_grad_()
        weight = ((torch.rand(channels, channels, 3, 3, generator=g) - 0.5) * 0.05).requires_grad_()
        offset = ((torch.rand(batch, 18, side, side, generator=g) - 0.5) * 4).requires_grad_()
        mask = torch.rand(batch, 9, side, side, generator=g).requires_grad_()
        samples = []
        for i in range(warmup + iters):
            start = time.perf_counter()
            torchvision.ops.deform_conv2d(x, offset, weight, padding=(1, 1), mask=mask).sum().backward()
            if i >= warmup:
                samples.append((time.perf_counter() - start) * 1e3)
        samples.sort()
        rows.append({"stage": stage, "shape": [batch, channels, side, side], "torchvision": samples[len(samples) // 2]})
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
