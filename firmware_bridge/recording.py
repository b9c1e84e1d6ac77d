"""Signature recordings: what a pad captured, as one JSON file (``sig.json``).

``sigpad capture --port ... --out sig.json`` writes one; every ``--file``
option that reads SVC2004 text files reads these too (``read_signature_file``
tells them apart by content), and so does the virtual pad, so a signature
recorded on a real pad can be replayed, enrolled or verified anywhere.

Format ``sigpad-recording`` version 1 (docs/edge.md shows an example)::

    {"format": "sigpad-recording", "version": 1,
     "pad": {"protocol": "isdv4", "port": "/dev/ttyUSB0", "serial": "", "firmware": 0},
     "capabilities": {"max_x": 30000, "max_y": 20000, "max_pressure": 1023, ...},
     "rate_hz": 133.0,
     "channels": ["t_ms", "x", "y", "pen_down", "pressure"],
     "samples": [[0.0, 1200, 3400, 1, 0.41], ...]}

``t_ms`` is milliseconds from the first sample; ``x``/``y`` are the pad's own
units with y growing upward (as every ``Sample``); ``pen_down`` is 0 or 1;
``pressure`` (0..1) is present only when the pad has it. ``rate_hz`` is the
median sampling rate measured on the samples. Unknown top-level keys are
ignored (later versions may add some); a higher ``version`` is refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataFormatError, SignatureError
from .private_files import write_private
from .protocols.base import Capabilities
from .signature import Floats, Signature

FORMAT, VERSION = "sigpad-recording", 1
MAX_BYTES = 16 * 1024 * 1024
"""A minute at 1 kHz is ~3 MB of JSON; anything far larger is not a signature."""
MAX_SAMPLES = 200_000
REQUIRED = ("t_ms", "x", "y", "pen_down")
OPTIONAL = ("pressure",)


def measured_rate_hz(sig: Signature) -> float:
    """Median samples per second over the signature's positive time steps."""
    dt = np.diff(sig.t_ms)
    dt = dt[dt > 0]
    return round(1000.0 / float(np.median(dt)), 3) if len(dt) else 0.0


def to_dict(sig: Signature, protocol: str = "", port: str = "",
            caps: Capabilities | None = None) -> dict[str, Any]:
    """The recording of ``sig`` as a JSON-ready dict."""
    channels = list(REQUIRED) + (["pressure"] if sig.has_pressure else [])
    t = sig.t_ms - sig.t_ms[0]
    cols = [t, sig.x, sig.y, sig.pen_down.astype(int)] + ([sig.pressure] if sig.has_pressure else [])
    rows = [[_number(v) for v in row] for row in zip(*cols)]
    caps_dict = {} if caps is None else {k: v for k, v in caps._asdict().items()
                                         if k not in ("serial", "firmware", "version")}
    return {"format": FORMAT, "version": VERSION,
            "pad": {"protocol": protocol, "port": port,
                    "serial": caps.serial if caps else "", "firmware": caps.firmware if caps else 0},
            "capabilities": caps_dict, "rate_hz": measured_rate_hz(sig),
            "channels": channels, "samples": rows}


def _number(v: float | np.floating[Any] | np.bool_) -> int | float:
    f = float(v)
    return int(f) if f.is_integer() and abs(f) < 2 ** 53 else round(f, 6)


def write(path: str | Path, sig: Signature, protocol: str = "", port: str = "",
          caps: Capabilities | None = None) -> Path:
    """Write ``sig`` as a recording, readable by its owner only (0600); returns the path."""
    text = json.dumps(to_dict(sig, protocol, port, caps), separators=(",", ":")) + "\n"
    return write_private(path, text.encode())


def from_dict(data: object, source: str = "<recording>") -> Signature:
    """Parse a recording (already decoded JSON); ``DataFormatError`` names what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataFormatError(f'not a sigpad recording ("format" is not {FORMAT!r})', source)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise DataFormatError(f"recording version {version!r} not supported (this reader: 1..{VERSION})",
                              source)
    channels = data.get("channels")
    if (not isinstance(channels, list) or list(channels[:4]) != list(REQUIRED)
            or any(c not in OPTIONAL for c in channels[4:]) or len(set(channels)) != len(channels)):
        raise DataFormatError(f'"channels" must be {list(REQUIRED)} optionally followed by '
                              f"{list(OPTIONAL)}, got {channels!r}", source)
    columns = _columns(data.get("samples"), len(channels), source)
    values = dict(zip(channels, columns))
    if np.any((values["pen_down"] != 0) & (values["pen_down"] != 1)):
        raise DataFormatError('"pen_down" values must be 0 or 1', source)
    try:
        return Signature.create(t_ms=values["t_ms"], x=values["x"], y=values["y"],
                                pen_down=values["pen_down"].astype(bool),
                                pressure=values.get("pressure"), source=source,
                                notes=(f"recording of a {_pad_name(data)} pad",))
    except SignatureError as exc:
        raise DataFormatError(f"not a usable signature: {exc}", source) from exc


def _columns(rows: object, width: int, source: str) -> list[Floats]:
    if not isinstance(rows, list) or not rows:
        raise DataFormatError('"samples" must be a non-empty list of rows', source)
    if len(rows) > MAX_SAMPLES:
        raise DataFormatError(f"{len(rows)} samples, more than the {MAX_SAMPLES} a signature may have",
                              source)
    out = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise DataFormatError(f"sample {i}: expected a list of {width} numbers, got {row!r:.60}", source)
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise DataFormatError(f"sample {i}: {v!r:.30} is not a number", source)
            try:
                f = float(v)
            except OverflowError:       # a 400-digit integer is valid JSON
                f = math.inf
            if not math.isfinite(f):
                raise DataFormatError(f"sample {i}: {v!r:.30} is not a finite number", source)
            out[i, j] = f
    return list(out.T)


def _pad_name(data: dict[str, object]) -> str:
    pad = data.get("pad")
    protocol = pad.get("protocol") if isinstance(pad, dict) else None
    return protocol if isinstance(protocol, str) and protocol else "unknown"


def read(path: str | Path) -> Signature:
    """Read a recording file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DataFormatError(f"{size} bytes, more than a recording may have ({MAX_BYTES})", str(path))
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc.strerror or exc}", str(path)) from exc
    except (ValueError, RecursionError) as exc:   # JSONDecodeError, bad UTF-8, nesting
        raise DataFormatError(f"not valid JSON: {exc}", str(path)) from exc
    return from_dict(data, str(path))


def is_recording(path: str | Path) -> bool:
    """The file starts like JSON (a recording) rather than a point count (SVC2004)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


def read_signature_file(path: str | Path) -> Signature:
    """A signature from a recording (JSON) or an SVC2004 text file, told apart by content."""
    if is_recording(path):
        return read(path)
    from . import svc2004
    return svc2004.read(path)
