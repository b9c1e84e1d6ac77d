"""Cosine matching of an embedding against a user's reference embeddings.

Embeddings are unit vectors, so the cosine is a dot product. The score of a
test signature is the mean cosine to the references: with 5 references it is
steadier than the maximum, and it is what the manifest's threshold was chosen
for (``score: mean-cosine``).
"""

from __future__ import annotations

import numpy as np


def cosines(refs: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Cosine of ``test`` (dim,) to each row of ``refs`` (n, dim)."""
    refs = np.asarray(refs, dtype=np.float32)
    test = np.asarray(test, dtype=np.float32)
    denom = np.linalg.norm(refs, axis=1) * np.linalg.norm(test)
    return (refs @ test) / np.maximum(denom, 1e-12)


def mean_cosine(refs: np.ndarray, test: np.ndarray) -> float:
    return float(np.mean(cosines(refs, test)))
