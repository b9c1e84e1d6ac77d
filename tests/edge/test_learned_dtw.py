"""Learned features on the device: stored int8, unpacked, compared by the DTW - by hand."""

import numpy as np
import pytest

from edge import learned_dtw, scores
from edge.errors import ConfigError
from edge.layout import Layout
from edge.learned_dtw import LearnedConfig

CFG = LearnedConfig(steps=2, channels=2, band=0)


def test_pack_renormalises_then_stores_int8_at_1_127():
    # rows (3, 4) -> (0.6, 0.8) -> 76.2, 101.6 -> 76, 102; (0, -2) -> (0, -1) -> 0, -127
    data = learned_dtw.pack([[3.0, 4.0], [0.0, -2.0]], CFG)
    assert np.frombuffer(data, np.int8).tolist() == [76, 102, 0, -127]
    assert learned_dtw.unpack(data, CFG) == pytest.approx(np.array([[76, 102], [0, -127]]) / 127)
    with pytest.raises(ValueError, match="shape"):
        learned_dtw.pack(np.ones((3, 2)), CFG)
    with pytest.raises(ValueError, match="bytes"):
        learned_dtw.unpack(data[:3], CFG)


def test_settings_are_checked():
    assert LearnedConfig.from_dict(CFG.to_dict()) == CFG
    with pytest.raises(ValueError, match="version"):
        LearnedConfig.from_dict({**CFG.to_dict(), "version": 9})
    with pytest.raises(ValueError, match="implausible"):
        LearnedConfig.from_dict({**CFG.to_dict(), "steps": 1})


def test_the_score_is_the_dtw_in_the_references_own_spread_by_hand():
    a, b = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0], [0.0, 1.0]])
    refs = np.stack([a, b])
    # d(a, b): costs [[2, 2], [0, 0]] -> every path pays c[0,0] = 2 and nothing more; sqrt(2) / (2 + 2)
    spread = np.sqrt(2) / 4
    stats = scores.reference_stats(None, learned=refs, learned_config=CFG)
    assert stats["learned_spread"] == pytest.approx(spread)
    score = scores.get("learned-dtw").configured({"learned": CFG.to_dict()})
    # the probe a itself: distance 0 to a, sqrt(2) / 4 to b -> mean / spread = 0.5
    value = score(scores.References(np.zeros((2, 1)), stats, learned=refs), scores.Probe(np.zeros(1), learned=a))
    assert value == pytest.approx(-0.5)
    with pytest.raises(ConfigError, match="learned features"):
        score(scores.References(np.zeros((2, 1)), stats), scores.Probe(np.zeros(1)))
    with pytest.raises(ConfigError, match="needs params"):
        scores.get("learned-dtw").configured({})


def test_a_fused_decision_takes_the_learned_part_and_its_settings():
    params = {"parts": [{"score": "learned-dtw", "mean": -1.0, "sd": 0.5, "weight": 1.0}],
              "learned": CFG.to_dict()}
    fused = scores.get("fused").configured(params)
    assert fused.learned == CFG and fused.dtw is None
    refs = np.stack([np.eye(2), np.eye(2)[::-1]])
    stats = scores.reference_stats(None, learned=refs, learned_config=CFG)
    probe = scores.Probe(np.zeros(1), learned=np.eye(2))
    # learned-dtw = -0.5 as above (the same two references); (-0.5 - -1) / 0.5 = 1
    assert fused(scores.References(np.zeros((2, 1)), stats, learned=refs), probe) == pytest.approx(1.0)


def test_the_layout_stores_learned_features_last_and_reads_them_back():
    layout = Layout(4, None, None, CFG)
    assert layout.extra_bytes == 4
    with pytest.raises(ValueError, match="learned features"):
        layout.extras(None)  # type: ignore[arg-type]  # no DTW or globals: the signature is never read
    extras = layout.extras(None, np.array([[3.0, 4.0], [0.0, -2.0]]))  # type: ignore[arg-type]
    probe = layout.probe(np.ones(4) / 2, extras)
    assert probe.learned == pytest.approx(np.array([[76, 102], [0, -127]]) / 127)


def test_with_every_kind_stored_each_slice_comes_back_from_its_own_bytes():
    from edge.dtw import DtwConfig
    from edge.global_features import GlobalConfig

    dcfg, gcfg = DtwConfig(points=2, band=0, pressure=False), GlobalConfig(pressure=False)
    layout = Layout(3, dcfg, gcfg, CFG)
    assert layout.extra_bytes == 8 + gcfg.byte_count + 4   # 2 x 4 int8, 7 float16, 2 x 2 int8
    seq = np.arange(8, dtype=np.int8).tobytes()
    glob = np.arange(gcfg.byte_count // 2, dtype=np.float16).tobytes()
    learned = learned_dtw.pack([[3.0, 4.0], [0.0, -2.0]], CFG)
    probe = layout.probe(np.ones(3), seq + glob + learned)
    assert probe.sequence == pytest.approx(np.arange(8).reshape(2, 4) / 32)
    assert probe.globals == pytest.approx(np.arange(gcfg.byte_count // 2))
    assert probe.learned == pytest.approx(np.array([[76, 102], [0, -127]]) / 127)
