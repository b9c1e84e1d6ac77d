"""The one place decisions are put into words and exit codes."""

from edge.app.report import EXIT_CODES, decision_exit, decision_line, unjudged
from edge.decision import Decision, Reason
from edge.errors import UnknownUser

ACCEPT = Decision("alice", True, 0.91234, 0.747, "match", 1.234, "", "centroid-max-cosine")
REJECT = Decision("alice", False, 0.5, 0.747, "no-match", 2.0, "score 0.500 below threshold 0.747")


def test_cli_sentence():
    assert decision_line(ACCEPT) == "ACCEPTED alice: match, score 0.912 (threshold 0.747), 1.23 ms"
    assert decision_line(REJECT) == ("REJECTED alice: no-match, score 0.500 (threshold 0.747), 2.00 ms"
                                     " - score 0.500 below threshold 0.747")
    locked = Decision("bob", False, None, 0.747, "locked-out", 0.0, "locked for 60 s more")
    assert decision_line(locked) == ("REJECTED bob: locked-out, score - (threshold 0.747), 0.00 ms"
                                     " - locked for 60 s more")


def test_demo_row():
    assert decision_line(ACCEPT, label="genuine") == (
        "genuine          ACCEPTED  score 0.912  threshold 0.747  latency 1.23 ms  (match)")
    assert decision_line(REJECT, label="skilled forgery") == (
        "skilled forgery  REJECTED  score 0.500  threshold 0.747  latency 2.00 ms  (no-match)")


def test_an_accept_that_adapted_says_so():
    import dataclasses
    adapted = dataclasses.replace(ACCEPT, adapted="reference 2 of 5 replaced")
    assert decision_line(adapted) == ("ACCEPTED alice: match, score 0.912 (threshold 0.747), 1.23 ms"
                                      "; reference 2 of 5 replaced")
    assert decision_line(adapted, label="genuine").endswith("(match; reference 2 of 5 replaced)")


def test_a_verify_that_could_not_start():
    fields = unjudged("carol", UnknownUser("'carol' is not enrolled"))
    assert fields == {"user": "carol", "accepted": False, "score": None, "threshold": None,
                      "reason": "unknown-user", "latency_ms": None, "detail": "'carol' is not enrolled"}
    assert decision_line(fields) == "ERROR carol: unknown-user - 'carol' is not enrolled"


def test_an_error_reads_as_one_not_as_a_rejection():
    """The verifier's own decision for an unknown user has a threshold, but no score: nothing was judged."""
    d = Decision("carol", False, None, 0.747, "unknown-user", 0.1, "'carol' is not enrolled")
    assert decision_line(d) == "ERROR carol: unknown-user - 'carol' is not enrolled"
    damaged = Decision("carol", False, None, 0.747, "bad-file", 0.1, "x.TXT:3: not a number")
    assert decision_line(damaged) == "ERROR carol: bad-file - x.TXT:3: not a number"
    assert decision_line(d, label="genuine").startswith("genuine          ERROR  score -")


def test_every_reason_has_an_exit_code():
    reasons = {v for k, v in vars(Reason).items() if k.isupper()}
    assert set(EXIT_CODES) == reasons
    assert decision_exit(ACCEPT) == 0 and decision_exit(REJECT) == 1
    assert decision_exit(Decision("x", False, None, 0.7, Reason.INTEGRITY, 0.0)) == 2


def test_the_docs_table_is_the_codes_table():
    """docs/edge.md repeats report.OUTCOMES row for row; sigpad --help prints it."""
    import re
    from pathlib import Path

    from edge.app.report import OUTCOMES
    text = (Path(__file__).resolve().parents[3] / "docs" / "edge.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| ([012]) \| (.+) \|$", text, re.MULTILINE)
    assert [(reason, int(code), meaning) for reason, code, meaning in rows] == \
        [(reason, code, meaning) for reason, (code, meaning) in OUTCOMES.items()]


def test_a_scored_decision_says_what_pulled_it_down():
    import dataclasses
    down = dataclasses.replace(REJECT, reasons=("timing", "shape"))
    assert decision_line(down) == ("REJECTED alice: no-match, score 0.500 (threshold 0.747), 2.00 ms"
                                   " - score 0.500 below threshold 0.747 (down: timing, shape)")
    assert "down" not in decision_line(REJECT)
