"""The scores: how genuine a test embedding looks next to a user's references.

Every score is a ``Score`` subclass registered by name with ``@register``;
the registry is the one list of names that the settings, enrolment, the CLI
and the trainer read (``names()``), and the manifest's ``decision.score``
names the one its threshold is for. A new score (a fused one, say) is one
new class here.

Each takes the user's references (unit rows), the test embedding (unit,
``(dim,)``) and the user's statistics (``user_stats``, computed at
enrolment); higher is more genuine.

* ``mean-cosine`` - the mean cosine of the test embedding to the user's
  references. With unit embeddings in [-1, 1].
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
  global threshold fits consistent and erratic writers alike. Always <= 0.

The arithmetic is the edge's since the shipped thresholds were set: the
manifests' thresholds hold only for these exact floats.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .errors import ConfigError

SD_FLOOR = 0.02
DIST_FLOOR = 0.01


class Score:
    """One way to score a test embedding against a user's references."""

    name: ClassVar[str]
    on_cosine_scale: ClassVar[bool] = True
    """Its values are cosines (or means of them), so ``threshold - margin``
    means the same for it as for a cosine: enrolment's consistency check may
    ask it without the user's statistics (``enrol.leave_one_out``)."""
    range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    """The least and the greatest value it can take. A threshold at or below
    the least accepts every signature, one above the greatest none
    (``check_threshold``)."""

    def __call__(self, refs: np.ndarray, test: np.ndarray, stats: dict) -> float:
        raise NotImplementedError


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


def check_threshold(name: str, threshold: float) -> float:
    """``threshold`` if it can separate anything for score ``name``; else ``ConfigError``."""
    lo, hi = get(name).range
    if lo < threshold <= hi:
        return threshold
    effect = "would accept every signature" if threshold <= lo else "would reject every signature"
    raise ConfigError(f"threshold {threshold:g} {effect}: score {name!r} lies in [{lo:g}, {hi:g}], "
                      f"so its threshold must be above {lo:g} and at most {hi:g}")


def score(name: str, refs: np.ndarray, test: np.ndarray, stats: dict) -> float:
    """The named score of ``test`` (unit, (dim,)) against ``refs`` (unit rows)."""
    return get(name)(refs, test, stats)


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


def _mean_cosine(refs: np.ndarray, test: np.ndarray) -> float:
    return float(np.mean(refs @ test))


def _centroid_cosine(refs: np.ndarray, test: np.ndarray) -> float:
    centroid = np.mean(refs, axis=0)
    # References that cancel out leave no direction: 0, not a division by zero.
    return float(centroid @ test / max(float(np.linalg.norm(centroid)), 1e-12))


@register
class MeanCosine(Score):
    name = "mean-cosine"

    def __call__(self, refs, test, stats):
        return _mean_cosine(refs, test)


@register
class CentroidCosine(Score):
    name = "centroid-cosine"

    def __call__(self, refs, test, stats):
        return _centroid_cosine(refs, test)


@register
class CentroidMaxCosine(Score):
    name = "centroid-max-cosine"

    def __call__(self, refs, test, stats):
        return 0.5 * (_centroid_cosine(refs, test) + float(np.max(refs @ test)))


@register
class ZnormMeanCosine(Score):
    name = "znorm-mean-cosine"
    on_cosine_scale = False
    range = (-2.0 / SD_FLOOR, 2.0 / SD_FLOOR)  # a difference of cosines over at least the floor

    def __call__(self, refs, test, stats):
        return (_mean_cosine(refs, test) - stats["loo_mean"]) / max(stats["loo_sd"], SD_FLOOR)


@register
class RefnormDistance(Score):
    name = "refnorm-distance"
    on_cosine_scale = False
    range = (-2.0 / DIST_FLOOR, 0.0)  # a cosine distance (0..2) over at least the floor

    def __call__(self, refs, test, stats):
        return -(1.0 - _mean_cosine(refs, test)) / max(1.0 - stats["loo_mean"], DIST_FLOOR)


DEFAULT = MeanCosine.name
"""The score of a manifest that names none, and the trainer's unless told."""
