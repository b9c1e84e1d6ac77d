"""What each ``sigpad`` subcommand does (the argparse side is in ``cli``)."""

from __future__ import annotations

import sys
from pathlib import Path

from firmware_bridge import recording
from firmware_bridge.capture import CaptureConfig
from firmware_bridge.errors import CaptureError, DataFormatError, SigpadError

from ..decision import Reason
from ..verifier import open_verifier
from .config import Config
from .report import ERROR, OK, REJECT, decision_line, emit, fail, show_decision, unjudged


def run(args, cfg: Config) -> int:
    handler = {"enroll": enroll, "enrol": enroll, "verify": verify, "users": users,
               "delete": delete, "serve": serve, "demo": demo, "capture": capture,
               "render": render}[args.command]
    return handler(args, cfg)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _read_files(paths: list[Path]):
    for p in paths:
        if not p.is_file():
            raise DataFormatError("no such file", str(p))
    return [recording.read_signature_file(p) for p in paths]


def _pad(cfg: Config):
    from .padflow import PadSource
    return PadSource(cfg.port, cfg.protocol, CaptureConfig(lift_timeout_s=cfg.lift_timeout_s))


def enroll(args, cfg: Config) -> int:
    if args.file:
        sigs = _read_files(args.file)
        with open_verifier(cfg, has_pressure=all(s.has_pressure for s in sigs)) as v:
            result = v.enrol(args.user, sigs, replace=args.replace)
    else:
        from .padflow import enrol_from_pad
        with _pad(cfg) as src, \
                open_verifier(cfg, has_pressure=src.has_pressure) as v:
            result = enrol_from_pad(v, src, args.user, args.timeout, say, replace=args.replace)
    emit(args, {"user": args.user, "enrolled": True, "templates": len(result.templates),
                "template_bytes": len(result.templates[0]),
                "consistency": list(result.consistency)},
         f"enrolled {args.user}: {len(result.templates)} templates, consistency "
         + ", ".join(f"{v:.3f}" for v in result.consistency))
    return OK


def _error_decision(args, exc: Exception) -> int:
    """A decision-shaped JSON for a verify that could not even start (fail closed)."""
    print(f"sigpad: {exc}", file=sys.stderr)
    payload = unjudged(args.user, exc)
    emit(args, payload, decision_line(payload))
    return ERROR


def verify(args, cfg: Config) -> int:
    try:
        if args.file:
            return _verify_file(args, cfg, args.file[0])
        from .padflow import verify_from_pad
        with _pad(cfg) as src, \
                open_verifier(cfg, has_pressure=src.has_pressure) as v:
            say("sign now")
            return show_decision(args, verify_from_pad(v, src, args.user, args.timeout))
    except SigpadError as exc:
        return _error_decision(args, exc)


def _verify_file(args, cfg: Config, path: Path) -> int:
    if not path.is_file():
        raise DataFormatError("no such file", str(path))
    try:
        sig, problem = recording.read_signature_file(path), None
    except DataFormatError as exc:  # garbage is judged (rejected), not an error
        sig, problem = None, exc
    has_pressure = sig.has_pressure if sig is not None else True
    with open_verifier(cfg, has_pressure=has_pressure) as v:
        if problem is not None:
            return show_decision(args, v.reject(args.user, Reason.BAD_SIGNATURE, str(problem)))
        return show_decision(args, v.verify(args.user, sig))


def _open_store(cfg: Config):
    from ..keys import load_keys
    from ..store import Store
    return Store(cfg.store_path(), load_keys(cfg.key_path()))


def current_model_shas(cfg: Config) -> set[str]:
    """The sha256 of each model a pad could use (with and without pressure).

    A user enrolled on a pad without pressure has templates from that kind's
    model: only a sha that neither kind uses any more means re-enrolment.
    """
    from ..manifest import load_manifest
    from ..verifier import model_dir_of
    shas = set()
    for has_pressure in (True, False):
        try:
            shas.add(load_manifest(model_dir_of(cfg, has_pressure) / "manifest.json").sha256)
        except SigpadError:
            pass  # that kind is missing: listing still works, its users look stale
    return shas


def users(args, cfg: Config) -> int:
    # No model at all: listing works, but re-enrolment state is then unknown (None).
    current = current_model_shas(cfg) or None
    with _open_store(cfg) as store:
        rows = [u.to_dict(current) for u in store.users()]
        counters = store.counters()
    lines = [f"{r['user']:24s} {r['templates']} templates"
             + ("  (re-enrolment needed)" if r.get("needs_reenrolment") else "") for r in rows]
    lines.append(f"{len(rows)} users; enrolments {counters.get('enrolments', 0)}, "
                 f"failures to enrol {counters.get('failures_to_enrol', 0)}")
    emit(args, {"users": rows, "counters": counters}, "\n".join(lines))
    return OK


def delete(args, cfg: Config) -> int:
    with _open_store(cfg) as store:
        found = store.delete(args.user)
    emit(args, {"user": args.user, "deleted": found},
         f"deleted {args.user}" if found else f"{args.user} is not enrolled")
    return OK if found else REJECT


def capture(args, cfg: Config) -> int:
    """One signature from the pad, written as a recording (``firmware_bridge.recording``)."""
    from .padflow import next_signature
    with _pad(cfg) as src:
        say("sign now")
        try:
            sig = next_signature(src, args.timeout, say)
        except CaptureError as exc:
            return fail(args, str(exc))
        recording.write(args.out, sig, cfg.protocol, src.pad.transport.port or cfg.port, src.pad.caps)
    emit(args, {"out": str(args.out), "samples": len(sig), "duration_ms": round(sig.duration_ms, 1),
                "rate_hz": recording.measured_rate_hz(sig), "pressure": sig.has_pressure},
         f"recorded {len(sig)} samples ({sig.duration_ms / 1000:.2f} s) to {args.out}")
    return OK


def render(args, cfg: Config) -> int:
    from .render import render as draw
    kind = args.out.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        return fail(args, f"--out {args.out}: the extension must be .png or .svg")
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        if not (16 <= width <= 8000 and 16 <= height <= 8000):
            raise ValueError
    except ValueError:
        return fail(args, f"--size {args.size!r}: expected WIDTHxHEIGHT, each 16..8000")
    if not args.file.is_file():
        raise DataFormatError("no such file", str(args.file))
    sig = recording.read_signature_file(args.file)
    args.out.write_bytes(draw(sig, kind, width=width, height=height))
    emit(args, {"out": str(args.out), "kind": kind, "width": width, "height": height},
         f"wrote {args.out} ({width}x{height})")
    return OK


def serve(args, cfg: Config) -> int:
    from .service import serve as run_service
    return run_service(cfg)


def demo(args, cfg: Config) -> int:
    if args.web:
        from .webdemo import run_web_demo
        return run_web_demo(args, cfg)
    from .demo import run_demo
    return run_demo(args, cfg)
