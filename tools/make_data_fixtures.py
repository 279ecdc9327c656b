"""Writes the small image fixtures of Tests/DataTests/Fixtures (run once; never by the build).

Needs Pillow:  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pillow
               /tmp/venv/bin/python tools/make_data_fixtures.py

- orientation_N.jpg (N = 1...8): the same 24x16 picture stored so that a viewer honouring EXIF
  orientation N shows it upright; upright.png is that upright picture (what decoding must give).
- gray.png, gray_alpha.png, palette.png, rgba.png, rgb16.png: PNG colour types and depths.
- gray.jpg: a grayscale JPEG.
"""
import os

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "DataTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)

# Four flat 8x8-aligned blocks of distinct colours (a 3x2 grid of 8x8 cells): JPEG keeps flat
# aligned blocks nearly exact, so a decoded pixel tells which way the picture was turned.
colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
upright = Image.new("RGB", (24, 16))
for i, color in enumerate(colors):
    x, y = (i % 3) * 8, (i // 3) * 8
    upright.paste(color, (x, y, x + 8, y + 8))
upright.save(os.path.join(OUT, "upright.png"))

# The stored pixels for orientation N are the inverse of what the viewer applies.
inverse = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed after a 90 degree clockwise turn
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
for n, op in inverse.items():
    stored = upright if op is None else upright.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = n
    path = os.path.join(OUT, f"orientation_{n}.jpg")
    stored.save(path, quality=100, subsampling=0, exif=exif.tobytes())
    # Check the fixture against Pillow's own reading.
    from PIL import ImageOps
    shown = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    assert shown.size == upright.size, (n, shown.size)
    assert shown.getpixel((2, 2)) == upright.getpixel((2, 2)) or max(
        abs(a - b) for a, b in zip(shown.getpixel((2, 2)), upright.getpixel((2, 2)))) < 8, n

gray = Image.new("L", (5, 3))
gray.putdata([0, 40, 80, 120, 160, 200, 240, 255, 10, 20, 30, 40, 50, 60, 70])
gray.save(os.path.join(OUT, "gray.png"))
gray.save(os.path.join(OUT, "gray.jpg"), quality=95)
la = Image.merge("LA", (gray, Image.new("L", (5, 3), 128)))
la.save(os.path.join(OUT, "gray_alpha.png"))
rgba = Image.new("RGBA", (4, 2), (10, 20, 30, 40))
rgba.putpixel((3, 1), (250, 240, 230, 255))
rgba.save(os.path.join(OUT, "rgba.png"))
palette = Image.new("RGB", (4, 2), (200, 100, 50)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
palette.save(os.path.join(OUT, "palette.png"))
# 16-bit RGB: Pillow writes 16-bit PNGs only for I;16 gray; that is enough for the 16-bit path.
deep = Image.new("I;16", (3, 2))
deep.putdata([0, 257 * 100, 65535, 257 * 7, 257 * 200, 257 * 255])
deep.save(os.path.join(OUT, "gray16.png"))
print("fixtures written to", os.path.normpath(OUT))
