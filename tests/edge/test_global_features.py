"""Global features: measured by hand on tiny signatures, compared in the writer's own units."""

import math

import numpy as np
import pytest

from edge import global_features, scores
from edge.global_features import FLOOR, GlobalConfig
from firmware_bridge.signature import Signature


def two_strokes() -> Signature:
    # stroke 1, every 25 ms: (0,0) -> (30,40) in five steps of 10, down to (30,0) in four
    # of 10: 225 ms, path 90. Stroke 2 after a 500 ms lift: (60,0) -> (60,10), 125 ms, path 10.
    t = [25.0 * i for i in range(10)] + [725.0 + 25 * i for i in range(6)]
    x = [0, 6, 12, 18, 24, 30, 30, 30, 30, 30] + [60] * 6
    y = [0, 8, 16, 24, 32, 40, 30, 20, 10, 0] + [0, 2, 4, 6, 8, 10]
    pressure = [0.4] * 10 + [0.2, 0.6] * 3
    return Signature.create(t_ms=t, x=x, y=y, pressure=pressure, source="hand")


def test_features_worked_by_hand():
    cfg = GlobalConfig(pressure=True)
    f = dict(zip(cfg.names, global_features.measure(two_strokes(), cfg)))
    # pen down 225 + 125 ms = 0.35 s; first touch to last lift 0.85 s; path 100
    assert f["log_pen_down_s"] == pytest.approx(math.log(0.35))
    assert f["log_total_s"] == pytest.approx(math.log(0.85))
    assert f["log_speed"] == pytest.approx(math.log1p(100 / 0.35))
    assert f["log_path"] == pytest.approx(math.log1p(100))
    assert f["log_width"] == pytest.approx(math.log1p(60)) and f["log_height"] == pytest.approx(math.log1p(40))
    assert f["sqrt_strokes"] == pytest.approx(math.sqrt(2))
    # pressure: ten 0.4, three 0.2, three 0.6: mean 0.4, variance 6 * 0.04 / 16 = 0.015
    assert f["log_mean_pressure"] == pytest.approx(math.log1p(0.4))
    assert f["pressure_cv"] == pytest.approx(math.sqrt(0.015) / 0.4)


def test_without_pressure_there_is_no_pressure_aspect():
    cfg = GlobalConfig(pressure=False)
    assert "log_mean_pressure" not in cfg.names and cfg.columns("pressure") == []
    assert cfg.byte_count == 2 * 7
    sig = two_strokes()
    bare = Signature.create(t_ms=sig.t_ms, x=sig.x, y=sig.y, source="no pressure")
    assert len(global_features.measure(bare, cfg)) == 7
    with pytest.raises(ValueError, match="pressure"):
        global_features.measure(bare, GlobalConfig(pressure=True))


def test_stored_as_float16_and_refused_at_another_length():
    cfg = GlobalConfig(pressure=True)
    values = global_features.measure(two_strokes(), cfg)
    blob = global_features.pack(values)
    assert len(blob) == cfg.byte_count == 18
    assert global_features.unpack(blob, cfg) == pytest.approx(values, rel=1e-3)
    with pytest.raises(ValueError, match="16 bytes"):
        global_features.unpack(blob[:16], cfg)


def test_deviation_in_the_writers_own_units():
    refs = np.array([[1.0, 5.0], [1.2, 5.0], [1.4, 5.0]])   # column 0: mean 1.2, variance 0.08/3
    probe = np.array([2.0, 5.0])
    sd0 = math.sqrt(0.08 / 3 + FLOOR ** 2)
    assert global_features.deviation(refs, probe, [0]) == pytest.approx(0.8 / sd0)
    # column 1 never varies: the floor is its unit, and the probe sits on the mean
    assert global_features.deviation(refs, probe, [1]) == 0.0
    assert global_features.deviation(refs, probe, [0, 1]) == pytest.approx(0.4 / sd0)
    assert global_features.deviation(refs, probe, []) == 0.0


def test_deviation_scores_read_their_aspect_only():
    cfg = GlobalConfig(pressure=True)
    n = len(cfg.names)
    refs = scores.References(np.eye(2), {}, None, np.zeros((3, n)))
    probe_globals = np.zeros(n)
    probe_globals[cfg.names.index("log_path")] = 3 * FLOOR            # size off by 3 floors
    probe = scores.Probe(np.array([1.0, 0.0]), None, probe_globals)
    params = {"globals": cfg.to_dict()}
    size = scores.get("size-deviation").configured(params)
    timing = scores.get("timing-deviation").configured(params)
    # size: (3 + 0 + 0) / 3 columns = 1 floor-unit on average
    assert size(refs, probe) == pytest.approx(-1.0)
    assert timing(refs, probe) == 0.0
    assert size.aspect == "size" and scores.get("stroke-deviation").aspect == "timing"  # lifts: hesitation


def test_a_deviation_score_without_its_settings_or_features_is_a_config_error():
    from edge.errors import ConfigError
    refs = scores.References(np.eye(2), {}, None, None)
    probe = scores.Probe(np.array([1.0, 0.0]))
    with pytest.raises(ConfigError, match="global feature settings"):
        scores.get("timing-deviation")(refs, probe)
    with pytest.raises(ConfigError, match="needs params"):
        scores.get("timing-deviation").configured({})
    with pytest.raises(ConfigError, match="global features of the references"):
        scores.get("timing-deviation").configured({"globals": GlobalConfig().to_dict()})(refs, probe)
