#!/usr/bin/env python3
"""Writes the 16-bit PNG fixtures of Tests/DataTests/Fixtures with nothing but Python's zlib and
struct (no libpng, no Pillow), so that the 16-bit decoder is checked against an independent
writer:

- hu16.png: 4x2 gray, 16 bits, samples chosen for DeepLesion's 32768 offset and for bytes
  that differ between the high and low halves (0x1234: high byte 18, low byte 52).
- rgb16.png: 2x1 RGB, 16 bits.

Run: python3 tools/make_png16_fixtures.py
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "DataTests", "Fixtures")


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png16(width, height, color_type, channels, samples):
    """A PNG of big-endian 16-bit samples, each row with filter type 0 (none)."""
    rows = b""
    per_row = width * channels
    for y in range(height):
        row = samples[y * per_row:(y + 1) * per_row]
        rows += b"\x00" + b"".join(struct.pack(">H", v) for v in row)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# -1024 HU (air), 0 HU (water), 40 HU, 0x1234; 65535, 0, 95 HU, 1.
HU = [31744, 32768, 32808, 0x1234, 65535, 0, 32863, 1]
RGB = [0x0102, 0x0304, 0x0506, 65535, 32768, 7]

with open(os.path.join(OUT, "hu16.png"), "wb") as f:
    f.write(png16(4, 2, 0, 1, HU))
with open(os.path.join(OUT, "rgb16.png"), "wb") as f:
    f.write(png16(2, 1, 2, 3, RGB))
print("16-bit fixtures written to", os.path.normpath(OUT))
