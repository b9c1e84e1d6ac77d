"""The Decision value."""

import pytest

from edge.decision import Decision


def test_decision_is_a_readable_value():
    d = Decision("alice", False, 0.61234, 0.8, "no-match", 0.42, "score 0.612 below threshold 0.800")
    assert repr(d) == ("<Decision alice REJECT no-match score=0.612 vs 0.800 0.42ms "
                       "score 0.612 below threshold 0.800>")
    assert d.to_dict()["score"] == 0.61234 and d.to_dict()["accepted"] is False
    with pytest.raises(AttributeError):
        d.accepted = True  # frozen
