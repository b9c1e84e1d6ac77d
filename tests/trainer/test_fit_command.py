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


def test_the_benchmark_measures_the_recipe_make_model_ships():
    """The 'distilled' rows of the accuracy table are only the shipped model's if the flags agree."""
    import re

    from bench.bench_accuracy import DISTILLED
    makefile = (ROOT / "Makefile").read_text()
    flags = re.search(r"^MODEL_DISTILL \?= (.*)$", makefile, re.M).group(1).split()
    assert flags == DISTILLED


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


def _make_model_recipes(data_root: Path) -> dict:
    """The recipes of the Makefile's `model` target, by output folder, its variables expanded."""
    import re
    import shlex

    from trainer import cli
    from trainer.fit_command import recipe_from_args

    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(MODEL_\w+) \?= (.*)$", makefile, re.M)) | {"DATA": str(data_root), "PY": "py"}
    body = re.search(r"^model: .*\n((?:\t.*\n)+)", makefile, re.M).group(1).replace("\\\n", " ")
    recipes = {}
    for line in body.splitlines():
        line = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), ""), line)
        line = re.sub(r"\$\(if [^)]*\)\)?", "", line)
        words = shlex.split(line)
        args = cli.build_parser().parse_args(words[words.index("fit"):])   # after `py -m trainer.cli`
        recipes[args.out.name] = recipe_from_args(args)
    return recipes


def test_bench_fusion_measures_exactly_the_recipes_make_model_ships(tmp_path):
    """results.md's shipped rows are only the shipped models' if the recipes agree, key for key."""
    import argparse

    from bench.bench_accuracy import recipe_for
    from bench.bench_fusion import KINDS
    from trainer.recipe import recipe_key

    for kind in ("Task1", "Task2"):
        (tmp_path / kind).mkdir()
    shipped = _make_model_recipes(tmp_path)
    ns = argparse.Namespace(seed=0, epochs=None, synthetic=2000, synthetic_epochs=6)
    for kind, folder in (("pressure", "pressure"), ("no_pressure", "no_pressure")):
        benched = recipe_for(KINDS[kind][0], tmp_path, ns)
        assert recipe_key(benched) == recipe_key(shipped[folder]), kind
