"""The fused decision: the learned cosine, the device's DTW and the global features, learnt on training folds.

The fused score (``edge.scores.Fused``) is a weighted sum of standardised parts,
``sum_p w_p (s_p - m_p) / sd_p``: the model's cosine score, the DTW score
(``edge.dtw``) and the deviations of the global features in the writer's
own units (``edge.global_features``: timing, size, strokes, pressure), each
standardised by the mean and spread of genuine scores.

The weights: the cosine's w from ``WEIGHTS`` and the DTW's 1 - w (the shape),
and each aspect's from a fixed grid. All combinations are tried; the one with
the lowest pooled skilled EER wins (the first in grid order on a tie).

The shipped decision weighs the aspects 0 (``ASPECT_WEIGHTS``): they describe
a decision (its reasons, ``edge.scores.Fused.explain``) without changing it.
Weighing them (``ALTERNATIVE_ASPECT_WEIGHTS``, the decision ``fused+aspects``
of bench_fusion) was measured and not adopted: on the nested folds it lowered
the pooled skilled EER with pressure but raised the per-writer EER, and
raised the pooled EER without pressure (docs/training.md).

Nothing here looks at the users a figure is reported for:

* **Reported figures (nested).** For user fold k, the constants and weights
  are chosen on the held-out scores of the *other* four folds, whose users are
  exactly fold k's training users; fold k's scores are then fused with them.
* **Shipped parameters.** The same choice on all five folds pooled, and the
  threshold at the EER point of the pooled fused scores, as the cosine
  model's threshold always was (the shipped model sees all 30 users, so no
  held-out user is left). The operating levels (``levels``) are read off
  the same pooled scores.

The cosine scores are the folds' own (each fold's int8 model on its held-out
users, cached by ``folds.cross_validate``); the other parts need no model and
are computed here with the edge's code, over the same trials.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from edge.dtw import DtwConfig
from edge.feature_scores import Dtw, LearnedDtw
from edge.global_features import GlobalConfig
from edge.learned_dtw import LearnedConfig
from firmware_bridge import svc2004

from .evaluation import metrics
from .evaluation.evaluate import EmbeddingScorer, globals_of, load_signatures, score_trials, sequences_of, summarise
from .evaluation.trials import trial_plan

WEIGHTS = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 11))
"""The cosine's weights tried (the DTW's is 1 - w): fixed before any run."""
ASPECT_WEIGHTS = (0.0,)
"""Each global aspect's weight in the shipped decision: none (above)."""
ALTERNATIVE_ASPECT_WEIGHTS = (0.0, 0.05, 0.1, 0.2)
"""Each aspect's weights tried by the alternative: fixed before any run."""
ASPECT_PARTS = ("timing-deviation", "size-deviation", "stroke-deviation", "pressure-deviation")

KINDS = ("genuine", "skilled", "random")
LEVELS = {"convenience": ("frr", 0.03), "secure": ("far_skilled", 0.03)}
"""The operating levels beside ``balanced`` (the EER point): the threshold at
which that rate is at most the target on the pooled fold scores."""


@dataclass(frozen=True)
class Fusion:
    params: dict          # the manifest's decision.params for ``fused``
    threshold: float
    report: dict          # nested per-fold figures and what was chosen (for the manifest)
    scores: dict          # per fold, by decision: the raw held-out scores (for benchmarks)
    fold_params: list     # fold k's decision.params, chosen on the other folds (for benchmarks)
    levels: dict          # level name -> {"threshold", "frr", "far_skilled", "far_random"}
    seen: tuple           # the lowest and highest pooled fused score on the folds


def dtw_config(use_pressure: bool) -> DtwConfig:
    """The DTW the device runs: 64 points (the most the 2 ms latency budget
    allows with the model, docs/training.md), a band of a quarter of them."""
    return DtwConfig(points=64, band=16, pressure=use_pressure)


def part_names(base: str, use_pressure: bool, learned: bool = False) -> tuple[str, ...]:
    """The parts of the fused score: cosine, DTW, the learned features' DTW where the
    model has them, then each aspect the pad kind has."""
    return (base, Dtw.name, *((LearnedDtw.name,) if learned else ()),
            *(p for p in ASPECT_PARTS if use_pressure or p != "pressure-deviation"))


def part_scores(folder: Path, users, name: str, cfg: DtwConfig, trials: int = 10, seed: int = 0,
                protocol: str = "random-refs") -> dict:
    """The edge's score ``name`` (DTW or a deviation) of every trial of these users under ``protocol``."""
    index = {u: f for u, f in svc2004.scan(folder).items() if u in set(users)}
    sigs, _ = load_signatures(index)
    gcfg = GlobalConfig(pressure=cfg.pressure)
    if name == Dtw.name:
        scorer = EmbeddingScorer(None, name, sequences_of(sigs, cfg), {"dtw": cfg.to_dict()})
    else:
        scorer = EmbeddingScorer(None, name, None, {"globals": gcfg.to_dict()}, globals_of(sigs, gcfg))
    return score_trials(trial_plan(index, protocol, trials, seed=seed), scorer)


def by_int_user(scores: dict) -> dict:
    return {k: {int(u): np.asarray(v, dtype=float) for u, v in scores[k].items()} for k in KINDS}


def pool(fold_scores: list[dict]) -> dict:
    """The scores of several folds (disjoint users) as one set: ONE threshold for all."""
    return {k: {u: v for s in fold_scores for u, v in s[k].items()} for k in KINDS}


def _flat(scores: dict, kind: str) -> np.ndarray:
    return np.concatenate(list(scores[kind].values()))


def standardisers(part_folds: list[list[dict]]) -> tuple[tuple[float, float], ...]:
    """(mean, sd) of the genuine scores of each part, over the given folds."""
    out = []
    for folds in part_folds:
        g = _flat(pool(folds), "genuine")
        out.append((float(g.mean()), float(max(g.std(), 1e-9))))
    return tuple(out)


def fuse(parts: list[dict], consts, weights) -> dict:
    """Fused scores of one fold's trials, from each part's (same arithmetic as ``edge.scores.Fused``)."""
    return {k: {u: sum(w * (p[k][u] - m) / sd for p, (m, sd), w in zip(parts, consts, weights) if w)
                for u in parts[0][k]} for k in KINDS}


def shape_weights(n: int) -> list[tuple[float, ...]]:
    """The shape parts' weightings: every n-tuple on the ``WEIGHTS`` grid summing to 1,
    the last part taking what the others leave (two parts: (w, 1 - w) for w in WEIGHTS)."""
    heads = [h for h in itertools.product(WEIGHTS, repeat=n - 1) if sum(h) <= 1 + 1e-9]
    return [(*h, round(1 - sum(h), 2)) for h in heads]


def tied_dtw_weights() -> list[tuple[float, ...]]:
    """Three shape parts, the two DTWs (raw, learned) sharing the DTW's weight equally:
    (w, (1 - w) / 2, (1 - w) / 2) for w in WEIGHTS - as many choices as the shipped two parts."""
    return [(w, round((1 - w) / 2, 3), round((1 - w) / 2, 3)) for w in WEIGHTS]


def learned_shapes(weighting: str = "tied") -> list[tuple[float, ...]]:
    """The shape weightings of a decision with the learned DTW (``bench.bench_local_dtw``):
    ``tied`` (``tied_dtw_weights``) or ``free`` (every weighting of the three on the grid)."""
    if weighting not in ("tied", "free"):
        raise ValueError(f"no such weighting of the learned DTW: {weighting!r} (tied, free)")
    return tied_dtw_weights() if weighting == "tied" else shape_weights(3)


class LearnedPart(NamedTuple):
    """What ``calibrate`` takes of a model's learned features (``trainer.local_features.learned_part``)."""

    config: LearnedConfig   # their edge settings
    folds: list[dict]       # each fold's held-out learned-DTW scores
    weighting: str = "tied"  # ``learned_shapes``


Shapes = int | list[tuple[float, ...]]
"""The shape parts' weightings: a number of parts (every weighting of them on the grid,
``shape_weights``) or the weightings themselves (``tied_dtw_weights``)."""


def weight_grid(n_parts: int, aspect_weights: tuple[float, ...] = ASPECT_WEIGHTS,
                shape: Shapes = 2) -> list[tuple[float, ...]]:
    """Every weighting tried, in a fixed order: (the shape parts' weights, summing
    to 1: cosine w, DTW 1 - w for the shipped two; then the aspects')."""
    shapes = shape_weights(shape) if isinstance(shape, int) else shape
    aspects = itertools.product(aspect_weights, repeat=n_parts - len(shapes[0]))
    return [(*s, *a) for a in aspects for s in shapes]


def choose(part_folds: list[list[dict]], aspect_weights: tuple[float, ...] = ASPECT_WEIGHTS,
           shape: Shapes = 2) -> tuple[tuple, tuple[float, ...]]:
    """(constants, weights) chosen on these folds pooled: lowest pooled skilled EER."""
    consts = standardisers(part_folds)
    pooled = [pool(folds) for folds in part_folds]
    z = {kind: np.stack([(_flat(p, kind) - m) / sd for p, (m, sd) in zip(pooled, consts)], axis=1)
         for kind in ("genuine", "skilled")}
    grid = weight_grid(len(part_folds), aspect_weights, shape)
    fused = {kind: z[kind] @ np.array(grid).T for kind in z}   # one column per weighting
    eers = [metrics.eer(fused["genuine"][:, j], fused["skilled"][:, j])[0] for j in range(len(grid))]
    return consts, grid[int(np.argmin(eers))]


def params_of(names, consts, weights, cfg: DtwConfig, learned: LearnedConfig | None = None) -> dict:
    """The manifest's ``params`` of a fused score: every part, those weighed 0
    to describe a decision (its reasons) without deciding."""
    r = lambda v: round(float(v), 9)  # noqa: E731 - the manifest's JSON stays readable
    parts = [{"score": n, "mean": r(m), "sd": r(sd), "weight": r(w)}
             for n, (m, sd), w in zip(names, consts, weights)]
    params: dict = {"parts": parts, "dtw": cfg.to_dict()}
    if any(p["score"] in ASPECT_PARTS for p in parts):
        params["globals"] = GlobalConfig(pressure=cfg.pressure).to_dict()
    if learned is not None:
        params["learned"] = learned.to_dict()
    return params


def seen(fold_scores: list[dict]) -> tuple[float, float]:
    """The lowest and the highest of every score of these folds, all kinds (the manifest's ``seen``)."""
    every = np.concatenate([_flat(pool(fold_scores), k) for k in KINDS])
    return float(every.min()), float(every.max())


def _fold(part_folds: list[list[dict]], k: int) -> list[dict]:
    return [folds[k] for folds in part_folds]


def nested(part_folds: list[list[dict]], aspect_weights: tuple[float, ...] = ASPECT_WEIGHTS,
           shape: Shapes = 2) -> tuple[list[dict], list[tuple], list[tuple]]:
    """Each fold's fused scores with constants and weights chosen on the other folds:
    (fused scores, weights, constants) per fold."""
    fused, weights, consts = [], [], []
    n = len(part_folds[0])
    for k in range(n):
        others = [[folds[j] for j in range(n) if j != k] for folds in part_folds]
        c, w = choose(others, aspect_weights, shape)
        fused.append(fuse(_fold(part_folds, k), c, w))
        weights.append(w)
        consts.append(c)
    return fused, weights, consts


def components(folds: list[dict], folder: Path, names, cfg: DtwConfig,
               given: dict[str, list[dict]] | None = None) -> list[list[dict]]:
    """Each part's held-out scores of each cached fold on ``folder`` (the cosine: the fold's
    own; a part in ``given``: those, e.g. the learned DTW's, ``trainer.local_features``)."""
    name, given = Path(folder).name, given or {}
    cosine = [by_int_user(f["data"][name]["int8_scores"]) for f in folds]
    return [cosine] + [given[n] if n in given else [by_int_user(part_scores(folder, f["test_users"], n, cfg))
                                                    for f in folds] for n in names[1:]]


def levels(scores: dict, balanced: float) -> dict:
    """The operating levels on pooled scores: threshold and measured rates of each."""
    gen, skilled, rand = (_flat(scores, k) for k in KINDS)

    def rates(t: float) -> dict:
        return {"threshold": float(t), "frr": round(float(np.mean(gen < t)), 4),
                "far_skilled": round(float(np.mean(skilled >= t)), 4),
                "far_random": round(float(np.mean(rand >= t)), 4)}

    out = {"balanced": rates(balanced)}
    for name, (rate, target) in LEVELS.items():
        # FRR: the highest threshold with at most target * n genuine scores below it;
        # FAR: the lowest with at most target * n skilled scores at or above it.
        k = int(np.floor(target * len(gen if rate == "frr" else skilled)))
        t = np.sort(gen)[k] if rate == "frr" else np.nextafter(np.sort(skilled)[len(skilled) - 1 - k], np.inf)
        out[name] = rates(float(t))
    return {k: out[k] for k in ("convenience", "balanced", "secure")}


def nested_levels(part_folds: list[list[dict]], weights: list[tuple], consts: list[tuple]) -> dict:
    """The levels as a device would meet them: for each fold k, the thresholds read off
    the OTHER folds' scores fused with fold k's nested parameters (the shipped rule),
    the rates counted on fold k; counts pooled over the folds."""
    n = len(part_folds[0])
    hits: dict[str, dict[str, list[int]]] = {}
    for k in range(n):
        others = pool([fuse(_fold(part_folds, j), consts[k], weights[k]) for j in range(n) if j != k])
        balanced = metrics.eer(_flat(others, "genuine"), _flat(others, "skilled"))[1]
        mine = fuse(_fold(part_folds, k), consts[k], weights[k])
        for name, level in levels(others, balanced).items():
            t = level["threshold"]
            counts = hits.setdefault(name, {"frr": [0, 0], "far_skilled": [0, 0], "far_random": [0, 0]})
            for rate, kind, below in (("frr", "genuine", True), ("far_skilled", "skilled", False),
                                      ("far_random", "random", False)):
                v = _flat(mine, kind)
                counts[rate][0] += int(np.sum(v < t) if below else np.sum(v >= t))
                counts[rate][1] += len(v)
    return {name: {rate: round(a / max(b, 1), 4) for rate, (a, b) in c.items()} for name, c in hits.items()}


def calibrate(folds: list[dict], folder: Path, base: str, cfg: DtwConfig, alternatives: bool = False,
              learned: LearnedPart | None = None) -> Fusion:
    """The shipped fused decision and its honest (nested) figures, from the
    cached cross-validation folds of ``folds.cross_validate`` on ``folder``;
    with ``learned`` (the learned features' settings and each fold's held-out
    learned-DTW scores), that DTW is a third shape part (``learned_shapes``);
    with ``alternatives``, the nested scores of ``fused+aspects`` too."""
    names = part_names(base, cfg.pressure, learned is not None)
    part_folds = components(folds, folder, names, cfg, {LearnedDtw.name: learned.folds} if learned else None)
    shape: Shapes = learned_shapes(learned.weighting) if learned else 2
    fused, weights, fold_consts = nested(part_folds, shape=shape)
    consts, w = choose(part_folds, shape=shape)
    shipped = [fuse(_fold(part_folds, k), consts, w) for k in range(len(folds))]
    threshold = metrics.pooled_threshold(shipped)
    by_name = dict(zip(names, part_folds))
    report: dict[str, Any] = {
        "data": Path(folder).name, "parts": list(names), "nested_weights": [list(x) for x in weights],
        "weights": list(w),
        "folds": {"fused": [summarise(f) for f in fused], "cosine": [summarise(c) for c in part_folds[0]],
                  "dtw": [summarise(d) for d in by_name[Dtw.name]]},
        "pooled": {"fused": summarise(pool(fused)), "cosine": summarise(pool(part_folds[0])),
                   "dtw": summarise(pool(by_name[Dtw.name]))}}
    report["nested_levels"] = nested_levels(part_folds, weights, fold_consts)
    scores = {"fused": fused, "cosine": part_folds[0], "device-dtw": by_name[Dtw.name]}
    if learned:
        scores["learned-dtw"] = by_name[LearnedDtw.name]
        report["pooled"]["learned-dtw"] = summarise(pool(by_name[LearnedDtw.name]))
    if alternatives:
        scores["fused+aspects"], report["aspects_nested_weights"], _ = nested(part_folds, ALTERNATIVE_ASPECT_WEIGHTS,
                                                                              shape)
    lcfg = learned.config if learned else None
    return Fusion(params_of(names, consts, w, cfg, lcfg), float(threshold), report, scores,
                  [params_of(names, c, wk, cfg, lcfg) for c, wk in zip(fold_consts, weights)],
                  levels(pool(shipped), float(threshold)), seen(shipped))
