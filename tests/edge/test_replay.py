"""The replay rule by hand: re-sent streams and near-identical embeddings."""

import numpy as np

from edge.replay import check
from edge.store import Attempt
from edge.templates import dequantize, quantize

REFS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])       # two enrolled templates (exact in int8)
ENROL_MACS = [b"enrol-0", b"enrol-1"]
LIMIT = 0.995


def attempt(mac: bytes, vector) -> Attempt:
    return Attempt(mac, quantize(np.array(vector)), accepted=False)


def test_a_new_signature_is_no_replay():
    # cosines 0.6 and 0.8 to the templates, 0 to the attempt on the third axis
    assert check(b"new", np.array([0.6, 0.8, 0.0]), REFS, ENROL_MACS,
                 [attempt(b"old", [0.0, 0.0, 1.0])], LIMIT) is None


def test_a_re_sent_stream_is_a_replay():
    test = np.array([0.6, 0.8, 0.0])
    for mac, attempts in ((b"enrol-1", []), (b"old", [attempt(b"old", [0.0, 0.0, 1.0])])):
        assert check(mac, test, REFS, ENROL_MACS, attempts, LIMIT) == (
            "byte-identical to an earlier signature: replayed stream")


def test_a_near_copy_of_a_template_or_an_attempt_is_a_replay():
    # (1, 0, 0) is the first template itself: cosine 1
    assert "cosine 1.0000" in check(b"new", np.array([1.0, 0.0, 0.0]), REFS, ENROL_MACS, [], LIMIT)
    # an earlier attempt on the third axis, compared as stored (int8): cosine 1 again
    near = check(b"new", dequantize(quantize(np.array([0.0, 0.0, 1.0]))), REFS, ENROL_MACS,
                 [attempt(b"old", [0.0, 0.0, 1.0])], LIMIT)
    assert near == "embedding practically identical (cosine 1.0000) to an earlier signature: replay"
    # cos(45 degrees) = 0.7071 to both templates: under the limit
    assert check(b"new", np.array([1.0, 1.0, 0.0]) / np.sqrt(2), REFS, ENROL_MACS, [], LIMIT) is None
