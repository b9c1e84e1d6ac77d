"""The encoder tower and the stacking of several towers into one exported model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from trainer.encoder import MAX_EMBEDDING_DIM, build_encoder, stack_towers

SHAPE = (256, 8)


def _inputs(n=4, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (n, *SHAPE)).astype(np.float32)


def test_tower_embeddings_are_unit_vectors_of_the_asked_size():
    emb = build_encoder(SHAPE, dim=12, width=8)(_inputs(), training=False).numpy()
    assert emb.shape == (4, 12)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_stacked_cosine_is_the_mean_of_the_towers_cosines():
    towers = [build_encoder(SHAPE, dim=10, width=8, name=f"t{i}") for i in range(3)]
    a, b = _inputs(seed=1), _inputs(seed=2)
    per_tower = [np.sum(t(a, training=False).numpy() * t(b, training=False).numpy(), axis=1)
                 for t in towers]
    stacked = stack_towers(towers)
    sa, sb = stacked(a, training=False).numpy(), stacked(b, training=False).numpy()
    assert sa.shape == (4, 30)
    # Each part is a unit vector / sqrt(3): norm sqrt(3 * 1/3) = 1.
    np.testing.assert_allclose(np.linalg.norm(sa, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.sum(sa * sb, axis=1), np.mean(per_tower, axis=0), atol=1e-5)


def test_one_tower_is_returned_as_is():
    tower = build_encoder(SHAPE, dim=8, width=8)
    assert stack_towers([tower]) is tower


def test_too_many_dimensions_in_all_are_refused():
    towers = [build_encoder(SHAPE, dim=MAX_EMBEDDING_DIM // 2 + 1, width=8, name=f"t{i}") for i in range(2)]
    with pytest.raises(ValueError, match="above 80"):
        stack_towers(towers)


@pytest.mark.slow
def test_a_saved_encoder_loads_in_a_fresh_process(tmp_path):
    """encoder.keras (what fit writes) must load where no encoder was built first."""
    import subprocess
    import sys
    from pathlib import Path

    enc = build_encoder(SHAPE, dim=8, width=8)
    enc.save(tmp_path / "encoder.keras")
    x = _inputs(2)
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np; from trainer.encoder import load_encoder; "
            "e = load_encoder(sys.argv[1]); np.save(sys.argv[2], e(np.load(sys.argv[3]), training=False).numpy())")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "encoder.keras"), str(tmp_path / "y.npy"),
                          str(tmp_path / "x.npy")], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), enc(x, training=False).numpy(), atol=1e-5)
