"""``sigpad-train fit`` from top to bottom: a recipe in, a model directory out.

    folds        5 user folds, each the steps below on 24 users, scored on 6 (trainer.folds; cached)
    threshold    the EER point of the folds' held-out scores pooled (``threshold_for``: pure)
    fusion       the fused decision's weight, constants and threshold, from the same folds (trainer.fusion);
                 the threshold read at the device's number of references (trainer.references)
    model        on all the users: data -> synthetic pretraining -> towers -> distillation (trainer.towers)
    export       the Keras file, the int8 file and its manifest (trainer.export)

The folds come first because the shipped model sees every user: no held-out
user is left to choose its threshold on. What a run reads and keeps between
runs is in the ``Cache`` it is given (``trainer.cache``); what defines the
model is the ``Recipe`` (``trainer.recipe``); how its threshold is chosen is
the ``ThresholdRule``. TensorFlow is imported inside the steps that train.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.manifest import Manifest

from .cache import Cache
from .evaluation import metrics
from .folds import cross_validate, summarise_folds
from .recipe import Recipe, distill_record
from .towers import Trained, train_encoder


@dataclass(frozen=True)
class ThresholdRule:
    """How the decision's threshold is chosen (fit's ``--threshold``, ``--cv-threshold``,
    ``--fuse``, ``--val-users``); without any, on the training users (optimistic)."""

    given: float | None = None    # used as is
    folds: bool = False           # the EER point of the 5 user folds' held-out int8 scores pooled
    fuse: bool = False            # the fused decision (cosine + the device's DTW), learnt on those folds
    val_users: str | None = None  # the EER point of the exported file on these users

    def __post_init__(self) -> None:
        if self.fuse and not self.folds:
            raise ConfigError("--fuse learns the fusion on the cross-validation folds: add --cv-threshold")
        if self.fuse and self.given is not None:
            raise ConfigError("--fuse chooses the fused decision's threshold on the folds: leave out --threshold")


SHIPPED_RULE = ThresholdRule(folds=True, fuse=True)
"""The shipped models' decision: fused, its weight, constants and threshold from the 5 user folds."""


@dataclass(frozen=True)
class Decision:
    """What the manifest's decision and its account hold."""

    score: str                 # the edge's score (edge.scores)
    params: dict[str, Any] | None
    threshold: float | None    # None: chosen after export, on the exported file
    chosen_on: str             # how, in words (the manifest's threshold_chosen_on)
    metrics: dict[str, Any]    # the folds' metrics (and the fusion's report)
    operating: dict[str, Any] | None = None   # the levels and the scores' range seen (trainer.fusion)


@dataclass(frozen=True)
class Run:
    """What the manifest records of the run itself."""

    users: str     # the training users as given, e.g. "1-30"
    threads: int   # TensorFlow's intra-op threads (trainer.training_loop.configure_threads)
    command: str   # the command line


def fit(recipe: Recipe, users: Iterable[int], cache: Cache, rule: ThresholdRule, out: Path,
        keras_path: Path | None, run: Run, log: Callable[[str], Any] = print) -> Manifest:
    """Train the recipe on the users, export it into ``out`` and return its manifest."""
    start = time.time()
    users = sorted(int(u) for u in users)
    folds = cross_validate(recipe, users, cache, log=log) if rule.folds else []
    threshold, chosen_on = threshold_for(rule, folds, recipe.data[0].name)
    decision = Decision(recipe.score, None, threshold, chosen_on, summarise_folds(folds) if folds else {})
    if rule.fuse:
        decision = fused_decision(recipe, folds, decision, cache)
    trained = with_local_features(recipe, train_encoder(recipe, users, cache), users)
    extra = {"threshold_chosen_on": decision.chosen_on, "training": training_record(recipe, trained, rule, run, start),
             "metrics": decision.metrics}
    manifest = export(recipe, trained, out, keras_path, decision, extra)
    if decision.threshold is None:  # chosen now, on the int8 file just written
        manifest = dataclasses.replace(manifest, threshold=_eer_threshold(out, recipe, rule.val_users or run.users))
        manifest.write(out / "manifest.json")
    return manifest


def threshold_for(rule: ThresholdRule, folds: list[dict[str, Any]], folder: str) -> tuple[float | None, str]:
    """(threshold, how it was chosen in words): given, or the EER point (skilled forgeries,
    ONE threshold) of the folds' held-out int8 scores on ``folder`` pooled; None when it
    can only be chosen on the exported file."""
    if rule.given is not None:
        return float(rule.given), "given on the command line"
    if rule.folds:
        threshold = metrics.pooled_threshold([f["data"][folder]["int8_scores"] for f in folds])
        how = f"EER (skilled, global) of the pooled held-out int8 scores of {len(folds)} user folds on {folder}"
        return threshold, how
    if rule.val_users:
        return None, f"EER (skilled, global) of the int8 scores of validation users {rule.val_users}"
    return None, "training users (optimistic: no held-out users)"


def fused_decision(recipe: Recipe, folds: list[dict[str, Any]], base: Decision, cache: Cache) -> Decision:
    """The fused decision (trainer.fusion) learnt on the folds' held-out scores of the first data folder,
    with the learned features' DTW where the recipe has them (each fold's branch trained on its own)."""
    from edge.settings import Settings

    from .fusion import calibrate, dtw_config
    from .local_features import learned_part
    from .references import CALIBRATED_AT, at_references, part_folds_at

    folder = recipe.data[0]
    fusion = calibrate(folds, folder, recipe.score, dtw_config(recipe.preprocessing.use_pressure),
                       learned=learned_part(recipe, folds, folder, cache))
    refs = Settings().enrol_count   # what a device enrols unless told: its threshold is read at that many
    if refs != CALIBRATED_AT:
        fusion = at_references(fusion, part_folds_at(recipe, folds, folder, fusion.params, cache, refs), refs)
    weighed = ", ".join(f"{p['score']} {p['weight']}" for p in fusion.params["parts"] if p["weight"])
    how = (f"EER (skilled, global) of the pooled held-out fused scores of {len(folds)} user folds on {folder.name}, "
           f"trials of {refs} references (weights {weighed}; constants chosen on the same folds, "
           f"trials of {CALIBRATED_AT} references)")
    return Decision("fused", fusion.params, fusion.threshold, how, {**base.metrics, "fusion": fusion.report},
                    {"levels": fusion.levels, "seen": list(fusion.seen)})


def with_local_features(recipe: Recipe, trained: Trained, users: list[int]) -> Trained:
    """The trained encoder and, where the recipe has them, the learned local features'
    branch trained on the same users: one model with both outputs (what is exported)."""
    from .local_features import branch_channels, fit_local, local_config, training_set, with_branch

    if recipe.local is None:
        return trained
    cfg = local_config(recipe)
    branch, losses = fit_local(training_set(recipe, cfg, users), cfg)
    return Trained(with_branch(trained.encoder, branch, branch_channels(recipe, cfg)), trained.data,
                   {**trained.history, "local_loss": losses})


def export(recipe: Recipe, trained: Trained, out: Path, keras_path: Path | None, decision: Decision,
           extra: dict[str, Any]) -> Manifest:
    """The Keras encoder (``keras_path``, by default OUT/encoder.keras), the int8 file
    calibrated on the training set, and its manifest, in ``out``."""
    from .export import write_int8_model

    keras_path = keras_path or out / "encoder.keras"
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    trained.encoder.save(keras_path)
    return write_int8_model(out, trained.encoder, trained.data.x, recipe.preprocessing,
                            decision.threshold or 0.0, extra, decision.score, decision.params, decision.operating)


def training_record(recipe: Recipe, trained: Trained, rule: ThresholdRule, run: Run, start: float) -> dict[str, Any]:
    """The manifest's ``training``: the recipe, the run, and how training ended."""
    from .encoder import architecture

    cfg, history = recipe.train, trained.history
    return {"users": run.users, "val_users": rule.val_users, "data": [p.name for p in recipe.data], "seed": cfg.seed,
            "loss": cfg.loss, "epochs": cfg.epochs, "pairs_per_epoch": cfg.pairs_per_epoch,
            "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
            "synthetic_writers": recipe.synthetic, "pair_ratio": list(cfg.pair_ratio),
            "session_augment": cfg.session_augment, "variants_per_writer": recipe.variants,
            "architecture": architecture(), "width": cfg.width, "towers": recipe.towers,
            "distill": distill_record(recipe), "embedding_dim": embedding_dim(trained.encoder),
            "local_features": recipe.local.to_dict() if recipe.local else None,
            **({"local_final_loss": round(history["local_loss"][-1], 5)} if "local_loss" in history else {}),
            "final_loss": round(float(history["loss"][-1]), 5),
            "tower_final_loss": [round(v, 5) for v in history["tower_final_loss"]],
            "train_seconds": round(time.time() - start, 1), "threads": run.threads, "command": run.command}


def embedding_dim(model: Any) -> int:
    """The embedding's size: the model's only output, or the first of (embedding, learned features)."""
    shape = model.output_shape[0] if isinstance(model.output_shape, list) else model.output_shape
    return int(shape[-1])


def _eer_threshold(out: Path, recipe: Recipe, users: str) -> float:
    from .evaluation.evaluate import evaluate
    summary, _ = evaluate(recipe.data[0], "model", out, users=users)
    return float(summary["threshold_eer_skilled"])


def stderr_log(message: str) -> None:
    """Where a run's progress lines go: stdout is for its result."""
    print(message, file=sys.stderr)
