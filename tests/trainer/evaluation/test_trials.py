from pathlib import Path

import pytest

from firmware_bridge.svc2004 import UserFiles
from trainer.evaluation.trials import make_trials, parse_users


def users(spec: dict[int, tuple[range, range]]) -> dict[int, UserFiles]:
    return {u: UserFiles(u, {s: Path(f"U{u}S{s}") for s in g}, {s: Path(f"U{u}S{s}") for s in f})
            for u, (g, f) in spec.items()}


FULL = (range(1, 21), range(21, 41))


def test_trial_contents():
    trials = make_trials(users({1: FULL, 2: FULL, 3: FULL}), trials=3, refs=5, ref_pool=10, seed=7)
    assert len(trials) == 9
    for tr in trials:
        refs = {s for _, s in tr.refs}
        assert len(refs) == 5 and refs <= set(range(1, 11))
        assert {s for _, s in tr.genuine} == set(range(1, 21)) - refs  # 15 genuine tests
        assert [s for _, s in tr.skilled] == list(range(21, 41))
        assert sorted(u for u, _ in tr.random) == sorted({1, 2, 3} - {tr.user})
        assert all(1 <= s <= 20 for _, s in tr.random)


def test_seeded_and_independent_of_other_users():
    a = make_trials(users({1: FULL, 2: FULL}), trials=4, seed=3)
    b = make_trials(users({1: FULL, 2: FULL}), trials=4, seed=3)
    c = make_trials(users({1: FULL, 2: FULL}), trials=4, seed=4)
    d = make_trials(users({1: FULL, 2: FULL, 5: FULL}), trials=4, seed=3)
    assert a == b
    assert [t.refs for t in a] != [t.refs for t in c]
    assert [t.refs for t in a if t.user == 1] == [t.refs for t in d if t.user == 1]
    assert len({t.refs for t in a if t.user == 1}) > 1  # trials differ from each other


def test_missing_files_are_handled():
    few = users({1: (range(1, 5), range(21, 23)), 2: (range(3, 13), range(21, 21)), 3: FULL})
    trials = make_trials(few, trials=2, refs=5, ref_pool=10)
    # user 1 has only 4 genuine in the pool: cannot be enrolled, still a random impostor
    assert {t.user for t in trials} == {2, 3}
    t2 = next(t for t in trials if t.user == 2)
    assert {s for _, s in t2.refs} <= set(range(3, 11)) and t2.skilled == ()
    assert len(t2.genuine) == 5
    assert {u for u, _ in t2.random} == {1, 3}


def test_parse_users():
    assert parse_users("1-3,7") == {1, 2, 3, 7}
    assert parse_users(None) is None and parse_users("") is None
    with pytest.raises(ValueError, match="bad user range '5-2'"):
        parse_users("5-2")
    with pytest.raises(ValueError, match="bad user range 'a'"):
        parse_users("a")


def test_session_trials_enrol_in_the_first_session_and_test_in_the_second():
    from trainer.evaluation.trials import make_session_trials
    trials = make_session_trials(users({1: FULL, 2: FULL, 3: (range(1, 11), range(21, 41))}))
    assert [tr.user for tr in trials] == [1, 2]  # user 3 has no second session: cannot be tested
    for tr in trials:
        assert [s for _, s in tr.refs] == [1, 2, 3, 4, 5]
        assert [s for _, s in tr.genuine] == list(range(11, 21))  # never S6-S10: same session as refs
        assert [s for _, s in tr.skilled] == list(range(21, 41))
        assert sorted(u for u, _ in tr.random) == sorted({1, 2, 3} - {tr.user})


def test_session_trials_enrol_as_many_as_asked_from_the_first_session_only():
    from trainer.evaluation.trials import make_session_trials
    sessions = {1: FULL, 2: ([1, 2, 3, 4, 5, 7, *range(11, 21)], range(21, 41))}   # user 2 lacks S6
    six = make_session_trials(users(sessions), refs=6)
    assert [tr.user for tr in six] == [1]                 # user 2 cannot enrol S1-S6
    assert [s for _, s in six[0].refs] == [1, 2, 3, 4, 5, 6]
    assert [s for _, s in six[0].genuine] == list(range(11, 21))
    for wrong in (0, 11):                                  # none, or past the first session
        with pytest.raises(ValueError, match="S1-S10"):
            make_session_trials(users(sessions), refs=wrong)
