"""Learned local features for the device's DTW (the DsDTW line of work).

The encoder's embedding is one vector per signature; the device's DTW
compares hand-made features (x, y, their changes, pressure) sample by sample.
This module learns the second kind: a small time-delay network (the same
Conv1D idea as Bromley's TDNN and ``trainer.encoder``) turns the preprocessed
signature into ``steps`` unit vectors of ``channels`` values, and it is
trained THROUGH the DTW that compares them on the device:

* **the alignment** of two feature sequences is the device's DTW
  (``edge.dtw``: squared Euclidean local cost, Sakoe-Chiba band), found
  in numpy on the current features (``path_mask``);
* **the distance** is the mean local cost along that path. The DTW value is
  a minimum over paths, so its gradient (where the best path is unique) is
  the local costs' gradient along the best path: ``aligned_cosine`` takes the
  path as a constant and lets TensorFlow differentiate the costs on it, which
  is the exact gradient of hard DTW - the "DTW-path loss";
* **the loss** is the encoder's contrastive loss (``trainer.losses``) on the
  mean cosine along the path (unit vectors: cost = 2 - 2 cos): genuine pairs
  pulled above 0.8, skilled and random forgeries pushed below 0.2.

The device then compares the int8 feature sequences with the same DTW as the
raw ones (``edge.feature_scores.LearnedDtw``), in units of the
references' own spread.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.dtw import outside_band

from .data import SigSet
from .recipe import LocalConfig

F32 = npt.NDArray[np.float32]


def build_local_branch(input_shape: tuple[int, int], cfg: LocalConfig, name: str = "local"):
    """Keras model: (batch, length, channels) -> (batch, steps, cfg.channels) unit vectors."""
    import keras
    from keras import layers

    from .encoder import l2_normalize_layer

    length = int(input_shape[0])
    strides = round(np.log2(length / cfg.steps))
    if 2 ** strides * cfg.steps != length or strides < 1:
        raise ValueError(f"{cfg.steps} steps do not divide {length} by a power of two")
    inp = keras.Input(shape=tuple(input_shape), name="signature")
    x, kernels = inp, (7, 5, 5, 5, 3)
    for i in range(strides):
        x = layers.Conv1D(int(cfg.width * (1 + 0.5 * i)), kernels[min(i, 4)], strides=2, padding="same",
                          use_bias=False, name=f"local_conv{i}")(x)
        x = layers.BatchNormalization(name=f"local_bn{i}")(x)
        x = layers.ReLU(name=f"local_relu{i}")(x)
    x = layers.Conv1D(cfg.channels, 1, name="local_project")(x)
    return keras.Model(inp, l2_normalize_layer()(x), name=name)


def accumulated_costs(cost: npt.NDArray[Any], band: int) -> npt.NDArray[np.float64]:
    """(B, n, m) DTW accumulated costs D[i, j] of local costs ``cost``, cells outside
    the band (``band`` 0: none) costing ``edge.dtw.FAR`` more (``edge.dtw.outside_band``);
    the recurrence of ``edge.dtw.distances``."""
    c = np.asarray(cost, dtype=np.float64)
    n, m = c.shape[1:]
    c = c + outside_band(n, m, band)
    D = np.empty_like(c)
    D[:, 0] = np.cumsum(c[:, 0], axis=1)
    for i in range(1, n):
        D[:, i, 0] = D[:, i - 1, 0] + c[:, i, 0]
        diag_or_up = np.minimum(D[:, i - 1, 1:], D[:, i - 1, :-1]) + c[:, i, 1:]
        for j in range(1, m):  # the row's left neighbour: sequential
            D[:, i, j] = np.minimum(diag_or_up[:, j - 1], D[:, i, j - 1] + c[:, i, j])
    return D


def path_mask(cost: npt.NDArray[Any], band: int) -> F32:
    """(B, n, m) 1.0 on the cells of each pair's best DTW path, 0.0 elsewhere.

    Backtracked from the end; a tie goes to the diagonal, then up, then left.
    """
    D = accumulated_costs(cost, band)
    B, n, m = D.shape
    mask = np.zeros((B, n, m), np.float32)
    rows = np.arange(B)
    i, j = np.full(B, n - 1), np.full(B, m - 1)
    mask[rows, i, j] = 1.0
    big = np.inf
    while np.any((i > 0) | (j > 0)):
        diag = np.where((i > 0) & (j > 0), D[rows, np.maximum(i - 1, 0), np.maximum(j - 1, 0)], big)
        up = np.where(i > 0, D[rows, np.maximum(i - 1, 0), j], big)
        left = np.where(j > 0, D[rows, i, np.maximum(j - 1, 0)], big)
        step = np.argmin(np.stack([diag, up, left]), axis=0)   # argmin keeps the first on a tie
        done = (i == 0) & (j == 0)
        i = np.where(done, i, i - (step != 2))
        j = np.where(done, j, j - (step != 1))
        mask[rows, i, j] = 1.0
    return mask


def aligned_cosine(fa, fb, band: int):
    """Mean cosine along the best DTW path of two batches of unit feature sequences (B,)."""
    import tensorflow as tf
    cost = 2.0 - 2.0 * tf.einsum("bnc,bmc->bnm", fa, fb)
    mask = tf.numpy_function(lambda c: path_mask(c, band), [cost], tf.float32, stateful=False)
    mask = tf.stop_gradient(tf.reshape(mask, tf.shape(cost)))
    mean_cost = tf.reduce_sum(mask * cost, axis=[1, 2]) / tf.reduce_sum(mask, axis=[1, 2])
    return 1.0 - 0.5 * mean_cost


def fit_local(data: SigSet, cfg: LocalConfig) -> tuple[Any, list[float]]:
    """The branch trained on pairs of ``data`` through the DTW: (model, loss per epoch)."""
    import keras
    import tensorflow as tf

    from .losses import contrastive
    from .pairs import pair_dataset

    keras.utils.set_random_seed(cfg.seed)
    branch = build_local_branch(data.x.shape[1:], cfg)
    steps = cfg.pairs_per_epoch // cfg.batch_size
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps * cfg.epochs, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function
    def train_step(xa, xb, kind):
        with tf.GradientTape() as tape:
            cos = aligned_cosine(branch(xa, training=True), branch(xb, training=True), cfg.band)
            loss = contrastive(kind, cos)
        grads = tape.gradient(loss, branch.trainable_variables)
        optimizer.apply_gradients(zip(grads, branch.trainable_variables))
        return loss

    ds = pair_dataset(data, steps * cfg.batch_size, cfg.batch_size, cfg.seed, epochs=cfg.epochs)
    losses, total = [], []
    for n, (pair, kind) in enumerate(ds):
        total.append(float(train_step(pair["a"], pair["b"], kind)))
        if (n + 1) % steps == 0:
            losses.append(float(np.mean(total)))
            total = []
    return branch, losses


def local_sequences(branch, x: F32, cfg: LocalConfig) -> F32:
    """Each signature's float feature sequence as a reference stores it (``edge.learned_dtw``)."""
    from edge import learned_dtw
    lcfg = edge_config(cfg)
    return np.stack([learned_dtw.quantized(f, lcfg)
                     for f in branch.predict(x, batch_size=256, verbose=0)]).astype(np.float32)


def local_config(recipe):
    """The recipe's local-feature branch, trained with the recipe's seed."""
    assert recipe.local is not None
    return dataclasses.replace(recipe.local, seed=recipe.train.seed)


def learned_part(recipe, folds: list[dict[str, Any]], folder, cache):
    """What ``trainer.fusion.calibrate`` takes of a recipe's learned features
    (``trainer.fusion.LearnedPart``: their edge settings, each fold's held-out learned-DTW
    scores, its branch trained on the folds' other users, and their weighting), or None
    for a recipe without them."""
    from .fusion import LearnedPart
    if recipe.local is None:
        return None
    cfg = local_config(recipe)
    users = sorted({int(u) for f in folds for u in f["test_users"]})   # the fit's users
    return LearnedPart(edge_config(cfg), [fold_scores(recipe, cfg, f["test_users"], folder, cache, users)
                                          for f in folds], cfg.weighting)


def edge_config(cfg: LocalConfig):
    """What the edge needs of the branch (``edge.learned_dtw.LearnedConfig``)."""
    from edge.learned_dtw import LearnedConfig
    return LearnedConfig(steps=cfg.steps, channels=cfg.channels, band=cfg.band)


def branch_inputs(recipe, cfg: LocalConfig):
    """(the branch's training folders, the preprocessing it sees): the recipe's own, or
    ``cfg.data`` beside the recipe's first folder, without pressure where ``cfg`` ignores it."""
    data = tuple((Path(recipe.data[0]).parent / d).resolve() for d in cfg.data) or tuple(recipe.data)
    prep = recipe.preprocessing if cfg.pressure else dataclasses.replace(recipe.preprocessing, use_pressure=False)
    return data, prep


def branch_channels(recipe, cfg: LocalConfig) -> list[int]:
    """Which of the model's input channels the branch takes, by name (all, or all but pressure)."""
    seen = branch_inputs(recipe, cfg)[1].channels
    return [i for i, name in enumerate(recipe.preprocessing.channels) if name in seen]


def training_set(recipe, cfg: LocalConfig, users) -> SigSet:
    """The branch's training data: the real signatures of its folders (``branch_inputs``;
    no synthetic writers or variants: measured that way, shipped that way)."""
    from .data import load_svc2004
    from .towers import WRITER_OFFSET
    data, prep = branch_inputs(recipe, cfg)
    return SigSet.concat(load_svc2004(d, {int(u) for u in users}, prep, WRITER_OFFSET * k)
                         for k, d in enumerate(data))


def with_branch(encoder, branch, channels: list[int] | None = None, name: str = "encoder"):
    """One Keras model of both: the embedding and the learned features of one input,
    exported as one int8 file with two outputs (the edge tells them apart by rank);
    the branch takes ``channels`` of the input (default: all; ``branch_channels``)."""
    import keras

    from .encoder import select_channels_layer
    inp = keras.Input(shape=encoder.input_shape[1:], name="signature")
    every = list(range(encoder.input_shape[-1]))
    seen = inp if channels is None or list(channels) == every else select_channels_layer(list(channels))(inp)
    return keras.Model(inp, [encoder(inp), branch(seen)], name=name)


def features_of_file(model: bytes, x: np.ndarray) -> F32:
    """The features of ``x`` through a branch's int8 file, on the edge's interpreter."""
    from edge.model import interpreter_class

    cls, _ = interpreter_class()
    interp = cls(model_content=model)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    (si, zi), (so, zo) = inp["quantization"], out["quantization"]
    rows = []
    for one in x:
        interp.set_tensor(inp["index"], np.clip(np.round(one[None] / si) + zi, -128, 127).astype(np.int8))
        interp.invoke()
        rows.append((interp.get_tensor(out["index"])[0].astype(np.float32) - zo) * so)
    return np.stack(rows)


def fold_scores(recipe, cfg: LocalConfig, test_users, folder, cache, train_users=None,
                protocol: str = "random-refs") -> dict:
    """The learned DTW's held-out scores of one user fold under ``protocol`` (the
    evaluation's trials, as for the cosine), through the fold's branch (``fold_branch``);
    cached in the cache's local/ under the folder scored."""
    import json

    test, train = _fold_users(test_users, train_users)
    path = cache.root / "local" / f"{fold_key(recipe, cfg, test, train, folder)}.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    wanted = "genuine" if protocol == "random-refs" else protocol
    if wanted not in stored:  # random-refs scores at the top, as entries have always held them
        model = fold_branch(recipe, cfg, test, cache, train)
        scores = _held_out_scores(model, branch_inputs(recipe, cfg)[1], cfg, test, folder, protocol)
        stored.update(scores if protocol == "random-refs" else {protocol: scores})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
    chosen = stored if protocol == "random-refs" else stored[protocol]
    return {k: {int(u): np.asarray(v, dtype=float) for u, v in chosen[k].items()}
            for k in ("genuine", "skilled", "random")}


def fold_branch(recipe, cfg: LocalConfig, test_users, cache, train_users=None) -> bytes:
    """The int8 file of the branch of the fold that holds out ``test_users``, trained on
    ``train_users`` (default: SVC2004's other users): kept in the cache's local/ under its
    home folder's key (``fold_key``), so a pressure-blind branch IS the pressure-free
    recipe's, with its loss per epoch beside it (``<key>.losses.json``); trained again,
    to the same weights, where an older entry kept only its scores."""
    import json

    from .export import to_int8_tflite
    test, train = _fold_users(test_users, train_users)
    path = cache.root / "local" / f"{fold_key(recipe, cfg, test, train, branch_inputs(recipe, cfg)[0][0])}.tflite"
    if path.exists():
        return path.read_bytes()
    train_set = training_set(recipe, cfg, train)
    branch, losses = fit_local(train_set, cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".losses.json").write_text(json.dumps(losses))
    model = to_int8_tflite(branch, train_set.x)
    path.write_bytes(model)
    return model


def fold_features(recipe, fold: dict, cache):
    """For a recipe with learned features, a function of signatures (a dict) to their features
    through the cached fold's own branch (``fold_branch``; the fold's int8 file has none,
    so the benchmarks that run it add these); None for a recipe without them."""
    if recipe.local is None:
        return None
    cfg = local_config(recipe)
    model = fold_branch(recipe, cfg, fold["test_users"], cache)
    return lambda sigs: held_out_features(model, branch_inputs(recipe, cfg)[1], cfg, sigs)


def _fold_users(test_users, train_users) -> tuple[list[int], list[int]]:
    from .folds import USERS
    test = sorted(int(u) for u in test_users)
    return test, sorted(int(u) for u in (train_users if train_users is not None else USERS) if int(u) not in test)


def fold_key(recipe, cfg: LocalConfig, test: list[int], train: list[int], scored_on) -> str:
    """The cache key of a fold's branch (``scored_on`` its home folder) or of its scores on
    ``scored_on``: the branch's inputs (``branch_inputs``) and training, the fold's users
    (the training users only where not the default: keys made before stand)."""
    import hashlib
    import json

    from .folds import USERS
    data, prep = branch_inputs(recipe, cfg)
    default = [u for u in USERS if u not in test]
    parts = ["int8", str(scored_on), [str(d) for d in data], prep.to_dict(), test, cfg.branch_record()]
    return hashlib.sha256(json.dumps(parts + ([train] if train != default else [])).encode()).hexdigest()[:16]


def held_out_features(model: bytes, prep, cfg: LocalConfig, sigs: dict) -> dict:
    """Each signature's learned features through a fold's int8 branch (``fold_branch``),
    preprocessed as the branch sees them (``branch_inputs``), as the edge stores them."""
    from edge.preprocess import preprocess

    from .evaluation.evaluate import learned_of
    keys = list(sigs)
    features = features_of_file(model, np.stack([preprocess(sigs[k], prep) for k in keys]))
    return learned_of(dict(zip(keys, features)), edge_config(cfg))


def _held_out_scores(model: bytes, prep, cfg: LocalConfig, test_users, folder,
                     protocol: str = "random-refs") -> dict:
    from firmware_bridge import svc2004

    from .evaluation.evaluate import EmbeddingScorer, load_signatures, score_trials
    from .evaluation.trials import trial_plan

    index = {u: f for u, f in svc2004.scan(folder).items() if u in set(test_users)}
    sigs, _ = load_signatures(index)
    lcfg = edge_config(cfg)
    scorer = EmbeddingScorer(None, "learned-dtw", None, {"learned": lcfg.to_dict()},
                             learned=held_out_features(model, prep, cfg, sigs))
    scores = score_trials(trial_plan(index, protocol), scorer)
    return {k: {str(u): [float(s) for s in v] for u, v in scores[k].items()} for k in scores}
