"""The fused decision read at the number of references a device enrols.

Every weight and constant of the fused decision is chosen on trials of 5
references (``trainer.fusion.calibrate``: each fold's cached scores), and
every figure under the rule of docs/training.md was measured so. A device
enrols ``edge.settings.Settings().enrol_count``; where that is another number,
the scores move (a probe's DTW is measured in the spread of more references,
its cosine against more of them), so its threshold and operating levels are
read off the same folds' trials with that many references instead: each
fold's int8 file and learned-feature branch score its held-out writers again
(``part_folds_at``), and ``at_references`` puts the pooled EER point, the
levels and the range seen in place of the 5-reference ones.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from .fusion import Fusion, _fold, fuse, levels, nested_levels, pool, seen

CALIBRATED_AT = 5
"""The references of the trials the cached folds' scores (and so the fusion's choices) are of."""


def fold_parts(model_dir: Path, folder: Path, users, params: dict, learned=None, refs: int = CALIBRATED_AT,
               protocol: str = "random-refs") -> list[dict]:
    """Every part's scores (``params``' parts, unweighted) of one fold's held-out writers
    on trials of ``refs`` references (random-refs: drawn from S1-S10; session: S1-S<refs>,
    tests S11-S20): the edge's scores, each signature read and embedded once; ``learned``
    gives the learned features of a decision that has them."""
    from edge.model import Encoder
    from edge.scores import get
    from firmware_bridge import svc2004

    from .evaluation.evaluate import PartsScorer, globals_of, load_signatures, score_trials, sequences_of
    from .evaluation.trials import make_session_trials, make_trials
    from .logistic import by_part

    index = {u: f for u, f in svc2004.scan(folder).items() if u in set(users)}
    signatures, _ = load_signatures(index)
    keys = list(signatures)
    emb = dict(zip(keys, Encoder(model_dir).embed_many([signatures[k] for k in keys])))
    score = get("fused").configured(params)
    scorer = PartsScorer(emb, params, sequences_of(signatures, score.dtw),
                         globals_of(signatures, score.globals) if score.globals else None,
                         learned(signatures) if learned else None)
    trials = make_trials(index, trials=10, refs=refs, seed=0) if protocol == "random-refs" else \
        make_session_trials(index, refs=refs)
    return by_part(score_trials(trials, scorer))


def part_folds_at(recipe, folds: list[dict[str, Any]], folder: Path, params: dict, cache,
                  refs: int, protocol: str = "random-refs") -> list[list[dict]]:
    """Each part's held-out scores (in ``params``' order) of each cached fold, at ``refs`` references."""
    from .folds import fold_model
    from .local_features import fold_features

    per_fold = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            model = fold_model(recipe, fold, Path(tmp) / f"fold{k}", cache)
            if model is None:
                raise FileNotFoundError(f"fold {k} was cached without its int8 file: clear the cache's cv/ "
                                        "entry of this recipe to train it again")
            per_fold.append(fold_parts(model, folder, fold["test_users"], params,
                                       fold_features(recipe, fold, cache), refs, protocol))
    return [[f[j] for f in per_fold] for j in range(len(params["parts"]))]


def nested_at(fusion: Fusion, part_folds: list[list[dict]]) -> list[dict]:
    """Each fold's fused scores under its own nested weights and constants (``fold_params``)."""
    return [fuse(_fold(part_folds, k), *_constants(p)) for k, p in enumerate(fusion.fold_params)]


def _constants(params: dict) -> tuple[tuple, tuple[float, ...]]:
    parts = params["parts"]
    return tuple((p["mean"], p["sd"]) for p in parts), tuple(p["weight"] for p in parts)


def at_references(fusion: Fusion, part_folds: list[list[dict]], refs: int) -> Fusion:
    """``fusion`` with its threshold, levels, range seen and nested levels read off
    ``part_folds`` (``part_folds_at``: trials of ``refs`` references); its weights and
    constants, and every fold's, are kept as chosen."""
    from .evaluation.evaluate import summarise
    from .evaluation.metrics import pooled_threshold

    n = len(part_folds[0])
    consts, weights = _constants(fusion.params)
    shipped = [fuse(_fold(part_folds, k), consts, weights) for k in range(n)]
    threshold = float(pooled_threshold(shipped))
    fold_consts, fold_weights = zip(*(_constants(p) for p in fusion.fold_params))
    report = {**fusion.report, "references": refs, "nested_levels": nested_levels(part_folds, list(fold_weights),
                                                                                   list(fold_consts)),
              "pooled_at_references": summarise(pool(nested_at(fusion, part_folds)))}
    return dataclasses.replace(fusion, threshold=threshold, report=report, levels=levels(pool(shipped), threshold),
                               seen=seen(shipped))
