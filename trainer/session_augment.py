"""Augmentation that imitates a new session: the same writer a week later.

SVC2004's second session is harder to verify than the first (docs/training.md,
the session protocol): the writer holds the pen at another angle, slants and
stretches a little differently, writes faster or slower, and the pad's
pressure curve meets another grip. Each training signature (genuine or
forged, teacher and student alike) gets one random such change, on the
preprocessed input (``edge.preprocess``'s channels), so no signature has to
be preprocessed again:

* a rotation of the page, ``ROTATION`` radians at most, and a slant (a
  shear of x by y, ``SLANT`` at most), applied to the positions (x, y) and
  the velocities (vx, vy) alike; the speed follows the new velocities;
* a change of height against width (y scaled by up to ``ASPECT``, log scale);
* another pressure curve, pressure ** gamma with ``log gamma`` up to
  ``PRESSURE_GAMMA`` (the channel is already divided by its own 95th
  percentile, so a level alone would cancel out; a curve does not);
* a faster or slower signature overall: the log-duration channel moved by up
  to ``TEMPO`` (log scale; the velocities are per normalised time and keep).

``strength`` scales every range (0: none). The ranges were fixed before any
run, at about what separates SVC2004's two sessions by eye; they were not
tuned on the folds.
"""

from __future__ import annotations

from edge.preprocess import LOG_DURATION_SCALE, PreprocessConfig

ROTATION = 0.08        # radians (~4.6 degrees)
SLANT = 0.10           # x += slant * y
ASPECT = 0.05          # log of the height's scale
PRESSURE_GAMMA = 0.20  # log of the pressure curve's exponent
TEMPO = 0.10           # log of the duration's scale (~ +-10 %)
CLIP = PreprocessConfig().clip  # what preprocessing clips every channel to: the int8 input's range


def session_change(x, seed, strength: float = 1.0):
    """One random session change per signature of a batch (batch, length, channels)."""
    import tensorflow as tf

    n, channels = tf.shape(x)[0], x.shape[-1]
    seeds = tf.unstack(tf.random.split(seed, 5))

    def draw(i, limit):
        return tf.random.stateless_uniform([n, 1], seeds[i], -limit * strength, limit * strength)

    theta, slant, aspect = draw(0, ROTATION), draw(1, SLANT), tf.exp(draw(2, ASPECT))
    cos, sin = tf.cos(theta), tf.sin(theta)
    # M = rotation @ [[1, slant], [0, aspect]]: one 2x2 map per signature
    m00, m01 = cos, cos * slant - sin * aspect
    m10, m11 = sin, sin * slant + cos * aspect

    def mapped(px, py):
        return m00 * px + m01 * py, m10 * px + m11 * py

    x_, y_ = mapped(x[..., 0], x[..., 1])
    vx, vy = mapped(x[..., 2], x[..., 3])
    cols = [x_, y_, vx, vy, tf.sqrt(vx * vx + vy * vy)]
    rest = x[..., 5:]
    if channels == 8:  # with pressure: x, y, vx, vy, speed, pressure, pen-down, log-duration
        gamma = tf.exp(draw(3, PRESSURE_GAMMA))
        cols.append(tf.pow(tf.maximum(rest[..., 0], 0.0), gamma))
        rest = rest[..., 1:]
    cols.append(rest[..., 0])                                                  # pen-down
    cols.append(rest[..., 1] + draw(4, TEMPO) / LOG_DURATION_SCALE)           # log-duration
    return tf.clip_by_value(tf.stack(cols, axis=-1), -CLIP, CLIP)
