"""A teacher that includes DTW: the device's DTW between real signatures, in the cosine's units.

The fused decision (``edge.scores.Fused``) beats the cosine alone because
DTW keeps the order and timing of the strokes that the embedding loses. A
template of embeddings alone is smaller and faster; distillation
(``trainer.distill``) can show the student what DTW sees, if the teacher's
cosine of a pair is moved toward what DTW says of the same pair.

For every pair (i, j) of signatures of the same real training writer
(genuine or forged: a forgery is labelled with the writer it imitates):

    s_ij = -d(i, j) / spread_w      the device's DTW score of one reference
    z_ij = (s_ij - m) / sd          standardised over all genuine pairs
    dtw_ij = mc + sc * z_ij         in the teacher's cosine units, clipped to [-1, 1]

with ``d`` the device's banded DTW on its int8 sequences (``edge.dtw``),
``spread_w`` the mean distance between the writer's genuine signatures (the
device's normalisation, which ``dtw_score`` applies to the references), and
``mc``, ``sc`` the mean and spread of the teacher's cosines of genuine pairs.
The target of a same-writer pair is then ``(1 - a) t_i.t_j + a dtw_ij``
(``mixed_targets``): the fused score's standardise-and-weigh, in cosines.

Pairs of different writers keep the teacher's cosine: DTW between two
people's signatures adds little (the cosine already separates them: random
EER), and would cost n^2 DTWs a batch. Synthetic writers have no stored
sequences; their pairs keep the teacher's cosine too.
"""

from __future__ import annotations

import numpy as np

from edge import dtw
from edge.dtw import DtwConfig

from .recipe import Recipe

NO_GROUP = -1  # a signature without DTW targets (synthetic writers)


def teacher_dtw(recipe: Recipe) -> DtwConfig | None:
    """The device's DTW, where the recipe's distillation teacher includes it (else None):
    the training set then carries each signature's DTW sequence."""
    if not (recipe.distill and recipe.distill.dtw_weight):
        return None
    from .fusion import dtw_config
    return dtw_config(recipe.preprocessing.use_pressure)


def writer_groups(writer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group, position) of each signature: its writer's index and its rank among them."""
    ids, group = np.unique(writer, return_inverse=True)
    pos = np.zeros(len(writer), np.int64)
    for g in range(len(ids)):
        rows = np.flatnonzero(group == g)
        pos[rows] = np.arange(len(rows))
    return group.astype(np.int64), pos


def pair_scores(sequences: np.ndarray, group: np.ndarray, genuine: np.ndarray, band: float) -> np.ndarray:
    """(groups, P, P) DTW scores ``-d_ij / spread_w`` within each writer (P: the largest group;
    cells past a writer's signatures are NaN)."""
    size = int(np.bincount(group).max())
    out = np.full((group.max() + 1, size, size), np.nan)
    for g in range(group.max() + 1):
        rows = np.flatnonzero(group == g)
        d = np.stack([dtw.distances(sequences[r], sequences[rows], band) for r in rows])
        gen = genuine[rows]
        off = ~np.eye(len(rows), dtype=bool)
        spread = d[np.ix_(gen, gen)][off[np.ix_(gen, gen)]]
        out[g, :len(rows), :len(rows)] = -d / max(float(spread.mean()) if spread.size else 1.0, 1e-9)
    return out


def genuine_pair_mask(group: np.ndarray, pos: np.ndarray, genuine: np.ndarray, shape) -> np.ndarray:
    """(groups, P, P) True where both signatures of a writer's pair are genuine (and differ)."""
    mask = np.zeros(shape, bool)
    for g in range(shape[0]):
        p = pos[(group == g) & genuine]
        mask[g][np.ix_(p, p)] = True
        mask[g][p, p] = False
    return mask


def cosine_units(scores: np.ndarray, genuine_pairs: np.ndarray, teacher_mean: float,
                 teacher_sd: float) -> np.ndarray:
    """DTW scores standardised over the genuine pairs, then scaled to the teacher's genuine cosines."""
    ref = scores[genuine_pairs]
    z = (scores - ref.mean()) / max(float(ref.std()), 1e-9)
    return np.clip(teacher_mean + teacher_sd * z, -1.0, 1.0)


def teacher_genuine_stats(embeddings: np.ndarray, group: np.ndarray, genuine: np.ndarray) -> tuple[float, float]:
    """Mean and spread of the teacher's cosines over pairs of one writer's genuine signatures."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cos = e @ e.T
    same = (group[:, None] == group[None, :]) & genuine[:, None] & genuine[None, :]
    np.fill_diagonal(same, False)
    return float(cos[same].mean()), float(cos[same].std())


def dtw_targets(sequences: np.ndarray, writer: np.ndarray, genuine: np.ndarray, teacher_embeddings: np.ndarray,
                band: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, position, table): ``table[g, p, q]`` is DTW's say on the pair (p, q) of writer g, in cosines."""
    group, pos = writer_groups(writer)
    scores = pair_scores(sequences, group, genuine, band)
    mc, sc = teacher_genuine_stats(teacher_embeddings, group, genuine)
    table = cosine_units(scores, genuine_pair_mask(group, pos, genuine, scores.shape), mc, sc)
    return group, pos, np.nan_to_num(table, nan=0.0).astype(np.float32)


def mixed_targets(teacher_cos, group, pos, table, weight: float):
    """The batch's target cosines: the teacher's, moved toward DTW's by ``weight`` on same-writer pairs.

    ``group`` and ``pos`` are the batch rows' (``NO_GROUP`` where a row has no DTW targets).
    """
    import tensorflow as tf
    has = group >= 0
    g = tf.maximum(group, 0)
    rows = tf.gather(tf.gather(table, g), pos, axis=1, batch_dims=1)   # (B, P): row pos_i of g_i's table
    dtw_cos = tf.gather(rows, pos, axis=1)                             # (B, B): [i, j] = table[g_i, pos_i, pos_j]
    same = tf.logical_and(tf.equal(group[:, None], group[None, :]), tf.logical_and(has[:, None], has[None, :]))
    same = tf.logical_and(same, tf.logical_not(tf.eye(tf.shape(group)[0], dtype=tf.bool)))
    return tf.where(same, (1.0 - weight) * teacher_cos + weight * dtw_cos, teacher_cos)
