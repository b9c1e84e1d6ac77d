"""bench_logistic's own arithmetic: the rates at log-odds 0 and the parts it asks for."""

import numpy as np

from bench import bench_logistic


def test_rates_at_log_odds_zero_by_hand():
    scores = {"genuine": {1: np.array([-0.5, 0.5, 2.0, 3.0])}, "skilled": {1: np.array([-1.0, 0.0])},
              "random": {1: np.array([-4.0])}}
    # 1 of 4 genuine below 0; 1 of 2 skilled at or above 0 (0 itself is accepted); no random
    assert bench_logistic.at_zero(scores) == {"frr_at_0": 25.0, "far_skilled_at_0": 50.0, "far_random_at_0": 0.0}


def test_every_part_unweighted_with_the_shipped_settings():
    shipped = {"dtw": {"points": 64, "band": 16, "step": 1 / 32, "pressure": False, "version": 1},
               "learned": {"steps": 32, "channels": 8, "band": 8, "version": 1}}
    params = bench_logistic.every_part(("mean-cosine", "dtw-least"), shipped)
    assert [(p["score"], p["mean"], p["sd"], p["weight"]) for p in params["parts"]] == [
        ("mean-cosine", 0.0, 1.0, 1.0), ("dtw-least", 0.0, 1.0, 1.0)]
    assert params["learned"] == shipped["learned"] and params["globals"]["pressure"] is False
