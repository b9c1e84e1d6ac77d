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
* ``timing-deviation``, ``size-deviation``, ``stroke-deviation``,
  ``pressure-deviation`` - how far the probe's global features
  (``edge.global_features``: durations and speed, path length and extent,
  the number of strokes, pressure) lie from the references' own, in units of
  their own spread, negated: ``-deviation``, always <= 0. Parts of a fused
  score (what a forger gets wrong beside the shape: slower writing, more
  lifts, another size); they need the features stored with each reference
  and the manifest's settings (``params["globals"]``).

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

from . import dtw, global_features
from .dtw import DtwConfig
from .errors import ConfigError
from .global_features import GlobalConfig

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
    globals: Floats | None = None        # (n, features) global features, where stored


@dataclass(frozen=True)
class Probe:
    """The signature being judged."""

    embedding: Floats                    # unit, (dim,)
    sequence: Floats | None = None       # (points, channels) DTW sequence, where needed
    globals: Floats | None = None        # (features,) global features, where needed


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


class Deviation(Score):
    """``-deviation`` of one group of global features (``edge.global_features``): <= 0."""

    group: ClassVar[str]
    """Its features' group in ``edge.global_features``; ``aspect`` is the reason it gives."""

    on_cosine_scale = False
    range = (-np.inf, 0.0)  # a deviation over at least the floor, negated: 0 when every feature is the mean

    def __init__(self, globals_config: GlobalConfig | None = None):
        self.globals = globals_config

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            return type(self)(GlobalConfig.from_dict(dict((params or {})["globals"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"score {self.name!r} needs params {{'globals': {{...}}}}: {exc}") from None

    def margin_scale(self) -> float | None:
        # In units of the references' own spread (with its floor), like the DTW score's.
        return 1.0

    def __call__(self, refs: References, probe: Probe) -> float:
        if self.globals is None:
            raise ConfigError(f"score {self.name!r} needs the manifest's global feature settings")
        if refs.globals is None or probe.globals is None:
            raise ConfigError(f"score {self.name!r} needs the global features of the references and the probe")
        return -global_features.deviation(refs.globals, probe.globals, self.globals.columns(self.group))


@register
class TimingDeviation(Deviation):
    name, group, aspect = "timing-deviation", "timing", "timing"


@register
class SizeDeviation(Deviation):
    name, group, aspect = "size-deviation", "size", "size"


@register
class StrokeDeviation(Deviation):
    name, group, aspect = "stroke-deviation", "strokes", "timing"   # more pen lifts: a forger hesitating


@register
class PressureDeviation(Deviation):
    name, group, aspect = "pressure-deviation", "pressure", "pressure"


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

    def __init__(self, parts: tuple[Part, ...] = (), dtw_config: DtwConfig | None = None,
                 globals_config: GlobalConfig | None = None):
        self.parts, self.dtw, self.globals = parts, dtw_config, globals_config
        self._last: tuple[References, Probe, list[float]] | None = None
        if parts:
            # (a part weighed 0 adds nothing, not 0 * inf)
            ends = [sorted(p.weight * (v - p.mean) / p.sd for v in p.score.range) for p in parts if p.weight]
            self.range = (float(sum(lo for lo, _ in ends)), float(sum(hi for _, hi in ends)))

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            params = params or {}
            cfg = DtwConfig.from_dict(dict(params["dtw"])) if params.get("dtw") else None
            gcfg = GlobalConfig.from_dict(dict(params["globals"])) if params.get("globals") else None
            parts = tuple(_part(p, {"dtw": cfg, "globals": gcfg}) for p in params["parts"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"score 'fused' needs params {{'parts': [...], 'dtw': {{...}}}}: {exc}") from None
        if not parts:
            raise ConfigError("score 'fused' needs at least one part")
        return Fused(parts, cfg, gcfg if any(p.score.globals for p in parts) else None)

    def margin_scale(self) -> float | None:
        # A cosine margin is read in the cosine's genuine spreads (0.15 is about
        # one) and given as as many of this score's: each part is standardised,
        # so one spread of every part moves the sum by the sum of the weights.
        cosines = [p for p in self.parts if p.score.on_cosine_scale]
        return sum(p.weight for p in self.parts) / cosines[0].sd if cosines else None

    def _standings(self, refs: References, probe: Probe, parts: tuple[Part, ...]) -> list[float]:
        """Each part's standardised value: 0 for a typical genuine signature, -1 one spread below."""
        if not self.parts:
            raise ConfigError("score 'fused' needs the manifest's parts")
        return [(p.score(refs, probe) - p.mean) / p.sd for p in parts]

    def __call__(self, refs: References, probe: Probe) -> float:
        # A part weighed 0 describes (``explain``) and does not decide: not computed here.
        weighed = tuple(p for p in self.parts if p.weight)
        z = self._standings(refs, probe, weighed)
        # Kept for explain() of the same attempt, which would otherwise run the DTW again;
        # matched by identity, so another thread's attempt only costs a recomputation.
        self._last = (refs, probe, z)
        return float(sum(p.weight * v for p, v in zip(weighed, z)))

    def explain(self, refs: References, probe: Probe) -> dict[str, float]:
        """Each aspect's standing in genuine spreads: its weighed parts' weighted mean,
        or for an aspect that only describes (weight 0), its parts' mean."""
        weighed = tuple(p for p in self.parts if p.weight)
        last = self._last
        z = last[2] if last is not None and last[0] is refs and last[1] is probe else \
            self._standings(refs, probe, weighed)
        described = tuple(p for p in self.parts if not p.weight)
        standings = list(zip(weighed, z)) + list(zip(described, self._standings(refs, probe, described)))
        out: dict[str, float] = {}
        for aspect in dict.fromkeys(p.score.aspect for p, _ in standings):
            mine = [(p, v) for p, v in standings if p.score.aspect == aspect]
            weights = [p.weight for p, _ in mine] if any(p.weight for p, _ in mine) else [1.0] * len(mine)
            out[aspect] = float(sum(w * v for w, (_, v) in zip(weights, mine)) / sum(weights))
        return out


def _part(d: dict[str, Any], settings: dict[str, DtwConfig | GlobalConfig | None]) -> Part:
    """One part of a fused score; a part with settings (``dtw``, ``globals``) gets the fused score's."""
    name = str(d["score"])
    if name == Fused.name:
        raise ValueError("a fused score cannot be a part of itself")
    kind = get(name)
    needs = "dtw" if isinstance(kind, Dtw) else "globals" if isinstance(kind, Deviation) else None
    given = settings.get(needs) if needs else None
    score = kind.configured({needs: given.to_dict()} if needs and given else None)
    sd = float(d["sd"])
    if not (sd > 0 and np.isfinite(sd) and np.isfinite(float(d["mean"])) and np.isfinite(float(d["weight"]))):
        raise ValueError(f"part {name!r}: mean, sd and weight must be finite and sd > 0")
    return Part(score, float(d["mean"]), sd, float(d["weight"]))


DEFAULT = MeanCosine.name
"""The score of a manifest that names none, and the trainer's unless told."""
