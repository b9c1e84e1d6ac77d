"""PNG and SVG of a signature: pixels and paths checked against values worked out by hand."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib

import numpy as np

from edge.app.render import to_png, to_svg
from firmware_bridge.signature import Signature


def hline(pressure=None) -> Signature:
    """x 0..100 at y 0, 11 points 10 ms apart."""
    return Signature.create(t_ms=np.arange(11) * 10.0, x=np.arange(11) * 10.0, y=np.zeros(11),
                            pressure=pressure)


def decode_png(data: bytes) -> np.ndarray:
    """Our own reader for what the writer promises: greyscale 8-bit, filter 0 on every row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + n
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 0) and b"IEND" in chunks
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert not rows[:, 0].any()
    return rows[:, 1:]


def test_png_of_a_horizontal_line():
    # 120x40, 5 % margin: x spans 108 px from x=6 (scale 1.08), y sits at 20; pen 3 px, radius 1.5.
    # A pixel centre 0.5 px from the line is fully inked (grey 20); 1.5 px away half
    # (255 - 0.5 * 235 = 137.5, rounded to even 138); 2.5 px away untouched.
    img = decode_png(to_png(hline(), width=120, height=40))
    assert img.shape == (40, 120)
    assert list(img[16:24, 60]) == [255, 255, 138, 20, 20, 138, 255, 255]
    assert img[20, 6] == 20 and img[20, 113] == 20          # the ends (round caps)
    assert (img[:, :3] == 255).all() and (img[:, 117:] == 255).all()


def test_pressure_sets_the_width():
    light_then_heavy = np.where(np.arange(11) < 5, 0.0, 1.0)
    img = decode_png(to_png(hline(light_then_heavy), width=120, height=40, pen_px=8))
    inked = lambda col: int((img[:, col] < 128).sum())     # noqa: E731
    # radius 8/2 * 0.35 = 1.4 px at zero pressure, 4 px at full
    assert inked(20) == 2 and inked(100) == 8              # 1.4 px: rows 19-20 only (1.5 px away: 40 %)


def test_svg_paths():
    svg = to_svg(hline(np.where(np.arange(11) < 5, 0.0, 1.0)), width=120, height=40, pen_px=8)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    paths = root.findall(f"{ns}g/{ns}path")
    widths = sorted(float(p.get("stroke-width")) for p in paths)
    # segment pressures (mean of ends): 0 x4, 0.5 x1, 1 x5 -> widths 2.8, 5.4, 8, rounded to 1/8 of the pen (1 px)
    assert widths == [3.0, 5.0, 8.0]
    assert paths[0].get("d").startswith("M6.0 20.0L16.8 20.0")
    assert root.get("width") == "120" and root.get("height") == "40"
