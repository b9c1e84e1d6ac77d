"""How the front ends report: the decision line, JSON on stdout, exit codes.

The CLI's commands and the demo print a decision through ``decision_line``
and exit through ``EXIT_CODES``, so "ACCEPTED"/"REJECTED" and what each
reason means to a calling script are written once. (The service sends
``Decision.to_dict()`` as a JSON event; it has no exit code.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from ..decision import Decision, Reason, reason_for

OK, REJECT, ERROR = 0, 1, 2
"""0 accepted / done; 1 rejected: the signature was judged and refused, an
enrolment must be signed again, or there was no such user to delete; 2 error:
no judgement was possible (bad options, missing model, unreadable store...)."""

# The exit code of a decision, by its reason.
EXIT_CODES = {
    Reason.MATCH: OK,
    Reason.NO_MATCH: REJECT, Reason.REPLAY: REJECT, Reason.LOCKED_OUT: REJECT,
    Reason.BAD_SIGNATURE: REJECT, Reason.CAPTURE: REJECT,
    Reason.DAMAGED: REJECT,
    Reason.UNKNOWN_USER: ERROR, Reason.REENROL: ERROR, Reason.INTEGRITY: ERROR, Reason.ERROR: ERROR,
}


def decision_exit(d: Decision) -> int:
    if d.accepted:
        return OK
    return EXIT_CODES.get(d.reason, REJECT)


def decision_line(d: Decision | Mapping, label: str | None = None) -> str:
    """A decision as a person reads it: the CLI's sentence, or with ``label`` the demo's row.

    ``d`` may also be the fields of a verify that could not even start
    (``unjudged``: no score, threshold or latency); then the line says why.
    """
    f = d if isinstance(d, Mapping) else vars(d)
    verdict = "ACCEPTED" if f["accepted"] else "REJECTED"
    if f["threshold"] is None:
        return f"{verdict} {f['user']}: {f['reason']} - {f['detail']}"
    score = "-" if f["score"] is None else f"{f['score']:.3f}"
    if label is not None:
        return (f"{label:16s} {verdict}  score {score}  threshold {f['threshold']:.3f}  "
                f"latency {f['latency_ms']:.2f} ms  ({f['reason']})")
    why = f" - {f['detail']}" if f["detail"] and not f["accepted"] else ""
    return (f"{verdict} {f['user']}: {f['reason']}, score {score} (threshold {f['threshold']:.3f}), "
            f"{f['latency_ms']:.2f} ms{why}")


def unjudged(user: str, exc: Exception) -> dict:
    """The decision fields of a verify that could not even start (it fails closed)."""
    return {"user": user, "accepted": False, "score": None, "threshold": None,
            "reason": reason_for(exc), "latency_ms": None, "detail": str(exc)}


def emit(args, payload: dict, text: str) -> None:
    print(json.dumps(payload) if args.json else text, flush=True)


def fail(args, message: str, **extra) -> int:
    """Report an error: on stderr always, and as JSON on stdout with ``--json``."""
    print(f"sigpad: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"error": message, **extra}), flush=True)
    return ERROR


def show_decision(args, d: Decision) -> int:
    """Print a decision (JSON with ``--json``) and return its exit code."""
    emit(args, d.to_dict(), decision_line(d))
    return decision_exit(d)
