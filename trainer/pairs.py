"""Pair sampling and the tf.data pipeline.

Each epoch draws ``n`` pairs afresh (seeded) in the ratio ``PAIR_RATIO``:
genuine-genuine pairs of one writer, genuine vs a skilled forgery OF that
writer, and genuine vs another writer's genuine (random). Bromley et al.
used 50/40/10. We use 40/30/30: with 50/40/10 the encoder learned mostly
what makes a forgery look forged (slow, hesitant strokes) and too little of
who wrote it, and the random-forgery EER of held-out writers was 8-16 %
(one fold: 11 % at 50/40/10, 5 % at 40/30/30, skilled EER about equal).
Skilled forgeries stay the largest share of negatives: they are the hard
cases the device must reject.

Augmentation (training only, on the preprocessed input): a small random
scale of the whole signature (x, y, velocities and speed together, as if
written 10 % larger or smaller) and Gaussian jitter. Pressure, the pen-down
flag and log-duration are left alone: they are per-writer traits a forger
imitates badly, and the jitter covers their noise.
"""

from __future__ import annotations

import numpy as np

from .data import SigSet
from .losses import GENUINE, RANDOM, SKILLED

PAIR_RATIO = {GENUINE: 0.4, SKILLED: 0.3, RANDOM: 0.3}
AUG_SCALE = 0.1
AUG_NOISE = 0.03
SCALED_CHANNELS = 5  # x, y, vx, vy, speed come first in every preprocessing config


def sample_pairs(data: SigSet, n: int, rng: np.random.Generator,
                 ratio: dict = PAIR_RATIO) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index a, index b, kind) for ``n`` pairs; a is always a genuine signature."""
    gen_by_w: dict[int, list[int]] = {}
    forg_by_w: dict[int, list[int]] = {}
    for i, (w, g) in enumerate(zip(data.writer, data.genuine)):
        (gen_by_w if g else forg_by_w).setdefault(int(w), []).append(i)
    writers = [w for w, v in gen_by_w.items() if len(v) >= 2]
    with_forg = [w for w in writers if forg_by_w.get(w)]
    kinds = rng.choice(list(ratio), size=n, p=np.array(list(ratio.values())) / sum(ratio.values()))
    if not with_forg:  # no skilled forgeries at all: those pairs become random ones
        kinds = np.where(kinds == SKILLED, RANDOM, kinds)
    a, b = np.empty(n, np.int64), np.empty(n, np.int64)
    for k in range(n):
        w = with_forg[rng.integers(len(with_forg))] if kinds[k] == SKILLED else writers[rng.integers(len(writers))]
        i, j = rng.choice(gen_by_w[w], size=2, replace=False)
        a[k] = i
        if kinds[k] == GENUINE:
            b[k] = j
        elif kinds[k] == SKILLED:
            b[k] = forg_by_w[w][rng.integers(len(forg_by_w[w]))]
        else:
            other = writers[rng.integers(len(writers) - 1)]
            other = other if other != w else writers[-1]
            b[k] = gen_by_w[other][rng.integers(len(gen_by_w[other]))]
    return a, b, kinds.astype(np.int32)


def _augment(x, seed, session: float = 0.0):
    """Augment a batch (batch, length, channels) with one scale per signature, and
    with ``session`` > 0 a session change of that strength (``trainer.session_augment``)."""
    import tensorflow as tf
    if session:
        from .session_augment import session_change
        x = session_change(x, tf.random.experimental.stateless_fold_in(seed, 7), session)
    s1, s2 = tf.unstack(tf.random.split(seed, 2))
    n, channels = tf.shape(x)[0], x.shape[-1]
    scale = tf.random.stateless_uniform([n, 1, 1], s1, 1.0 - AUG_SCALE, 1.0 + AUG_SCALE)
    mask = tf.constant([1.0] * SCALED_CHANNELS + [0.0] * (channels - SCALED_CHANNELS))
    x = x * (1.0 + (scale - 1.0) * mask)
    return x + tf.random.stateless_normal(tf.shape(x), s2, stddev=AUG_NOISE)


def pair_dataset(data: SigSet, pairs_per_epoch: int, batch_size: int, seed: int,
                 augment: bool = True, epochs: int = 1, ratio: dict = PAIR_RATIO, session: float = 0.0):
    """A tf.data.Dataset of ({"a", "b"}, kind) batches, ``epochs`` epochs long.

    The pairs are drawn in numpy (cheap index arithmetic); the pipeline
    batches the indices first and gathers and augments whole batches from
    one constant tensor: memory holds each signature once however many pairs
    use it, and per-batch ops cost far less than per-pair ones on a small CPU.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    idx = [sample_pairs(data, pairs_per_epoch, rng, ratio) for _ in range(epochs)]
    a, b, kind = (np.concatenate(v) for v in zip(*idx))
    x = tf.constant(data.x)
    ds = tf.data.Dataset.from_tensor_slices((a, b, kind)).batch(batch_size, drop_remainder=True)
    ds = ds.enumerate().map(lambda step, t: _gather(x, t, step, seed, augment, session),
                            num_parallel_calls=2, deterministic=True)
    return ds.prefetch(2)


def _gather(x, triple, step, seed, augment, session=0.0):
    import tensorflow as tf
    i, j, kind = triple
    xa, xb = tf.gather(x, i), tf.gather(x, j)
    if augment:
        base = tf.stack([tf.cast(seed, tf.int64), step])
        xa = _augment(xa, tf.random.experimental.stateless_fold_in(base, 0), session)
        xb = _augment(xb, tf.random.experimental.stateless_fold_in(base, 1), session)
    return {"a": xa, "b": xb}, kind
