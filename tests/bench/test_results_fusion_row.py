"""docs/results.md's held-out table: the manifest's fusion entry keeps folds, not spreads; its row
is summarised from them (it used to print "-" in every column)."""

from bench.results_tables import cv_row


def test_the_fusion_row_is_the_folds_summarised():
    fusion = {"data": "Task2", "weight": 0.3, "folds": {"fused": [
        {"eer_skilled": 6.0, "eer_random": 0.0}, {"eer_skilled": 16.0, "eer_random": 0.3},
        {"eer_skilled": 2.0, "eer_random": 0.0}]}}
    # skilled: mean (6 + 16 + 2) / 3 = 8; random: 0.3 / 3 = 0.1; no per-writer figures: "-"
    assert cv_row("fusion", fusion) == ["Task2/fused (cosine + DTW, weight 0.3)", "8.00 [2.00-16.00]", "-",
                                        "0.10 [0.00-0.30]", "-"]


def test_a_plain_row_is_unchanged():
    stats = {"mean": 1.0, "min": 0.5, "max": 2.0}
    assert cv_row("Task2/int8", {"eer_skilled": stats}) == ["Task2/int8", "1.00 [0.50-2.00]", "-", "-", "-"]
