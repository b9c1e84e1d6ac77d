"""What every score is and where they are found: the references and probe a score
compares, the ``Score`` base class, and the registry of scores by name.

``edge.scores`` describes the scores and holds the cosine and fused ones;
``edge.feature_scores`` those over what a reference stores beside its
embedding. Both register theirs here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .dtw import DtwConfig
from .errors import ConfigError
from .global_features import GlobalConfig
from .learned_dtw import LearnedConfig

Floats = npt.NDArray[np.floating[Any]]
"""Embeddings and DTW sequences as scores take them (float32 from the model, float64 from the store)."""

ASPECTS = ("shape", "timing", "pressure", "size")
"""The aspects a score's ``explain`` may name: the words of ``Decision.reasons``."""


@dataclass(frozen=True)
class References:
    """A user's references as a score sees them."""

    embeddings: Floats                   # unit rows
    stats: dict[str, Any] = field(default_factory=dict)   # computed at enrolment (``reference_stats``)
    sequences: Floats | None = None      # (n, points, channels) DTW sequences, where stored
    globals: Floats | None = None        # (n, features) global features, where stored
    learned: Floats | None = None        # (n, steps, channels) learned features, where stored


@dataclass(frozen=True)
class Probe:
    """The signature being judged."""

    embedding: Floats                    # unit, (dim,)
    sequence: Floats | None = None       # (points, channels) DTW sequence, where needed
    globals: Floats | None = None        # (features,) global features, where needed
    learned: Floats | None = None        # (steps, channels) the model's learned features, where needed


class Score:
    """One way to score a probe against a user's references (higher: more genuine)."""

    name: ClassVar[str]
    on_cosine_scale: ClassVar[bool] = True
    """Its values are cosines (or means of them), so ``threshold - margin``
    means the same for it as for a cosine: enrolment's consistency check may
    ask it without the user's statistics (``enrol.leave_one_out``)."""
    range: tuple[float, float] = (-1.0, 1.0)
    """The least and the greatest value it can take. A threshold at or below
    the least accepts every signature, one above the greatest none
    (``check_threshold``); a configured score's may depend on its parameters."""

    dtw: DtwConfig | None = None
    """The DTW sequences it needs stored with each reference, if any."""
    globals: GlobalConfig | None = None
    """The global features it needs stored with each reference, if any."""
    learned: LearnedConfig | None = None
    """The model's learned features it needs stored with each reference, if any."""
    settings: ClassVar[str | None] = None
    """The manifest's parameter its configuration comes from (``"dtw"``, ``"globals"``,
    ``"learned"``), which a fused score passes on to it; None: it takes none."""
    aspect: ClassVar[str] = "shape"
    """What it compares, as a part of a fused score explains it (``ASPECTS``): the
    cosines compare the learned form, the device's DTW the path, the deviations
    their group of global features."""

    def __call__(self, refs: References, probe: Probe) -> float:
        raise NotImplementedError

    def explain(self, refs: References, probe: Probe) -> dict[str, float]:
        """Per aspect (``ASPECTS``), how the probe stands against the user's references
        in genuine spreads: 0 is a typical genuine signature, below -1
        (``decision.REASON_BELOW``) is a reason. Empty: this score cannot tell."""
        return {}

    def margin_scale(self) -> float | None:
        """How far this score moves when every cosine moves by 1 (None: not a
        cosine's kin): enrolment's consistency margin is given in cosines."""
        return 1.0 if self.on_cosine_scale else None

    def configured(self, params: dict[str, Any] | None) -> Score:
        """The score with a manifest's parameters (scores without any ignore none given)."""
        if params:
            raise ConfigError(f"score {self.name!r} takes no parameters, the manifest gives {sorted(params)}")
        return self


_REGISTRY: dict[str, Score] = {}


def register(cls: type[Score]) -> type[Score]:
    """Class decorator: make ``cls`` a score known by ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"score {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def names() -> tuple[str, ...]:
    """Every registered score's name, in registration order."""
    return tuple(_REGISTRY)


def get(name: str) -> Score:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown score {name!r}") from None


def check_threshold(score: str | Score, threshold: float) -> float:
    """``threshold`` if it can separate anything for ``score`` (a name, or a
    configured score, whose range may depend on its parameters); else ``ConfigError``."""
    score = get(score) if isinstance(score, str) else score
    name, (lo, hi) = score.name, score.range
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise ConfigError(f"threshold {threshold!r} is not a finite number")
    if lo < threshold <= hi:
        return threshold
    effect = "would accept every signature" if threshold <= lo else "would reject every signature"
    raise ConfigError(f"threshold {threshold:g} {effect}: score {name!r} lies in [{lo:g}, {hi:g}], "
                      f"so its threshold must be above {lo:g} and at most {hi:g}")
