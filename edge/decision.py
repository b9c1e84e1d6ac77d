"""The decision: a score against a threshold, or a refusal with its reason.

The score itself comes from ``edge.scores`` (the registry of named scores).

A rejection is a value, never an exception: ``Decision`` says why. A scored
decision also names the aspects that pulled its score down (``reasons``,
most negative first, from the score's ``explain``: ``reasons_of``), for the
operator, the integrator and the history; never for the signer's screen.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from firmware_bridge.errors import (
    CaptureError,
    DataFormatError,
    NoSuchFile,
    PadGarbled,
    PadSilent,
    PortBusy,
    SignatureError,
)

from .errors import (
    AlreadyEnrolled,
    EnrolmentError,
    ReenrolmentNeeded,
    StoreMissing,
    TemplateIntegrityError,
    UnknownUser,
    WrongPadKind,
)
from .scores import ASPECTS, Probe, References, Score
from .scores import DEFAULT as DEFAULT_SCORE

log = logging.getLogger("sigpad")


class Reason:
    """The ``reason`` codes of a decision, and of the enrolments and commands that
    end without one (the CLI's exit code for each: ``edge.app.report``)."""

    MATCH = "match"
    NO_MATCH = "no-match"
    REPLAY = "replay"
    LOCKED_OUT = "locked-out"
    UNKNOWN_USER = "unknown-user"
    REENROL = "reenrolment-needed"
    WRONG_PAD_KIND = "wrong-pad-kind"
    INTEGRITY = "template-integrity"
    BAD_SIGNATURE = "bad-signature"
    BAD_FILE = "bad-file"          # a signature file that cannot be read: the operator fixes the file
    NO_SUCH_FILE = "no-such-file"
    CAPTURE = "capture-failed"
    PAD_SILENT = "pad-silent"
    PAD_GARBLED = "pad-garbled"
    PAD_IN_USE = "pad-in-use"
    NO_STORE = "no-store"
    INCONSISTENT = "inconsistent"          # enrolment: a signature unlike the others, or a copy
    ALREADY_ENROLLED = "already-enrolled"  # enrolment without replace
    DAMAGED = "damaged-capture"    # noise on the line: not judged, not counted, sign again
    ERROR = "error"


# Reasons that say the setup is wrong (pad, store, model), not the signature:
# logged as warnings, so that `journalctl -p warning` shows them.
SETUP_PROBLEMS = frozenset({Reason.REENROL, Reason.WRONG_PAD_KIND, Reason.INTEGRITY, Reason.PAD_SILENT,
                            Reason.PAD_GARBLED, Reason.PAD_IN_USE, Reason.NO_STORE, Reason.ERROR})

# Exception type -> decision reason; the first match wins (subclasses first).
_REASONS = (
    (UnknownUser, Reason.UNKNOWN_USER), (WrongPadKind, Reason.WRONG_PAD_KIND),
    (ReenrolmentNeeded, Reason.REENROL), (StoreMissing, Reason.NO_STORE),
    (TemplateIntegrityError, Reason.INTEGRITY), (PadSilent, Reason.PAD_SILENT),
    (PadGarbled, Reason.PAD_GARBLED), (PortBusy, Reason.PAD_IN_USE), (CaptureError, Reason.CAPTURE),
    (NoSuchFile, Reason.NO_SUCH_FILE), (SignatureError, Reason.BAD_SIGNATURE),
    (DataFormatError, Reason.BAD_FILE), (AlreadyEnrolled, Reason.ALREADY_ENROLLED),
)


def reason_for(exc: BaseException) -> str:
    """The reason a decision (or an enrolment) gives for an error that stopped it."""
    if isinstance(exc, EnrolmentError) and exc.outliers:
        return Reason.INCONSISTENT  # these signatures: sign them again
    return next((r for kind, r in _REASONS if isinstance(exc, kind)), Reason.ERROR)


def logfmt(fields: dict[str, Any]) -> str:
    """``key=value`` pairs, one line, as log search tools read them (values with spaces quoted)."""
    def value(v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return str(v).lower()
        text = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
        return '"' + text.replace('"', "'") + '"' if (" " in text or not text) else text
    return " ".join(f"{k}={value(v)}" for k, v in fields.items())


@dataclass(frozen=True)
class Decision:
    user: str
    accepted: bool
    score: float | None
    threshold: float
    reason: str
    latency_ms: float
    detail: str = ""
    score_name: str = DEFAULT_SCORE
    damage: tuple[tuple[str, int], ...] = ()   # a damaged capture's counts by kind
    adapted: str = ""   # template adaptation after this accept: which reference went ("" none)
    reasons: tuple[str, ...] = ()   # scored: the aspects that pulled the score down, most negative first

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = None if self.score is None else round(self.score, 6)
        d["latency_ms"] = round(self.latency_ms, 3)
        if self.damage:
            d["damage"] = dict(self.damage)
        else:
            del d["damage"]
        if not self.adapted:
            del d["adapted"]
        return d

    def log_fields(self, pad: str = "") -> dict[str, Any]:
        """What one log line (and the user's history) keeps of a decision."""
        fields: dict[str, Any] = {"user": self.user, "accepted": self.accepted, "reason": self.reason,
                  "score": None if self.score is None else round(self.score, 4),
                  "threshold": round(self.threshold, 4), "latency_ms": round(self.latency_ms, 2),
                  "pad": pad or None}
        if self.reasons:
            fields["reasons"] = list(self.reasons)
        return {**fields, "adapted": self.adapted} if self.adapted else fields

    def __repr__(self) -> str:
        verdict = "ACCEPT" if self.accepted else "REJECT"
        score = "-" if self.score is None else f"{self.score:.3f}"
        cmp = ">=" if self.accepted else "vs"
        why = f" {self.detail}" if self.detail and not self.accepted else ""
        down = f" (down: {', '.join(self.reasons)})" if self.reasons else ""
        return (f"<Decision {self.user} {verdict} {self.reason} score={score} {cmp} "
                f"{self.threshold:.3f} {self.latency_ms:.2f}ms{why}{down}>")


REASON_BELOW = -1.0
"""An aspect more than one genuine spread below a typical genuine signature of
the user is a reason (``Score.explain``): about one genuine attempt in six
stands that low on one aspect by chance, a rejected forgery on most."""


def reasons_of(score: Score, refs: References, probe: Probe) -> tuple[str, ...]:
    """The aspects ``score.explain`` says stand below ``REASON_BELOW``, lowest first. An
    explanation that fails is logged and gives none: it never changes a decision."""
    try:
        shares = {a: float(v) for a, v in score.explain(refs, probe).items() if a in ASPECTS}
    except Exception:
        log.warning("score %s could not explain its decision", score.name, exc_info=True)
        return ()
    return tuple(sorted((a for a, v in shares.items() if v < REASON_BELOW), key=lambda a: shares[a]))
