"""How the front ends report: the decision line, JSON on stdout, exit codes.

The CLI's commands and the demo print a decision through ``decision_line``
and exit through ``EXIT_CODES``, so "ACCEPTED"/"REJECTED" and what each
reason means to a calling script are written once. ``OUTCOMES`` is the one
table of reasons, exit codes and meanings: ``sigpad --help`` prints it
(``exit_code_table``) and docs/edge.md repeats it (a test holds them equal).
(The service sends ``Decision.to_dict()`` as a JSON event; it has no exit code.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from ..decision import Decision, Reason, reason_for
from .logs import error_prefix

OK, REJECT, ERROR = 0, 1, 2
"""0 accepted / done; 1 rejected: the signature was judged and refused, an
enrolment must be signed again, or there was no such user to delete; 2 error:
no judgement was possible (bad options, missing model, unreadable store...)."""

# Every reason a command can end with: its exit code and what it means.
OUTCOMES = {
    Reason.MATCH: (OK, "accepted"),
    Reason.NO_MATCH: (REJECT, "judged: not the user's signature"),
    Reason.REPLAY: (REJECT, "judged: a re-sent or copied signature"),
    Reason.LOCKED_OUT: (REJECT, "too many failures: refused until the lock ends (`sigpad unlock USER`)"),
    Reason.BAD_SIGNATURE: (REJECT, "a signature too short, flat or garbled to judge: sign again"),
    Reason.CAPTURE: (REJECT, "the pad gave no usable signature (too short, broken off, nobody signed)"),
    Reason.DAMAGED: (REJECT, "line noise damaged the capture: not judged, not counted; sign again"),
    Reason.INCONSISTENT: (REJECT, "enrolment: a signature unlike the others, or a copy: sign it again"),
    Reason.UNKNOWN_USER: (ERROR, "no such user in this store (`sigpad users`)"),
    Reason.ALREADY_ENROLLED: (ERROR, "enrolment: the user is enrolled; add --replace to re-enrol"),
    Reason.REENROL: (ERROR, "enrolled with another model: re-enrol (enroll --replace)"),
    Reason.WRONG_PAD_KIND: (ERROR, "enrolled on a pad with pressure, signing on one without (or the reverse)"),
    Reason.INTEGRITY: (ERROR, "a tampered store or the wrong key"),
    Reason.NO_SUCH_FILE: (ERROR, "a --file that does not exist"),
    Reason.BAD_FILE: (ERROR, "a --file that is not a readable signature (damaged, truncated): fix or replace it"),
    Reason.NO_STORE: (ERROR, "no store at that path (only enroll or init create one)"),
    Reason.PAD_SILENT: (ERROR, "nothing came from the pad (`sigpad probe`)"),
    Reason.PAD_GARBLED: (ERROR, "bytes but no frames from the pad: wrong protocol or baud (`sigpad probe`)"),
    Reason.PAD_IN_USE: (ERROR, "another process holds the pad's port"),
    Reason.ERROR: (ERROR, "anything else that stops a command: a bad option or setting, a missing model"),
}

# The exit code of a decision, by its reason.
EXIT_CODES = {reason: code for reason, (code, _) in OUTCOMES.items()}


def exit_code_table() -> str:
    """The table as ``sigpad --help`` ends with it."""
    rows = [f"  {code}  {reason:20s} {meaning}" for reason, (code, meaning) in OUTCOMES.items()]
    return "exit codes (0 accepted/done, 1 rejected: sign again, 2 error: fix something), by reason:\n" \
        + "\n".join(rows)


def decision_exit(d: Decision) -> int:
    if d.accepted:
        return OK
    return EXIT_CODES.get(d.reason, REJECT)


def decision_line(d: Decision | Mapping[str, Any], label: str | None = None) -> str:
    """A decision as a person reads it: the CLI's sentence, or with ``label`` the demo's row.

    ``d`` may also be the fields of a verify that could not even start
    (``unjudged``: no score, threshold or latency); then the line says why.
    A reason that is an error (exit 2: unknown user, broken store or file)
    reads ``ERROR``, not ``REJECTED``, and shows no score: nothing was judged.
    """
    f = d if isinstance(d, Mapping) else vars(d)
    error = not f["accepted"] and EXIT_CODES.get(f["reason"], REJECT) == ERROR
    verdict = "ACCEPTED" if f["accepted"] else "ERROR" if error else "REJECTED"
    if f["threshold"] is None or (error and label is None):
        return f"{verdict} {f['user']}: {f['reason']} - {f['detail']}"
    score = "-" if f["score"] is None else f"{f['score']:.3f}"
    adapted = f"; {f['adapted']}" if f.get("adapted") else ""   # template adaptation said where it happens
    if label is not None:
        return (f"{label:16s} {verdict}  score {score}  threshold {f['threshold']:.3f}  "
                f"latency {f['latency_ms']:.2f} ms  ({f['reason']}{adapted})")
    why = f" - {f['detail']}" if f["detail"] and not f["accepted"] else ""
    down = f" (down: {', '.join(f['reasons'])})" if f.get("reasons") else ""
    return (f"{verdict} {f['user']}: {f['reason']}, score {score} (threshold {f['threshold']:.3f}), "
            f"{f['latency_ms']:.2f} ms{why}{down}{adapted}")


def unjudged(user: str, exc: Exception) -> dict[str, Any]:
    """The decision fields of a verify that could not even start (it fails closed)."""
    return {"user": user, "accepted": False, "score": None, "threshold": None,
            "reason": reason_for(exc), "latency_ms": None, "detail": str(exc)}


def exit_for(exc: Exception) -> int:
    """The exit code of a command stopped by ``exc`` (the table, by its reason)."""
    return EXIT_CODES[reason_for(exc)]


def emit(args: argparse.Namespace, payload: Mapping[str, Any], text: str) -> None:
    try:
        print(json.dumps(payload) if args.json else text, flush=True)
    except BrokenPipeError:             # `sigpad users --json | head -c 10`: the reader has enough
        silence_stdout()


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the reader that left costs no traceback, now or at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def complain(message: str) -> None:
    """An error on stderr (at error priority under journald)."""
    print(f"{error_prefix()}sigpad: {message}", file=sys.stderr)


def fail(args: argparse.Namespace, message: str, code: int = ERROR, **extra: Any) -> int:
    """Report an error: on stderr always, and as JSON on stdout with ``--json``."""
    complain(message)
    if args.json:
        emit(args, {"error": message, **extra}, "")
    return code


def show_decision(args: argparse.Namespace, d: Decision, extra: Mapping[str, Any] | None = None) -> int:
    """Print a decision (JSON with ``--json``, plus ``extra`` fields) and return its exit code."""
    emit(args, {**d.to_dict(), **(extra or {})}, decision_line(d))
    return decision_exit(d)
