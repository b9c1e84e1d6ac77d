"""A re-derivation makes each enrolment again as it was made: a user enrolled with 5
signatures (the default before 6) is re-derived from those 5, not refused for a sixth;
never into more than a user's 4 KB, never from fewer than an enrolment's least."""

import pytest

from edge.errors import EnrolmentError
from edge.templates import USER_BYTES
from firmware_bridge import svc2004

pytestmark = pytest.mark.data


def record(sig, numbers):
    return {"user": "alice", "model_sha": "0" * 64,
            "signatures": [svc2004.format_signature(sig(1, s)) for s in numbers]}


def test_a_record_of_five_signatures_is_rederived_at_a_count_of_six(make_verifier, sig):
    from edge.app.fleet.rederive import rederived_record

    v = make_verifier()
    assert v.config.enrol_count == 6
    new = rederived_record(v, record(sig, range(1, 6)))
    assert len(new["templates"]) == 5 and new["rederived_from"] == "0" * 64
    with pytest.raises(EnrolmentError, match="5 signatures given, enrolment needs 6"):
        v.enrol("alice", [sig(1, s) for s in range(1, 6)])     # a new enrolment still needs 6


def test_more_kept_than_fit_are_rederived_from_those_that_fit_and_too_few_are_refused(make_verifier, sig):
    from edge.app.fleet.rederive import rederived_record

    v = make_verifier()
    each = v.dim + v.layout.extra_bytes                          # 658 bytes with the pressure model: 6 fit
    fit = USER_BYTES // each
    new = rederived_record(v, record(sig, range(1, 11)))      # enrolled with 10 under a smaller layout
    assert len(new["templates"]) == fit and fit * each <= USER_BYTES < (fit + 1) * each
    with pytest.raises(EnrolmentError, match="at least 3"):
        rederived_record(v, record(sig, (1, 2)))
