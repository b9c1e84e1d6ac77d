"""The recipe as a frozen dataclass: the same cache keys as the dict it replaced.

The cache's cv/, towers/ and pretrain/ are keyed by the recipe; a key that
changed would silently retrain (hours) instead of reusing what is cached, and
``make model`` shares its folds with the benchmark only through these keys.
"""

from __future__ import annotations

import dataclasses

import pytest

from trainer import cli
from trainer.fit_command import recipe_from_args
from trainer.pretraining import cache_key, pretrain_key
from trainer.recipe import PRETRAIN_PAIRS_FACTOR, Recipe, _tower_recipe, recipe_key

# The Makefile's `model` recipes and a tiny one, with data at a fixed path.
SHIPPED_PRESSURE = ["--data", "/data/svc2004/Task2", "--users", "1-30", "--seed", "0", "--loss", "contrastive",
                    "--synthetic", "2000", "--towers", "3", "--distill-epochs", "16", "--label-weight", "5",
                    "--score", "centroid-max-cosine", "--cv-threshold", "--quiet"]
SHIPPED_NO_PRESSURE = ["--no-pressure", "--data", "/data/svc2004/Task1", "--data", "/data/svc2004/Task2",
                       "--users", "1-30", "--seed", "0", "--loss", "contrastive", "--cv-threshold", "--quiet"]
TINY = ["--data", "/data/svc2004/Task2", "--epochs", "2", "--seed", "3", "--quiet"]

# Hard-coded on purpose: computed at commit 69a36c6, BEFORE the recipe became a
# dataclass, by recipe_key of the dict trainer.fit.recipe_from_args built from
# the options above (and trainer.synthetic_data's pretraining key).
KEYS_OF_THE_DICT_RECIPE = {
    "tiny": "229735bce9ec9506",
    "shipped_pressure": "5a1288480419a678",
    "shipped_pressure_tower1_users_1_24": "59b1855965614738",
    "shipped_pressure_pretraining": "a62e4f11518f557f",
    "shipped_nopressure": "8db29d2d13f05dbc",
}


def recipe(argv: list[str]) -> Recipe:
    return recipe_from_args(cli.build_parser().parse_args(["fit", *argv]))


def test_recipe_keys_are_those_of_the_dict_recipe():
    assert recipe_key(recipe(TINY)) == KEYS_OF_THE_DICT_RECIPE["tiny"]
    assert recipe_key(recipe(SHIPPED_PRESSURE)) == KEYS_OF_THE_DICT_RECIPE["shipped_pressure"]
    assert recipe_key(recipe(SHIPPED_NO_PRESSURE)) == KEYS_OF_THE_DICT_RECIPE["shipped_nopressure"]


def test_tower_and_pretraining_keys_are_those_of_the_dict_recipe():
    shipped = recipe(SHIPPED_PRESSURE)
    tower = cache_key(recipe_key(_tower_recipe(shipped, 1)), list(range(1, 25)))  # as _cached_tower keys it
    assert tower == KEYS_OF_THE_DICT_RECIPE["shipped_pressure_tower1_users_1_24"]
    cfg = shipped.train  # as _train_tower derives the pretraining's config
    pre = dataclasses.replace(cfg, epochs=shipped.synthetic_epochs,
                              pairs_per_epoch=cfg.pairs_per_epoch * PRETRAIN_PAIRS_FACTOR)
    key = pretrain_key(shipped.synthetic, cfg.seed, shipped.preprocessing, pre)
    assert key == KEYS_OF_THE_DICT_RECIPE["shipped_pressure_pretraining"]


def test_a_recipe_cannot_be_changed_in_place():
    shipped = recipe(SHIPPED_PRESSURE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped.towers = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped.train.seed = 1
    one = _tower_recipe(shipped, 2)
    assert (one.towers, one.distill, one.train.seed) == (1, None, 2) and shipped.towers == 3


def test_sigcomp2009_is_in_the_key_only_when_asked():
    base = recipe(TINY)
    assert recipe(TINY + ["--sigcomp2009"]) == dataclasses.replace(base, sigcomp2009=True)
    assert recipe_key(dataclasses.replace(base, sigcomp2009=True)) != recipe_key(base)
