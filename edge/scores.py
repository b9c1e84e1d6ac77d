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
* ``learned-dtw`` - the same DTW and normalisation over the model's learned
  feature sequences (``edge.learned_dtw``), where the model has them.
* ``fused`` - a weighted sum of standardised scores, one of them ``dtw``:
  ``b + sum_k w_k (s_k - mean_k) / sd_k``. The parts, their constants and weights
  are the manifest's (``params["parts"]``), learnt on the training users'
  folds by ``trainer.fusion``, never on the users a figure is reported for.
  The cosine keeps the overall form, DTW the order and timing of the strokes;
  their errors differ, so the sum beats either (docs/training.md). The
  intercept ``b`` (``params["intercept"]``, default 0) is a logistic
  regression's (``trainer.logistic``): with it and that regression's weights
  the score is the log-odds of a genuine signature, calibrated on the
  training writers.
* ``cosine-``, ``dtw-``, ``learned-dtw-`` ``least``, ``greatest``, ``typical``
  - the least, greatest and typical (to the medoid) distance of each
  comparator in the references' own spread, negated
  (``edge.normalised_scores``): parts of a logistic regression's decision.
* ``timing-deviation``, ``size-deviation``, ``stroke-deviation``,
  ``pressure-deviation`` - how far the probe's global features
  (``edge.global_features``: durations and speed, path length and extent,
  the number of strokes, pressure) lie from the references' own, in units of
  their own spread, negated: ``-deviation``, always <= 0. Parts of a fused
  score (what a forger gets wrong beside the shape: slower writing, more
  lifts, another size); they need the features stored with each reference
  and the manifest's settings (``params["globals"]``).

Scores with parameters (the DTWs and their statistics, the deviations, ``fused``) are registered unconfigured;
``get(name).configured(params)`` gives the one a manifest describes.

The arithmetic is the edge's since the shipped thresholds were set: the
manifests' thresholds hold only for these exact floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import dtw
from .dtw import DtwConfig
from .errors import ConfigError
from .feature_scores import Deviation as Deviation
from .feature_scores import Dtw as Dtw
from .feature_scores import LearnedDtw as LearnedDtw
from .global_features import GlobalConfig
from .learned_dtw import LearnedConfig
from .normalised_scores import DIST_FLOOR as DIST_FLOOR
from .normalised_scores import CosineStatistic as CosineStatistic
from .score_base import ASPECTS as ASPECTS
from .score_base import Floats as Floats
from .score_base import Probe as Probe
from .score_base import References as References
from .score_base import Score as Score
from .score_base import check_threshold as check_threshold
from .score_base import get as get
from .score_base import names as names
from .score_base import register as register

SD_FLOOR = 0.02


def score(name: str, refs: Floats, test: Floats, stats: dict[str, Any]) -> float:
    """The named embedding score of ``test`` (unit, (dim,)) against ``refs`` (unit rows)."""
    return get(name)(References(refs, stats), Probe(test))


def reference_stats(embeddings: Floats | None, sequences: Floats | None = None,
                    dtw_config: DtwConfig | None = None, learned: Floats | None = None,
                    learned_config: LearnedConfig | None = None) -> dict[str, Any]:
    """What enrolment stores about a user's references: ``user_stats``, and the DTW
    spread among the sequences (raw, learned) and their medoid (the most typical
    reference, ``dtw.spread_and_medoid``) where the decision compares them."""
    stats = user_stats(embeddings) if embeddings is not None else {}
    if dtw_config is not None and sequences is not None:
        unit, medoid = dtw.spread_and_medoid(sequences, dtw_config.band)
        stats["dtw_spread"], stats["dtw_medoid"] = round(unit, 9), medoid
    if learned_config is not None and learned is not None:
        unit, medoid = dtw.spread_and_medoid(learned, learned_config.band)
        stats["learned_spread"], stats["learned_medoid"] = round(unit, 9), medoid
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
                 globals_config: GlobalConfig | None = None, learned_config: LearnedConfig | None = None,
                 intercept: float = 0.0):
        self.parts, self.dtw, self.globals, self.learned = parts, dtw_config, globals_config, learned_config
        self.intercept = intercept
        self._last: tuple[References, Probe, list[float]] | None = None
        if parts:
            # (a part weighed 0 adds nothing, not 0 * inf)
            ends = [sorted(p.weight * (v - p.mean) / p.sd for v in p.score.range) for p in parts if p.weight]
            self.range = (intercept + float(sum(lo for lo, _ in ends)), intercept + float(sum(hi for _, hi in ends)))

    def configured(self, params: dict[str, Any] | None) -> Score:
        try:
            params = params or {}
            cfg = DtwConfig.from_dict(dict(params["dtw"])) if params.get("dtw") else None
            gcfg = GlobalConfig.from_dict(dict(params["globals"])) if params.get("globals") else None
            lcfg = LearnedConfig.from_dict(dict(params["learned"])) if params.get("learned") else None
            parts = tuple(_part(p, {"dtw": cfg, "globals": gcfg, "learned": lcfg}) for p in params["parts"])
            intercept = float(params.get("intercept", 0.0))
            if not np.isfinite(intercept):
                raise ValueError(f"the intercept must be finite, not {intercept}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"score 'fused' needs params {{'parts': [...], 'dtw': {{...}}}}: {exc}") from None
        if not parts:
            raise ConfigError("score 'fused' needs at least one part")
        return Fused(parts, cfg, gcfg if any(p.score.globals for p in parts) else None,
                     lcfg if any(p.score.learned for p in parts) else None, intercept)

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
        return float(self.intercept + sum(p.weight * v for p, v in zip(weighed, z)))

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


def _part(d: dict[str, Any], settings: dict[str, DtwConfig | GlobalConfig | LearnedConfig | None]) -> Part:
    """One part of a fused score; a part with settings (``dtw``, ``globals``, ``learned``) gets the fused score's."""
    name = str(d["score"])
    if name == Fused.name:
        raise ValueError("a fused score cannot be a part of itself")
    kind = get(name)
    needs = kind.settings
    given = settings.get(needs) if needs else None
    score = kind.configured({needs: given.to_dict()} if needs and given else None)
    sd = float(d["sd"])
    if not (sd > 0 and np.isfinite(sd) and np.isfinite(float(d["mean"])) and np.isfinite(float(d["weight"]))):
        raise ValueError(f"part {name!r}: mean, sd and weight must be finite and sd > 0")
    return Part(score, float(d["mean"]), sd, float(d["weight"]))


DEFAULT = MeanCosine.name
"""The score of a manifest that names none, and the trainer's unless told."""
