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
    ea, eb = encoder(a), encoder(b)
    cos = keras.layers.Lambda(lambda t: cosine(t[0], t[1]), name="cosine")([ea, eb])
    return keras.Model({"a": a, "b": b}, cos, name="siamese")
