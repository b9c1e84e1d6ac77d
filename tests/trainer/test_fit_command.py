"""``sigpad-train fit``'s parser: built without TensorFlow, options parsed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_building_the_cli_does_not_import_tensorflow():
    code = ("import sys; from trainer import cli; cli.build_parser(); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]


def test_fit_options_make_a_recipe(tmp_path):
    from trainer import cli
    from trainer.fit_command import recipe_from_args

    args = cli.build_parser().parse_args(
        ["fit", "--data", str(tmp_path), "--users", "1-20", "--epochs", "3", "--seed", "5",
         "--loss", "bromley", "--out", str(tmp_path / "m"), "--no-pressure", "--synthetic", "100",
         "--pair-ratio", "50/40/10", "--strategy", "mirrored"])
    recipe = recipe_from_args(args)
    cfg = recipe.train
    assert (cfg.loss, cfg.epochs, cfg.seed, cfg.strategy) == ("bromley", 3, 5, "mirrored")
    assert cfg.pair_ratio == (0.5, 0.4, 0.1)
    assert recipe.preprocessing.use_pressure is False and recipe.synthetic == 100


def test_bad_pair_ratio_is_refused():
    from trainer import cli
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["fit", "--pair-ratio", "1/2"])


def test_towers_and_width_reach_the_recipe(tmp_path):
    from trainer import cli
    from trainer.fit_command import recipe_from_args

    args = cli.build_parser().parse_args(["fit", "--data", str(tmp_path), "--towers", "3", "--dim", "26",
                                          "--width", "16"])
    recipe = recipe_from_args(args)
    assert recipe.towers == 3 and (recipe.train.dim, recipe.train.width) == (26, 16)


def test_towers_beyond_80_dimensions_in_all_are_refused(tmp_path):
    from edge.errors import ConfigError
    from trainer import cli
    from trainer.fit_command import recipe_from_args

    args = cli.build_parser().parse_args(["fit", "--data", str(tmp_path), "--towers", "3", "--dim", "27"])
    with pytest.raises(ConfigError, match="81|80"):  # 3 x 27 = 81 > 80
        recipe_from_args(args)


def test_distillation_options_reach_the_recipe(tmp_path):
    from trainer import cli
    from trainer.fit_command import recipe_from_args
    from trainer.recipe import Distillation

    # three 64-d towers could not be shipped as a stack (192 > 80), but distilled into one they can
    args = cli.build_parser().parse_args(["fit", "--data", str(tmp_path), "--towers", "3", "--distill-epochs", "16",
                                          "--label-weight", "0.5"])
    recipe = recipe_from_args(args)
    assert recipe.towers == 3
    assert recipe.distill == Distillation(epochs=16, learning_rate=1e-3, label_weight=0.5)
    one = recipe_from_args(cli.build_parser().parse_args(["fit", "--data", str(tmp_path)]))
    assert one.towers == 1 and one.distill is None


@pytest.mark.parametrize("extra, message", [
    (["--distill-dtw", "1.5"], "in \\(0, 1\\]"),
    (["--distill-dtw", "0.5"], "needs --distill-epochs"),
    (["--distill-dtw", "0.5", "--distill-epochs", "4", "--variants", "5"], "no DTW sequences"),
    (["--distill-dtw", "0.5", "--distill-epochs", "4", "--sigcomp2009"], "no DTW sequences"),
])
def test_a_dtw_teacher_that_could_not_work_is_refused_before_training(tmp_path, extra, message):
    from edge.errors import ConfigError
    from trainer import cli
    from trainer.fit_command import recipe_from_args

    with pytest.raises(ConfigError, match=message):
        recipe_from_args(cli.build_parser().parse_args(["fit", "--data", str(tmp_path), *extra]))


def test_a_dtw_teacher_with_one_tower_distils_and_has_its_own_cache_key(tmp_path):
    from trainer import cli
    from trainer.fit_command import recipe_from_args
    from trainer.recipe import recipe_key

    plain = recipe_from_args(cli.build_parser().parse_args(["fit", "--data", str(tmp_path)]))
    taught = recipe_from_args(cli.build_parser().parse_args(
        ["fit", "--data", str(tmp_path), "--distill-epochs", "16", "--distill-dtw", "0.5"]))
    assert taught.towers == 1 and taught.distill.dtw_weight == 0.5
    assert recipe_key(taught) != recipe_key(plain)


def _make_model_commands(data_root: Path = Path("/data/svc2004")) -> list[list[str]]:
    """The `fit` commands of the Makefile's `model` target, words after `trainer.cli`, on ``data_root``."""
    import re
    import shlex

    makefile = (ROOT / "Makefile").read_text()
    body = re.search(r"^model: .*\n((?:\t.*\n)+)", makefile, re.M).group(1).replace("\\\n", " ")
    commands = []
    for line in body.splitlines():
        line = re.sub(r"\$\((\w+)\)", lambda m: {"DATA": str(data_root), "PY": "py"}.get(m.group(1), ""), line)
        line = re.sub(r"\$\(if [^)]*\)", "", line)   # $(if $(CACHE),--cache $(CACHE)), CACHE unset
        words = shlex.split(line)
        commands.append(words[words.index("fit"):])
    return commands


def test_make_model_names_the_shipped_recipes_and_spells_no_recipe_option():
    """The recipes are spelled once, in trainer/recipe.py: the Makefile only names them."""
    from trainer import cli
    from trainer.fit_command import RECIPE_OPTIONS, RULE_OPTIONS
    from trainer.recipe import NAMED

    commands = _make_model_commands()
    named = {}
    for words in commands:
        assert not [w for w in words if w in RECIPE_OPTIONS + RULE_OPTIONS], words
        args = cli.build_parser().parse_args(words)
        named[args.out.name] = args.recipe
    assert named == {"pressure": "shipped-pressure", "no_pressure": "shipped-no-pressure"}
    assert sorted(named.values()) == sorted(NAMED)


def test_bench_fusion_measures_exactly_the_recipes_make_model_ships(tmp_path):
    """results.md's shipped rows are only the shipped models' if the recipes agree, field for field."""
    import argparse

    from bench.bench_accuracy import recipe_for
    from bench.bench_fusion import KINDS
    from trainer import cli
    from trainer.fit_command import recipe_from_args

    ns = argparse.Namespace(seed=0, epochs=None, synthetic=2000, synthetic_epochs=6)
    for words in _make_model_commands(tmp_path):
        args = cli.build_parser().parse_args(words)
        shipped = recipe_from_args(args)
        assert recipe_for(KINDS[args.out.name][0], tmp_path, ns) == shipped, args.out.name


@pytest.mark.parametrize("option", ["--seed 1", "--epochs 4", "--session-augment 0.5", "--no-pressure",
                                    "--variants 2", "--threshold 0.5", "--val-users 1-6"])
def test_a_named_recipe_takes_no_recipe_option_beside_it(tmp_path, option):
    from edge.errors import ConfigError
    from trainer import cli
    from trainer.fit_command import recipe_from_args

    args = cli.build_parser().parse_args(["fit", "--recipe", "shipped-pressure", "--data", str(tmp_path),
                                          *option.split()])
    with pytest.raises(ConfigError, match=option.split()[0]):
        recipe_from_args(args)


def test_every_fit_option_is_a_recipe_a_threshold_or_a_run_option():
    """So a new recipe option cannot be silently ignored beside --recipe."""
    import argparse

    from trainer.fit_command import RECIPE_OPTIONS, RULE_OPTIONS, add_arguments

    run_options = {"--recipe", "--data", "--users", "--cv-threshold", "--fuse", "--out", "--keras", "--threads",
                   "--quiet", "--cache", "-h"}
    p = argparse.ArgumentParser()
    add_arguments(p)
    options = {o for action in p._actions for o in action.option_strings if o != "--help"}
    assert options == set(RECIPE_OPTIONS) | set(RULE_OPTIONS) | run_options


def test_a_named_recipe_gets_the_shipped_decision(tmp_path):
    from trainer import cli
    from trainer.fit_command import threshold_rule
    from trainer.pipeline import SHIPPED_RULE, ThresholdRule

    named = cli.build_parser().parse_args(["fit", "--recipe", "shipped-no-pressure", "--data", str(tmp_path)])
    assert threshold_rule(named) == SHIPPED_RULE == ThresholdRule(folds=True, fuse=True)
    spelled = cli.build_parser().parse_args(["fit", "--data", str(tmp_path), "--val-users", "21-30"])
    assert threshold_rule(spelled) == ThresholdRule(val_users="21-30")
