"""A re-derivation makes each enrolment again as it was made: a user enrolled with 5
signatures (the default before 6) is re-derived from those 5, not refused for a sixth."""

import pytest

from edge.errors import EnrolmentError
from firmware_bridge import svc2004

pytestmark = pytest.mark.data


def test_a_record_of_five_signatures_is_rederived_at_a_count_of_six(make_verifier, sig):
    from edge.app.fleet.rederive import rederived_record

    v = make_verifier()
    assert v.config.enrol_count == 6
    texts = [svc2004.format_signature(sig(1, s)) for s in range(1, 6)]
    plain = {"user": "alice", "model_sha": "0" * 64, "signatures": texts}
    record = rederived_record(v, plain)
    assert len(record["templates"]) == 5 and record["rederived_from"] == "0" * 64
    with pytest.raises(EnrolmentError, match="5 signatures given, enrolment needs 6"):
        v.enrol("alice", [sig(1, s) for s in range(1, 6)])     # a new enrolment still needs 6
