"""The decision: a score against a threshold, or a refusal with its reason.

The score itself comes from ``edge.scores`` (the registry of named scores).

A rejection is a value, never an exception: ``Decision`` says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from firmware_bridge.errors import CaptureError, DataFormatError, SignatureError

from .errors import ReenrolmentNeeded, TemplateIntegrityError, UnknownUser
from .scores import DEFAULT as DEFAULT_SCORE


class Reason:
    """The ``reason`` codes of a decision."""

    MATCH = "match"
    NO_MATCH = "no-match"
    REPLAY = "replay"
    LOCKED_OUT = "locked-out"
    UNKNOWN_USER = "unknown-user"
    REENROL = "reenrolment-needed"
    INTEGRITY = "template-integrity"
    BAD_SIGNATURE = "bad-signature"
    CAPTURE = "capture-failed"
    DAMAGED = "damaged-capture"    # noise on the line: not judged, not counted, sign again
    ERROR = "error"


# Exception type -> decision reason; the first match wins (subclasses first).
_REASONS = (
    (UnknownUser, Reason.UNKNOWN_USER), (ReenrolmentNeeded, Reason.REENROL),
    (TemplateIntegrityError, Reason.INTEGRITY), (CaptureError, Reason.CAPTURE),
    (SignatureError, Reason.BAD_SIGNATURE), (DataFormatError, Reason.BAD_SIGNATURE),
)


def reason_for(exc: BaseException) -> str:
    """The reason a decision gives for an error that stopped it."""
    return next((r for kind, r in _REASONS if isinstance(exc, kind)), Reason.ERROR)


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score"] = None if self.score is None else round(self.score, 6)
        d["latency_ms"] = round(self.latency_ms, 3)
        if self.damage:
            d["damage"] = dict(self.damage)
        else:
            del d["damage"]
        return d

    def __repr__(self) -> str:
        verdict = "ACCEPT" if self.accepted else "REJECT"
        score = "-" if self.score is None else f"{self.score:.3f}"
        cmp = ">=" if self.accepted else "vs"
        why = f" {self.detail}" if self.detail and not self.accepted else ""
        return (f"<Decision {self.user} {verdict} {self.reason} score={score} {cmp} "
                f"{self.threshold:.3f} {self.latency_ms:.2f}ms{why}>")
