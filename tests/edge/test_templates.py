"""Int8 templates: size, round trip, and what the quantization costs in score."""

import numpy as np
import pytest

from edge.errors import ConfigError, TemplateIntegrityError
from edge.scores import score
from edge.templates import SCALE, USER_BYTES, check_user_budget, dequantize, dequantize_many, quantize


def test_known_vector_by_hand():
    v = np.array([0.6, -0.8, 0.0])            # unit
    t = quantize(v)
    # 0.6 * 127 = 76.2 -> 76; -0.8 * 127 = -101.6 -> -102
    assert np.frombuffer(t, np.int8).tolist() == [76, -102, 0]
    back = dequantize(t)
    assert np.linalg.norm(back) == pytest.approx(1.0, abs=1e-6)
    assert back @ v == pytest.approx(1.0, abs=1e-4)
    assert pytest.approx(1 / 127) == SCALE


def test_size_limit_and_bad_values():
    assert len(quantize(np.ones(80) / np.sqrt(80))) == 80
    with pytest.raises(ValueError):
        quantize(np.ones(81) / 9)
    with pytest.raises(ValueError):
        quantize(np.array([np.nan, 1.0]))
    with pytest.raises(TemplateIntegrityError):
        dequantize(bytes(8))
    with pytest.raises(TemplateIntegrityError):
        dequantize(quantize(np.ones(4) / 2), dim=64)


@pytest.mark.data
def test_int8_templates_cost_nothing_in_score(encoder, sig):
    """Scores with int8 references equal float ones to 3 decimals, on real signatures."""
    assert encoder.manifest.embedding_dim <= 80
    worst_vec, worst_score = 1.0, 0.0
    for user in (1, 21):
        refs = encoder.embed_many([sig(user, s) for s in range(1, 7)])
        tests = encoder.embed_many([sig(user, s) for s in (6, 7, 21, 22)])
        q = dequantize_many([quantize(r) for r in refs])
        assert len(quantize(refs[0])) == encoder.manifest.embedding_dim
        worst_vec = min(worst_vec, float(np.min(np.sum(q * refs, axis=1))))
        for t in tests:
            worst_score = max(worst_score, abs(score("mean-cosine", q, t, {}) - score("mean-cosine", refs, t, {})))
    assert worst_vec > 0.999
    assert worst_score < 2e-3


def test_twelve_references_fit_a_user_s_4_kb_only_without_pressure():
    assert USER_BYTES == 4096
    # Without pressure a reference is 64 B of embedding + 64 points x 4 channels = 320 B:
    # 12 of them are 3,840 B, within 4,096.
    check_user_budget(12, 64, 256)
    # With pressure 64 + 64 x 5 = 384 B: 10 are 3,840 B, 11 are 4,224 B and 12 are 4,608 B, over.
    check_user_budget(10, 64, 320)
    for n, total in ((11, "4,224"), (12, "4,608")):
        with pytest.raises(ConfigError, match=f"{n} references of 384 bytes take {total} bytes a user, "
                                              "over the store's 4,096; this model allows at most 10"):
            check_user_budget(n, 64, 320)
