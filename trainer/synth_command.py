"""``sigpad-train synth``: write synthetic writers as SVC2004 Task2 files.

Writer w (1..N) gets ``U<w>S1..S20.TXT`` (genuine 0..19) and ``U<w>S21..S40.TXT``
(skilled forgeries 0..19), so every SVC2004 reader, the evaluation harness
included, reads them. Writer w's seed is ``seed * 100_000 + w``.
With ``--from-real DIR`` writer w is instead fitted to ``U<w>S1.TXT`` of that
SVC2004 folder (offline: fitting takes seconds per signature).
No TensorFlow here; matplotlib is imported only for ``--plot``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edge.errors import ConfigError
from firmware_bridge import svc2004
from firmware_bridge.synthetic import Writer, make_writer

from .progress import Progress

SEED_STRIDE = 100_000


def add_arguments(p) -> None:
    p.add_argument("--writers", type=int, default=20, help="number of writers (default 20)")
    p.add_argument("--out", type=Path, required=True, help="folder to write U<w>S<s>.TXT into")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--rate", type=float, default=100.0, help="sampling rate in Hz (default 100)")
    p.add_argument("--from-real", type=Path, default=None, metavar="DIR",
                   help="fit each writer to U<w>S1.TXT of this SVC2004 folder instead")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="also render the first writers (genuine, forgeries, speed) to this PNG")
    p.add_argument("--json", action="store_true", help="a JSON summary on stdout")


def writer_seed(seed: int, w: int) -> int:
    return seed * SEED_STRIDE + w


def make_writers(args) -> dict[int, Writer]:
    if args.writers < 1:
        raise ConfigError(f"--writers must be at least 1, got {args.writers}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    if args.from_real is None:
        return {w: make_writer(writer_seed(args.seed, w)) for w in range(1, args.writers + 1)}
    users = svc2004.scan(args.from_real)
    writers = {}
    for u in list(users)[: args.writers]:
        if 1 in users[u].genuine:
            writers[u] = Writer.from_signature(svc2004.read(users[u].genuine[1]), writer_seed(args.seed, u))
            print(f"fitted U{u}S1: SNR {writers[u].fit_snr_db:.1f} dB", file=sys.stderr)
    return writers


def write_writers(writers: dict[int, Writer], out: Path, rate_hz: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with Progress(len(writers), "writers") as bar:
        for w, writer in writers.items():
            for s in svc2004.GENUINE:
                svc2004.write(writer.genuine(s - 1, rate_hz), out / f"U{w}S{s}.TXT")
            for s in svc2004.FORGERIES:
                svc2004.write(writer.forgery(s - 21, rate_hz), out / f"U{w}S{s}.TXT")
            count += len(svc2004.GENUINE) + len(svc2004.FORGERIES)
            bar.advance()
    return count


def run(args) -> int:
    writers = make_writers(args)
    files = write_writers(writers, args.out, args.rate)
    summary = {"writers": len(writers), "files": files, "out": str(args.out), "rate_hz": args.rate}
    if args.from_real is not None:
        summary["fit_snr_db"] = {w: None if wr.fit_snr_db is None else round(wr.fit_snr_db, 2)
                                 for w, wr in writers.items()}
    if args.plot is not None:
        from .plots import plot_writers
        plot_writers(list(writers.values())[:3], args.plot, args.rate)
        summary["plot"] = str(args.plot)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {files} files for {len(writers)} writers to {args.out}")
    return 0
