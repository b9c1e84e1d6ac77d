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

* ``dtw`` - the device's DTW (``edge.dtw``) of the test's feature sequence
  to the references' sequences, in units of the references' own spread:
  ``-mean_r d(t, r) / spread``, the DTW reference's normalisation. Always
  <= 0. Needs the sequences stored at enrolment and the manifest's DTW
  settings (``params["dtw"]``).
* ``fused`` - a weighted sum of standardised scores, one of them ``dtw``:
  ``sum_k w_k (s_k - mean_k) / sd_k``. The parts, their constants and weights
  are the manifest's (``params["parts"]``), learnt on the training users'
  folds by ``trainer.fusion``, never on the users a figure is reported for.
  The cosine keeps the overall form, DTW the order and timing of the strokes;
  their errors differ, so the sum beats either (docs/training.md).

Scores with parameters (``dtw``, ``fused``) are registered unconfigured;
``get(name).configured(params)`` gives the one a manifest describes.

The arithmetic is the edge's since the shipped thresholds were set: the
manifests' thresholds hold only for these exact floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import dtw
from .dtw import DtwConfig
from .errors import ConfigError

Floats = npt.NDArray[np.floating[Any]]
"""Embeddings and DTW sequences as scores take them (float32 from the model, float64 from the store)."""

SD_FLOOR = 0.02
DIST_FLOOR = 0.01
ASPECTS = ("shape", "timing", "pressure", "size")
"""The aspects a score's ``explain`` may name: the words of ``Decision.reasons``."""


@dataclass(frozen=True)
class References:
    """A user's references as a score sees them."""

    embeddings: Floats                   # unit rows
    stats: dict[str, Any] = field(default_factory=dict)   # computed at enrolment (``reference_stats``)
    sequences: Floats | None = None      # (n, points, channels) DTW sequences, where stored


@dataclass(frozen=True)
class Probe:
    """The signature being judged."""

    embedding: Floats                    # unit, (dim,)
    sequence: Floats | None = None       # (points, channels) DTW sequence, where needed


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
    aspect: ClassVar[str] = "shape"
    """What it compares, as a part of a fused score explains it (``ASPECTS``): the
    cosines compare the learned form, the device's DTW the path."""

    def __call__(self, refs: References, probe: Probe) -> float:
        raise NotImplementedError

    def explain(self, refs: References, probe: Probe) -> dict[str, float]:
        """Per aspect (``ASPECTS``), its signed share of the score, in the score's units:
        negative pulled the decision down. Empty: this score cannot tell."""
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


def score(name: str, refs: Floats, test: Floats, stats: dict[str, Any]) -> float:
    """The named embedding score of ``test`` (unit, (dim,)) against ``refs`` (unit rows)."""
    return get(name)(References(refs, stats), Probe(test))


def reference_stats(embeddings: Floats | None, sequences: Floats | None = None,
                    dtw_config: DtwConfig | None = None) -> dict[str, Any]:
    """What enrolment stores about a user's references: ``user_stats``, and
    the DTW spread among the sequences where the decision uses DTW."""
    stats = user_stats(embeddings) if embeddings is not None else {}
    if dtw_config is not None and sequences is not None:
        stats["dtw_spread"] = round(dtw.spread(sequences, dtw_config.band), 9)
    return stats


def user_stats(refs: Floats) -> dict[str, Any]:
    """Leave-one-out statistics of a user's references (unit rows): stored at enrolment."""
    refs = np.asarray(refs, dtype=np.float64)
    n = len(refs)
    if n < 2:
        return {"loo_mean": 1.0, "loo_sd": 0.0, "n": n}
    sims = refs @ refs.T
    loo = (sims.sum(axis=1) - np.diag(sims)) / (n - 1)
    return {"loo_mean": float(loo.mean()), "loo_sd": float(loo.std()), "n": n,
            "loo": [round(float(v), 6) for v in loo]}


def _mean_cosine(refs: Floats, test: Floats) -> float:
    return float(np.mean(refs @ test))


def _centroid_cosine(refs: Floats, test: Floats) -> float:
    centroid = np.mean(refs, axis=0)
    # References that cancel out leave no direction: 0, not a division by zero.
    return float(centroid @ test / max(float(np.linalg.norm(centroid)), 1e-12))


@register
class MeanCosine(Score):
    name = "mean-cosine"

    def __call__(self, refs: References, probe: Probe) -> float:
        return _mean_cosine(refs.embeddings, probe.embedding)


@register
class CentroidCosine(Score):
    name = "centroid-cosine"

    def __call__(self, refs: References, probe: Probe) -> float:
        return _centroid_cosine(refs.embeddings, probe.embedding)


@register
class CentroidMaxCosine(Score):
    name = "centroid-max-cosine"

    def __call__(self, refs: References, probe: Probe) -> float:
        e, t = refs.embeddings, probe.embedding
        return 0.5 * (_centroid_cosine(e, t) + float(np.max(e @ t)))


@register
class ZnormMeanCosine(Score):
    name = "znorm-mean-cosine"
    on_cosine_scale = False
    range = (-2.0 / SD_FLOOR, 2.0 / SD_FLOOR)  # a difference of cosines over at least the floor

    def __call__(self, refs: References, probe: Probe) -> float:
        s, stats = _mean_cosine(refs.embeddings, probe.embedding), refs.stats
        return float((s - stats["loo_mean"]) / max(stats["loo_sd"], SD_FLOOR))


@register
class RefnormDistance(Score):
    name = "refnorm-distance"
    on_cosine_scale = False
    range = (-2.0 / DIST_FLOOR, 0.0)  # a cosine distance (0..2) over at least the floor

    def __call__(self, refs: References, probe: Probe) -> float:
        s = _mean_cosine(refs.embeddings, probe.embedding)
        return float(-(1.0 - s) / max(1.0 - refs.stats["loo_mean"], DIST_FLOOR))


@register
class Dtw(Score):
    name = "dtw"
    on_cosine_scale = False
    range = (-np.inf, 0.0)  # a distance over the references' own, negated: 0 only for a copy

    def __init__(self, dtw_config: DtwConfig | None = None):
        self.dtw = dtw_config

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            return Dtw(DtwConfig.from_dict(dict((params or {})["dtw"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"score 'dtw' needs params {{'dtw': {{...}}}}: {exc}") from None

    def margin_scale(self) -> float | None:
        # In units of the references' own spread, where a genuine signature
        # scores about -1: a margin of a fraction of that is taken as is.
        return 1.0

    def _config(self) -> DtwConfig:
        if self.dtw is None:
            raise ConfigError("score 'dtw' needs the manifest's DTW settings")
        return self.dtw

    def __call__(self, refs: References, probe: Probe) -> float:
        cfg = self._config()
        if refs.sequences is None or probe.sequence is None:
            raise ConfigError("score 'dtw' needs DTW sequences of the references and the probe")
        return dtw.dtw_score(probe.sequence, refs.sequences, refs.stats["dtw_spread"], cfg.band)


@dataclass(frozen=True)
class Part:
    """One standardised, weighted term of a fused score."""

    score: Score
    mean: float
    sd: float
    weight: float


@register
class Fused(Score):
    name = "fused"
    on_cosine_scale = False
    range = (-np.inf, np.inf)  # until configured: then the parts' ranges, standardised and weighted

    def __init__(self, parts: tuple[Part, ...] = (), dtw_config: DtwConfig | None = None):
        self.parts, self.dtw = parts, dtw_config
        if parts:
            ends = [sorted(p.weight * (v - p.mean) / p.sd for v in p.score.range) for p in parts]
            self.range = (float(sum(lo for lo, _ in ends)), float(sum(hi for _, hi in ends)))

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            params = params or {}
            cfg = DtwConfig.from_dict(dict(params["dtw"])) if params.get("dtw") else None
            parts = tuple(_part(p, cfg) for p in params["parts"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"score 'fused' needs params {{'parts': [...], 'dtw': {{...}}}}: {exc}") from None
        if not parts:
            raise ConfigError("score 'fused' needs at least one part")
        return Fused(parts, cfg)

    def margin_scale(self) -> float | None:
        # A cosine margin is read in the cosine's genuine spreads (0.15 is about
        # one) and given as as many of this score's: each part is standardised,
        # so one spread of every part moves the sum by the sum of the weights.
        cosines = [p for p in self.parts if p.score.on_cosine_scale]
        return sum(p.weight for p in self.parts) / cosines[0].sd if cosines else None

    def __call__(self, refs: References, probe: Probe) -> float:
        if not self.parts:
            raise ConfigError("score 'fused' needs the manifest's parts")
        return float(sum(p.weight * (p.score(refs, probe) - p.mean) / p.sd for p in self.parts))

    def explain(self, refs: References, probe: Probe) -> dict[str, float]:
        # Each part's weighted standardised term is its share of the sum, under its aspect.
        if not self.parts:
            raise ConfigError("score 'fused' needs the manifest's parts")
        out: dict[str, float] = {}
        for p in self.parts:
            out[p.score.aspect] = out.get(p.score.aspect, 0.0) + p.weight * (p.score(refs, probe) - p.mean) / p.sd
        return out


def _part(d: dict[str, Any], dtw_config: DtwConfig | None) -> Part:
    name = str(d["score"])
    if name == Fused.name:
        raise ValueError("a fused score cannot be a part of itself")
    score = get(name).configured({"dtw": dtw_config.to_dict()} if name == Dtw.name and dtw_config else None)
    sd = float(d["sd"])
    if not (sd > 0 and np.isfinite(sd) and np.isfinite(float(d["mean"])) and np.isfinite(float(d["weight"]))):
        raise ValueError(f"part {name!r}: mean, sd and weight must be finite and sd > 0")
    return Part(score, float(d["mean"]), sd, float(d["weight"]))


DEFAULT = MeanCosine.name
"""The score of a manifest that names none, and the trainer's unless told."""
