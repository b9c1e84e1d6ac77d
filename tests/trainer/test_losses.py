"""Loss values worked out by hand for three pairs: genuine, skilled, random.

cos = 0.5 (genuine), 0.0 (skilled), 0.9 (random):
* bromley:     ((0.5-1)^2 + (0+0.9)^2 + (0.9+0.9)^2) / 3 = (0.25+0.81+3.24)/3
* seed-answer: (-0.5 + 0.0 + 0.9) / 3
* contrastive (margins 0.8 / 0.2): ((0.8-0.5)^2 + 0 + (0.9-0.2)^2) / 3
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from trainer import losses  # noqa: E402

KIND = tf.constant([losses.GENUINE, losses.SKILLED, losses.RANDOM])
COS = tf.constant([0.5, 0.0, 0.9])


@pytest.mark.parametrize("name, expected", [
    ("bromley", (0.25 + 0.81 + 3.24) / 3),
    ("seed_answer", 0.4 / 3),
    ("contrastive", (0.09 + 0.49) / 3),
])
def test_loss_by_hand(name, expected):
    assert float(getattr(losses, name)(KIND, COS)) == pytest.approx(expected, abs=1e-6)


def test_keras_wrapper_returns_per_pair_values():
    per_pair = losses.keras_loss("contrastive")(KIND, COS).numpy()
    np.testing.assert_allclose(per_pair, [0.09, 0.0, 0.49], atol=1e-6)
    assert set(losses.LOSSES) == {"bromley", "seed-answer", "contrastive"}
    with pytest.raises(ValueError):
        losses.keras_loss("hinge")


def test_seed_answer_is_forged_sum_minus_genuine_sum():
    kind = tf.constant([0, 0, 1, 2])
    cos = tf.constant([0.9, 0.7, 0.3, -0.2])
    expected = (0.3 + -0.2) - (0.9 + 0.7)
    assert float(losses.seed_answer(kind, cos)) * 4 == pytest.approx(expected, abs=1e-6)


def test_contrastive_ignores_pairs_past_their_margin():
    kind = tf.constant([0, 1, 2])
    cos = tf.constant([0.95, 0.1, -0.5])
    assert float(losses.contrastive(kind, cos)) == 0.0
