"""What each ``sigpad`` subcommand does (the argparse side is in ``cli``).

Commands that read (``verify``, ``users``, ``delete`` and the operator's
commands) open the store with ``create=False``: a store that is not there
is an error naming its path, never a new empty one that answers "nobody is
enrolled" about the wrong place. Only ``enroll`` and ``init`` create one.
Every command's JSON names the store and the model it used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_bridge import recording
from firmware_bridge.capture import CaptureConfig
from firmware_bridge.errors import CaptureError, DataFormatError, NoSuchFile, SigpadError
from firmware_bridge.private_files import write_private
from firmware_bridge.signature import Signature

from ..client import ServiceClient
from ..decision import Reason
from ..errors import ConfigError, UnknownUser
from ..model import MODELS_DIR, current_model_shas
from ..verifier import Verifier, open_store, open_verifier
from ..wire import Message
from .config import Config
from .operator_commands import answer_of, running_service
from .report import EXIT_CODES, OK, complain, decision_line, emit, fail, show_decision, unjudged

if TYPE_CHECKING:
    from .padflow import PadSource

log = logging.getLogger("sigpad")
Command = Callable[[argparse.Namespace, Config], int]
"""A subcommand: the parsed options and the settings in, the exit code out."""


def run(args: argparse.Namespace, cfg: Config) -> int:
    from . import operator_commands as ops
    from . import pad_commands as pads
    handler: Command = {"enroll": enroll, "enrol": enroll, "verify": verify, "users": users,
               "delete": delete, "serve": serve, "demo": demo, "init": ops.init,
               "status": ops.status, "unlock": ops.unlock, "history": ops.history,
               "adaptations": ops.adaptations,
               "backup": ops.backup, "restore": ops.restore,
               "ports": pads.ports, "probe": pads.probe, "capture": capture,
               "render": render, "repair-anchor": repair_anchor}[args.command]
    return handler(args, cfg)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def in_use(verifier: Verifier) -> dict[str, str]:
    """The store and the model a command used, for its JSON."""
    return {"store": str(verifier.store.path), "model": str(verifier.encoder.model_path.parent)}


def models_in_use(cfg: Config) -> str:
    """The model (or models root) the settings name: what a command without a pad looks at."""
    return str(cfg.model or MODELS_DIR)


def _read_files(paths: list[Path]) -> list[Signature]:
    for p in paths:
        if not p.is_file():
            raise NoSuchFile("no such file", str(p))
    return [recording.read_signature_file(p) for p in paths]


def _pad(args: argparse.Namespace, cfg: Config) -> PadSource:
    from .padflow import PadSource
    return PadSource(_pad_port(args, cfg), cfg.protocol, CaptureConfig(lift_timeout_s=cfg.lift_timeout_s),
                     baud=cfg.baud)


def _pad_port(args: argparse.Namespace, cfg: Config) -> str:
    """The pad to use when no --file is given: --port, else [pad] port."""
    if not cfg.port:
        raise ConfigError(f"{args.command} needs --file F or a pad: --port URL (or 'auto'), "
                          "or [pad] port in the config (`sigpad ports` lists them)")
    return cfg.port


def enroll(args: argparse.Namespace, cfg: Config) -> int:
    service = None if args.file else running_service(cfg)
    if service is not None:             # it holds the pad: it asks the signer, we print its prompts
        with service:
            return _enrol_through(args, service)
    if args.file:
        sigs = _read_files(args.file)
        with open_verifier(cfg, has_pressure=all(s.has_pressure for s in sigs)) as v:
            v.check_enrollable(args.user, args.replace)
            result = v.enrol(args.user, sigs, replace=args.replace)
            used = in_use(v)
    else:
        from .padflow import enrol_from_pad
        with _pad(args, cfg) as src, \
                open_verifier(cfg, has_pressure=src.has_pressure) as v:
            result = enrol_from_pad(v, src, args.user, args.timeout, say, replace=args.replace)
            used = in_use(v)
    emit(args, {"user": args.user, "enrolled": True, "templates": len(result.templates),
                "template_bytes": len(result.templates[0]),
                "consistency": list(result.consistency), **used},
         f"enrolled {args.user}: {len(result.templates)} templates, consistency "
         + ", ".join(f"{v:.3f}" for v in result.consistency))
    return OK


def _error_decision(args: argparse.Namespace, cfg: Config, exc: Exception) -> int:
    """A decision-shaped JSON for a verify that could not even start (fail closed)."""
    complain(str(exc))
    payload = {**unjudged(args.user, exc), "store": str(cfg.store_path()), "model": models_in_use(cfg)}
    emit(args, payload, decision_line(payload))
    return EXIT_CODES[payload["reason"]]


def verify(args: argparse.Namespace, cfg: Config) -> int:
    try:
        if args.file:
            return _verify_file(args, cfg, args.file[0])
        from .padflow import verify_from_pad
        with _pad(args, cfg) as src, \
                open_verifier(cfg, has_pressure=src.has_pressure, create=False) as v:
            return show_decision(args, verify_from_pad(v, src, args.user, args.timeout, say), in_use(v))
    except SigpadError as exc:
        return _error_decision(args, cfg, exc)


def _verify_file(args: argparse.Namespace, cfg: Config, path: Path) -> int:
    if not path.is_file():
        raise NoSuchFile("no such file", str(path))
    try:
        sig = recording.read_signature_file(path)
    except DataFormatError as exc:  # the file is broken, not the signer's hand: the operator fixes it
        return _reject_unreadable(args, cfg, path, exc)
    with open_verifier(cfg, has_pressure=sig.has_pressure, create=False) as v:
        return show_decision(args, v.verify(args.user, sig), in_use(v))


def _reject_unreadable(args: argparse.Namespace, cfg: Config, path: Path, problem: DataFormatError) -> int:
    with open_verifier(cfg, has_pressure=True, create=False) as v:
        decision = v.reject_without_signature(args.user, Reason.BAD_FILE, str(problem), pad=str(path))
        return show_decision(args, decision, in_use(v))


def _enrol_through(args: argparse.Namespace, service: ServiceClient) -> int:
    answer = answer_of(service.enrol(args.user, args.replace, on_event=_say_prompt), "enrolled")
    emit(args, {**answer, "enrolled": True, "service": str(service.path)},
         f"enrolled {args.user}: {answer['templates']} templates, consistency "
         + ", ".join(f"{v:.3f}" for v in answer["consistency"]) + f" (through the service on {service.path})")
    return OK


def _say_prompt(event: Message) -> None:
    if event.get("event") == "prompt":
        say(f"pad: {event['message']}")


def users(args: argparse.Namespace, cfg: Config) -> int:
    service = running_service(cfg)
    if service is not None:
        with service:
            rows = service.users()
        emit(args, {"users": rows, "service": str(service.path)},
             "\n".join([*(f"{r['user']:24s} {r['templates']} templates" for r in rows),
                        f"{len(rows)} users (through the service on {service.path})"]))
        return OK
    # No model at all: listing works, but re-enrolment state is then unknown (None).
    current = current_model_shas(cfg) or None
    log.info("models %s (re-enrolment is judged against them)", models_in_use(cfg))
    with open_store(cfg, create=False) as store:
        rows = [u.to_dict(current) for u in store.users()]
        counters = store.counters()
        where = str(store.path)
    lines = [f"{r['user']:24s} {r['templates']} templates"
             + ("  (re-enrolment needed)" if r.get("needs_reenrolment") else "") for r in rows]
    repairs = counters.get("anchor_repairs", 0)
    lines.append(f"{len(rows)} users in {where}; enrolments {counters.get('enrolments', 0)}, "
                 f"failures to enrol {counters.get('failures_to_enrol', 0)}"
                 + (f", anchor repairs {repairs}" if repairs else ""))
    emit(args, {"users": rows, "counters": counters, "store": where, "model": models_in_use(cfg)},
         "\n".join(lines))
    return OK


def delete(args: argparse.Namespace, cfg: Config) -> int:
    service = running_service(cfg)
    if service is not None:
        with service:
            done = answer_of(service.delete(args.user), "deleted")
        if not done["deleted"]:
            raise UnknownUser(f"{args.user!r} is not enrolled in the service's store: nothing deleted")
        emit(args, {**done, "service": str(service.path)},
             f"deleted {args.user} (through the service on {service.path})")
        return OK
    with open_store(cfg, create=False) as store:
        found = store.delete(args.user)
        where = str(store.path)
    if not found:
        raise UnknownUser(f"{args.user!r} is not enrolled in {where}: nothing deleted")
    emit(args, {"user": args.user, "deleted": True, "store": where}, f"deleted {args.user} from {where}")
    return OK


def capture(args: argparse.Namespace, cfg: Config) -> int:
    """One signature from the pad, written as a recording (``firmware_bridge.recording``)."""
    from .padflow import next_signature
    with _pad(args, cfg) as src:
        say("sign now")
        try:
            sig = next_signature(src, args.timeout, say)
        except CaptureError as exc:
            return fail(args, str(exc))
        recording.write(args.out, sig, cfg.protocol, src.pad.transport.port or _pad_port(args, cfg), src.pad.caps)
    emit(args, {"out": str(args.out), "samples": len(sig), "duration_ms": round(sig.duration_ms, 1),
                "rate_hz": recording.measured_rate_hz(sig), "pressure": sig.has_pressure},
         f"recorded {len(sig)} samples ({sig.duration_ms / 1000:.2f} s) to {args.out}")
    return OK


def render(args: argparse.Namespace, cfg: Config) -> int:
    from .render import parse_size
    from .render import render as draw
    kind = args.out.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        return fail(args, f"--out {args.out}: the extension must be .png or .svg")
    try:
        width, height = parse_size(args.size)
    except ValueError as exc:
        return fail(args, f"--{exc}")
    if not args.file.is_file():
        raise NoSuchFile("no such file", str(args.file))
    sig = recording.read_signature_file(args.file)
    if not args.out.parent.is_dir():
        return fail(args, f"--out {args.out}: no directory {args.out.parent} (create it, or write elsewhere)")
    try:
        write_private(args.out, draw(sig, kind, width=width, height=height))   # an image of a signature: 0600
    except OSError as exc:
        return fail(args, f"--out {args.out}: cannot write: {exc.strerror or exc}")
    emit(args, {"out": str(args.out), "kind": kind, "width": width, "height": height},
         f"wrote {args.out} ({width}x{height})")
    return OK


def serve(args: argparse.Namespace, cfg: Config) -> int:
    from .gpio import Outputs
    from .service import serve as run_service
    if cfg.gpio_accept or cfg.gpio_reject:
        # Claim the lines once now: a missing pin library is reported before
        # the service waits for a pad, not after.
        Outputs(cfg.gpio_accept, cfg.gpio_reject).close()
    return run_service(cfg)


def demo(args: argparse.Namespace, cfg: Config) -> int:
    if args.web:
        from .webdemo import run_web_demo
        return run_web_demo(args, cfg)
    from .demo import run_demo
    return run_demo(args, cfg)


def repair_anchor(args: argparse.Namespace, cfg: Config) -> int:
    """Rewrite the store's anchor from its sealed ledger (``edge.store_file.repair_anchor``):
    the way out of a damaged anchor, logged and counted."""
    from ..keys import load_keys
    from ..store_file import repair_anchor as repair
    done = repair(cfg.store_path(), load_keys(cfg.key_path(), create=False), args.accept_rollback)
    emit(args, {"store": str(cfg.store_path()), "anchor": str(done.anchor), "was": done.was,
                "generation": done.generation},
         f"anchor {done.anchor} rewritten from the sealed ledger: was {done.was}, now generation {done.generation}")
    return OK
