import numpy as np
import pytest

from edge.preprocess import DEFAULT, PREPROCESS_VERSION, PreprocessConfig, preprocess
from firmware_bridge import svc2004
from firmware_bridge.errors import SignatureError
from firmware_bridge.signature import Signature


def trajectory(rate_hz=100.0, pause_ms=120.0, scale=1.0, offset=(0.0, 0.0), pressure_gain=1.0):
    """Two smooth strokes (a loop, then a wave) sampled at ``rate_hz``, pen-up not sampled."""
    dt = 1000.0 / rate_hz
    t1 = np.arange(0.0, 1200.0, dt)
    t2 = np.arange(1200.0 + pause_ms, 2400.0 + pause_ms, dt)
    u1, u2 = t1 / 1200.0, (t2 - t2[0]) / 1200.0
    x = np.r_[np.cos(2 * np.pi * u1) * 800, 1500 + u2 * 2000]
    y = np.r_[np.sin(2 * np.pi * u1) * 500, np.sin(6 * np.pi * u2) * 300]
    p = np.r_[0.4 + 0.3 * np.sin(np.pi * u1), 0.5 + 0.2 * u2] * pressure_gain
    return Signature.create(t_ms=np.r_[t1, t2], x=x * scale + offset[0], y=y * scale + offset[1],
                            pressure=p)


def test_shape_dtype_and_channel_names():
    out = preprocess(trajectory())
    assert out.shape == (256, 8) == DEFAULT.shape
    assert out.dtype == np.float32
    assert DEFAULT.channels == ("x", "y", "vx", "vy", "speed", "pressure", "pen_down", "log_duration")
    assert np.abs(out).max() <= DEFAULT.clip


def test_translation_and_scale_drop_out():
    a = preprocess(trajectory())
    b = preprocess(trajectory(scale=7.3, offset=(12_000, -4_000)))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_pressure_units_drop_out():
    np.testing.assert_allclose(preprocess(trajectory()),
                               preprocess(trajectory(pressure_gain=0.5)), atol=1e-5)


def test_sampling_rate_drops_out():
    a = preprocess(trajectory(rate_hz=100.0))
    b = preprocess(trajectory(rate_hz=200.0))
    c = preprocess(trajectory(rate_hz=133.0))
    # Same pen movement, different pads: only interpolation error remains.
    for other in (b, c):
        assert np.abs(a[:, :2] - other[:, :2]).max() < 0.02  # position
        assert np.abs(a[:, 2:5] - other[:, 2:5]).max() < 0.3  # velocity near the lift
        assert np.median(np.abs(a[:, 2:5] - other[:, 2:5])) < 0.01
        assert np.abs(a[:, 7] - other[:, 7]).max() < 0.01  # log-duration (1 sample shorter)


def test_long_pause_is_shortened_to_the_cap():
    capped = preprocess(trajectory(pause_ms=DEFAULT.gap_cap_ms))
    np.testing.assert_allclose(preprocess(trajectory(pause_ms=27_700)), capped, atol=1e-6)
    # Inside the lift the pen-down flag is 0; the pen-down time is 2.4 s of 2.55 s.
    down = capped[:, DEFAULT.channels.index("pen_down")]
    assert 0 < np.count_nonzero(down == 0) <= np.ceil(256 * 150 / 2550) + 1


def test_hover_samples_are_ignored():
    sig = trajectory()
    t = np.r_[sig.t_ms, sig.t_ms[-1] + 10 * np.arange(1, 6)]
    hover = Signature.create(t_ms=t, x=np.r_[sig.x, np.full(5, 9e3)], y=np.r_[sig.y, np.zeros(5)],
                             pen_down=np.r_[sig.pen_down, np.zeros(5, bool)],
                             pressure=np.r_[sig.pressure, np.zeros(5)])
    np.testing.assert_array_equal(preprocess(hover), preprocess(sig))


def test_log_duration_channel_by_hand():
    # 2.4 s of writing + 0.12 s lift = 2.52 s - one sample period (10 ms) = 2.51 s.
    out = preprocess(trajectory())
    expected = (np.log(2.51) - np.log(2.5)) / 0.5
    assert out[0, 7] == pytest.approx(expected, abs=1e-6)


def test_pads_without_pressure():
    sig = trajectory()
    bare = Signature.create(t_ms=sig.t_ms, x=sig.x, y=sig.y)
    with pytest.raises(SignatureError, match="needs pressure"):
        preprocess(bare)
    cfg = PreprocessConfig(use_pressure=False)
    out = preprocess(bare, cfg)
    assert out.shape == (256, 7)
    np.testing.assert_array_equal(out, np.delete(preprocess(sig), 5, axis=1))


def test_config_round_trip_and_version_guard():
    assert PreprocessConfig.from_dict(DEFAULT.to_dict()) == DEFAULT
    with pytest.raises(SignatureError, match="version 99"):
        preprocess(trajectory(), PreprocessConfig(version=99))
    bad = DEFAULT.to_dict() | {"channels": ["x", "y"]}
    with pytest.raises(SignatureError, match="do not match"):
        PreprocessConfig.from_dict(bad)
    assert DEFAULT.version == PREPROCESS_VERSION


def test_duplicate_timestamps_are_tolerated():
    sig = trajectory()
    t = sig.t_ms.copy()
    t[10] = t[9]  # SVC2004 has hundreds of zero-length steps
    again = Signature.create(t_ms=t, x=sig.x, y=sig.y, pressure=sig.pressure)
    assert np.all(np.isfinite(preprocess(again)))


@pytest.mark.data
def test_real_channels_have_about_unit_spread(svc2004_root):
    users = svc2004.scan(svc2004_root / "Task2")
    x = np.stack([preprocess(svc2004.read(p)) for u in (1, 7, 13, 19, 25)
                  for p in users[u].genuine.values()])
    std = x.reshape(-1, x.shape[-1]).std(axis=0)
    assert np.all(std > 0.2) and np.all(std < 2.0), dict(zip(DEFAULT.channels, std))
    clipped = np.mean(np.abs(x) >= DEFAULT.clip)
    assert clipped < 0.01
