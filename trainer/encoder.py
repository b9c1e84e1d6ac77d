"""The encoder tower: a small time-delay network, exported alone to int8.

Bromley's TDNN slid learned filters along time; this is the same idea with
what later work found to help, kept int8- and latency-friendly:

* strided 1D convolutions early (256 -> 64 -> 32 steps), so the expensive
  layers run on short sequences (training on 2 CPU cores is affordable, and
  device latency is well under 1 ms);
* dilated convolutions after that (dilation 2, then 4), to widen the
  receptive field to ~100 of 256 resampled steps (a stroke or two) without
  more parameters or more steps;
* batch normalisation (folded into the convolutions by the converter);
* global average + max pooling over time instead of flattening: the prototype
  found it generalises better across writers, and it keeps the head small;
* a linear projection to ``dim`` (<= 80: an int8 template is then <= 80
  bytes) and ``tf.math.l2_normalize``. Keras' UnitNormalization would convert
  to float ops and the model would not be pure int8 any more.

Only this tower is exported; the siamese pair wrapper (trainer.siamese)
exists only in training.
"""

from __future__ import annotations

MAX_EMBEDDING_DIM = 80


def l2_normalize_layer():
    """A Keras layer computing tf.math.l2_normalize on the last axis."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="sigpad")
    class L2Normalize(keras.layers.Layer):
        def call(self, x):
            return tf.math.l2_normalize(x, axis=-1)

    return L2Normalize(name="l2_normalize")


def build_encoder(input_shape: tuple[int, int], dim: int = 64, width: int = 24,
                  dropout: float = 0.1, name: str = "encoder"):
    """Keras model: (batch, length, channels) float -> (batch, dim) unit vectors."""
    import keras
    from keras import layers

    if not 0 < dim <= MAX_EMBEDDING_DIM:
        raise ValueError(f"embedding dim {dim} outside 1..{MAX_EMBEDDING_DIM}")
    inp = keras.Input(shape=tuple(input_shape), name="signature")
    x = inp
    # (filters, kernel, stride, dilation) per block.
    for i, (f, k, s, d) in enumerate([(width, 8, 4, 1), (width * 2, 5, 2, 1),
                                      (width * 3, 3, 1, 2), (width * 4, 3, 1, 4)]):
        x = layers.Conv1D(f, k, strides=s, dilation_rate=d, padding="same", use_bias=False,
                          name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    pooled = layers.Concatenate(name="pool")([layers.GlobalAveragePooling1D(name="avg")(x),
                                              layers.GlobalMaxPooling1D(name="max")(x)])
    pooled = layers.Dropout(dropout, name="dropout")(pooled)
    emb = layers.Dense(dim, name="project")(pooled)
    return keras.Model(inp, l2_normalize_layer()(emb), name=name)
