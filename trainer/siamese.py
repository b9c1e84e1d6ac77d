"""The training-only siamese wrapper: one shared encoder, two inputs, a cosine.

Both branches call the SAME encoder object, so they share every weight; the
gradient of the loss with respect to a shared weight is the sum of what each
branch contributes (docs/backprop.md). Nothing of this wrapper is exported.
"""

from __future__ import annotations


def build_siamese(encoder):
    """Keras model: (a, b) signatures -> cosine of their embeddings, shape (batch,)."""
    import keras

    from .cosine import cosine

    shape = encoder.input_shape[1:]
    a = keras.Input(shape=shape, name="a")
    b = keras.Input(shape=shape, name="b")
    # One encoder call on a and b stacked: batch normalisation then sees one
    # batch of all signatures. Two calls would give it a batch of genuine
    # signatures (a) and a batch salted with forgeries (b), statistics the
    # device never has. The weights are shared either way.
    both = keras.layers.Concatenate(axis=0, name="stack")([a, b])
    emb = encoder(both)
    cos = keras.layers.Lambda(lambda e: cosine(*_halves(e)), name="cosine")(emb)
    return keras.Model({"a": a, "b": b}, cos, name="siamese")


def _halves(e):
    import tensorflow as tf
    return tf.split(e, 2, axis=0)
