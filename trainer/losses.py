"""Pair losses on the cosine of two embeddings; one function per loss.

Every loss takes ``kind`` (int, one per pair: GENUINE = genuine-genuine of
one writer, SKILLED = genuine vs a skilled forgery of that writer, RANDOM =
genuine vs another writer's genuine) and ``cos`` (the cosine of the two
unit embeddings), and returns the mean loss over the batch (a scalar). The
Keras wrapper ``keras_loss(name)`` has the (y_true, y_pred) signature with
y_true = kind and y_pred = cos.

* ``bromley`` - Bromley et al. 1993: squared error of the cosine against a
  target, +1 for genuine pairs and -0.9 for forgery pairs. The paper had no
  separate random class; its "other writer" pairs count as forgeries here,
  as there. (The prototype found this target on random pairs hurts random
  EER: it pulls unrelated signatures to an anti-aligned point.)
* ``seed_answer`` - the simplest loss of the classic answer: sum over forged
  pairs of cos minus sum over genuine pairs of cos (here divided by the
  batch size, which only rescales the step). Linear in cos, so it never
  saturates: it keeps pushing even well separated pairs, and pairs of both
  kinds pull with the same force however wrong or right they are.
Each loss exists per pair (``*_per_pair``, what Keras reduces) and as the
batch mean (``bromley``, ``seed_answer``, ``contrastive``).

* ``contrastive`` (shipped) - contrastive loss with margins on the cosine:
  genuine pairs pay (m_pos - cos)^2 while below m_pos, impostor pairs pay
  (cos - m_neg)^2 while above m_neg. Pairs already on the right side of
  their margin cost nothing, so training effort goes to hard pairs (mostly
  skilled forgeries), and random pairs are not forced to a fixed point.
"""

from __future__ import annotations

GENUINE, SKILLED, RANDOM = 0, 1, 2

BROMLEY_TARGET_GENUINE = 1.0
BROMLEY_TARGET_FORGERY = -0.9
CONTRASTIVE_MARGIN_POS = 0.8
CONTRASTIVE_MARGIN_NEG = 0.2


def _split(kind, cos):
    import tensorflow as tf
    kind = tf.cast(tf.reshape(kind, [-1]), tf.int32)
    cos = tf.reshape(tf.cast(cos, tf.float32), [-1])
    return tf.cast(tf.equal(kind, GENUINE), tf.float32), cos


def bromley_per_pair(kind, cos):
    """Squared error of cos against +1 (genuine) / -0.9 (any forgery)."""
    import tensorflow as tf
    pos, cos = _split(kind, cos)
    target = pos * BROMLEY_TARGET_GENUINE + (1.0 - pos) * BROMLEY_TARGET_FORGERY
    return tf.square(cos - target)


def seed_answer_per_pair(kind, cos):
    """+cos for a forged pair, -cos for a genuine pair (their sum is the loss)."""
    pos, cos = _split(kind, cos)
    return (1.0 - 2.0 * pos) * cos


def contrastive_per_pair(kind, cos, margin_pos: float = CONTRASTIVE_MARGIN_POS,
                         margin_neg: float = CONTRASTIVE_MARGIN_NEG):
    """Margin contrastive loss on the cosine (see the module docstring)."""
    import tensorflow as tf
    pos, cos = _split(kind, cos)
    pull = tf.square(tf.nn.relu(margin_pos - cos))
    push = tf.square(tf.nn.relu(cos - margin_neg))
    return pos * pull + (1.0 - pos) * push


def bromley(kind, cos):
    import tensorflow as tf
    return tf.reduce_mean(bromley_per_pair(kind, cos))


def seed_answer(kind, cos):
    import tensorflow as tf
    return tf.reduce_mean(seed_answer_per_pair(kind, cos))


def contrastive(kind, cos):
    import tensorflow as tf
    return tf.reduce_mean(contrastive_per_pair(kind, cos))


LOSSES = {"bromley": bromley_per_pair, "seed-answer": seed_answer_per_pair,
          "contrastive": contrastive_per_pair}


def keras_loss(name: str):
    """The loss as a Keras (y_true=kind, y_pred=cos) function.

    It returns one value per pair and lets Keras reduce them: under a
    distribution strategy Keras then divides by the GLOBAL batch size, so the
    replicas' summed gradients equal the single-device gradient.
    """
    try:
        fn = LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})") from None

    def loss(y_true, y_pred):
        return fn(y_true, y_pred)

    loss.__name__ = name.replace("-", "_")
    return loss
