"""The pipeline: the threshold is a pure function of the folds' scores (worked by hand),
and a tiny fit runs from the command line to a model directory."""

from __future__ import annotations

import json

import pytest

from edge.errors import ConfigError
from trainer.pipeline import ThresholdRule, threshold_for

# Two folds' held-out int8 scores as the cache holds them (users as strings), on two folders.
# Pooled on Task2: genuine 0.9 0.8 0.7 0.6, skilled forgeries 0.85 0.3 0.2 0.1.
FOLD_A = {"genuine": {"1": [0.9, 0.8]}, "skilled": {"1": [0.85, 0.3]}, "random": {"1": [0.0]}}
FOLD_B = {"genuine": {"7": [0.7, 0.6]}, "skilled": {"7": [0.2, 0.1]}, "random": {"7": [0.0]}}
TASK1 = {"genuine": {"1": [0.5, 0.4]}, "skilled": {"1": [0.45, 0.0]}, "random": {"1": [0.0]}}
FOLDS = [{"data": {"Task2": {"int8_scores": FOLD_A}, "Task1": {"int8_scores": TASK1}}},
         {"data": {"Task2": {"int8_scores": FOLD_B}, "Task1": {"int8_scores": TASK1}}}]


def test_the_folds_threshold_is_the_eer_point_of_their_pooled_scores():
    # Accepting scores >= t. At t = 0.7: genuine 0.6 is rejected (FNMR 1/4) and the forgery
    # 0.85 accepted (FMR 1/4); just above 0.6 the FNMR is 0 and the FMR still 1/4, and at 0.8
    # the FNMR is 2/4: the two rates meet at 0.7, the pooled EER of 25 % - where neither fold
    # alone has its EER point (fold A's is at 0.85, fold B's at 0.6).
    threshold, how = threshold_for(ThresholdRule(folds=True), FOLDS, "Task2")
    assert threshold == pytest.approx(0.7)
    assert how == "EER (skilled, global) of the pooled held-out int8 scores of 2 user folds on Task2"
    assert threshold_for(ThresholdRule(folds=True), FOLDS[::-1], "Task2")[0] == threshold  # pooled: order-free


def test_the_threshold_is_chosen_on_the_named_folder_only():
    # Task1 pooled: genuine 0.5 0.5 0.4 0.4, skilled 0.45 0.45 0 0: at t = 0.45 FNMR = FMR = 1/2.
    threshold, how = threshold_for(ThresholdRule(folds=True), FOLDS, "Task1")
    assert threshold == pytest.approx(0.45) and how.endswith("on Task1")


def test_a_given_threshold_wins_and_the_others_wait_for_the_exported_file():
    assert threshold_for(ThresholdRule(given=0.25, folds=True), FOLDS, "Task2") == (0.25, "given on the command line")
    assert threshold_for(ThresholdRule(val_users="21-30"), [], "Task2") == (
        None, "EER (skilled, global) of the int8 scores of validation users 21-30")
    assert threshold_for(ThresholdRule(), [], "Task2") == (None, "training users (optimistic: no held-out users)")


def test_the_fused_decision_needs_the_folds_and_no_given_threshold():
    with pytest.raises(ConfigError, match="--cv-threshold"):
        ThresholdRule(fuse=True)
    with pytest.raises(ConfigError, match="--threshold"):
        ThresholdRule(given=0.5, folds=True, fuse=True)


@pytest.mark.slow
@pytest.mark.data
def test_a_tiny_fit_writes_a_model_directory(svc2004_root, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from trainer import cli

    out, keras_file = tmp_path / "model", tmp_path / "keras" / "tiny.keras"
    rc = cli.main(["fit", "--data", str(svc2004_root / "Task2"), "--users", "1-4", "--epochs", "1",
                   "--pairs-per-epoch", "64", "--batch-size", "32", "--dim", "8", "--width", "4",
                   "--threshold", "0.25", "--out", str(out), "--keras", str(keras_file),
                   "--cache", str(tmp_path / "cache"), "--quiet"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = json.loads((out / "manifest.json").read_text())
    assert printed["sha256"] == manifest["sha256"] and printed["threshold"] == 0.25
    assert manifest["decision"]["threshold"] == 0.25 and manifest["embedding_dim"] == 8
    assert manifest["threshold_chosen_on"] == "given on the command line" and manifest["metrics"] == {}
    training = manifest["training"]
    assert (training["users"], training["data"], training["epochs"], training["towers"]) == ("1-4", ["Task2"], 1, 1)
    assert keras_file.is_file() and not (out / "encoder.keras").exists()
    assert len(list((tmp_path / "cache" / "towers").glob("*.weights.h5"))) == 1   # the tower, cached
