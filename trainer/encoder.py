"""The encoder tower: a small time-delay network, exported alone to int8.

Bromley's TDNN slid learned filters along time; this is the same idea with
what later work found to help, kept int8- and latency-friendly:

* strided 1D convolutions early (256 -> 128 -> 64 -> 32 steps), so the
  expensive layers run on short sequences (training on 2 CPU cores is
  affordable, device latency is well under 1 ms). A stride-4 first layer
  was tried and lost 4-7 EER points on a fold: fine timing matters;
* a dilated last convolution, to widen the receptive field (~90 of 256
  resampled steps, a stroke or two) without more parameters. A fifth,
  wider block (50k parameters instead of 35k) did worse: 24 writers
  overfit a bigger tower;
* batch normalisation (folded into the convolutions by the converter);
* pooling over time: global average and max (what the prototype found to
  generalise better than flattening) PLUS the average of each of 8
  consecutive time spans. Global pooling alone forgets the ORDER of events,
  and order and relative timing are what a skilled forger gets wrong: on two
  held-out folds, 8 spans cut the skilled EER from 43 to 29 % (4 spans: 34)
  and the random EER from 15 to 4 % (all five folds: 27.8 -> 22.9 % real-only,
  22.3 -> 17.2 % with synthetic pretraining);
* a linear projection to ``dim`` (<= 80: an int8 template is then <= 80
  bytes) and ``tf.math.l2_normalize``. Keras' UnitNormalization would convert
  to float ops and the model would not be pure int8 any more.

Only this tower is exported; the siamese pair wrapper (trainer.siamese)
exists only in training.

``stack_towers`` packs several such towers, trained independently (other
seeds), into ONE exported model: each tower's unit embedding, concatenated
and scaled by 1/sqrt(n), is again a unit vector, and the cosine of two such
vectors is the MEAN of the towers' cosines. A seed ensemble then costs the
edge nothing new: one file, one embedding, one cosine - within 80 dimensions
in all, which three useful towers exceed (three 64-d towers: 192). So the
shipped stack is a training-time teacher, distilled into one tower
(trainer.distill; docs/training.md has the narrow-tower stack that fits and
is weaker).
"""

from __future__ import annotations

MAX_EMBEDDING_DIM = 80
# (filters as a multiple of width, kernel, stride, dilation) per block.
BLOCKS = ((1, 7, 2, 1), (1.5, 5, 2, 1), (2, 5, 2, 1), (3, 3, 1, 2))
SEGMENTS = 8


_LAYERS: dict[str, type] = {}  # the custom layer classes, defined once on first use (Keras is imported lazily)


def _custom_layers() -> dict[str, type]:
    """The project's Keras layers by name, defined and registered (for loading) on first use."""
    if not _LAYERS:
        import keras
        import tensorflow as tf

        @keras.saving.register_keras_serializable(package="sigpad")
        class L2Normalize(keras.layers.Layer):
            def call(self, x):
                return tf.math.l2_normalize(x, axis=-1)

        @keras.saving.register_keras_serializable(package="sigpad")
        class SelectChannels(keras.layers.Layer):
            """Some of the last axis's channels, in order (a branch that ignores pressure)."""

            def __init__(self, channels, **kwargs):
                super().__init__(**kwargs)
                self.channels = [int(c) for c in channels]

            def call(self, x):
                return tf.gather(x, self.channels, axis=-1)

            def get_config(self):
                return {**super().get_config(), "channels": self.channels}

        _LAYERS.update(L2Normalize=L2Normalize, SelectChannels=SelectChannels)
    return _LAYERS


def l2_normalize_layer():
    """A Keras layer computing tf.math.l2_normalize on the last axis."""
    return _custom_layers()["L2Normalize"](name="l2_normalize")


def select_channels_layer(channels: list[int]):
    """A Keras layer keeping ``channels`` of the last axis (int8 TFLite: one GATHER)."""
    return _custom_layers()["SelectChannels"](channels, name="select_channels")


def load_encoder(path):
    """A saved encoder (``encoder.keras``), in a process that has not built one yet."""
    import keras
    _custom_layers()  # registers the custom layers, which loading looks up by name
    return keras.models.load_model(path)


def architecture() -> dict:
    """What defines the tower's shape (goes into cache keys and manifests)."""
    return {"blocks": [list(b) for b in BLOCKS], "segments": SEGMENTS}


def build_encoder(input_shape: tuple[int, int], dim: int = 64, width: int = 24,
                  dropout: float = 0.1, name: str = "encoder"):
    """Keras model: (batch, length, channels) float -> (batch, dim) unit vectors."""
    import keras
    from keras import layers

    if not 0 < dim <= MAX_EMBEDDING_DIM:
        raise ValueError(f"embedding dim {dim} outside 1..{MAX_EMBEDDING_DIM}")
    inp = keras.Input(shape=tuple(input_shape), name="signature")
    x = inp
    for i, (m, k, s, d) in enumerate(BLOCKS):
        f = int(width * m)
        x = layers.Conv1D(f, k, strides=s, dilation_rate=d, padding="same", use_bias=False,
                          name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    pools = [layers.GlobalAveragePooling1D(name="avg")(x), layers.GlobalMaxPooling1D(name="max")(x)]
    segments = min(SEGMENTS, x.shape[1])  # tiny test inputs have fewer steps
    if segments > 1:  # order-aware: the mean of each of SEGMENTS consecutive time spans
        seg = layers.AveragePooling1D(x.shape[1] // segments, name="segments")(x)
        pools.append(layers.Flatten(name="segments_flat")(seg))
    pooled = layers.Concatenate(name="pool")(pools)
    pooled = layers.Dropout(dropout, name="dropout")(pooled)
    emb = layers.Dense(dim, name="project")(pooled)
    return keras.Model(inp, l2_normalize_layer()(emb), name=name)


def stack_towers(towers, name: str = "encoder", max_dim: int | None = MAX_EMBEDDING_DIM):
    """One Keras model whose embedding is the towers' unit embeddings, concatenated, / sqrt(n).

    dot(stack(a), stack(b)) = mean over towers of cos(tower(a), tower(b)), and
    the stacked embedding has norm 1, so the edge's cosine needs no change.
    """
    import keras
    from keras import layers

    towers = list(towers)
    if len(towers) == 1:
        return towers[0]
    dim = sum(int(t.output_shape[-1]) for t in towers)
    if max_dim is not None and dim > max_dim:  # None: a teacher that is never exported
        raise ValueError(f"{len(towers)} towers give a {dim}-d embedding, above {max_dim}")
    inp = keras.Input(shape=towers[0].input_shape[1:], name="signature")
    for i, tower in enumerate(towers):
        tower.name = f"tower{i}"  # unique names inside one model
    joined = layers.Concatenate(name="towers")([tower(inp) for tower in towers])
    return keras.Model(inp, layers.Rescaling(len(towers) ** -0.5, name="mean_cosine")(joined), name=name)
