"""The SVC2004 text format: read, write, and find the files of a dataset.

A file is ASCII: line 1 holds the point count N, then N rows of integers
separated by spaces: ``x y t button`` (Task1) or ``x y t button azimuth
altitude pressure`` (Task2 and the sample set). Quirks of the real data, and
what this reader does about each (every repair is recorded in ``notes``):

* Pen-up movement is not sampled; button 0 marks the first point of a stroke.
  Strokes are recovered later from the time gaps, so 0 and 1 both mean down.
* Buttons 2 and 4 occur; in Task2 those rows always have pressure 0: pen-up.
  Buttons 3 and 5 have pressure: pen-down.
* Timestamps sometimes step back 7-9 ms: rows are stably sorted by time.
* Pressure is 10-bit (0..1023) and is scaled to 0..1; a value outside is
  refused (a pad cannot report it), not clipped.

Values are plain decimal integers: Python's ``int`` would also take
``1_000`` and numbers of any length, so both are refused by name, as is any
value of ``MAX_DIGITS`` digits or more (no pad or clock reports one).

The synthetic writers write the Task2 form, so everything that reads SVC2004
reads them too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np

from .errors import DataFormatError, SignatureError
from .private_files import write_private
from .signature import Floats, Signature

PRESSURE_MAX = 1023.0
PEN_UP_BUTTONS = (2, 4)
MAX_DIGITS = 13
"""Values have fewer digits than this (SVC2004's timestamps have 8)."""
_NAME = re.compile(r"^(?:U(\d+)S(\d+)|USER(\d+)_(\d+))\.txt$", re.IGNORECASE)
GENUINE = range(1, 21)
FORGERIES = range(21, 41)


def parse(text: str, source: str = "<text>") -> Signature:
    """Parse the text of one SVC2004 file into a validated ``Signature``."""
    rows = _parse_rows(text, source)
    notes = []
    order = np.argsort(rows[:, 2], kind="stable")
    backward = int(np.count_nonzero(np.diff(rows[:, 2]) < 0))
    if backward:
        rows = rows[order]
        notes.append(f"sorted rows by time ({backward} backward steps)")
    button = rows[:, 3].astype(int)
    pen_down = ~np.isin(button, PEN_UP_BUTTONS)
    if not pen_down.all():
        notes.append(f"{np.count_nonzero(~pen_down)} rows with button 2/4 read as pen-up")
    pressure = azimuth = altitude = None
    if rows.shape[1] == 7:
        azimuth, altitude = rows[:, 4], rows[:, 5]
        pressure = rows[:, 6] / PRESSURE_MAX
    try:
        return Signature.create(
            t_ms=rows[:, 2], x=rows[:, 0], y=rows[:, 1], pen_down=pen_down,
            pressure=pressure, azimuth=azimuth, altitude=altitude,
            source=source, notes=notes)
    except SignatureError as exc:
        raise DataFormatError(f"not a usable signature: {exc}", source) from exc


def _parse_rows(text: str, source: str) -> Floats:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataFormatError("empty file (line 1 should hold the point count)", source, 1)
    odd = _ODD.search(text)      # what int() would take but the format has not
    if odd is not None:
        lineno = text.count("\n", 0, odd.start()) + 1
        _refuse_value(lines[lineno - 1].split(), source, lineno)
    head = lines[0].strip()
    if not _is_int(head) or len(head) > 9:
        raise DataFormatError(f"point count {head[:20]!r} is not an integer below 10^9", source, 1)
    count = int(head)
    body = [(i + 2, ln.split()) for i, ln in enumerate(lines[1:]) if ln.strip()]
    if len(body) != count:
        raise DataFormatError(f"header says {count} points, file has {len(body)} rows", source, 1)
    if count == 0:
        raise DataFormatError("no points", source, 1)
    width = len(body[0][1])
    if width not in (4, 7):
        raise DataFormatError(f"{width} columns, expected 4 (Task1) or 7 (Task2)", source, body[0][0])
    values = np.empty((count, width), dtype=np.float64)
    for k, (lineno, cols) in enumerate(body):
        if len(cols) != width:
            raise DataFormatError(f"{len(cols)} columns, expected {width}", source, lineno)
        try:
            values[k] = [int(c) for c in cols]
        except (ValueError, OverflowError):   # OverflowError: too large even for a float
            _refuse_value(cols, source, lineno)
    _check_pressure(values, body, source)
    return values


def _refuse_value(cols: list[str], source: str, lineno: int) -> NoReturn:
    bad = next(c for c in cols if not _is_int(c))
    if len(bad) >= MAX_DIGITS:
        raise DataFormatError(f"a number of {len(bad)} digits ({bad[:12]}...) is out of range", source, lineno)
    raise DataFormatError(f"value {bad[:20]!r} is not an integer", source, lineno)


def _check_pressure(values: Floats, body: list[tuple[int, list[str]]], source: str) -> None:
    if values.shape[1] != 7:
        return
    p = values[:, 6]
    bad = np.flatnonzero((p < 0) | (p > PRESSURE_MAX))
    if len(bad):
        raise DataFormatError(f"pressure {int(p[bad[0]])} outside 0..{int(PRESSURE_MAX)}",
                              source, body[bad[0]][0])


_DECIMAL = re.compile(r"-?[0-9]+")
_ODD = re.compile(rf"[_+]|[0-9]{{{MAX_DIGITS}}}")


def _is_int(text: str) -> bool:
    """A plain decimal integer of fewer than ``MAX_DIGITS`` characters (no ``_``, no ``+``)."""
    return len(text) < MAX_DIGITS and _DECIMAL.fullmatch(text) is not None


def read(path: str | os.PathLike[str]) -> Signature:
    """Read one SVC2004 file; errors name the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc.strerror or exc}", str(path)) from exc
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFormatError("not ASCII text", str(path), line) from exc
    return parse(text, str(path))


def format_signature(sig: Signature) -> str:
    """The Task2 text form of a signature (button 0 on each stroke's first point)."""
    t = np.round(sig.t_ms).astype(np.int64)
    dt = np.diff(t, prepend=t[0] - 10_000)
    step = np.median(dt[1:][dt[1:] > 0]) if len(t) > 1 and np.any(dt[1:] > 0) else 10
    down = sig.pen_down
    starts = down & (np.r_[True, ~down[:-1]] | (dt > 3 * step))
    button = np.where(down, np.where(starts, 0, 1), 2)
    zeros = np.zeros(len(sig))
    p = sig.pressure if sig.pressure is not None else down.astype(float)
    az = sig.azimuth if sig.azimuth is not None else zeros
    alt = sig.altitude if sig.altitude is not None else zeros
    cols = np.column_stack([np.round(sig.x), np.round(sig.y), t, button,
                            np.round(az), np.round(alt), np.round(p * PRESSURE_MAX)])
    lines = [str(len(sig))] + [" ".join(str(int(v)) for v in row) for row in cols]
    return "\r\n".join(lines) + "\r\n"


def write(sig: Signature, path: str | os.PathLike[str]) -> None:
    write_private(path, format_signature(sig).encode("ascii"))     # a signature: its owner's only


# --- datasets -------------------------------------------------------------------

@dataclass
class UserFiles:
    """The files of one user: genuine (S1-S20) and skilled forgeries (S21-S40)."""

    user: int
    genuine: dict[int, Path] = field(default_factory=dict)
    forgeries: dict[int, Path] = field(default_factory=dict)


def name_of(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(user, signature number) from ``U3S7.TXT`` or ``USER3_7.txt``; else None."""
    m = _NAME.match(Path(path).name)
    if not m:
        return None
    u, s = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return int(u), int(s)


def scan(root: str | os.PathLike[str]) -> dict[int, UserFiles]:
    """Index a folder of SVC2004 files by user. Missing files are simply absent."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError("no such dataset folder", str(root))
    users: dict[int, UserFiles] = {}
    for path in sorted(root.iterdir()):
        key = name_of(path)
        if key is None:
            continue
        u, s = key
        entry = users.setdefault(u, UserFiles(u))
        if s in GENUINE:
            entry.genuine[s] = path
        elif s in FORGERIES:
            entry.forgeries[s] = path
    if not users:
        raise DataFormatError("no U<user>S<sig>.TXT files", str(root))
    return dict(sorted(users.items()))


def default_data_root() -> Path:
    """``$SIGPAD_DATA`` or ``../shared/data/svc2004`` beside the checkout."""
    env = os.environ.get("SIGPAD_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "svc2004"
