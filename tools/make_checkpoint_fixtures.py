#!/usr/bin/env python3
"""Writes the checkpoint fixtures that Tests/TorchTests reads: real files from the reference tools.

The Swift readers in Sources/Torch/Serialization are tested against files written by PyTorch's own
`torch.save` and by the reference `safetensors` package, not against files the Swift side wrote,
so a misreading of either format cannot hide behind a matching misreading in a writer.

The committed fixtures were written by torch 2.13.0+cpu and safetensors 0.8.0 (Python 3.11).
To regenerate them, in a throwaway environment outside the repository (never at run time):

    python3.11 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl \
        numpy safetensors
    /tmp/fixvenv/bin/python tools/make_checkpoint_fixtures.py

Output, in Tests/TorchTests/Fixtures/ (a few KB in all):
  state_dict.pth        torchvision-like state dict: every dtype, a transposed tensor, views with a
                        storage offset and with a zero stride, a 0-d and an empty tensor, _metadata
  nested.pth            {"model": state dict, "optimizer": SGD state, "epoch": ..., ...}
  zip64.pth             two tensors in a zip whose central directory uses ZIP64 extra fields
  compressed.pth        a torch.save archive re-zipped with deflate (must be refused)
  legacy.pth            the pre-1.6 non-zip torch.save format (read since the mmdetection importer)
  malicious.pth         a zip whose data.pkl calls os.system (must be refused; never unpickled here)
  reference.safetensors written by the safetensors package: every dtype and metadata
  checkpoints.json      expected names, dtypes, shapes, raw bytes (hex) and values of all the above

The malicious pickle is assembled from opcodes and only written to disk: nothing here loads it.
"""

import collections
import io
import json
import os
import struct
import zipfile
import zlib

import torch
from torch import nn

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TorchTests", "Fixtures")


def describe(t):
    """The expectations a Swift test checks: exact bytes (contiguous, row-major) and values."""
    flat = t.detach().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    if t.dtype.is_floating_point:
        values = flat.double().tolist()
    elif t.dtype == torch.bool:
        values = [int(v) for v in flat.tolist()]
    else:
        values = flat.tolist()
    return {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "hex": raw.hex(),
        "values": values,
    }


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 1, bias=False)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(2)
        self.layer1 = nn.Sequential(Block())
        self.fc = nn.Linear(3, 2)


def make_state_dict():
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net.bn.running_mean.copy_(torch.randn(2))
        net.bn.running_var.copy_(torch.rand(2) + 0.5)
        net.bn.num_batches_tracked.fill_(7)
    sd = net.state_dict()  # an OrderedDict carrying a _metadata attribute, like torchvision's
    # Storage layouts a reader must honour: a transposed view of fc.weight (same storage, swapped
    # strides), a row of a larger tensor (storage offset), and an expanded vector (stride 0).
    sd["extra.transposed"] = sd["fc.weight"].t()
    base = torch.arange(8, dtype=torch.float32).reshape(2, 4) / 4
    sd["extra.base"] = base
    sd["extra.row_view"] = base[1, 1:]
    sd["extra.column_view"] = base[:, 2]
    sd["extra.expanded"] = torch.tensor([1.5, -2.0, 3.25]).expand(2, 3)
    sd["extra.scalar"] = torch.tensor(0.125)
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.bf16"] = torch.tensor([1.0, -2.5, 3.140625, 1e-3], dtype=torch.bfloat16)
    sd["extra.f16"] = torch.tensor([0.5, -1.25, 65504.0], dtype=torch.float16)
    sd["extra.f64"] = torch.tensor([[0.1, -1e300]], dtype=torch.float64)
    sd["extra.i64"] = torch.tensor([-(2**62), 3, 2**40], dtype=torch.int64)
    sd["extra.i32"] = torch.tensor([-7, 2**31 - 1], dtype=torch.int32)
    sd["extra.i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["extra.i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    sd["extra.u8"] = torch.tensor([0, 255, 9], dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, True])
    return sd


def make_nested():
    torch.manual_seed(1)
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "best_accuracy": 0.75,
        "args": ["--lr", "0.1"],
        "finished": True,
        "note": None,
    }


def rezip(source_bytes, compression):
    """The entries of a torch.save archive written again by Python's zipfile."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source_bytes)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


def zip64_archive(entries):
    """A stored zip whose central directory marks every size and offset as 0xFFFFFFFF and gives the
    real values in ZIP64 extra fields, the layout large (> 4 GiB) checkpoints get."""
    body = bytearray()
    central = bytearray()
    for name, data in entries:
        name_bytes = name.encode()
        crc = zlib.crc32(data)
        offset = len(body)
        local_extra = struct.pack("<HHQQ", 0x0001, 16, len(data), len(data))
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc,
                            0xFFFFFFFF, 0xFFFFFFFF, len(name_bytes), len(local_extra))
        body += name_bytes + local_extra + data
        extra = struct.pack("<HHQQQ", 0x0001, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(name_bytes), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += name_bytes + extra
    cd_offset = len(body)
    count = len(entries)
    zip64_eocd_offset = cd_offset + len(central)
    tail = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), cd_offset)
    tail += struct.pack("<IIQI", 0x07064B50, 0, zip64_eocd_offset, 1)
    tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(body + central + tail)


def malicious_pickle():
    """`os.system("echo pwned")` as protocol-2 opcodes; a safe reader must refuse the GLOBAL."""
    command = b"echo pwned"
    return (b"\x80\x02" + b"cos\nsystem\n" + b"X" + struct.pack("<I", len(command)) + command
            + b"\x85" + b"R" + b".")


def write(name, data):
    with open(os.path.join(FIXTURES, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    expected = {"torch_version": torch.__version__}

    sd = make_state_dict()
    buffer = io.BytesIO()
    torch.save(sd, buffer)
    state_dict_bytes = buffer.getvalue()
    write("state_dict.pth", state_dict_bytes)
    expected["state_dict"] = {k: describe(v) for k, v in sd.items()}

    nested = make_nested()
    buffer = io.BytesIO()
    torch.save(nested, buffer)
    write("nested.pth", buffer.getvalue())
    expected["nested"] = {
        "model": {k: describe(v) for k, v in nested["model"].items()},
        "momentum_buffers": {
            str(i): describe(s["momentum_buffer"]) for i, s in nested["optimizer"]["state"].items()
        },
        "epoch": nested["epoch"],
        "best_accuracy": nested["best_accuracy"],
    }

    small = collections.OrderedDict(
        [("layer1.0.conv1.weight", sd["layer1.0.conv1.weight"]), ("bn.num_batches_tracked", sd["bn.num_batches_tracked"])]
    )
    buffer = io.BytesIO()
    torch.save(small, buffer)
    small_bytes = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(small_bytes)) as z:
        zip64 = zip64_archive([(i.filename, z.read(i.filename)) for i in z.infolist()])
    with zipfile.ZipFile(io.BytesIO(zip64)) as z:  # Python's zipfile must accept what we crafted
        assert z.testzip() is None
    write("zip64.pth", zip64)
    expected["small"] = {k: describe(v) for k, v in small.items()}

    write("compressed.pth", rezip(small_bytes, zipfile.ZIP_DEFLATED))

    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer, _use_new_zipfile_serialization=False)
    write("legacy.pth", buffer.getvalue())

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", malicious_pickle())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/.format_version", "1")
    write("malicious.pth", buffer.getvalue())

    from safetensors.torch import save as save_safetensors
    import safetensors

    tensors = {
        "a.f32": torch.tensor([[1.0, -2.0, 0.1], [3.5, 1e-8, -0.0]]),
        "b.f64": torch.tensor([0.1, -1e300], dtype=torch.float64),
        "c.f16": torch.tensor([0.5, -1.25, 65504.0], dtype=torch.float16),
        "d.bf16": torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16),
        "e.i64": torch.tensor([-(2**62), 2**40], dtype=torch.int64),
        "f.i32": torch.tensor([[-7], [2**31 - 1]], dtype=torch.int32),
        "g.i16": torch.tensor([-300, 300], dtype=torch.int16),
        "h.i8": torch.tensor([-128, 127], dtype=torch.int8),
        "i.u8": torch.tensor([0, 255, 9], dtype=torch.uint8),
        "j.bool": torch.tensor([True, False, True]),
        "k.scalar": torch.tensor(2.0),
        "l.empty": torch.zeros(0, 2),
    }
    metadata = {"format": "pt", "source": "make_checkpoint_fixtures.py"}  # sorted, like our writer
    write("reference.safetensors", save_safetensors(tensors, metadata=metadata))
    expected["safetensors_version"] = safetensors.__version__
    expected["safetensors"] = {k: describe(v) for k, v in tensors.items()}
    expected["safetensors_metadata"] = metadata

    with open(os.path.join(FIXTURES, "checkpoints.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
