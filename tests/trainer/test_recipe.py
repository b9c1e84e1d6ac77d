"""The recipe's cache keys, held by heart: the same as the dict recipe's, and the named recipes'.

The cache's cv/, towers/ and pretrain/ are keyed by the recipe; a key that
changed would silently retrain (hours) instead of reusing what is cached, and
``make model`` shares its folds with the benchmark only through these keys.
"""

from __future__ import annotations

import dataclasses

import pytest

from trainer import cli
from trainer.fit_command import recipe_from_args
from trainer.pretraining import pretrain_key, pretraining_config
from trainer.recipe import (
    NAMED,
    PRESSURE_DISTILLED,
    SHIPPED_NO_PRESSURE,
    SHIPPED_PRESSURE,
    Recipe,
    on_data,
    recipe_key,
)
from trainer.towers import tower_key, tower_recipe

ROOT = "/data/svc2004"  # data at a fixed path: it is part of the keys
# The pressure recipe shipped at commit 69a36c6 (before session-change augmentation), the
# pressure-free one shipped then (before writer variants), and a tiny one, spelled as options.
PREVIOUS_PRESSURE = ["--data", f"{ROOT}/Task2", "--users", "1-30", "--seed", "0", "--loss", "contrastive",
                     "--synthetic", "2000", "--towers", "3", "--distill-epochs", "16", "--label-weight", "5",
                     "--score", "centroid-max-cosine", "--cv-threshold", "--quiet"]
PREVIOUS_NO_PRESSURE = ["--no-pressure", "--data", f"{ROOT}/Task1", "--data", f"{ROOT}/Task2",
                        "--users", "1-30", "--seed", "0", "--loss", "contrastive", "--cv-threshold", "--quiet"]
TINY = ["--data", f"{ROOT}/Task2", "--epochs", "2", "--seed", "3", "--quiet"]

# Hard-coded on purpose: computed at commit 69a36c6, BEFORE the recipe became a
# dataclass, by recipe_key of the dict trainer.fit.recipe_from_args built from
# the options above (and trainer.synthetic_data's pretraining key).
KEYS_OF_THE_DICT_RECIPE = {
    "tiny": "229735bce9ec9506",
    "previous_pressure": "5a1288480419a678",
    "previous_pressure_tower1_users_1_24": "59b1855965614738",
    "previous_pressure_pretraining": "a62e4f11518f557f",
    "previous_nopressure": "8db29d2d13f05dbc",
}
# Hard-coded on purpose: computed at commit 5449df7, BEFORE the shipped recipes had names, from
# the Makefile's `model` options (MODEL_SYNTH, MODEL_DISTILL, MODEL_PRESSURE, MODEL_NOPRESSURE).
KEYS_OF_THE_MAKEFILE_RECIPES = {
    "shipped-pressure": "591e511a6e7bf3e6",
    "shipped-pressure_tower0_users_1_30": "298aaed94e999880",
    "shipped-pressure_tower1_users_1_24": "0d1e0488a52e1d89",
    "shipped-pressure_pretraining": ("a62e4f11518f557f", "f3d2fb907e9ce1b7", "3321ecb318bbd975"),
    "shipped-no-pressure": "258008f5732ed59c",
    "shipped-no-pressure_tower0_users_1_30": "ad45b479dd0e399b",
}


def recipe(argv: list[str]) -> Recipe:
    return recipe_from_args(cli.build_parser().parse_args(["fit", *argv]))


def test_recipe_keys_are_those_of_the_dict_recipe():
    assert recipe_key(recipe(TINY)) == KEYS_OF_THE_DICT_RECIPE["tiny"]
    assert recipe_key(recipe(PREVIOUS_PRESSURE)) == KEYS_OF_THE_DICT_RECIPE["previous_pressure"]
    assert recipe_key(recipe(PREVIOUS_NO_PRESSURE)) == KEYS_OF_THE_DICT_RECIPE["previous_nopressure"]


def test_tower_and_pretraining_keys_are_those_of_the_dict_recipe():
    previous = recipe(PREVIOUS_PRESSURE)
    assert previous == on_data(PRESSURE_DISTILLED, ROOT)   # the named constant is the same recipe
    assert tower_key(previous, 1, range(1, 25)) == KEYS_OF_THE_DICT_RECIPE["previous_pressure_tower1_users_1_24"]
    cfg = previous.train
    key = pretrain_key(previous.synthetic, cfg.seed, previous.preprocessing,
                       pretraining_config(cfg, previous.synthetic_epochs))
    assert key == KEYS_OF_THE_DICT_RECIPE["previous_pressure_pretraining"]


@pytest.mark.parametrize("name", sorted(NAMED))
def test_fit_recipe_names_the_makefiles_recipes_with_their_keys(name):
    named = recipe(["--recipe", name, "--data", ROOT])
    assert named == on_data(NAMED[name], ROOT)
    assert recipe_key(named) == KEYS_OF_THE_MAKEFILE_RECIPES[name]
    assert tower_key(named, 0, range(1, 31)) == KEYS_OF_THE_MAKEFILE_RECIPES[f"{name}_tower0_users_1_30"]


def test_the_shipped_pressure_recipes_towers_and_pretraining_keep_their_keys():
    shipped = on_data(SHIPPED_PRESSURE, ROOT)
    assert tower_key(shipped, 1, range(1, 25)) == KEYS_OF_THE_MAKEFILE_RECIPES["shipped-pressure_tower1_users_1_24"]
    keys = tuple(pretrain_key(shipped.synthetic, one.train.seed, shipped.preprocessing,
                              pretraining_config(one.train, shipped.synthetic_epochs))
                 for one in (tower_recipe(shipped, i) for i in range(shipped.towers)))
    # session-change augmentation is the real writers' trait: the pretraining is the previous recipe's
    assert keys == KEYS_OF_THE_MAKEFILE_RECIPES["shipped-pressure_pretraining"]
    assert keys[0] == KEYS_OF_THE_DICT_RECIPE["previous_pressure_pretraining"]


def test_the_named_recipes_are_the_shipped_constants():
    assert NAMED == {"shipped-pressure": SHIPPED_PRESSURE, "shipped-no-pressure": SHIPPED_NO_PRESSURE}
    assert SHIPPED_PRESSURE.train.session_augment == 1.0 and SHIPPED_PRESSURE.preprocessing.use_pressure
    assert SHIPPED_NO_PRESSURE.variants == 5 and not SHIPPED_NO_PRESSURE.preprocessing.use_pressure


def test_a_recipe_cannot_be_changed_in_place():
    shipped = recipe(PREVIOUS_PRESSURE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped.towers = 1  # type: ignore[misc]  # the point: a frozen dataclass refuses
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped.train.seed = 1  # type: ignore[misc]
    one = tower_recipe(shipped, 2)
    assert (one.towers, one.distill, one.train.seed) == (1, None, 2) and shipped.towers == 3


def test_sigcomp2009_is_in_the_key_only_when_asked():
    base = recipe(TINY)
    assert recipe(TINY + ["--sigcomp2009"]) == dataclasses.replace(base, sigcomp2009=True)
    assert recipe_key(dataclasses.replace(base, sigcomp2009=True)) != recipe_key(base)


def test_the_pressure_blind_branch_is_the_pressure_free_recipes_and_older_fold_keys_stand():
    import hashlib
    import json

    from trainer.local_features import fold_key, local_config

    free, blind = on_data(SHIPPED_NO_PRESSURE, ROOT), on_data(SHIPPED_PRESSURE, ROOT)
    test, train = [1, 2, 3, 4, 5, 6], list(range(7, 31))
    # the key as fold_scores made it before a branch could ignore pressure (its fields then)
    old_fields = {"steps": 32, "channels": 8, "band": 8, "width": 24, "epochs": 32, "pairs_per_epoch": 4096,
                  "batch_size": 64, "learning_rate": 2e-3, "seed": 0}
    parts = ["int8", f"{ROOT}/Task1", [f"{ROOT}/Task1", f"{ROOT}/Task2"],
             free.preprocessing.to_dict(), test, old_fields]
    before = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
    assert fold_key(free, local_config(free), test, train, free.data[0]) == before
    # the pressure model's branch: the same file (its home folder's key), scored on Task2
    assert fold_key(blind, local_config(blind), test, train, blind.data[0].parent / "Task1") == before
    assert fold_key(blind, local_config(blind), test, train, blind.data[0]) != before
    assert fold_key(blind, local_config(blind), test[:5], train, blind.data[0].parent / "Task1") != before
