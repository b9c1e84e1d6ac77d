"""The cosine of two embeddings and its gradient, as docs/backprop.md derives.

``cosine`` is what the siamese wrapper outputs; ``cosine_grad`` is the
analytic gradient d cos(f1, f2) / d f1 = (u2 - cos * u1) / |f1| with
u = f / |f|, which the tests check against TensorFlow's autodiff and
finite differences.
"""

from __future__ import annotations

import numpy as np


def cosine(a, b, eps: float = 1e-12):
    """Row-wise cosine of two (batch, dim) tensors (TensorFlow)."""
    import tensorflow as tf
    a = tf.math.l2_normalize(a, axis=-1, epsilon=eps)
    b = tf.math.l2_normalize(b, axis=-1, epsilon=eps)
    return tf.reduce_sum(a * b, axis=-1)


def cosine_np(f1: np.ndarray, f2: np.ndarray) -> float:
    return float(f1 @ f2 / (np.linalg.norm(f1) * np.linalg.norm(f2)))


def cosine_grad(f1: np.ndarray, f2: np.ndarray) -> np.ndarray:
    """d cos(f1, f2) / d f1 for vectors f1, f2 (numpy)."""
    n1 = np.linalg.norm(f1)
    u1, u2 = f1 / n1, f2 / np.linalg.norm(f2)
    return (u2 - (u1 @ u2) * u1) / n1
