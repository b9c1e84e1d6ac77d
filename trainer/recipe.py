"""A training recipe end to end: data, (pretraining,) training, export, folds.

A ``Recipe`` (built from ``sigpad-train fit``'s options by
``trainer.fit_command.recipe_from_args``) is everything that defines a
trained model: data folders, preprocessing, TrainConfig, synthetic writers,
towers and distillation, score. ``cross_validate`` trains one
model per user fold and scores it on the held-out users, float and int8;
each fold's result is cached in ``cv/`` of the cache directory
(``trainer.pretraining.cache_dir``) under a key of the whole recipe, so
``make model`` and the benchmark share folds they have in common.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from edge import scores as edge_scores
from edge.preprocess import PreprocessConfig

from .data import SigSet, load_sigcomp2009, load_svc2004
from .progress import Progress
from .pretraining import cache_dir, cache_key, key_record
from .training_loop import TrainConfig

WRITER_OFFSET = 1000  # folder k's user u becomes writer k * 1000 + u
FINE_TUNE_LR_FACTOR = 0.5
PRETRAIN_PAIRS_FACTOR = 4  # thousands of synthetic writers: more pairs per epoch
DEFAULT_SCORE = edge_scores.DEFAULT
DISTILL_SEED_OFFSET = 100  # the distillation's batches are drawn apart from the towers' pairs


@dataclass(frozen=True)
class Distillation:
    """How the towers' stack teaches one student tower (trainer.distill)."""

    epochs: int           # of pairs_per_epoch / batch_size writer batches each
    learning_rate: float  # Adam's, cosine-decayed
    label_weight: float   # share of the contrastive loss on labelled pairs next to the teacher's cosines
    dtw_weight: float = 0.0  # how far same-writer targets move toward the device's DTW (trainer.dtw_teacher)


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a trained model: its cache key (``recipe_key``) and manifest.

    ``recipe_key`` hashes the fields, leaving towers and distillation out for
    one tower and the score out at its default, so older keys stand: a new
    field must stay out of the key at its default, or every cached fold,
    tower and pretraining is trained again.
    """

    data: tuple[Path, ...]           # SVC2004-format folders, resolved; folder k's user u is writer k * 1000 + u
    train: TrainConfig               # the training loop: loss, epochs, pairs, batch, learning rate, shape, seed
    preprocessing: PreprocessConfig  # the edge's (with or without pressure): what the int8 file takes
    synthetic: int = 0               # synthetic writers to pretrain on first (0: none; cached)
    synthetic_epochs: int = 6        # pretraining epochs, at PRETRAIN_PAIRS_FACTOR x the pairs
    towers: int = 1                  # towers trained with seeds seed, seed + 1, ... (each pretrained on its own)
    distill: Distillation | None = None  # distil the towers into one; None: export them stacked
    score: str = DEFAULT_SCORE       # the decision score (edge.scores) the threshold is chosen for
    sigcomp2009: bool = False        # add SigComp2009's 12 authors and 1,845 real skilled forgeries (31 forgers)
    variants: int = 0                # fit this many signatures of each training writer and add variants (trainer.variants)


SIGCOMP_OFFSET = 90_000  # SigComp2009 author a becomes writer 90_000 + a


def load_training(recipe: Recipe, users) -> SigSet:
    dtw = _teacher_dtw(recipe)
    sets = [load_svc2004(d, set(users), recipe.preprocessing, WRITER_OFFSET * k, dtw)
            for k, d in enumerate(recipe.data)]
    if recipe.variants:  # only the training users are fitted
        from .variants import variants_set
        sets += [variants_set(d, users, recipe.variants, recipe.preprocessing, WRITER_OFFSET * k)
                 for k, d in enumerate(recipe.data)]
    if recipe.sigcomp2009:  # never a test user: its authors are not SVC2004's
        sets.append(load_sigcomp2009(recipe.preprocessing, SIGCOMP_OFFSET))
    return SigSet.concat(sets)


def _teacher_dtw(recipe: Recipe):
    """The device's DTW, where the distillation's teacher includes it (else None)."""
    if not (recipe.distill and recipe.distill.dtw_weight):
        return None
    from .fusion import dtw_config
    return dtw_config(recipe.preprocessing.use_pressure)


def train_recipe(recipe: Recipe, users):
    """(encoder, training set, history) for the recipe on these users.

    ``recipe.towers`` = n > 1 trains n towers independently (seeds seed,
    seed+1, ...; each pretrained and fine-tuned on its own; fine-tuned weights
    cached in the cache's towers/). They are then either stacked into one encoder
    (trainer.encoder.stack_towers) or, with ``recipe.distill``, distilled
    into ONE tower (trainer.distill) that starts from the first: the student
    is what gets exported, the stack is only its teacher.
    """
    from .encoder import stack_towers

    data = load_training(recipe, users)
    towers, finals = [], []
    with Progress(recipe.towers, "towers", silent=recipe.towers == 1) as bar:
        for i in range(recipe.towers):
            encoder, final, cached = _cached_tower(recipe, i, data, users)
            towers.append(encoder)
            finals.append(final)
            bar.advance(cached=cached)
    if not recipe.distill:
        return stack_towers(towers), data, {"loss": finals, "tower_final_loss": finals}
    student, history = _distill(recipe, towers, data)
    return student, data, {**history, "tower_final_loss": finals}


def _tower_recipe(recipe: Recipe, i: int) -> Recipe:
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, seed=recipe.train.seed + i),
                               towers=1, distill=None, score=DEFAULT_SCORE)


def _cached_tower(recipe: Recipe, i: int, data: SigSet, users):
    """Tower i fine-tuned on ``users``: (encoder, final loss, read from the cache?)."""
    from .encoder import build_encoder

    one = _tower_recipe(recipe, i)
    path = cache_dir() / "towers" / f"{cache_key(recipe_key(one), sorted(int(u) for u in users))}.weights.h5"
    cfg = one.train
    if path.exists():
        encoder = build_encoder(data.x.shape[1:], dim=cfg.dim, width=cfg.width)
        encoder.load_weights(path)
        return encoder, json.loads(path.with_suffix(".json").read_text())["final_loss"], True
    encoder, history = _train_tower(one, cfg, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save_weights(path)
    path.with_suffix(".json").write_text(json.dumps({"final_loss": float(history["loss"][-1])}))
    return encoder, float(history["loss"][-1]), False


def _train_tower(recipe: Recipe, cfg, data: SigSet):
    from .pretraining import pretrained_encoder
    from .training_loop import fit_encoder

    encoder = None
    if recipe.synthetic:
        # session changes are the real writers' trait: the synthetic pretraining is shared without them
        pre = dataclasses.replace(cfg, epochs=recipe.synthetic_epochs,
                                  pairs_per_epoch=cfg.pairs_per_epoch * PRETRAIN_PAIRS_FACTOR, session_augment=0.0)
        encoder = pretrained_encoder(recipe.synthetic, cfg.seed, recipe.preprocessing, pre)
        cfg = dataclasses.replace(cfg, learning_rate=cfg.learning_rate * FINE_TUNE_LR_FACTOR)
    return fit_encoder(data, cfg, encoder=encoder)


def _distill(recipe: Recipe, towers, data: SigSet):
    """The first tower, distilled from the stack of all (on real and synthetic writers).

    The teacher is made of copies, so the towers themselves are never frozen
    or changed by the distillation.
    """
    import keras

    from .distill import distill
    from .encoder import stack_towers
    from .pretraining import synthetic_set

    opts, cfg = recipe.distill, recipe.train
    teacher = stack_towers([_copy(t) for t in towers], name="teacher", max_dim=None)
    teacher.name = "teacher"  # one tower is its own stack: the student's copy has its name
    # Seed before copying the student: its dropout draws a seed from the global
    # generator, whose state otherwise depends on what this process did before
    # (trained the towers, or loaded them from the cache).
    keras.utils.set_random_seed(cfg.seed + DISTILL_SEED_OFFSET)
    student = _copy(towers[0])
    sets = [data]
    if recipe.synthetic:
        sets.append(synthetic_set(recipe.synthetic, cfg.seed, recipe.preprocessing))
    cfg = dataclasses.replace(cfg, epochs=opts.epochs, learning_rate=opts.learning_rate,
                              seed=cfg.seed + DISTILL_SEED_OFFSET)
    dtw = _dtw_targets(recipe, teacher, data, sum(len(s) for s in sets)) if opts.dtw_weight else None
    return distill(student, teacher, sets, cfg, label_weight=opts.label_weight, dtw=dtw,
                   dtw_weight=opts.dtw_weight)


def _dtw_targets(recipe: Recipe, teacher, data: SigSet, rows: int):
    """The DTW targets of the real writers (``data``, the first rows), none for the rest."""
    import numpy as np

    from .dtw_teacher import NO_GROUP, dtw_targets

    emb = teacher.predict(data.x, batch_size=256, verbose=0)
    group, pos, table = dtw_targets(data.sequences, data.writer, data.genuine, emb, _teacher_dtw(recipe).band)
    pad = rows - len(data)
    return (np.concatenate([group, np.full(pad, NO_GROUP)]), np.concatenate([pos, np.zeros(pad, np.int64)]), table)


def _copy(model):
    import keras
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def export_recipe(recipe: Recipe, encoder, train_set: SigSet, out: Path, threshold: float, extra: dict,
                  keras_path: Path | None = None, decision: dict | None = None):
    """Save the Keras encoder, write the int8 file and its manifest. ``decision``
    ({"score", "params"}) overrides the recipe's score (the fused decision)."""
    from .export import to_int8_tflite, write_model_dir

    decision = decision or {"score": recipe.score, "params": None}
    keras_path = keras_path or out / "encoder.keras"
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save(keras_path)
    return write_model_dir(out, to_int8_tflite(encoder, train_set.x), recipe.preprocessing,
                           threshold, extra, decision["score"], decision["params"])


def recipe_key(recipe: Recipe) -> str:
    """The recipe's key in the cache's cv/ and towers/: the same strings as when a recipe was a dict."""
    from .encoder import architecture
    from .training_loop import key_fields
    cfg = key_fields(recipe.train)
    parts = [[str(d) for d in recipe.data], recipe.preprocessing.to_dict(), cfg,
             recipe.synthetic, recipe.synthetic_epochs, architecture()]
    # Keys of recipes without towers or another score stay what they were: cached folds stay valid.
    if recipe.towers != 1 or recipe.distill:
        parts.append({"towers": recipe.towers, "distill": distill_record(recipe)})
    if recipe.score != DEFAULT_SCORE:
        parts.append({"score": recipe.score})
    if recipe.sigcomp2009:
        parts.append({"sigcomp2009": True})
    if recipe.variants:
        parts.append({"variants": recipe.variants})
    return cache_key(*parts)


def distill_record(recipe: Recipe) -> dict | None:
    """The distillation as plain values, as cache keys and manifests have always held it."""
    return key_record(recipe.distill, added=("dtw_weight",)) if recipe.distill else None


def run_fold(recipe: Recipe, train_users, test_users, model_path: Path | None = None) -> dict:
    """Train on train_users; float and int8 summaries and scores on test_users, per data folder.
    The fold's int8 file is kept at ``model_path`` (other protocols, fused decisions)."""
    from .export import to_int8_tflite, write_model_dir
    from .folds import evaluate_float, evaluate_int8

    encoder, data, history = train_recipe(recipe, train_users)
    model_bytes = to_int8_tflite(encoder, data.x)
    if model_path is not None:
        model_path.write_bytes(model_bytes)
    score = recipe.score
    writer = lambda p, b: write_model_dir(p, b, recipe.preprocessing, 0.0, {}, score)  # noqa: E731
    out = {"test_users": list(test_users), "final_loss": float(history["loss"][-1]), "data": {}}
    for folder in recipe.data:
        fs, _ = evaluate_float(encoder, folder, test_users, recipe.preprocessing, score=score)
        qs, q_scores = evaluate_int8(model_bytes, writer, folder, test_users)
        out["data"][Path(folder).name] = {"float": fs, "int8": _strip(qs), "int8_scores": q_scores}
    return out


def _strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("data", "model")}


def cross_validate(recipe: Recipe, users, n_folds: int = 5, log=print) -> list[dict]:
    """One result per fold (see run_fold), cached in cv/<recipe key>/ of the cache
    directory, each with its int8 file beside it (``fold_model``; folds cached
    before files were kept have none)."""
    from .folds import user_folds

    folder = cache_dir() / "cv" / recipe_key(recipe)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    with Progress(n_folds, "cross-validation folds") as bar:
        for k, test in enumerate(user_folds(n_folds, sorted(users))):
            path = folder / f"fold{k}-{'_'.join(map(str, test))}.json"
            if path.exists():
                results.append(json.loads(path.read_text()))
                bar.advance(cached=True)
                continue
            res = run_fold(recipe, [u for u in users if u not in test], test, path.with_suffix(".tflite"))
            res["model_file"] = path.with_suffix(".tflite").name
            path.write_text(json.dumps(res, default=int))
            log(f"fold {k} done: {json.dumps({n: d['int8'] for n, d in res['data'].items()})}")
            results.append(res)
            bar.advance()
    return results


def fold_model(recipe: Recipe, fold: dict, out: Path) -> Path | None:
    """A model directory (int8 file + manifest with the recipe's score) of one
    cached fold in ``out``; None when the fold was cached without its file."""
    from .export import write_model_dir

    src = cache_dir() / "cv" / recipe_key(recipe) / fold.get("model_file", "")
    if not fold.get("model_file") or not src.is_file():
        return None
    write_model_dir(out, src.read_bytes(), recipe.preprocessing, 0.0, {}, recipe.score)
    return out


def threshold_for(recipe: Recipe, users, args) -> tuple[float, str, dict]:
    """(threshold, how it was chosen, cross-validation metrics or {})."""
    import sys

    from .folds import pooled_threshold

    if args.threshold is not None:
        return float(args.threshold), "given on the command line", {}
    if args.cv_threshold:
        folds = cross_validate(recipe, sorted(users), log=lambda m: print(m, file=sys.stderr))
        name = Path(recipe.data[0]).name
        thr = pooled_threshold([f["data"][name]["int8_scores"] for f in folds])
        return thr, f"EER (skilled, global) of the pooled held-out int8 scores of 5 user folds on {name}", \
            summarise_folds(folds)
    if args.val_users:
        return None, f"EER (skilled, global) of the int8 scores of validation users {args.val_users}", {}
    return None, "training users (optimistic: no held-out users)", {}


def summarise_folds(folds: list[dict]) -> dict:
    """Mean, min and max over folds of every metric, per data folder and precision."""
    import numpy as np
    out = {}
    for name in folds[0]["data"]:
        for prec in ("float", "int8"):
            keys = [k for k in folds[0]["data"][name][prec] if k.startswith("eer_")]
            out[f"{name}/{prec}"] = {k: {"mean": round(float(np.mean(v)), 3), "min": min(v), "max": max(v)}
                                     for k in keys
                                     for v in [[f["data"][name][prec][k] for f in folds]]}
    return out
