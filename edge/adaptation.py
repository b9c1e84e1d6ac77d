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
* never on a probe too alike an attempt the store keeps for this user
  (accepted or rejected: a forger's practice is rejected first): a cosine
  at or above ``alike_bound`` (twice the replay limit's distance, 0.99 for
  ``[replay] cosine`` 0.995; ``ALIKE`` says why). A genuine writer does not
  sign twice that alike; a near-copy just under the replay limit does;
* never when the new references' centroid would lie further than
  ``max_drift`` (cosine distance, 0.1) from the enrolment's references'
  centroid (``drift``): the enrolment's references are kept for that
  (``edge.store_baseline``), and the bound stops a slow walk away from them;
* at most ``max_per_day`` replacements per user in any 24 hours;
* the ``keep_enrolled`` most typical of the references still left from the
  enrolment are never replaced, so the enrolment always anchors the set.

``propose`` is pure: references, probe and score in; which reference to
replace and the new references (with their statistics recomputed, as
enrolment computes them) out, or None. The verifier stores the result
through the store's judging transaction (``edge.store.Replacement``),
asking ``may_adapt`` there (the references unchanged since the proposal,
the probe not too alike a kept attempt). Every adaptation is listed and
can be undone: ``sigpad adaptations USER [--undo]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from . import scores
from .enrol import leave_one_out
from .errors import ConfigError
from .layout import Layout
from .templates import dequantize_many

Floats = npt.NDArray[np.floating[Any]]

DAY_S = 86_400.0
ALIKE = 2.0
"""A probe within this many times the replay limit's cosine distance of a kept attempt does
not adapt (``alike_bound``): twice the replay rule's, as a path within 1.5 times its limit
is replay-like. On SVC2004 with the shipped pressure model, no two genuine signatures of a
writer came that close (the highest of 5,700 same-writer pairs: 0.9898 < 0.99), so the
bound costs a genuine writer nothing and catches near-copies just under the replay limit."""


class Embedded(Protocol):
    """A kept attempt as far as ``too_alike`` looks: its int8 embedding (b"": none)."""

    @property
    def embedding(self) -> bytes: ...


@dataclass(frozen=True)
class AdaptationPolicy:
    """When an accept may replace a reference (``[adaptation]`` in sigpad.toml)."""

    enabled: bool = False
    margin: float = 1.0        # above the threshold, in the decision score's units
    max_per_day: int = 3       # replacements per user in any 24 hours
    keep_enrolled: int = 2     # enrolment references never replaced (the most typical left)
    max_drift: float = 0.1     # cosine distance of the new centroid from the enrolment's (see ``drift``)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.margin) and self.margin >= 0):
            raise ConfigError(f"adaptation margin {self.margin!r}: must be a finite number >= 0")
        if not 0.0 <= self.max_drift <= 2.0:
            raise ConfigError(f"adaptation max_drift {self.max_drift!r}: a cosine distance, 0 to 2")
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
    return leave_one_out(refs.embeddings, score, refs.sequences, refs.globals, refs.learned)


def replaceable(typical: npt.NDArray[np.float64], originals: Sequence[bool], keep_enrolled: int) -> list[int]:
    """The indices that may go: all but the ``keep_enrolled`` most typical originals."""
    kept_originals = sorted((i for i, o in enumerate(originals) if o), key=lambda i: -typical[i])
    protected = set(kept_originals[:keep_enrolled])
    return [i for i in range(len(typical)) if i not in protected]


def propose(policy: AdaptationPolicy, refs: scores.References, originals: Sequence[bool],
            probe: scores.Probe, score: scores.Score, threshold: float, value: float,
            recent: Sequence[float] = (), now: float = 0.0,
            layout: Layout | None = None, enrolled: Floats | None = None) -> Adaptation | None:
    """The replacement an accepted attempt scoring ``value`` earns, or None.

    ``originals[i]``: reference i is from the enrolment; ``recent``: the times
    of this user's earlier replacements (the daily bound); ``layout``: what the
    references store, whose statistics are kept (the decision's; default: the score's);
    ``enrolled``: the enrolment's embeddings (the drift bound; None: not checked)."""
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
    new = replaced(refs, index, probe, layout or Layout.of(refs.embeddings.shape[1], score))
    if enrolled is not None and len(enrolled) and not drift(new.embeddings, enrolled) <= policy.max_drift:
        return None
    return Adaptation(index, tuple(float(v) for v in typical), new)


def propose_for(policy: AdaptationPolicy, refs: scores.References, profile: Mapping[str, Any],
                probe: scores.Probe, score: scores.Score, threshold: float, value: float, now: float,
                layout: Layout | None = None, enrolled: Floats | None = None) -> Adaptation | None:
    """``propose`` for a user as the store keeps them: the profile's ``template_ids``
    (the references, in order), ``enrolled_ids`` (those from the enrolment: all
    of them until an adaptation) and ``adaptations`` (the times of earlier ones)."""
    ids: list[str] = profile["template_ids"]
    originals = set(profile.get("enrolled_ids", ids))
    return propose(policy, refs, [t in originals for t in ids], probe, score, threshold, value,
                   profile.get("adaptations", ()), now, layout, enrolled)


def still_applies(seen: Mapping[str, Any] | None, proposed_on: Mapping[str, Any]) -> bool:
    """A proposal made on the profile ``proposed_on`` still applies to ``seen`` (the profile
    as the store's transaction sees it): the same references, the same adaptations."""
    keys = ("template_ids", "adaptations")
    return seen is not None and all(seen.get(k) == proposed_on.get(k) for k in keys)


def may_adapt(seen: Mapping[str, Any] | None, proposed_on: Mapping[str, Any], probe: Floats,
              attempts: Sequence[Embedded], replay_cosine: float) -> bool:
    """Inside the judging transaction: the proposal still applies and the probe (its
    dequantized template) is not too alike any attempt kept (``too_alike``)."""
    return still_applies(seen, proposed_on) and too_alike(probe, attempts, replay_cosine) is None


def alike_bound(replay_cosine: float) -> float:
    """The cosine at which a probe is too alike a kept attempt to adapt from: ``ALIKE``
    times the replay limit's cosine distance (0.99 for the default 0.995)."""
    return 1.0 - ALIKE * (1.0 - replay_cosine)


def too_alike(probe: Floats, attempts: Sequence[Embedded], replay_cosine: float) -> float | None:
    """The highest cosine of ``probe`` to the user's kept attempts (accepted and rejected:
    a forger's practice is rejected first) if it reaches ``alike_bound``, else None."""
    kept = [a.embedding for a in attempts if a.embedding]   # enrolment entries have none
    if not kept:
        return None
    near = float(np.max(dequantize_many(kept, len(probe)) @ probe))
    return near if near >= alike_bound(replay_cosine) else None


def drift(references: Floats, enrolled: Floats) -> float:
    """The cosine distance of the references' centroid from the enrolment's."""
    a, b = np.mean(references, axis=0), np.mean(enrolled, axis=0)
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def replaced(refs: scores.References, index: int, probe: scores.Probe, layout: Layout) -> scores.References:
    """``refs`` with reference ``index`` replaced by ``probe``, statistics recomputed
    as enrolment computes them (``scores.reference_stats``) for what ``layout`` stores."""
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
    features = refs.learned
    if features is not None:
        features = np.array(features, copy=True)
        features[index] = probe.learned
    stats = scores.reference_stats(embeddings, sequences, layout.dtw, features, layout.learned)
    return scores.References(embeddings, stats, sequences, globs, features)
