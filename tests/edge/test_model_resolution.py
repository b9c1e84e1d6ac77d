"""A configured model path picks the model by the pad: a models root holds one per kind.

The layout is an installed Pi's (/opt/sigpad/model/KIND -> ../models/KIND-SHA12)
built in tmp_path from the real shipped models; the CLI runs on it with real
SVC2004 files: Task1 has no pressure (a Topaz-like pad), Task2 has pressure.
"""

from __future__ import annotations

import json
import shutil

import pytest
from edge_cases import model_dir_for

from edge.app.cli import main
from edge.errors import ModelError
from edge.model import KINDS, current_model_shas, model_sha_of
from edge.settings import Settings
from edge.verifier import model_dir_of, open_verifier


def manifest(model_dir):
    return json.loads((model_dir / "manifest.json").read_text())


def models_root(tmp_path, kinds=KINDS):
    """An installed Pi's layout: models/KIND-SHA12 and a root of one link per kind."""
    root = tmp_path / "model"
    root.mkdir()
    for kind in kinds:
        source = model_dir_for(kind == "pressure")
        name = f"{kind}-{manifest(source)['sha256'][:12]}"
        shutil.copytree(source, tmp_path / "models" / name)
        (root / kind).symlink_to(f"../models/{name}")
    return root


def test_a_models_root_gives_each_pad_its_kind(tmp_path):
    root = models_root(tmp_path)
    cfg = Settings(model=root, store=tmp_path / "t.db")
    for has_pressure, kind in ((True, "pressure"), (False, "no_pressure")):
        assert model_dir_of(cfg, has_pressure) == root / kind
        with open_verifier(cfg, has_pressure=has_pressure) as v:
            expected = manifest(model_dir_for(has_pressure))
            assert v.model_sha == expected["sha256"]
            assert v.encoder.preprocessing.use_pressure is has_pressure
            assert v.threshold == expected["decision"]["threshold"]
    assert manifest(root / "pressure")["sha256"] != manifest(root / "no_pressure")["sha256"]


def test_a_model_directory_or_file_serves_every_pad(tmp_path):
    root = models_root(tmp_path)
    one = root / "pressure"
    for has_pressure in (True, False):
        assert model_dir_of(Settings(model=one), has_pressure) == one
        assert model_dir_of(Settings(model=one / "encoder_int8.tflite"), has_pressure) == one
    assert model_dir_of(Settings(), False) == model_dir_for(False)  # unconfigured: the shipped one


def test_the_current_model_shas_are_those_of_each_kind_present(tmp_path):
    root = models_root(tmp_path)
    assert current_model_shas(Settings(model=root)) == {manifest(root / kind)["sha256"] for kind in KINDS}
    assert model_sha_of(Settings(model=root), False) == manifest(root / "no_pressure")["sha256"]
    one = root / "pressure"                                      # one model serves both kinds
    assert current_model_shas(Settings(model=one)) == {manifest(one)["sha256"]}
    (tmp_path / "half").mkdir()
    half = models_root(tmp_path / "half", kinds=("pressure",))   # a missing kind adds none
    assert current_model_shas(Settings(model=half)) == {manifest(half / "pressure")["sha256"]}
    with pytest.raises(ModelError, match="no no_pressure model"):
        model_sha_of(Settings(model=half), False)
    assert current_model_shas(Settings(model=tmp_path / "nowhere")) == set()
    assert current_model_shas(Settings()) == {manifest(model_dir_for(p))["sha256"] for p in (True, False)}


@pytest.mark.parametrize("present", ["pressure", "no_pressure"])
def test_a_missing_kind_is_a_clear_error(tmp_path, present):
    root = models_root(tmp_path, kinds=(present,))
    missing = next(k for k in KINDS if k != present)
    cfg = Settings(model=root, store=tmp_path / "t.db")
    message = rf"no {missing} model \({root / missing}/manifest.json is missing\).* only has {present}$"
    with pytest.raises(ModelError, match=message):
        model_dir_of(cfg, has_pressure=missing == "pressure")
    with pytest.raises(ModelError, match=message):
        open_verifier(cfg, has_pressure=missing == "pressure")
    assert model_dir_of(cfg, has_pressure=present == "pressure") == root / present


def test_a_folder_that_is_neither_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="neither a model .no manifest.json. nor a models root"):
        model_dir_of(Settings(model=tmp_path / "empty"), True)


def files(task_dir, user, numbers):
    return [str(task_dir / f"U{user}S{n}.TXT") for n in numbers]


@pytest.mark.data
def test_cli_serves_pads_with_and_without_pressure_from_one_root(tmp_path, svc2004_root, capsys):
    root = models_root(tmp_path)
    shas = {kind: manifest(root / kind)["sha256"] for kind in KINDS}
    task1, task2 = svc2004_root / "Task1", svc2004_root / "Task2"

    def cli(*argv):
        code = main([*argv, "--json", "--store", str(tmp_path / "t.db"), "--model", str(root)])
        return code, json.loads(capsys.readouterr().out.strip())

    assert cli("enroll", "topaz", "--file", *files(task1, 1, range(1, 7)))[0] == 0
    assert cli("enroll", "wacom", "--file", *files(task2, 1, range(1, 7)))[0] == 0
    code, out = cli("users")
    rows = {u["user"]: u for u in out["users"]}
    assert rows["topaz"]["model_sha256"] == shas["no_pressure"]
    assert rows["wacom"]["model_sha256"] == shas["pressure"]
    assert not rows["topaz"]["needs_reenrolment"] and not rows["wacom"]["needs_reenrolment"]
    for user, task, kind in (("topaz", task1, "no_pressure"), ("wacom", task2, "pressure")):
        code, out = cli("verify", user, "--file", *files(task, 1, [8]))
        assert code in (0, 1) and out["reason"] in ("match", "no-match"), out  # judged, not refused
        assert out["threshold"] == manifest(root / kind)["decision"]["threshold"]


@pytest.mark.data
def test_cli_without_the_pads_kind_fails_closed(tmp_path, svc2004_root, capsys):
    root = models_root(tmp_path, kinds=("pressure",))
    code = main(["verify", "anyone", "--json", "--store", str(tmp_path / "t.db"), "--model", str(root),
                 "--file", *files(svc2004_root / "Task1", 1, [8])])
    out = json.loads(capsys.readouterr().out.strip())
    assert code == 2 and out["accepted"] is False and out["reason"] == "error"
    assert f"no no_pressure model ({root / 'no_pressure'}/manifest.json is missing)" in out["detail"]
