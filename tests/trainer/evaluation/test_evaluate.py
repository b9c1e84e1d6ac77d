import json
import shutil

import pytest

from trainer import cli
from trainer.evaluation.evaluate import evaluate, per_user, summarise


@pytest.mark.data
def test_dtw_on_three_real_users_is_seeded(svc2004_root):
    a, _ = evaluate(svc2004_root / "Task2", "dtw", users="1-3", trials=2, seed=1)
    b, _ = evaluate(svc2004_root / "Task2", "dtw", users="1-3", trials=2, seed=1)
    assert a == b
    assert a["users"] == 3
    # 3 users x 2 trials: 15 genuine, 20 skilled, 2 random tests each.
    assert a["comparisons_genuine"] == 90
    assert a["comparisons_skilled"] == 120
    assert a["comparisons_random"] == 12
    for key in ("eer_skilled", "eer_random", "eer_skilled_per_writer", "fnmr_at_fmr1_skilled"):
        assert 0.0 <= a[key] <= 100.0
    assert a["eer_random"] <= a["eer_skilled"]  # other writers are easy


@pytest.mark.data
def test_cli_json_and_plot(svc2004_root, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for u in (1, 2):  # a small copy with missing files and one corrupt file
        for s in list(range(1, 12)) + [21, 22]:
            shutil.copy(svc2004_root / "Task2" / f"U{u}S{s}.TXT", data)
    (data / "U2S11.TXT").write_text("5\n1 2 3\n")
    plot = tmp_path / "det.png"
    rc = cli.main(["evaluate", "--data", str(data), "--trials", "2", "--json", "--plot", str(plot)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"users", "eer_skilled", "eer_random", "eer_skilled_per_writer"} <= set(out)
    assert out["users"] == 2 and out["files_skipped"] == 1
    assert plot.stat().st_size > 10_000


def test_cli_errors_exit_2(tmp_path, capsys):
    assert cli.main(["evaluate", "--data", str(tmp_path / "none")]) == 2
    assert "no such dataset folder" in capsys.readouterr().err
    assert cli.main(["evaluate", "--method", "model"]) == 2


@pytest.mark.data
def test_model_scores_are_the_edges(svc2004_root):
    from edge.manifest import load_manifest
    from edge.model import shipped_model_dir
    model = shipped_model_dir(True)
    mean, _ = evaluate(svc2004_root / "Task2", "model", model, users="1-2", trials=1)
    assert mean["score"] == load_manifest(model / "manifest.json").score  # the manifest's
    ref, _ = evaluate(svc2004_root / "Task2", "model", model, users="1-2", trials=1,
                      score="refnorm-distance")
    cosine, _ = evaluate(svc2004_root / "Task2", "model", model, users="1-2", trials=1,
                         score="centroid-max-cosine")
    assert (ref["score"], cosine["score"]) == ("refnorm-distance", "centroid-max-cosine")
    assert ref["threshold_eer_skilled"] < 0 < cosine["threshold_eer_skilled"]  # distances vs cosines
    assert ref["comparisons_skilled"] == mean["comparisons_skilled"] == 40


def test_one_user_has_no_random_eer_and_its_own_row_by_hand():
    # genuine 0.9, 0.8; skilled 0.1, 0.85: at the threshold 0.85 one genuine (0.8) is
    # refused and one forgery (0.85) accepted, 1 of 2 each: 50 %. No other user: no random.
    scores = {"genuine": {3: [0.9, 0.8]}, "skilled": {3: [0.1, 0.85]}, "random": {3: []}}
    summary = summarise(scores)
    assert summary["eer_skilled"] == 50.0 and "eer_random" not in summary
    assert per_user(scores) == {"3": {"comparisons_genuine": 2, "eer_skilled": 50.0, "comparisons_skilled": 2}}


@pytest.mark.data
def test_cli_evaluates_one_user_with_per_user_rows(svc2004_root, capsys):
    rc = cli.main(["evaluate", "--data", str(svc2004_root / "Task2"), "--users", "3", "--trials", "2",
                   "--json", "--per-user"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["users"] == 1 and "eer_random" not in out
    assert set(out["per_user"]) == {"3"} and out["per_user"]["3"]["eer_skilled"] == out["eer_skilled"]
