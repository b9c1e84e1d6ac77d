"""The gradient facts docs/backprop.md derives, checked numerically.

1. d cos(f1, f2) / d f1 = (u2 - cos * u1) / |f1|: against finite differences
   and against TensorFlow's autodiff through tf.math.l2_normalize.
2. A layer shared by both siamese branches receives the SUM of the gradients
   the two branches would give two untied copies of it.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from trainer.cosine import cosine, cosine_grad, cosine_np  # noqa: E402
from trainer.losses import contrastive  # noqa: E402


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cosine_gradient_matches_finite_differences_and_autodiff(seed):
    rng = np.random.default_rng(seed)
    f1, f2 = rng.normal(size=7) * 3, rng.normal(size=7)
    analytic = cosine_grad(f1, f2)
    h = 1e-6
    numeric = np.array([(cosine_np(f1 + h * e, f2) - cosine_np(f1 - h * e, f2)) / (2 * h)
                        for e in np.eye(len(f1))])
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)
    a = tf.Variable(f1[None])
    with tf.GradientTape() as tape:
        c = cosine(a, tf.constant(f2[None]))
    np.testing.assert_allclose(tape.gradient(c, a).numpy()[0], analytic, atol=1e-10)
    # The gradient is orthogonal to f1: scaling f1 does not change the cosine.
    assert abs(analytic @ f1) < 1e-10


def test_shared_weights_get_the_sum_of_both_branches_gradients():
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    kind = tf.constant([0, 1, 2, 0, 1, 0])
    w0 = rng.normal(size=(5, 4))

    def branch(w, x):
        return tf.tanh(x @ w)

    shared = tf.Variable(w0)
    with tf.GradientTape() as tape:
        loss = contrastive(kind, cosine(branch(shared, xa), branch(shared, xb)))
    g_shared = tape.gradient(loss, shared).numpy()
    w1, w2 = tf.Variable(w0), tf.Variable(w0)  # untied copies, equal values
    with tf.GradientTape() as tape:
        loss_untied = contrastive(kind, cosine(branch(w1, xa), branch(w2, xb)))
    g1, g2 = (g.numpy() for g in tape.gradient(loss_untied, [w1, w2]))
    assert float(loss) == pytest.approx(float(loss_untied))
    np.testing.assert_allclose(g_shared, g1 + g2, atol=1e-12)
    assert not np.allclose(g_shared, g1)  # each branch alone is not the answer


def test_shared_keras_encoder_gradient_is_sum_over_untied_clones():
    import keras

    from trainer.encoder import build_encoder

    keras.utils.set_random_seed(0)
    enc = build_encoder((32, 8), dim=8, width=4)
    twin = keras.models.clone_model(enc)
    twin.set_weights(enc.get_weights())
    rng = np.random.default_rng(4)
    xa, xb = (tf.constant(rng.normal(size=(4, 32, 8)), tf.float32) for _ in range(2))
    kind = tf.constant([0, 1, 2, 0])
    with tf.GradientTape() as tape:
        loss = contrastive(kind, cosine(enc(xa, training=False), enc(xb, training=False)))
    g_shared = tape.gradient(loss, enc.trainable_variables)
    with tf.GradientTape() as tape:
        loss2 = contrastive(kind, cosine(enc(xa, training=False), twin(xb, training=False)))
    g_a, g_b = tape.gradient(loss2, [enc.trainable_variables, twin.trainable_variables])
    for gs, ga, gb in zip(g_shared, g_a, g_b):
        np.testing.assert_allclose(gs.numpy(), ga.numpy() + gb.numpy(), rtol=1e-4, atol=1e-6)
