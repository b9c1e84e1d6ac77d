"""Int8 templates: a unit embedding in at most 80 bytes, and back.

Where the decision also uses DTW (``edge.scores``: ``dtw``, ``fused``), the
reference's int8 DTW sequence (``edge.dtw.sequence``) follows the embedding
in the same blob, so the store seals and binds both as one (``pack`` and
``split``).

Every component of a unit vector lies in [-1, 1], so one fixed scale of
1/127 fits all of them and needs no per-template parameters: a 64-d template
is exactly 64 bytes. The rounding error is at most 1/254 per component; the
cosine against the float embedding stays above 0.999 for the shipped
embedding size (tests/edge/test_templates.py measures it), and the model's
own int8 output already has a coarser step (1/128).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .errors import ConfigError, ReenrolmentNeeded, TemplateIntegrityError

SCALE = 1.0 / 127.0
MAX_DIM = 80
USER_BYTES = 4096
"""What a user's references may take in the store (the device target, docs/results.md)."""


def quantize(embedding: npt.ArrayLike) -> bytes:
    """Int8 bytes of a unit embedding (dim <= 80)."""
    v = np.asarray(embedding, dtype=np.float32).ravel()
    if not 0 < len(v) <= MAX_DIM:
        raise ValueError(f"embedding of {len(v)} values; templates hold 1..{MAX_DIM}")
    if not np.all(np.isfinite(v)):
        raise ValueError("embedding has non-finite values")
    return np.clip(np.round(v / SCALE), -127, 127).astype(np.int8).tobytes()


def dequantize(template: bytes, dim: int | None = None) -> npt.NDArray[np.float32]:
    """The float32 unit vector of an int8 template (renormalised)."""
    if dim is not None and len(template) != dim:
        raise TemplateIntegrityError(f"template of {len(template)} bytes, the model embeds in {dim}")
    v = np.frombuffer(template, dtype=np.int8).astype(np.float32) * SCALE
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise TemplateIntegrityError("template is all zeros")
    return v / norm


def dequantize_many(templates: Iterable[bytes], dim: int | None = None) -> npt.NDArray[np.float32]:
    return np.stack([dequantize(t, dim) for t in templates])


def pack(template: bytes, sequence: bytes = b"") -> bytes:
    """One stored blob: the int8 embedding, then the int8 DTW sequence (if any)."""
    return bytes(template) + bytes(sequence)


def split(blob: bytes, dim: int, sequence_bytes: int = 0) -> tuple[bytes, bytes]:
    """(embedding template, what is stored beside it: DTW sequence, global and learned
    features, ``edge.layout``) of a stored blob; its length must be the model's."""
    if len(blob) == dim + sequence_bytes:
        return blob[:dim], blob[dim:]
    if sequence_bytes and len(blob) == dim:
        raise ReenrolmentNeeded("enrolled without the DTW sequences and features this model's decision "
                                "compares: re-enrol")
    raise TemplateIntegrityError(f"template of {len(blob)} bytes, the model stores {dim} + {sequence_bytes}")


def references_that_fit(dim: int, sequence_bytes: int = 0) -> int:
    """How many references of ``dim + sequence_bytes`` bytes a user's ``USER_BYTES`` hold."""
    return USER_BYTES // (dim + sequence_bytes)


def check_user_budget(count: int, dim: int, sequence_bytes: int = 0, what: str = "[enrol] count") -> None:
    """``ConfigError`` when ``count`` references of ``dim + sequence_bytes`` bytes would
    take more than ``USER_BYTES`` a user: at 658 bytes (the pressure model's, with its learned
    features) 6 fit; at 590 (the pressure-free model's) 6; at 402 (a pressure model without them) 10."""
    each, most = dim + sequence_bytes, references_that_fit(dim, sequence_bytes)
    if count > most:
        raise ConfigError(f"{what} {count}: {count} references of {each} bytes take "
                          f"{count * each:,} bytes a user, over the store's {USER_BYTES:,}; "
                          f"this model allows at most {most}")


def embeddings_of(blobs: list[bytes], dim: int, extra_bytes: int = 0) -> npt.NDArray[np.float32] | None:
    """The dequantized embeddings of stored references (``pack``ed with ``extra_bytes``
    after the embedding: ``edge.layout``); None for none."""
    if not blobs:
        return None
    return dequantize_many([split(b, dim, extra_bytes)[0] for b in blobs], dim)
