"""What a stored reference holds, and the probe that is compared with it.

A reference is one sealed blob (``edge.templates.pack``): the int8 embedding,
then what the model's decision compares beside it - the int8 DTW sequence
(``edge.dtw``) and the float16 global features (``edge.global_features``)
- in that order. ``Layout`` is that order, from the decision's score, in one
place for enrolment, verification and adaptation: a probe is measured and
quantised exactly as the references were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_bridge.signature import Signature

from . import dtw, global_features, scores
from .dtw import DtwConfig
from .global_features import GlobalConfig
from .templates import dequantize_many, split


@dataclass(frozen=True)
class Layout:
    dim: int
    dtw: DtwConfig | None = None
    globals: GlobalConfig | None = None

    @classmethod
    def of(cls, dim: int, score: scores.Score) -> Layout:
        """The references a score needs: its DTW sequences and global features, if any."""
        return cls(dim, score.dtw, score.globals)

    @property
    def extra_bytes(self) -> int:
        return (self.dtw.sequence_bytes if self.dtw else 0) + (self.globals.byte_count if self.globals else 0)

    def extras(self, sig: Signature) -> bytes:
        """The bytes stored after the embedding for ``sig``."""
        seq = dtw.sequence(sig, self.dtw) if self.dtw else b""
        return seq + (global_features.pack(global_features.measure(sig, self.globals)) if self.globals else b"")

    def probe(self, embedding: scores.Floats, extras: bytes) -> scores.Probe:
        """The probe of an embedding and its stored extras (``extras``)."""
        seq, glob = self._unpack(extras)
        return scores.Probe(embedding, seq, glob)

    def references(self, blobs: Sequence[bytes], stats: dict[str, Any]) -> scores.References:
        """A user's stored blobs as the scores see them."""
        parts = [split(blob, self.dim, self.extra_bytes) for blob in blobs]
        unpacked = [self._unpack(extras) for _, extras in parts]
        seqs = np.stack([s for s, _ in unpacked if s is not None]) if self.dtw else None
        globs = np.stack([g for _, g in unpacked if g is not None]) if self.globals else None
        return scores.References(dequantize_many([e for e, _ in parts], self.dim), stats, seqs, globs)

    def _unpack(self, extras: bytes) -> tuple[scores.Floats | None, scores.Floats | None]:
        cut = self.dtw.sequence_bytes if self.dtw else 0
        seq = dtw.unpack(extras[:cut], self.dtw) if self.dtw else None
        glob = global_features.unpack(extras[cut:], self.globals) if self.globals else None
        return seq, glob
