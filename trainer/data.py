"""Training data as arrays: every signature preprocessed once, with its labels.

A ``SigSet`` holds ``x`` (n, length, channels) float32 - the output of the one
preprocessing function ``edge.preprocess.preprocess``, so training sees
exactly what the device computes - and per signature the writer id and
whether it is genuine (False: a skilled forgery OF that writer). Pair
sampling (trainer.pairs) only needs these three arrays.

Writer ids are made unique across sources by an offset, so Task1 user 3 and
Task2 user 3 (different people) never form a genuine pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.dtw import DtwConfig, quantized
from edge.preprocess import PreprocessConfig, preprocess
from firmware_bridge import svc2004
from firmware_bridge.errors import DataFormatError, SignatureError
from firmware_bridge.signature import Signature


@dataclass
class SigSet:
    x: np.ndarray        # (n, length, channels) float32
    writer: np.ndarray   # (n,) int64
    genuine: np.ndarray  # (n,) bool
    sequences: np.ndarray | None = None  # (n, points, channels) the device's DTW sequences, where asked for

    def __len__(self) -> int:
        return len(self.writer)

    @staticmethod
    def concat(sets: Iterable[SigSet]) -> SigSet:
        sets = [s for s in sets if len(s)]
        # Sequences only where every part has them: a set half with and half without is no use.
        seqs = None if any(s.sequences is None for s in sets) else np.concatenate([s.sequences for s in sets])
        return SigSet(np.concatenate([s.x for s in sets]), np.concatenate([s.writer for s in sets]),
                      np.concatenate([s.genuine for s in sets]), seqs)


def load_svc2004(folder: str | Path, users: set[int] | None, config: PreprocessConfig,
                 writer_offset: int = 0, dtw: DtwConfig | None = None) -> SigSet:
    """Every readable signature of the chosen users of one SVC2004 folder
    (with ``dtw``, also each one's DTW sequence as the device stores it)."""
    index = svc2004.scan(folder)
    xs, writers, genuine, seqs = [], [], [], []
    for u, files in index.items():
        if users is not None and u not in users:
            continue
        for is_gen, paths in ((True, files.genuine), (False, files.forgeries)):
            for path in paths.values():
                try:
                    sig = svc2004.read(path)
                    xs.append(preprocess(sig, config))
                except (DataFormatError, SignatureError):
                    continue  # the evaluation harness skips the same files
                if dtw is not None:
                    seqs.append(quantized(sig, dtw))
                writers.append(u + writer_offset)
                genuine.append(is_gen)
    if not xs:
        raise DataFormatError("no usable signatures for the chosen users", str(folder))
    return SigSet(np.stack(xs), np.array(writers, np.int64), np.array(genuine, bool),
                  np.stack(seqs).astype(np.float32) if dtw is not None else None)


def from_signatures(items: Iterable[tuple[int, bool, Signature]], config: PreprocessConfig) -> SigSet:
    """A SigSet from (writer, genuine, Signature) triples (synthetic writers)."""
    xs, writers, genuine = [], [], []
    for w, g, sig in items:
        try:
            xs.append(preprocess(sig, config))
        except SignatureError:
            continue
        writers.append(w)
        genuine.append(g)
    return SigSet(np.stack(xs), np.array(writers, np.int64), np.array(genuine, bool))


def load_sigcomp2009(config: PreprocessConfig, writer_offset: int, archive: Path | None = None) -> SigSet:
    """SigComp2009's online training set: each author's genuine signatures and the
    skilled forgeries of them by 31 forgers, read from its archive in place."""
    from firmware_bridge import sigcomp2009
    path = archive or sigcomp2009.default_archive()
    skipped: list[str] = []  # unusable files are left out, as the SVC2004 loader does
    items = ((writer_offset + ids.author, ids.genuine, sig)
             for ids, sig in sigcomp2009.read_archive(path, skipped))
    return from_signatures(items, config)
