"""Enrolment on the pad with 3 and 12 signatures, and a too-simple one signed again."""

from types import SimpleNamespace

import pytest
from helpers.signatures import circle_signature, cursive_signature

from edge.app.padflow import enrol_from_pad
from edge.settings import Settings


class Source:
    """The pad as the flow sees it: these captures, in order."""

    name = "stub:pad"

    def __init__(self, sigs):
        self.sigs = list(sigs)

    def next(self, timeout_s):
        return self.sigs.pop(0)


class CountingVerifier:
    """Takes any enrolment of ``enrol_count`` signatures: the flow's prompts are under test."""

    def __init__(self, count):
        self.config = Settings(enrol_count=count)
        self.enrolled = None

    def check_enrollable(self, user, replace=False):
        pass

    def enrol(self, user, sigs, replace=False, count_failure=True):
        self.enrolled = list(sigs)
        return SimpleNamespace(templates=[b""] * len(sigs))


@pytest.mark.parametrize("count", [3, 12])
def test_the_pad_asks_for_each_of_count_signatures(count):
    said, v = [], CountingVerifier(count)
    sigs = [cursive_signature(seed=k) for k in range(count)]
    enrol_from_pad(v, Source(sigs), "alice", 1.0, said.append)
    # the kiosk page reads "sign (n/count)" as its progress: 1/3..3/3, 1/12..12/12
    assert said == [f"sign ({n}/{count})" for n in range(1, count + 1)]
    assert v.enrolled == sigs


@pytest.mark.data
def test_a_too_simple_signature_on_the_pad_is_signed_again(make_verifier, sig):
    said = []
    v = make_verifier(enrol_count=3)
    source = Source([sig(1, 1), circle_signature(), sig(1, 3), sig(1, 2)])
    result = enrol_from_pad(v, source, "alice", 1.0, said.append)
    assert len(result.templates) == 3 and source.sigs == []
    assert said[:3] == ["sign (1/3)", "sign (2/3)", "sign (3/3)"]
    assert said[3].startswith("signature #2: too little turning") and said[3].endswith("sign your full signature again")
    assert said[4:] == ["sign again (replacing #2)"]
    assert v.store.counters() == {"enrolments": 1}   # the round that asked again is no failure to enrol
