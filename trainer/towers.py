"""A recipe's encoder on some users: its training data, its towers, and the one encoder they make.

The same steps train every fold of the cross-validation (``trainer.folds``)
and the shipped model (``trainer.pipeline``), on other users:

1. **data** (``load_training``): the users' signatures of each data folder
   and, if the recipe says so, variants of them (``trainer.variants``) and
   SigComp2009's authors;
2. **towers**: ``recipe.towers`` towers, seeds seed, seed + 1, ..., each
   pretrained on synthetic writers (``trainer.pretraining``) when the recipe
   has them and fine-tuned on the data; each fine-tuned tower is cached in
   the cache's ``towers/`` under its own recipe's key (``tower_recipe``), so
   a change to the distillation does not retrain its teachers;
3. **one encoder**: the towers distilled into one (``trainer.distill``), or
   stacked (``trainer.encoder.stack_towers``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from .cache import Cache, cache_key
from .data import SigSet, load_sigcomp2009, load_svc2004
from .progress import Progress
from .recipe import DEFAULT_SCORE, Recipe, recipe_key

WRITER_OFFSET = 1000  # folder k's user u becomes writer k * 1000 + u
SIGCOMP_OFFSET = 90_000  # SigComp2009 author a becomes writer 90_000 + a
FINE_TUNE_LR_FACTOR = 0.5  # a pretrained tower is fine-tuned at half the learning rate


class Trained(NamedTuple):
    """A recipe's encoder, the data it was trained on, and its loss history."""

    encoder: Any                    # the Keras model that is exported
    data: SigSet                    # the training set (the int8 file is calibrated on it)
    history: dict[str, list[float]]  # "loss" (the encoder's), "tower_final_loss" (each tower's)


def load_training(recipe: Recipe, users: Iterable[int], cache: Cache) -> SigSet:
    """The recipe's training set on these users (only theirs are read or fitted)."""
    from .dtw_teacher import teacher_dtw

    users = sorted(int(u) for u in users)
    dtw = teacher_dtw(recipe)
    sets = [load_svc2004(d, set(users), recipe.preprocessing, WRITER_OFFSET * k, dtw)
            for k, d in enumerate(recipe.data)]
    if recipe.variants:
        from .variants import variants_set
        sets += [variants_set(cache, d, users, recipe.variants, recipe.preprocessing, WRITER_OFFSET * k)
                 for k, d in enumerate(recipe.data)]
    if recipe.sigcomp2009:  # never a test user: its authors are not SVC2004's
        sets.append(load_sigcomp2009(recipe.preprocessing, SIGCOMP_OFFSET))
    return SigSet.concat(sets)


def train_encoder(recipe: Recipe, users: Iterable[int], cache: Cache) -> Trained:
    """The recipe's encoder trained on these users.

    With ``recipe.distill`` the towers are distilled into ONE tower that
    starts from the first (the student is what gets exported; the stack is
    only its teacher); without, they are stacked into one encoder.
    """
    from .distill import distil_towers
    from .encoder import stack_towers

    users = sorted(int(u) for u in users)
    data = load_training(recipe, users, cache)
    towers, finals = [], []
    with Progress(recipe.towers, "towers", silent=recipe.towers == 1) as bar:
        for i in range(recipe.towers):
            encoder, final, cached = _cached_tower(recipe, i, data, users, cache)
            towers.append(encoder)
            finals.append(final)
            bar.advance(cached=cached)
    if not recipe.distill:
        return Trained(stack_towers(towers), data, {"loss": finals, "tower_final_loss": finals})
    student, history = distil_towers(recipe, towers, data, cache)
    return Trained(student, data, {**history, "tower_final_loss": finals})


def tower_recipe(recipe: Recipe, i: int) -> Recipe:
    """Tower i of a recipe as a recipe of its own (seed + i, one tower, the default score):
    the key its fine-tuned weights are cached under, whatever the towers later become."""
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, seed=recipe.train.seed + i),
                               towers=1, distill=None, score=DEFAULT_SCORE)


def tower_key(recipe: Recipe, i: int, users: Iterable[int]) -> str:
    """The key of tower i's fine-tuned weights on these training users."""
    return cache_key(recipe_key(tower_recipe(recipe, i)), sorted(int(u) for u in users))


def _cached_tower(recipe: Recipe, i: int, data: SigSet, users: list[int], cache: Cache) -> tuple[Any, float, bool]:
    """Tower i fine-tuned on ``users``: (encoder, final loss, read from the cache?)."""
    from .encoder import build_encoder

    one = tower_recipe(recipe, i)
    path = cache.tower(tower_key(recipe, i, users))
    cfg = one.train
    if path.exists():
        encoder = build_encoder(data.x.shape[1:], dim=cfg.dim, width=cfg.width)
        encoder.load_weights(path)
        return encoder, json.loads(path.with_suffix(".json").read_text())["final_loss"], True
    encoder, history = _train_tower(one, data, cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder.save_weights(path)
    path.with_suffix(".json").write_text(json.dumps({"final_loss": float(history["loss"][-1])}))
    return encoder, float(history["loss"][-1]), False


def _train_tower(one: Recipe, data: SigSet, cache: Cache) -> tuple[Any, dict[str, list[float]]]:
    """One tower: pretrained on synthetic writers if the recipe has them, then fine-tuned on ``data``."""
    from .pretraining import pretrained_encoder
    from .training_loop import fit_encoder

    assert one.towers == 1 and one.score == DEFAULT_SCORE, "a tower is trained from its own recipe"
    cfg, encoder = one.train, None
    if one.synthetic:
        encoder = pretrained_encoder(cache, one)
        cfg = dataclasses.replace(cfg, learning_rate=cfg.learning_rate * FINE_TUNE_LR_FACTOR)
    return fit_encoder(data, cfg, encoder=encoder)
