"""Session-change augmentation: one linear map for positions and velocities, within its ranges."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from trainer import session_augment as sa


def _batch(channels: int, n: int = 64, length: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (n, length, channels)).astype(np.float32)
    x[..., 4] = np.hypot(x[..., 2], x[..., 3])       # speed = |v|, as preprocessing writes it
    if channels == 8:
        x[..., 5] = rng.uniform(0.0, 1.2, (n, length))  # pressure over its 95th percentile
    x[..., -2] = rng.integers(0, 2, (n, length))      # pen-down
    return x


def _seed(k: int = 3):
    import tensorflow as tf
    return tf.constant([k, 11], tf.int64)


def test_strength_zero_changes_nothing():
    x = _batch(8)
    assert np.allclose(sa.session_change(x, _seed(), 0.0).numpy(), x, atol=1e-6)


@pytest.mark.parametrize("channels", [8, 7])
def test_one_map_per_signature_for_positions_and_velocities(channels):
    x = _batch(channels)
    y = sa.session_change(x, _seed(), 1.0).numpy()
    for i in range(len(x)):
        # M from the positions (least squares over the time steps), then the velocities must follow it
        m, *_ = np.linalg.lstsq(x[i, :, :2], y[i, :, :2], rcond=None)
        assert np.allclose(x[i, :, 2:4] @ m, y[i, :, 2:4], atol=1e-4)
        assert np.allclose(np.hypot(y[i, :, 2], y[i, :, 3]), y[i, :, 4], atol=1e-4)   # speed follows
        # det M = the aspect scale, within +-ASPECT on a log scale
        assert abs(np.log(abs(np.linalg.det(m)))) <= sa.ASPECT + 1e-4
    assert np.array_equal(y[..., -2], x[..., -2])                                      # pen-down kept
    shift = (y[..., -1] - x[..., -1]) * sa.LOG_DURATION_SCALE                          # log-duration moved
    assert np.allclose(shift, shift[:, :1], atol=1e-5) and np.abs(shift).max() <= sa.TEMPO + 1e-5
    assert np.std(shift[:, 0]) > 0                                                     # and not all alike


def test_pressure_gets_another_curve_that_keeps_its_order():
    x = _batch(8)
    y = sa.session_change(x, _seed(), 1.0).numpy()
    for i in range(len(x)):
        order = np.argsort(x[i, :, 5])
        assert np.all(np.diff(y[i, order, 5]) >= -1e-6)                               # monotone
        nonzero = x[i, :, 5] > 0.05
        gamma = np.log(y[i, nonzero, 5]) / np.log(x[i, nonzero, 5])
        ok = np.abs(np.log(x[i, nonzero, 5])) > 0.05                                   # away from p = 1
        assert np.allclose(gamma[ok], gamma[ok][0], atol=1e-3)                        # one exponent
        assert abs(np.log(gamma[ok][0])) <= sa.PRESSURE_GAMMA + 1e-3
