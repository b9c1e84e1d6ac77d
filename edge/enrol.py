"""Enrolment: N signatures in, int8 templates and the user's statistics out.

The consistency check asks, for each signature, whether the others would
accept it: its score against the other references (leave-one-out; the
decision's own score when a cosine margin means something for it:
``Score.margin_scale``) must reach ``threshold - margin``. One that does not is an outlier and the
writer is asked to sign it again, as commercial verification SDKs do; the margin keeps
this from failing honest writers whose signatures vary a little. Two
signatures that are copies of each other (same stream, or practically the
same embedding) are refused: they would make a replay look like a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.signature import Signature

from . import scores
from .errors import EnrolmentError
from .layout import Layout
from .replay import stream_mac
from .templates import pack, quantize


@dataclass(frozen=True)
class Enrolment:
    templates: list[bytes]
    stream_macs: list[bytes]
    stats: dict[str, Any]
    consistency: tuple[float, ...] = ()  # each signature's score against the others, as checked
    # The signatures these templates were made from (not stored unless [store] store_raw): a
    # fleet's record carries them, so that a new model can re-derive the templates.
    signatures: tuple[Signature, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:
        ours = ", ".join(f"{v:.3f}" for v in self.consistency)
        return f"<Enrolment {len(self.templates)} templates of {len(self.templates[0])} B, consistency=[{ours}]>"


def build(embeddings: scores.Floats, sigs: list[Signature], mac_key: bytes, count: int,
          min_consistency: float, replay_cosine: float,
          score: scores.Score | None = None, layout: Layout | None = None,
          learned: scores.Floats | None = None) -> Enrolment:
    """Check an enrolment and make its templates, with what the model's decision
    stores beside each (``layout``: the decision's, which ``score`` - the
    consistency check's, ``scores.DEFAULT`` unless given - may not be; by
    default ``score``'s), the model's learned features given one per signature
    (``learned``); raises ``EnrolmentError``."""
    score = scores.get(scores.DEFAULT) if score is None else score
    if len(sigs) < count:
        raise EnrolmentError(f"{len(sigs)} signatures given, enrolment needs {count} "
                             "(the number is [enrol] count, 3 to 12: --count on the command line)")
    templates = [quantize(e) for e in embeddings]
    layout = layout or Layout.of(len(templates[0]) if templates else 0, score)
    blobs = [pack(t, layout.extras(s, None if learned is None else learned[i]))
             for i, (t, s) in enumerate(zip(templates, sigs))]
    stored = layout.references(blobs, {})  # check what will be stored, not the float originals
    refs, seqs, globs = stored.embeddings, stored.sequences, stored.globals
    macs = [stream_mac(mac_key, s) for s in sigs]
    _refuse_copies(refs, macs, replay_cosine)
    stats = scores.reference_stats(refs, seqs, layout.dtw, stored.learned, layout.learned)
    loo = leave_one_out(refs, score, seqs, globs, stored.learned)
    bad = [int(i) for i in np.flatnonzero(loo < min_consistency)]
    if bad:
        which = ", ".join(f"#{i + 1} ({loo[i]:.3f})" for i in bad)
        raise EnrolmentError(f"signature {which} is unlike the others (needs {min_consistency:.3f}): "
                             "sign again", bad)
    return Enrolment(blobs, macs, stats,
                     tuple(round(float(v), 6) for v in loo), tuple(sigs))


def leave_one_out(refs: scores.Floats, score: scores.Score, seqs: scores.Floats | None = None,
                  globs: scores.Floats | None = None, learned: scores.Floats | None = None) -> npt.NDArray[np.float64]:
    """Each reference's score against the others (for mean-cosine: ``user_stats``' "loo")."""
    if len(refs) < 2:
        return np.ones(1)
    out = []
    for i in range(len(refs)):
        rest = np.delete(refs, i, axis=0)
        rest_seqs, rest_globs, rest_learned = (None if a is None else np.delete(a, i, axis=0)
                                               for a in (seqs, globs, learned))
        stats = scores.reference_stats(rest, rest_seqs, score.dtw, rest_learned, score.learned)
        others = scores.References(rest, stats, rest_seqs, rest_globs, rest_learned)
        out.append(score(others, scores.Probe(refs[i], *(None if a is None else a[i] for a in (seqs, globs, learned)))))
    return np.array(out)


def _refuse_copies(refs: scores.Floats, macs: list[bytes], replay_cosine: float) -> None:
    sims = refs @ refs.T
    for i in range(len(refs)):
        for j in range(i + 1, len(refs)):
            if macs[i] == macs[j] or sims[i, j] >= replay_cosine:
                raise EnrolmentError(f"signatures #{i + 1} and #{j + 1} are copies of each other "
                                     "(no one signs the same way twice): sign again", [j])
