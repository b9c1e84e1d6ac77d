"""A signature as a picture: PNG (numpy + zlib, no imaging library) and SVG.

``sigpad render sig.json --out sig.png`` and the API's
``/v1/captures/{id}.png`` / ``.svg`` use these. The pen-down samples are
fitted into the image with a margin, keeping the aspect ratio, y upward as
the pad has it; consecutive pen-down samples are joined by round-capped
segments whose width follows the pressure where the pad has one (35 % of
the width at zero pressure, all of it at full pressure).

The PNG is 8-bit greyscale, ink dark on white, anti-aliased by the distance
of each pixel centre to the segment (a one-pixel ramp at the edge). Pillow
would do the same for some 10 MB more on the Pi.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from firmware_bridge.signature import Signature

MARGIN = 0.05
MIN_WIDTH_FRACTION = 0.35
INK_GREY = 20                       # 0 black .. 255 white


def _segments(sig: Signature, width: int, height: int, pen_px: float) -> np.ndarray:
    """(x0, y0, x1, y1, radius) rows in pixel coordinates, one per pen-down step."""
    down = sig.pen_down
    x, y = sig.x, sig.y
    xd, yd = x[down], y[down]
    span_x, span_y = max(np.ptp(xd), 1e-9), max(np.ptp(yd), 1e-9)
    usable_w, usable_h = width * (1 - 2 * MARGIN), height * (1 - 2 * MARGIN)
    scale = min(usable_w / span_x, usable_h / span_y)
    off_x = (width - span_x * scale) / 2 - xd.min() * scale
    off_y = (height - span_y * scale) / 2 + yd.max() * scale
    px, py = x * scale + off_x, off_y - y * scale          # image y grows downward
    both = down[:-1] & down[1:]
    if sig.pressure is not None:
        p = (sig.pressure[:-1] + sig.pressure[1:]) / 2
        radius = pen_px / 2 * (MIN_WIDTH_FRACTION + (1 - MIN_WIDTH_FRACTION) * p)
    else:
        radius = np.full(len(sig) - 1, pen_px / 2)
    rows = np.stack([px[:-1], py[:-1], px[1:], py[1:], radius], axis=1)
    segments: np.ndarray = rows[both]
    return segments


def rasterize(sig: Signature, width: int = 600, height: int = 300, pen_px: float = 3.0) -> np.ndarray:
    """Ink coverage 0..1 as a (height, width) float array."""
    ink = np.zeros((height, width), dtype=np.float32)
    for x0, y0, x1, y1, r in _segments(sig, width, height, pen_px):
        reach = r + 1.0
        c0, c1 = int(max(0, np.floor(min(x0, x1) - reach))), int(min(width, np.ceil(max(x0, x1) + reach) + 1))
        r0, r1 = int(max(0, np.floor(min(y0, y1) - reach))), int(min(height, np.ceil(max(y0, y1) + reach) + 1))
        if c0 >= c1 or r0 >= r1:
            continue
        gx, gy = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else np.clip(((gx - x0) * dx + (gy - y0) * dy) / length2, 0.0, 1.0)
        dist = np.hypot(gx - (x0 + t * dx), gy - (y0 + t * dy))
        cover = np.clip(r + 0.5 - dist, 0.0, 1.0)
        np.maximum(ink[r0:r1, c0:c1], cover, out=ink[r0:r1, c0:c1])
    return ink


def png_bytes(grey: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a (height, width) uint8 array."""
    height, width = grey.shape
    raw = np.zeros((height, width + 1), dtype=np.uint8)   # filter byte 0 (None) per row
    raw[:, 1:] = grey

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))


def to_png(sig: Signature, width: int = 600, height: int = 300, pen_px: float = 3.0) -> bytes:
    ink = rasterize(sig, width, height, pen_px)
    grey = np.round(255 - ink * (255 - INK_GREY)).astype(np.uint8)
    return png_bytes(grey)


def to_svg(sig: Signature, width: int = 600, height: int = 300, pen_px: float = 3.0) -> str:
    """An SVG: one path per width level (8 levels), round caps and joins."""
    segs = _segments(sig, width, height, pen_px)
    paths = []
    if len(segs):
        levels = np.round(segs[:, 4] * 2 / pen_px * 8) / 8 * pen_px      # widths to 1/8 of the pen
        for w in np.unique(levels):
            d = " ".join(f"M{a:.1f} {b:.1f}L{c:.1f} {e:.1f}" for a, b, c, e, _ in segs[levels == w])
            paths.append(f'<path d="{d}" stroke-width="{w:.2f}"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<g fill="none" stroke="rgb({INK_GREY},{INK_GREY},{INK_GREY})" stroke-linecap="round" '
            f'stroke-linejoin="round">{"".join(paths)}</g></svg>\n')


def render(sig: Signature, kind: str, **size: int) -> bytes:
    """``kind`` 'png' or 'svg' as bytes."""
    if kind == "png":
        return to_png(sig, **size)
    if kind == "svg":
        return to_svg(sig, **size).encode()
    raise ValueError(f"unknown image kind {kind!r} (png or svg)")


SIZE_LIMITS = (16, 8000)


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``600x300``), each 16..8000; ``ValueError`` naming the rule."""
    low, high = SIZE_LIMITS
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, each {low}..{high}") from None
    if not (low <= width <= high and low <= height <= high):
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, each {low}..{high}")
    return width, height
