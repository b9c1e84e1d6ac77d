"""``sigpad``: enrol, verify, list, delete, serve, demo, capture, render; ports and probe for a pad;
status, unlock, history, adaptations, backup, restore.

Results go to stdout (one JSON object with ``--json``), diagnostics to
stderr. Every way a command ends has a reason and one exit code for it
(0 accepted / done, 1 rejected: sign again, 2 error: fix something): the
table is ``report.OUTCOMES``, printed at the end of ``sigpad --help``.
Option prefixes are refused (``allow_abbrev=False``): ``--thresh`` is not
``--threshold``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_bridge.errors import SigpadError
from firmware_bridge.probe import LISTEN_S
from firmware_bridge.protocols import PROTOCOLS

from ..decision import reason_for
from ..errors import EnrolmentError
from ..model import BACKENDS
from ..scores import names as score_names
from . import config as config_mod
from . import logs
from .report import ERROR, exit_code_table, exit_for, fail, silence_stdout


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed
    try:
        return installed("sigpad")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common options")
    g.add_argument("--json", action="store_true", help="one JSON object on stdout")
    g.add_argument("--config", type=Path, help="TOML settings (default: the shipped sigpad.toml)")
    g.add_argument("--store", type=Path, help="template store (default: the user's data directory)")
    g.add_argument("--key-file", type=Path, help="store key (default: store.key beside the store)")
    g.add_argument("--model", type=Path, help="model directory or .tflite, or a models root with pressure/ and "
                   "no_pressure/ (picked by the pad) (default: the shipped models)")
    g.add_argument("--backend", choices=BACKENDS)
    g.add_argument("--threshold", type=float, help="decision threshold set by hand (default: the level's); "
                   "never adapts references")
    g.add_argument("--level", help="the manifest's operating point: e.g. convenience, balanced, secure "
                   "(default: [decision] level, else balanced); `sigpad status` shows its FRR/FAR")
    g.add_argument("--force-threshold", action="store_true", default=None,
                   help="take --threshold even outside the scores the trainer's folds saw")
    g.add_argument("--score", choices=score_names(), help="score (default: the manifest's)")
    g.add_argument("--lockout-after", type=int, help="failures before a lockout; 0 disables")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="log the store and model in use and each decision to stderr")


def _pad_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), help="pad protocol (default: [pad] protocol)")
    p.add_argument("--baud", type=int, help="line speed (default: [pad] baud, else the protocol's)")
    p.add_argument("--lift-timeout", type=float, metavar="S",
                   help="a signature ends after the pen is lifted this long (default: [pad] lift_timeout_s)")


def _source(p: argparse.ArgumentParser, many: bool) -> None:
    src = p.add_mutually_exclusive_group()
    if many:
        src.add_argument("--file", nargs="+", type=Path, metavar="F",
                         help="SVC2004 text files or sigpad recordings (sigpad capture), one per signature")
    else:
        src.add_argument("--file", nargs=1, type=Path, metavar="F",
                         help="an SVC2004 text file or a sigpad recording (sigpad capture)")
    src.add_argument("--port", metavar="URL", help="serial port of the pad, or 'auto' "
                     "(default: [pad] port)")
    _pad_options(p)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each signature")


DESCRIPTION = " ".join((__doc__ or "sigpad").split("\n\n")[0].splitlines())
"""The docstring's first paragraph, as one line: what ``sigpad --help`` starts with."""
Subcommands = argparse._SubParsersAction  # the type of add_subparsers(); argparse gives it no public name


def _add_commands(sub: Subcommands[argparse.ArgumentParser]) -> None:
    """Every subcommand, in the order ``sigpad --help`` lists them."""
    def add(name: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, allow_abbrev=False, **kw)
    _store_commands(add)
    _pad_commands(add)
    from .fleet.cli import add_fleet_commands  # argparse only; nats-py is imported when `fleet` runs
    add_fleet_commands(add, _common)


Add = Callable[..., argparse.ArgumentParser]
"""``add(name, **options)``: a subcommand's parser (no option prefixes)."""


def _service_socket(p: argparse.ArgumentParser) -> None:
    p.add_argument("--socket", type=Path, help="the running service's control socket: when it answers, "
                   "the command goes through the service (default: [service] socket)")


def _store_commands(add: Add) -> None:
    """The user's and the operator's commands: enroll, verify, users, delete, init, status, unlock, history,
    adaptations, backup, restore, repair-anchor."""
    p = add("enroll", aliases=["enrol"], help="enrol a user from N signatures")
    p.add_argument("user")
    _source(p, many=True)
    p.add_argument("--replace", action="store_true", help="re-enrol a user already enrolled")
    p.add_argument("--count", type=int, help="signatures to enrol, 3..12 (default: [enrol] count, 5)")
    _service_socket(p)
    p = add("verify", help="accept or reject one signature as USER's")
    p.add_argument("user")
    _source(p, many=False)
    _service_socket(add("users", help="list enrolled users"))
    p = add("delete", help="delete a user's templates")
    p.add_argument("user")
    _service_socket(p)
    add("init", help="create the store and its key (enroll does too)")
    _service_socket(add("status", help="service, pad, models, store, users and lockouts"))
    p = add("unlock", help="clear a user's lockout (kept in the user's history)")
    p.add_argument("user")
    _service_socket(p)
    p = add("history", help="a user's recent decisions: time, reason, score")
    p.add_argument("user")
    p.add_argument("--last", type=int, default=20, help="entries to show (default 20)")
    _service_socket(p)
    p = add("adaptations", help="a user's template adaptations: when, which reference, the score; "
            "--undo puts the enrolment's references back (kept in the user's history)")
    p.add_argument("user")
    p.add_argument("--undo", action="store_true", help="restore the references as enrolled")
    _service_socket(p)
    p = add("backup", help="copy the store (online), its anchor and optionally its key to one file")
    p.add_argument("file", type=Path, help="the backup to write (a new file, 0600)")
    p.add_argument("--passphrase-file", type=Path, help="include the key, sealed with this passphrase "
                   "(without: the key is left out and must come from elsewhere)")
    p = add("restore", help="restore a backup into a new place (a rollback is refused)")
    p.add_argument("file", type=Path, help="a file made by sigpad backup")
    p.add_argument("--passphrase-file", type=Path, help="opens the key in the backup")
    p.add_argument("--force", action="store_true", help="replace a store there, or restore an older backup")
    p = add("repair-anchor", help="rewrite a damaged anchor (<store>.gen) from the store's sealed ledger, with the key")
    p.add_argument("--accept-rollback", action="store_true",
                   help="also when the anchor is authentic and ahead: a backup restored on purpose")


def _pad_commands(add: Add) -> None:
    """The pad's, the service's and the demo's: ports, probe, capture, render, serve, demo."""
    p = add("ports", help="serial ports: USB id, by-id name, likely protocol, in use, may open")
    p.add_argument("names", nargs="*", metavar="PORT", help="also describe these (e.g. /dev/sigpad)")
    p = add("probe", help="listen on a port and say which pad speaks there, at which baud")
    p.add_argument("--port", metavar="URL", help="the port (default: [pad] port)")
    _pad_options(p)
    p.add_argument("--seconds", type=float, default=LISTEN_S, help="listening time per line setting")
    p = add("capture", help="record one signature from a pad to a file (JSON)")
    p.add_argument("--port", metavar="URL", help="serial port of the pad, or 'auto' (default: [pad] port)")
    p.add_argument("--out", type=Path, required=True, help="the recording to write (sig.json)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the signature")
    _pad_options(p)
    p = add("render", help="draw a signature file as PNG or SVG")
    p.add_argument("file", type=Path, help="a recording or an SVC2004 text file")
    p.add_argument("--out", type=Path, required=True, help="sig.png or sig.svg (by the extension)")
    p.add_argument("--size", default="600x300", help="WIDTHxHEIGHT in pixels (default 600x300)")
    p = add("serve", help="run the service: pad, control socket, web API and kiosk page, GPIO")
    p.add_argument("--port", metavar="URL", help="serial port of the pad, or 'auto' (default: [pad] port)")
    _pad_options(p)
    p.add_argument("--socket", type=Path, help="control socket (default: $RUNTIME_DIRECTORY/control.sock)")
    p.add_argument("--http", metavar="HOST:PORT", help="web API and kiosk page (default 127.0.0.1:8765; 'off')")
    p.add_argument("--gpio-accept", help="GPIO pin pulsed on accept (e.g. GPIO17)")
    p.add_argument("--gpio-reject", help="GPIO pin pulsed on reject")
    p = add("demo", help="enrol and verify over a virtual pad, no hardware needed")
    p.add_argument("--data", type=Path, help="SVC2004 Task2 folder: replay real signatures")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="sigpad")
    p.add_argument("--writer", type=int, default=1, help="synthetic seed or SVC2004 user number")
    p.add_argument("--speed", type=float, help="replay speed of a sigpad virtual pad (default 4)")
    p.add_argument("--web", action="store_true", help="run the service with its kiosk page and print its URL")
    p.add_argument("--http", metavar="HOST:PORT", help="with --web: where (default 127.0.0.1:8765)")
    p.add_argument("--rounds", type=int, help="with --web: verify rounds before exiting (default: until Ctrl-C)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigpad", description=DESCRIPTION, allow_abbrev=False,
                                     epilog=exit_code_table(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sigpad {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_commands(sub)
    for q in {id(q): q for q in sub.choices.values()}.values():  # aliases share a parser
        if not q.get_default("nested_commands"):    # `sigpad fleet X`: X has them
            _common(q)
    return parser


def load_config(args: argparse.Namespace) -> config_mod.Config:
    cfg = config_mod.load(args.config)
    return cfg.replace(store=args.store, key_file=args.key_file, model=args.model,
                       backend=args.backend, threshold=args.threshold, score=args.score,
                       level=args.level, force_threshold=args.force_threshold,
                       lockout_after=args.lockout_after,
                       enrol_count=getattr(args, "count", None),
                       port=getattr(args, "port", None), protocol=getattr(args, "protocol", None),
                       baud=getattr(args, "baud", None),
                       socket=getattr(args, "socket", None), http=getattr(args, "http", None),
                       lift_timeout_s=getattr(args, "lift_timeout", None),
                       gpio_accept=getattr(args, "gpio_accept", None),
                       gpio_reject=getattr(args, "gpio_reject", None))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    serving = args.command == "serve"
    logs.setup(logging.INFO if (args.verbose or serving) else logging.WARNING)
    from . import commands  # after logging is set up; keeps --help fast
    try:
        cfg = load_config(args)
        if args.command == "fleet":
            from .fleet.commands import run as run_fleet
            return run_fleet(args, cfg)
        return commands.run(args, cfg)
    except EnrolmentError as exc:
        return fail(args, str(exc), exit_for(exc), reason=reason_for(exc), outliers=list(exc.outliers))
    except SigpadError as exc:
        return fail(args, str(exc), exit_for(exc), reason=reason_for(exc), type=type(exc).__name__)
    except KeyboardInterrupt:
        return fail(args, "interrupted")
    except BrokenPipeError:             # a progress line to a reader that left: quiet, as emit() is
        silence_stdout()
        return ERROR
    except Exception as exc:  # a bug, not an input: still one line (and JSON), never a traceback
        logging.getLogger("sigpad").info("unexpected error", exc_info=True)  # shown with -v
        return fail(args, f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)",
                    type=type(exc).__name__)


if __name__ == "__main__":
    sys.exit(main())
