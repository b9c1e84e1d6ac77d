"""``sigpad demo``: the whole device on one machine, no pad and no dataset needed.

A virtual pad starts on a pseudo-terminal and speaks a real pad protocol; the
edge opens it like a USB pad, enrols a writer over the serial line (the demo
signs whenever the edge prompts, exactly as a person would), then verifies a
genuine signature and a skilled forgery and prints the decisions, scores and
latencies. Signatures come from a synthetic sigma-lognormal writer, or with
``--data DIR`` from SVC2004 (S1-S5 and S7-S9 enrol and spare, S6 genuine, S21 skilled forgery).
The store is a temporary one unless ``--store`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from firmware_bridge.capture import CaptureConfig
from firmware_bridge.errors import NoSuchFile
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.signature import Signature
from firmware_bridge.virtual import VirtualPad

from ..verifier import open_verifier
from .config import Config
from .padflow import PadSource, enrol_from_pad, verify_from_pad
from .report import OK, decision_line

SIGN_TIMEOUT_S = 60.0
UNSEEN_SEED_BASE = 7_000_000_000
"""Synthetic writer N of the demo is seed UNSEEN_SEED_BASE + N: far from the seeds
the trainer draws its synthetic writers from, so the model never saw them."""
DemoSignatures = tuple[str, list[Signature], Signature, Signature]
"""(label, enrolment signatures and spares, a genuine signature, a skilled forgery)."""
Out = Callable[[str], None]


def demo_signatures(writer: int, data: Path | None) -> DemoSignatures:
    """(label, enrolment+spares, genuine, forgery) for the demo writer."""
    if data is None:
        from firmware_bridge import synthetic
        w = synthetic.make_writer(UNSEEN_SEED_BASE + writer)
        return (f"synthetic writer {writer}", [w.genuine(i) for i in range(8)],
                w.genuine(10), w.forgery(0))
    from firmware_bridge import svc2004
    folder = data / "Task2" if (data / "Task2").is_dir() else data

    def read(n: int) -> Signature:
        return svc2004.read(folder / f"U{writer}S{n}.TXT")
    if not (folder / f"U{writer}S1.TXT").is_file():
        raise NoSuchFile(f"no U{writer}S1.TXT (SVC2004 Task2 files expected)", str(folder))
    return (f"SVC2004 user {writer}", [read(n) for n in (1, 2, 3, 4, 5, 7, 8, 9)], read(6), read(21))


SVC_GENUINE_UNSEEN = (6, *range(10, 21))
"""SVC2004's genuine signatures (S1-S20) that the demo's enrolment and spares leave unused."""


def demo_rounds(writer: int, data: Path | None) -> Iterator[tuple[str, Signature]]:
    """("genuine", s) and ("skilled forgery", s) in turn, each signature presented once only:
    the verifier refuses a signature it has seen before as a replay, as it should. Endless
    for a synthetic writer; SVC2004 has 12 unused genuine signatures and 20 forgeries a user."""
    if data is None:
        from firmware_bridge import synthetic
        w = synthetic.make_writer(UNSEEN_SEED_BASE + writer)
        for i in itertools.count():
            yield "genuine", w.genuine(10 + i)
            yield "skilled forgery", w.forgery(i)
        return
    from firmware_bridge import svc2004
    folder = data / "Task2" if (data / "Task2").is_dir() else data
    for g, f in zip(SVC_GENUINE_UNSEEN, range(21, 41), strict=False):
        yield "genuine", svc2004.read(folder / f"U{writer}S{g}.TXT")
        yield "skilled forgery", svc2004.read(folder / f"U{writer}S{f}.TXT")


class _Writer:
    """Signs the next signature on the virtual pad whenever the edge asks."""

    def __init__(self, vpad: VirtualPad, sigs: Iterable[Signature], out: Out):
        self.vpad, self.sigs, self.out = vpad, list(sigs), out

    def __call__(self, message: str) -> None:
        self.out(f"  pad: {message}")
        if message.startswith("sign") and self.sigs:
            self.vpad.sign(self.sigs.pop(0))


def run_demo(args: argparse.Namespace, cfg: Config) -> int:
    # Pads without a clock are timed by the host: those replay in real time only.
    speed = (args.speed or 4.0) if get_protocol(args.protocol).has_clock else 1.0

    def out(line: str) -> None:
        if not args.json:
            print(line, flush=True)
    label, enrol_sigs, genuine, forgery = demo_signatures(args.writer, args.data)
    with tempfile.TemporaryDirectory(prefix="sigpad-demo-") as tmp:
        if cfg.store is None:
            cfg = cfg.replace(store=Path(tmp) / "templates.db")
        cfg = cfg.replace(lockout_after=0)
        with VirtualPad(args.protocol, speed=speed) as vpad, \
                PadSource(vpad.path, args.protocol, CaptureConfig(lift_timeout_s=0.8)) as src, \
                open_verifier(cfg, has_pressure=src.has_pressure) as v:
            vpad.wait_streaming()
            out(f"virtual {args.protocol} pad on {vpad.path} (replay speed {speed:g}x)")
            out(f"model {v.encoder.model_path} [{v.encoder.backend}], sha256 {v.model_sha[:12]}..., "
                f"{v.score_name} threshold {v.threshold:.3f}")
            out(f"enrolling {label} as 'demo' over the serial line:")
            user = "demo"
            result = enrol_from_pad(v, src, user, SIGN_TIMEOUT_S, _Writer(vpad, enrol_sigs, out))
            out(f"  enrolled: {len(result.templates)} templates of {len(result.templates[0])} bytes, "
                "consistency " + " ".join(f"{x:.3f}" for x in result.consistency))
            decisions = {}
            for kind, s in (("genuine", genuine), ("skilled forgery", forgery)):
                vpad.sign(s)
                d = verify_from_pad(v, src, user, SIGN_TIMEOUT_S)
                decisions[kind] = d
                out(decision_line(d, label=kind))
    if args.json:
        print(json.dumps({"writer": label, "protocol": args.protocol,
                          "decisions": {k: d.to_dict() for k, d in decisions.items()}}))
    return OK
