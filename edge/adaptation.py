"""Template adaptation: an accept far above the threshold may refresh one reference.

A signature drifts between sessions (SVC2004's second session, a week
later, is harder to verify than the first: docs/training.md), while the
references stay those of the enrolment. Adaptation lets an attempt that
was accepted with a wide margin replace the user's least typical reference,
so the references follow the writer. The risk is the mirror image: a
skilled forgery accepted that far above the threshold would poison the
template and make the next forgeries easier. Hence the bounds:

* only when enabled (``AdaptationPolicy.enabled``, False for a policy built
  bare; the product's setting ``[adaptation] enabled`` is off by default, and
  docs/edge.md says why);
* only an accept scoring at least ``threshold + margin`` (in the decision
  score's own units), never one flagged as a replay (the verifier asks only
  after an accept, and an accept had no replay match), nor a replay-like one
  (``edge.replay.Finding.replay_like``: its path within 1.5 times the replay
  limit of a kept one - a replay just past the limit must not become a
  reference);
* at most ``max_per_day`` replacements per user in any 24 hours;
* the ``keep_enrolled`` most typical of the references still left from the
  enrolment are never replaced, so the enrolment always anchors the set.

``propose`` is pure: references, probe and score in; which reference to
replace and the new references (with their statistics recomputed, as
enrolment computes them) out, or None. The verifier stores the result
through the store's judging transaction (``edge.store.Replacement``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import scores
from .dtw import DtwConfig
from .enrol import leave_one_out
from .errors import ConfigError

DAY_S = 86_400.0


@dataclass(frozen=True)
class AdaptationPolicy:
    """When an accept may replace a reference (``[adaptation]`` in sigpad.toml)."""

    enabled: bool = False
    margin: float = 1.0        # above the threshold, in the decision score's units
    max_per_day: int = 3       # replacements per user in any 24 hours
    keep_enrolled: int = 2     # enrolment references never replaced (the most typical left)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.margin) and self.margin >= 0):
            raise ConfigError(f"adaptation margin {self.margin!r}: must be a finite number >= 0")
        if self.max_per_day < 0 or self.keep_enrolled < 0:
            raise ConfigError("adaptation max_per_day and keep_enrolled must be >= 0")


@dataclass(frozen=True)
class Adaptation:
    """One proposed replacement: reference ``index`` gives way to the probe."""

    index: int
    typicality: tuple[float, ...]     # each old reference's leave-one-out score
    references: scores.References     # the new set, statistics recomputed

    def log_entry(self, value: float) -> dict[str, Any]:
        """What the decision log keeps of it (no biometric data: an index and scores)."""
        return {"replaced": self.index, "replaced_typicality": round(self.typicality[self.index], 4),
                "score": round(float(value), 4)}

    def describe(self, value: float) -> str:
        """The decision's word on it (``Decision.adapted``): which reference went, why, at what score."""
        e = self.log_entry(value)
        return (f"reference {e['replaced'] + 1} of {len(self.typicality)} replaced (typicality "
                f"{e['replaced_typicality']:.3f}, least of those not kept) at score {e['score']:.3f}")


def typicality(refs: scores.References, score: scores.Score) -> npt.NDArray[np.float64]:
    """Each reference's score against the others under the decision's own score.

    The decision's score, not a plain cosine, because "typical" must mean what
    the verifier will ask of the next attempt: the reference the others would
    accept least is the one that least helps a genuine attempt and most helps
    a forgery that happens to resemble it (enrolment's consistency check asks
    the same question: ``enrol.leave_one_out``)."""
    return leave_one_out(refs.embeddings, score, refs.sequences, refs.globals)


def replaceable(typical: npt.NDArray[np.float64], originals: Sequence[bool], keep_enrolled: int) -> list[int]:
    """The indices that may go: all but the ``keep_enrolled`` most typical originals."""
    kept_originals = sorted((i for i, o in enumerate(originals) if o), key=lambda i: -typical[i])
    protected = set(kept_originals[:keep_enrolled])
    return [i for i in range(len(typical)) if i not in protected]


def propose(policy: AdaptationPolicy, refs: scores.References, originals: Sequence[bool],
            probe: scores.Probe, score: scores.Score, threshold: float, value: float,
            recent: Sequence[float] = (), now: float = 0.0,
            dtw: DtwConfig | None = None) -> Adaptation | None:
    """The replacement an accepted attempt scoring ``value`` earns, or None.

    ``originals[i]``: reference i is from the enrolment; ``recent``: the times
    of this user's earlier replacements (the daily bound); ``dtw``: the DTW
    settings the references' statistics are kept for (default: the score's)."""
    # "not >=" so that a NaN score never adapts
    if not policy.enabled or not value >= threshold + policy.margin or len(refs.embeddings) < 2:
        return None
    if sum(1 for t in recent if now - t < DAY_S) >= policy.max_per_day:
        return None
    typical = typicality(refs, score)
    candidates = replaceable(typical, originals, policy.keep_enrolled)
    if not candidates:
        return None
    index = min(candidates, key=lambda i: typical[i])
    return Adaptation(index, tuple(float(v) for v in typical), replaced(refs, index, probe, dtw or score.dtw))


def propose_for(policy: AdaptationPolicy, refs: scores.References, profile: Mapping[str, Any],
                probe: scores.Probe, score: scores.Score, threshold: float, value: float, now: float,
                dtw: DtwConfig | None = None) -> Adaptation | None:
    """``propose`` for a user as the store keeps them: the profile's ``template_ids``
    (the references, in order), ``enrolled_ids`` (those from the enrolment: all
    of them until an adaptation) and ``adaptations`` (the times of earlier ones)."""
    ids: list[str] = profile["template_ids"]
    originals = set(profile.get("enrolled_ids", ids))
    return propose(policy, refs, [t in originals for t in ids], probe, score, threshold, value,
                   profile.get("adaptations", ()), now, dtw)


def still_applies(seen: Mapping[str, Any] | None, proposed_on: Mapping[str, Any]) -> bool:
    """A proposal made on the profile ``proposed_on`` still applies to ``seen`` (the profile
    as the store's transaction sees it): the same references, the same adaptations."""
    keys = ("template_ids", "adaptations")
    return seen is not None and all(seen.get(k) == proposed_on.get(k) for k in keys)


def replaced(refs: scores.References, index: int, probe: scores.Probe,
             dtw: DtwConfig | None = None) -> scores.References:
    """``refs`` with reference ``index`` replaced by ``probe``, statistics recomputed
    as enrolment computes them (``scores.reference_stats``)."""
    embeddings = np.array(refs.embeddings, copy=True)
    embeddings[index] = probe.embedding
    sequences = refs.sequences
    if sequences is not None:
        sequences = np.array(sequences, copy=True)
        sequences[index] = probe.sequence
    globs = refs.globals
    if globs is not None:
        globs = np.array(globs, copy=True)
        globs[index] = probe.globals
    return scores.References(embeddings, scores.reference_stats(embeddings, sequences, dtw), sequences, globs)
