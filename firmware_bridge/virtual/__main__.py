"""``python -m firmware_bridge.virtual``: serve a virtual pad on a pty.

Prints the port path (a stable symlink) and the pty behind it, then signs
the given files (SVC2004) or synthetic signatures, one every ``--interval``
seconds, optionally forever (``--loop``), until Ctrl-C.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import threading

from .. import recording
from ..errors import SigpadError
from ..protocols import PROTOCOLS
from ..signature import Signature
from . import VirtualPad, synthetic_signatures


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m firmware_bridge.virtual",
                                 description="A virtual pen pad on a pseudo-terminal.")
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), default="sigpad")
    ap.add_argument("--file", action="append", default=[], metavar="PATH",
                    help="SVC2004 file or sigpad recording to sign (repeat for several)")
    ap.add_argument("--synthetic", type=int, metavar="SEED",
                    help="sign with the synthetic writer of this seed")
    ap.add_argument("--count", type=int, default=5, help="synthetic signatures (default 5)")
    ap.add_argument("--forgeries", action="store_true", help="synthetic forgeries instead")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between signatures")
    ap.add_argument("--speed", type=float, default=1.0, help="replay speed factor")
    ap.add_argument("--loop", action="store_true", help="repeat the signatures forever")
    ap.add_argument("--dir", help="directory for the port symlink (default: a temp dir)")
    return ap


def _signatures(args: argparse.Namespace) -> list[Signature]:
    sigs = [recording.read_signature_file(p) for p in args.file]
    if args.synthetic is not None:
        sigs += list(synthetic_signatures(args.synthetic, args.count, args.forgeries))
    return sigs


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        sigs = _signatures(args)
    except SigpadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with VirtualPad(args.protocol, speed=args.speed, directory=args.dir) as vpad:
        print(vpad.path, flush=True)
        print(f"# {args.protocol} pad on {vpad.link.tty}; {len(sigs)} signature(s); "
              "Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            for sig in itertools.cycle(sigs) if args.loop else sigs:
                job = vpad.sign(sig)
                while not job.wait(0.2) and not stop.is_set():
                    pass
                print(f"# signed {sig!r}", file=sys.stderr, flush=True)
                if stop.wait(args.interval):
                    break
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
