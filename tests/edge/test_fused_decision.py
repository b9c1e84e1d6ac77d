"""The fused decision on the device: the real int8 model, a real store, SVC2004 signatures.

A copy of the shipped pressure model whose manifest asks for the fused score
with constants set here (not the shipped ones: the test must hold whatever
make model writes), so every reference is stored with its DTW sequence.
"""

import json
import shutil
import sqlite3

import numpy as np
import pytest

from edge import dtw
from edge.errors import ReenrolmentNeeded
from edge.settings import Settings
from edge.templates import dequantize, quantize, split
from edge.verifier import open_verifier
from trainer.evaluation.evaluate import EmbeddingScorer, sequences_of

DTW = {"points": 64, "band": 16, "step": 1 / 32, "pressure": True, "version": 1}
FUSED = {"score": "fused", "threshold": -1.2, "params": {"dtw": DTW, "parts": [
    {"score": "centroid-max-cosine", "mean": 0.8, "sd": 0.1, "weight": 0.3},
    {"score": "dtw", "mean": -1.0, "sd": 0.12, "weight": 0.7}]}}


def copy_with_decision(model_dir, out, decision):
    out = shutil.copytree(model_dir, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["decision"] = decision
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture
def fused_model(model_dir, tmp_path):
    return copy_with_decision(model_dir, tmp_path / "fused", FUSED)


@pytest.fixture
def cosine_model(model_dir, tmp_path):
    return copy_with_decision(model_dir, tmp_path / "cosine", {"score": "centroid-max-cosine", "threshold": 0.7})


def settings(tmp_path, model):
    return Settings(store=tmp_path / "t.db", model=model, lockout_after=0)


def sealed_rows(path):
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT sealed FROM templates")]


def test_references_carry_a_sealed_sequence_and_the_score_is_the_trainers(fused_model, tmp_path, sig):
    refs = [sig(1, s) for s in range(1, 7)]
    with open_verifier(settings(tmp_path, fused_model)) as v:
        v.enrol("alice", refs)
        genuine, forgery = v.verify("alice", sig(1, 8)), v.verify("alice", sig(1, 25))
        embeddings = {k: v.encoder.embed(s) for k, s in enumerate(refs + [sig(1, 8)])}
    # the references as stored (int8 templates), the probe as embedded
    embeddings |= {k: dequantize(quantize(embeddings[k])) for k in range(6)}
    # 64-byte embedding + 64 x 5 int8 sequence, sealed: nonce 12 + tag 16
    rows = sealed_rows(tmp_path / "t.db")
    assert [len(r) for r in rows] == [12 + 64 + 320 + 16] * 6
    cfg = dtw.DtwConfig.from_dict(DTW)
    plain = dtw.sequence(refs[0], cfg)
    assert not any(plain[:32] in r for r in rows)  # the trajectory is not stored in the clear
    # the edge's decision is the trainer's fused score of the same int8 sequences
    trainer = EmbeddingScorer(embeddings, "fused", sequences_of(dict(enumerate(refs + [sig(1, 8)])), cfg),
                              FUSED["params"])
    assert genuine.score_name == "fused"
    assert genuine.score == pytest.approx(trainer.score((0, 1, 2, 3, 4, 5), 6), abs=1e-6)
    assert genuine.score > forgery.score


def test_a_tampered_sequence_is_a_template_integrity_error(fused_model, tmp_path, sig):
    with open_verifier(settings(tmp_path, fused_model)) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
        with sqlite3.connect(v.store.path) as db:  # flip one byte inside the sequence's ciphertext
            db.execute("UPDATE templates SET sealed = substr(sealed, 1, 200) || x'00' || substr(sealed, 202)")
        d = v.verify("alice", sig(1, 8))
    assert (d.accepted, d.reason) == (False, "template-integrity")


def test_enrolled_without_sequences_is_never_judged_on_half_a_reference(cosine_model, fused_model,
                                                                        tmp_path, sig):
    with open_verifier(settings(tmp_path, cosine_model)) as v:  # the cosine decision: embeddings only
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    with open_verifier(settings(tmp_path, fused_model)) as v:  # same model file, fused decision
        d = v.verify("alice", sig(1, 8))
    # The store remembers the manifest each model was enrolled with: another one is refused.
    assert (d.accepted, d.reason) == (False, "error") and "re-enrol" in d.detail
    # And a stored reference without its sequence is a re-enrolment, not a half judgement.
    with pytest.raises(ReenrolmentNeeded, match="DTW sequences"):
        split(bytes(64), 64, 320)


def test_a_pad_without_pressure_cannot_feed_a_pressure_dtw(fused_model, tmp_path, sig):
    from firmware_bridge.signature import Signature
    s = sig(1, 8)
    flat = Signature.create(s.t_ms, s.x, s.y, pen_down=s.pen_down, source="no pressure")
    with open_verifier(settings(tmp_path, fused_model)) as v:
        v.enrol("alice", [sig(1, k) for k in range(1, 7)])
        d = v.verify("alice", flat)
    assert not d.accepted and np.isfinite(d.latency_ms)


GLOBALS = {"pressure": True, "version": 1}
ASPECTS = {"score": "fused", "threshold": -1.2, "params": {"dtw": DTW, "globals": GLOBALS, "parts": [
    *FUSED["params"]["parts"],
    {"score": "timing-deviation", "mean": -0.8, "sd": 0.5, "weight": 0.2},
    {"score": "size-deviation", "mean": -0.8, "sd": 0.5, "weight": 0.0}]}}


def test_global_features_are_sealed_with_each_reference_and_scored_as_the_trainer_scores(model_dir, tmp_path, sig):
    from edge.global_features import GlobalConfig
    from trainer.evaluation.evaluate import globals_of

    model = copy_with_decision(model_dir, tmp_path / "aspects", ASPECTS)
    refs = [sig(1, s) for s in range(1, 7)]
    with open_verifier(settings(tmp_path, model)) as v:
        v.enrol("alice", refs)
        genuine = v.verify("alice", sig(1, 8))
        embeddings = {k: v.encoder.embed(s) for k, s in enumerate(refs + [sig(1, 8)])}
    embeddings |= {k: dequantize(quantize(embeddings[k])) for k in range(6)}
    # 64 + 320 + 9 float16 features (18 bytes), sealed: nonce 12 + tag 16
    assert [len(r) for r in sealed_rows(tmp_path / "t.db")] == [12 + 64 + 320 + 18 + 16] * 6
    signatures = dict(enumerate(refs + [sig(1, 8)]))
    trainer = EmbeddingScorer(embeddings, "fused", sequences_of(signatures, dtw.DtwConfig.from_dict(DTW)),
                              ASPECTS["params"], globals_of(signatures, GlobalConfig.from_dict(GLOBALS)))
    assert genuine.score == pytest.approx(trainer.score((0, 1, 2, 3, 4, 5), 6), abs=1e-6)


def test_a_model_that_stores_global_features_asks_old_enrolments_to_re_enrol(fused_model, model_dir, tmp_path, sig):
    with open_verifier(settings(tmp_path, fused_model)) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    # the same model file, now with aspects: its references must hold 18 more bytes each
    model = copy_with_decision(model_dir, tmp_path / "aspects", ASPECTS)
    blob_len = 64 + 320
    assert len(split(b"\0" * (blob_len + 18), 64, 320 + 18)[1]) == 338
    with open_verifier(settings(tmp_path, model)) as v:
        decision = v.verify("alice", sig(1, 8))
    assert not decision.accepted
    print(decision)
    assert decision.reason in ("reenrolment-needed", "error", "template-integrity")
