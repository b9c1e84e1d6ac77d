"""The SigComp2009 (NISDCC) online format, ``.hwr``: read one file or a whole archive.

A file is ASCII: line 1 is ``NLDCC-WWW_AAA_SSS N`` (the writer, the author
whose signature it is, the sample number, and the row count), then N rows of
a TAB and five integers: ``x y pressure c4 c5``. What this reader does with
the quirks of the real data:

* There is no timestamp: the tablet samples at a fixed 200 Hz, so row k is at
  ``5 k`` ms, hover rows included.
* Pressure <= 0 means the pen hovers in proximity: those rows are pen-up (a
  third of all rows). Pressure is 10-bit and is scaled to 0..1.
* y grows upward, as in SVC2004: no flip.
* Columns 4 and 5 are probably azimuth and altitude, but values up to 1.8e8
  occur in them, so they are not read.

A file is genuine when the writer is the author (``WWW == AAA``) and a skilled
forgery otherwise. The dataset is research-only: it is read from
``../shared`` (or wherever it lies) at run time, member by member from its
``.tar.gz``, never unpacked into the repository.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataFormatError, SignatureError
from .signature import Floats, Signature

RATE_HZ = 200.0
PRESSURE_MAX = 1023.0
_HEADER = re.compile(r"^N[LI]DCC-(\d+)_(\d+)_(\d+)\s+(\d+)\s*$")
_NAME = re.compile(r"N[IL]SDCC-(\d+)_(\d+)_(\d+)\.hwr$", re.IGNORECASE)


@dataclass(frozen=True)
class SampleId:
    """Who wrote it, whose signature it is, and which sample."""

    writer: int
    author: int
    sample: int

    @property
    def genuine(self) -> bool:
        return self.writer == self.author

    def __repr__(self) -> str:
        kind = "genuine" if self.genuine else f"forgery by {self.writer}"
        return f"SampleId(author={self.author} sample={self.sample} {kind})"


def name_of(path: str | os.PathLike[str]) -> SampleId | None:
    """The ids in ``NISDCC-021_001_003.hwr``; None for other names."""
    m = _NAME.search(str(path))
    return SampleId(*(int(g) for g in m.groups())) if m else None


def parse(text: str, source: str = "<text>") -> Signature:
    """Parse the text of one .hwr file into a validated ``Signature``."""
    lines = text.splitlines()
    header = _HEADER.match(lines[0]) if lines else None
    if header is None:
        first = lines[0][:40] if lines else ""
        raise DataFormatError(f"line 1 {first!r} is not 'NLDCC-WWW_AAA_SSS N'", source, 1)
    count = int(header.group(4))
    rows = _rows(lines[1:], count, source)
    pressure = rows[:, 2]
    try:
        return Signature.create(
            t_ms=np.arange(count) * (1000.0 / RATE_HZ), x=rows[:, 0], y=rows[:, 1],
            pen_down=pressure > 0, pressure=np.clip(pressure / PRESSURE_MAX, 0.0, 1.0),
            source=source, notes=[f"no timestamps: {RATE_HZ:g} Hz assumed",
                                  f"{int(np.count_nonzero(pressure <= 0))} hover rows read as pen-up"])
    except SignatureError as exc:
        raise DataFormatError(f"not a usable signature: {exc}", source) from exc


def _rows(lines: list[str], count: int, source: str) -> Floats:
    body = [(i + 2, ln.split()) for i, ln in enumerate(lines) if ln.strip()]
    if len(body) != count:
        raise DataFormatError(f"header says {count} rows, file has {len(body)}", source, 1)
    if count == 0:
        raise DataFormatError("no rows", source, 1)
    values = np.empty((count, 3), dtype=np.float64)
    for k, (lineno, cols) in enumerate(body):
        if len(cols) != 5:
            raise DataFormatError(f"{len(cols)} columns, expected 5", source, lineno)
        try:
            values[k] = [int(c) for c in cols[:3]]
        except ValueError:
            raise DataFormatError(f"non-integer value in {' '.join(cols)[:40]!r}", source, lineno) from None
    return values


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DataFormatError("not ASCII text", source, raw[: exc.start].count(b"\n") + 1) from exc


def read(path: str | os.PathLike[str]) -> Signature:
    """Read one .hwr file; errors name the file and line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataFormatError(f"cannot read: {exc.strerror or exc}", str(path)) from exc
    return parse(_decode(raw, str(path)), str(path))


def read_archive(path: str | os.PathLike[str],
                 skipped: list[str] | None = None) -> Iterator[tuple[SampleId, Signature]]:
    """Every .hwr member of a (.tar.gz) archive, read in place, in archive order.

    A member that is not a usable signature raises ``DataFormatError``, or,
    when a ``skipped`` list is given, is named there and passed over (some
    forgeries last longer than a signature may: up to 87 s).
    """
    with _open_archive(path) as archive:
        for member in archive:
            ids = name_of(member.name) if member.isfile() else None
            data = archive.extractfile(member) if ids is not None else None
            if ids is None or data is None:
                continue
            source = f"{path}:{member.name}"
            try:
                sig = parse(_decode(data.read(), source), source)
            except DataFormatError as exc:
                if skipped is None:
                    raise
                skipped.append(str(exc))
                continue
            yield ids, sig


def _open_archive(path: str | os.PathLike[str]) -> tarfile.TarFile:
    try:
        return tarfile.open(path)
    except (OSError, tarfile.TarError) as exc:
        raise DataFormatError(f"cannot open archive: {exc}", str(path)) from exc


def default_archive() -> Path:
    """``$SIGPAD_SIGCOMP2009`` or ``../shared/data/sigcomp2009_train/nisdcc_online.tar.gz``."""
    env = os.environ.get("SIGPAD_SIGCOMP2009")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sigcomp2009_train"
            / "nisdcc_online.tar.gz")
