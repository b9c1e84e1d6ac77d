"""The decision: a score from the cosines to the references, against a threshold.

Scores (the manifest's ``decision.score`` names the one its threshold is for):

* ``mean-cosine`` - the mean cosine of the test embedding to the user's
  references. With unit embeddings in [-1, 1]; higher is more genuine.
* ``centroid-cosine`` - the cosine of the test embedding to the mean of the
  references (their centroid, renormalised): one prototype per user. It
  weighs the directions the references agree on over what one odd reference
  adds; on the 5 user folds it gave a lower skilled EER than the mean cosine
  with the same embeddings (docs/training.md).
* ``centroid-max-cosine`` - the mean of the centroid cosine and the largest
  cosine to one reference: the prototype and the nearest exemplar. A test
  close to one reference but off the centroid (a writer with two ways of
  signing) and one near the centroid but far from every exemplar are both
  judged on what they are. The shipped pressure model's score: chosen on
  the 5 user folds (docs/training.md), where it lowered the per-writer and
  random EERs against the centroid cosine at the same skilled EER.
* ``znorm-mean-cosine`` - the mean cosine in units of the user's own spread:
  ``(s - mu) / max(sd, SD_FLOOR)``, where mu and sd are the mean and standard
  deviation of the references' leave-one-out mean cosines, computed at
  enrolment. A consistent writer (high mu, small sd) gets a stricter bar, an
  erratic one a looser bar. It needs its own threshold: the manifest's is for
  ``mean-cosine``.
* ``refnorm-distance`` - the DTW reference's normalisation applied to cosine
  distance: ``-(1 - s) / max(1 - m, DIST_FLOOR)``, where m is the mean cosine
  among the references (``loo_mean``). The distance to the references is
  measured in units of the references' own distance from each other, so one
  global threshold fits consistent and erratic writers alike. Always <= 0;
  higher is more genuine.

A rejection is a value, never an exception: ``Decision`` says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from firmware_bridge.errors import CaptureError, DataFormatError, SignatureError

from .errors import ConfigError, ReenrolmentNeeded, TemplateIntegrityError, UnknownUser

SD_FLOOR = 0.02
DIST_FLOOR = 0.01


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
    score_name: str = "mean-cosine"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score"] = None if self.score is None else round(self.score, 6)
        d["latency_ms"] = round(self.latency_ms, 3)
        return d

    def __repr__(self) -> str:
        verdict = "ACCEPT" if self.accepted else "REJECT"
        score = "-" if self.score is None else f"{self.score:.3f}"
        cmp = ">=" if self.accepted else "vs"
        why = f" {self.detail}" if self.detail and not self.accepted else ""
        return (f"<Decision {self.user} {verdict} {self.reason} score={score} {cmp} "
                f"{self.threshold:.3f} {self.latency_ms:.2f}ms{why}>")


def user_stats(refs: np.ndarray) -> dict:
    """Leave-one-out statistics of a user's references (unit rows): stored at enrolment."""
    refs = np.asarray(refs, dtype=np.float64)
    n = len(refs)
    if n < 2:
        return {"loo_mean": 1.0, "loo_sd": 0.0, "n": n}
    sims = refs @ refs.T
    loo = (sims.sum(axis=1) - np.diag(sims)) / (n - 1)
    return {"loo_mean": float(loo.mean()), "loo_sd": float(loo.std()), "n": n,
            "loo": [round(float(v), 6) for v in loo]}


def score(name: str, refs: np.ndarray, test: np.ndarray, stats: dict) -> float:
    """The named score of ``test`` (unit, (dim,)) against ``refs`` (unit rows)."""
    s = float(np.mean(refs @ test))
    if name == "mean-cosine":
        return s
    if name == "centroid-cosine":
        centroid = np.mean(refs, axis=0)
        return float(centroid @ test / max(float(np.linalg.norm(centroid)), 1e-12))
    if name == "centroid-max-cosine":
        return 0.5 * (score("centroid-cosine", refs, test, stats) + float(np.max(refs @ test)))
    if name == "znorm-mean-cosine":
        return (s - stats["loo_mean"]) / max(stats["loo_sd"], SD_FLOOR)
    if name == "refnorm-distance":
        return -(1.0 - s) / max(1.0 - stats["loo_mean"], DIST_FLOOR)
    raise ConfigError(f"unknown score {name!r}")
