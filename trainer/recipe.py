"""What defines a trained model, as values: the training loop's config, the
distillation, the recipe, its cache key, and the shipped recipes by name.

Nothing here trains, loads or writes; ``trainer.pipeline`` does, top to
bottom. A ``Recipe`` comes from ``sigpad-train fit``'s options
(``trainer.fit_command.recipe_from_args``) or by name (``fit --recipe
shipped-pressure``, ``NAMED``); the benchmarks derive theirs from the named
ones with ``dataclasses.replace``. ``recipe_key`` names a recipe's folds and
towers in the cache (``trainer.cache``), so ``make model`` and the
benchmarks share what they have in common - and a key that changed would
retrain for hours: tests/trainer/test_recipe.py holds the keys by heart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge import scores as edge_scores
from edge.preprocess import PreprocessConfig

from .cache import cache_key, key_record

DEFAULT_SCORE = edge_scores.DEFAULT


@dataclass(frozen=True)  # part of a frozen Recipe; changed only by dataclasses.replace
class TrainConfig:
    """The training loop (``trainer.training_loop.fit_encoder``) of one tower."""

    loss: str = "contrastive"
    epochs: int = 8
    pairs_per_epoch: int = 4096
    batch_size: int = 128
    learning_rate: float = 2e-3
    dim: int = 64
    width: int = 24
    seed: int = 0
    strategy: str = "default"
    augment: bool = True
    pair_ratio: tuple[float, ...] = (0.4, 0.3, 0.3)  # genuine / skilled / random: trainer.pairs.PAIR_RATIO
    verbose: int | str = "auto"
    session_augment: float = 0.0  # strength of trainer.session_augment on real writers (0: none; out of keys at 0)


def key_fields(cfg: TrainConfig) -> dict[str, Any]:
    """The config as cache keys see it: the run's verbosity left out, and the fields
    added since keys were first made left out at their defaults (``key_record``)."""
    return key_record(cfg, added=("session_augment",)) | {"verbose": None}


@dataclass(frozen=True)
class Distillation:
    """How the towers' stack teaches one student tower (trainer.distill)."""

    epochs: int           # of pairs_per_epoch / batch_size writer batches each
    learning_rate: float  # Adam's, cosine-decayed
    label_weight: float   # share of the contrastive loss on labelled pairs next to the teacher's cosines
    dtw_weight: float = 0.0  # how far same-writer targets move toward the device's DTW (trainer.dtw_teacher)


@dataclass(frozen=True)
class LocalConfig:
    """The local-feature branch and its training. The branch's size and schedule were chosen on
    SigComp2009 (``bench.bench_local_dtw --validate``: other writers, another tablet), not on the
    reported folds; what it sees and how it is weighed (``pressure``, ``weighting``) were chosen
    per pad kind on them, and labelled so (docs/training.md)."""

    steps: int = 32           # feature vectors per signature (256 preprocessed steps / 8)
    channels: int = 8         # values per vector: 32 x 8 int8 = 256 bytes a reference
    band: int = 8             # the DTW's Sakoe-Chiba half-width, a quarter of the steps (as the raw DTW's)
    width: int = 24
    epochs: int = 32          # 8, 16, 32 tried on SigComp2009 (bench_local_dtw --validate): 32 best
    pairs_per_epoch: int = 4096
    batch_size: int = 64
    learning_rate: float = 2e-3
    seed: int = 0
    # What the branch sees and how the decision weighs it; chosen per pad kind (docs/training.md).
    pressure: bool = True     # False: the branch ignores the pad's pressure (its input without that channel)
    data: tuple[str, ...] = ()  # the branch's training folders beside the recipe's (names); (): the recipe's
    weighting: str = "tied"   # the shape parts' weightings (trainer.fusion.learned_shapes): "tied" or "free"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"data": list(self.data)}

    def branch_record(self) -> dict[str, Any]:
        """The branch's training settings as cache keys hold them: what it sees (pressure,
        data) is keyed by its inputs instead (``trainer.local_features.branch_inputs``), so
        a pressure-blind branch IS the pressure-free recipe's, and the decision's weighting
        is not the branch's."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("pressure", "data", "weighting")}


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
    variants: int = 0                # fits of each training writer to draw variants from (trainer.variants)
    local: LocalConfig | None = None  # learned local features for the DTW (trainer.local_features), trained
                                      # with the recipe's seed; None: the model has only its embedding


def recipe_key(recipe: Recipe) -> str:
    """The recipe's key in the cache's cv/ and towers/: the same strings as when a recipe was a dict."""
    from .encoder import architecture

    parts: list[Any] = [[str(d) for d in recipe.data], recipe.preprocessing.to_dict(), key_fields(recipe.train),
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
    # ``local`` is left out: the folds' towers and cosines do not depend on it, and its
    # own held-out scores are cached under their own key (trainer.local_features.fold_scores).
    return cache_key(*parts)


def distill_record(recipe: Recipe) -> dict[str, Any] | None:
    """The distillation as plain values, as cache keys and manifests have always held it."""
    return key_record(recipe.distill, added=("dtw_weight",)) if recipe.distill else None


def on_data(recipe: Recipe, root: Path) -> Recipe:
    """The recipe with its data folders (names like ``Task2``) found under an SVC2004 root."""
    return dataclasses.replace(recipe, data=tuple((Path(root) / d).resolve() for d in recipe.data))


# The recipes below name their data folders relative to an SVC2004 root (``on_data``).
# verbose=2 (one line per epoch) is how make model and the benchmarks log; it is not in the keys.
LOGGED = TrainConfig(verbose=2)

PRESSURE_TOWER = Recipe(data=(Path("Task2"),), train=LOGGED, preprocessing=PreprocessConfig(use_pressure=True))
"""One tower of the pressure model on real writers only (the benchmark's ``contrastive`` row)."""

NO_PRESSURE_TOWER = Recipe(data=(Path("Task1"), Path("Task2")), train=LOGGED,
                           preprocessing=PreprocessConfig(use_pressure=False))
"""One tower of the pressure-free model, on real writers only: on Task1 it does better
without synthetic pretraining (docs/training.md)."""

SHIPPED_DISTILLATION = Distillation(epochs=16, learning_rate=1e-3, label_weight=5.0)

PRESSURE_DISTILLED = dataclasses.replace(
    PRESSURE_TOWER, synthetic=2000, towers=3, distill=SHIPPED_DISTILLATION,
    score=edge_scores.CentroidMaxCosine.name)
"""Three towers (seeds 0-2), each pretrained on 2000 synthetic writers and fine-tuned,
distilled into one: the pressure model shipped before session-change augmentation."""

PRESSURE_SESSION = dataclasses.replace(PRESSURE_DISTILLED, train=dataclasses.replace(LOGGED, session_augment=1.0))
"""The pressure model shipped before learned local features: chosen by the rule of docs/training.md,
session-change augmentation (trainer.session_augment) at strength 1.0 in fine-tuning and distillation."""

PRESSURE_BLIND_LOCAL = LocalConfig(pressure=False, data=("Task1", "Task2"), weighting="free")
"""The pressure model's learned local features: the pressure-free recipe's branch (the same
folders, the same training) fed the pad's input without its pressure channel, its DTW a third
shape part weighed freely (docs/training.md: the branch with pressure transfers worse to
another tablet, SigComp2009)."""

SHIPPED_PRESSURE = dataclasses.replace(PRESSURE_SESSION, local=PRESSURE_BLIND_LOCAL)
"""The shipped pressure model: ``PRESSURE_SESSION``'s encoder and, beside it, the pressure-blind
learned local features (``PRESSURE_BLIND_LOCAL``)."""

NO_PRESSURE_VARIANTS = dataclasses.replace(NO_PRESSURE_TOWER, variants=5)
"""The pressure-free model shipped before learned local features: chosen by the same rule,
variants of 5 sigma-lognormal fits of each training writer (trainer.variants)."""

SHIPPED_NO_PRESSURE = dataclasses.replace(NO_PRESSURE_VARIANTS, local=LocalConfig())
"""The shipped pressure-free model: the same encoder, and beside it learned local features
(trainer.local_features) whose DTW is a third part of the fused decision, the two DTWs
sharing the DTW's weight (trainer.fusion.learned_shapes): chosen by the rule of
docs/training.md (bench.bench_local_dtw, seeds 0-2)."""

NAMED: dict[str, Recipe] = {"shipped-pressure": SHIPPED_PRESSURE, "shipped-no-pressure": SHIPPED_NO_PRESSURE}
"""``fit --recipe NAME``: the recipes ``make model`` ships, one per pad kind."""
