"""The shipped models under edge/models/ agree with their manifests and run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from edge import scores
from edge.model import MODELS_DIR, Encoder, shipped_model_dir

MANIFESTS = sorted(MODELS_DIR.glob("*/manifest.json"))
MAX_BYTES = 150 * 1024  # issue #20's limit (the pressure-free model's second output made it 112 KB)
MAX_TEMPLATE_BYTES = 80
MAX_USER_BYTES = 4096  # all a user's references, embeddings and DTW sequences together


def test_both_pad_kinds_have_a_model():
    assert shipped_model_dir(True) / "manifest.json" in MANIFESTS
    assert shipped_model_dir(False) / "manifest.json" in MANIFESTS


@pytest.mark.parametrize("manifest_path", MANIFESTS, ids=lambda p: p.parent.name)
def test_manifest_matches_file(manifest_path: Path):
    data = json.loads(manifest_path.read_text())
    model = manifest_path.parent / data["model_file"]
    content = model.read_bytes()
    assert hashlib.sha256(content).hexdigest() == data["sha256"]
    assert len(content) <= MAX_BYTES
    dim = data["embedding_dim"]
    assert dim <= MAX_TEMPLATE_BYTES  # one int8 reference embedding = dim bytes
    assert data["quantization"] == "full-int8"
    decision = data["decision"]
    score = scores.get(decision["score"]).configured(decision.get("params"))
    if score.on_cosine_scale:
        assert -1.0 < decision["threshold"] < 1.0
    assert np.isfinite(decision["threshold"])
    per_reference = dim + (score.dtw.sequence_bytes if score.dtw else 0)
    assert 5 * per_reference <= MAX_USER_BYTES
    assert data["preprocessing"]["use_pressure"] == (manifest_path.parent.name == "pressure")
    assert data["training"]["users"] == "1-30" and "seed" in data["training"]
    assert "metrics" in data and data["threshold_chosen_on"]


@pytest.mark.data
@pytest.mark.parametrize("manifest_path", MANIFESTS, ids=lambda p: p.parent.name)
def test_shipped_model_runs_on_a_real_signature(manifest_path: Path, svc2004_root):
    from firmware_bridge import svc2004

    enc = Encoder(manifest_path.parent)
    task = "Task2" if enc.preprocessing.use_pressure else "Task1"
    sigs = [svc2004.read(svc2004_root / task / f"U1S{s}.TXT") for s in (1, 2, 21)]
    emb = enc.embed_many(sigs)
    assert emb.shape == (3, enc.manifest.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(enc.embed(sigs[0]), emb[0], atol=1e-6)


@pytest.mark.parametrize("manifest_path", MANIFESTS, ids=lambda p: p.parent.name)
def test_shipped_decision_is_the_fused_one_learnt_on_the_folds(manifest_path: Path):
    data = json.loads(manifest_path.read_text())
    score = scores.get(data["decision"]["score"]).configured(data["decision"].get("params"))
    assert score.name == "fused" and [p.score.name for p in score.parts][1] == "dtw"
    assert score.dtw.pressure == (manifest_path.parent.name == "pressure")
    assert sum(p.weight for p in score.parts) == pytest.approx(1.0)
    assert "fused scores of 5 user folds" in data["threshold_chosen_on"]
