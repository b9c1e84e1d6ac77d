"""What a stored reference holds, and the probe that is compared with it.

A reference is one sealed blob (``edge.templates.pack``): the int8 embedding,
then what the model's decision compares beside it - the int8 DTW sequence
(``edge.dtw``), the float16 global features (``edge.global_features``) and
the model's int8 learned features (``edge.learned_dtw``) - in that order.
``Layout`` is that order, from the decision's score, in one place for
enrolment, verification and adaptation: a probe is measured and quantised
exactly as the references were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_bridge.signature import Signature

from . import dtw, global_features, learned_dtw, scores
from .dtw import DtwConfig
from .global_features import GlobalConfig
from .learned_dtw import LearnedConfig
from .templates import dequantize_many, split


@dataclass(frozen=True)
class Layout:
    dim: int
    dtw: DtwConfig | None = None
    globals: GlobalConfig | None = None
    learned: LearnedConfig | None = None

    @classmethod
    def of(cls, dim: int, score: scores.Score) -> Layout:
        """The references a score needs: its DTW sequences, global and learned features, if any."""
        return cls(dim, score.dtw, score.globals, score.learned)

    @property
    def extra_bytes(self) -> int:
        return ((self.dtw.sequence_bytes if self.dtw else 0) + (self.globals.byte_count if self.globals else 0)
                + (self.learned.sequence_bytes if self.learned else 0))

    def extras(self, sig: Signature, learned: scores.Floats | None = None) -> bytes:
        """The bytes stored after the embedding for ``sig``, whose learned features
        (the model's second output, ``edge.model.Encoding``) are ``learned``."""
        seq = dtw.sequence(sig, self.dtw) if self.dtw else b""
        glob = global_features.pack(global_features.measure(sig, self.globals)) if self.globals else b""
        if self.learned is None:
            return seq + glob
        if learned is None:
            raise ValueError("this decision compares the model's learned features, and none were given")
        return seq + glob + learned_dtw.pack(learned, self.learned)

    def probe(self, embedding: scores.Floats, extras: bytes) -> scores.Probe:
        """The probe of an embedding and its stored extras (``extras``)."""
        seq, glob, learned = self._unpack(extras)
        return scores.Probe(embedding, seq, glob, learned)

    def references(self, blobs: Sequence[bytes], stats: dict[str, Any]) -> scores.References:
        """A user's stored blobs as the scores see them."""
        parts = [split(blob, self.dim, self.extra_bytes) for blob in blobs]
        unpacked = [self._unpack(extras) for _, extras in parts]
        seqs, globs, learned = (_stacked([u[k] for u in unpacked]) for k in range(3))
        return scores.References(dequantize_many([e for e, _ in parts], self.dim), stats, seqs, globs, learned)

    def _unpack(self, extras: bytes) -> tuple[scores.Floats | None, scores.Floats | None, scores.Floats | None]:
        cut = self.dtw.sequence_bytes if self.dtw else 0
        end = cut + (self.globals.byte_count if self.globals else 0)
        seq = dtw.unpack(extras[:cut], self.dtw) if self.dtw else None
        glob = global_features.unpack(extras[cut:end], self.globals) if self.globals else None
        learned = learned_dtw.unpack(extras[end:], self.learned) if self.learned else None
        return seq, glob, learned


def _stacked(rows: list[scores.Floats | None]) -> scores.Floats | None:
    """The references' rows of one kind, stacked; None where the layout stores none."""
    present = [r for r in rows if r is not None]
    return np.stack(present) if present else None
