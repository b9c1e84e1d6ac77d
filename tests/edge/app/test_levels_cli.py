"""Choosing an operating point from the settings and the command line, and seeing it in
``sigpad status``: the level, its threshold and measured rates, or a hand-set threshold."""

import json
import shutil

import pytest
from edge_cases import model_dir_for

from edge.app import config
from edge.app.cli import build_parser, load_config, main
from edge.errors import ConfigError


@pytest.fixture
def levels_model(tmp_path):
    """The shipped pressure model with a secure level (threshold -0.9) and a seen range."""
    dst = tmp_path / "model"
    shutil.copytree(model_dir_for(True), dst)
    m = json.loads((dst / "manifest.json").read_text())
    t = m["decision"]["threshold"]
    m["decision"]["levels"] = {"balanced": {"threshold": t},
                               "secure": {"threshold": -0.9, "frr": 0.25, "far_skilled": 0.03, "far_random": 0.0}}
    m["decision"]["seen"] = [-6.0, 1.0]
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def test_level_and_force_from_toml_and_options(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[decision]\nlevel = "secure"\nforce_threshold = true\n')
    cfg = config.load(toml)
    assert (cfg.level, cfg.force_threshold) == ("secure", True)
    assert (config.load().level, config.load().force_threshold) == ("balanced", False)   # the defaults
    args = build_parser().parse_args(["status", "--config", str(toml), "--level", "convenience"])
    assert (load_config(args).level, load_config(args).force_threshold) == ("convenience", True)  # TOML's force kept
    args = build_parser().parse_args(["status", "--force-threshold", "--threshold", "-1.0"])
    assert load_config(args).force_threshold is True and load_config(args).threshold == -1.0
    toml.write_text('[decision]\nlevel = "very secure"\n')
    with pytest.raises(ConfigError, match="level 'very secure'"):
        config.load(toml)


def status(tmp_path, capsys, *options):
    code = main(["status", "--json", "--store", str(tmp_path / "t.db"), *options])
    return code, json.loads(capsys.readouterr().out)


def test_status_shows_the_level_its_rates_or_a_hand_set_threshold(tmp_path, capsys, levels_model):
    _, out = status(tmp_path, capsys, "--model", str(levels_model), "--level", "secure")
    m = out["models"]["pressure"]
    assert (m["level"], m["threshold"], m["hand_set"], m["measured"]) == ("secure", -0.9, False, True)
    assert (m["frr"], m["far_skilled"], m["far_random"]) == (0.25, 0.03, 0.0)
    assert m["levels"] == ["balanced", "secure"]
    _, out = status(tmp_path, capsys, "--model", str(levels_model))
    assert out["models"]["pressure"]["level"] == "balanced" and out["models"]["pressure"]["frr"] is None
    _, out = status(tmp_path, capsys, "--model", str(levels_model), "--threshold", "-1.0")
    m = out["models"]["pressure"]
    assert (m["level"], m["hand_set"], m["threshold"]) == (None, True, -1.0)
    assert "set by hand" in m["described"]
    _, out = status(tmp_path, capsys, "--model", str(levels_model), "--threshold", "2.0")   # above seen's 1.0
    assert "outside the scores the folds saw (-6 to 1)" in out["models"]["pressure"]["error"]
    _, out = status(tmp_path, capsys, "--model", str(levels_model), "--level", "paranoid")
    assert "has balanced, secure" in out["models"]["pressure"]["error"]
    main(["status", "--store", str(tmp_path / "t.db"), "--model", str(levels_model), "--level", "secure"])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("model    pressure"))
    assert line.endswith("level secure, threshold -0.900, FRR 25.0 %, FAR skilled 3.0 %, random 0.0 % "
                         "on the training folds)")
