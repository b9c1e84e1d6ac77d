"""Lockout policy by hand, and through the verifier with a real store and model."""

import pytest

from edge.errors import ConfigError
from edge.lockout import LockoutPolicy, LockState


def test_policy_by_hand():
    p = LockoutPolicy(after=3, duration_s=60)
    s = LockState()
    s = p.update(s, False, now=100)            # 1 failure
    s = p.update(s, False, now=101)            # 2
    assert s == LockState(2, 0.0) and p.remaining_s(s, 101) == 0
    s = p.update(s, False, now=102)            # 3 -> locked until 162
    assert s == LockState(0, 162.0)
    assert p.remaining_s(s, 130) == pytest.approx(32.0)
    assert p.remaining_s(s, 162) == 0
    assert p.update(LockState(2, 0.0), True, now=103) == LockState(0, 0.0)  # accept resets


def test_zero_disables():
    p = LockoutPolicy(after=0)
    s = LockState()
    for k in range(100):
        s = p.update(s, False, now=k)
    assert p.remaining_s(s, 100) == 0 and not p.enabled
    with pytest.raises(ConfigError):
        LockoutPolicy(after=-1)


@pytest.mark.data
def test_lockout_through_the_verifier(make_verifier, sig):
    now = [1000.0]
    v = make_verifier(clock=lambda: now[0], lockout_after=3, lockout_s=60)
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    forgeries = [sig(2, s) for s in (1, 2, 3)]       # another writer: clearly no match
    reasons = [v.verify("alice", f).reason for f in forgeries]
    assert reasons == ["no-match"] * 3
    d = v.verify("alice", sig(1, 8))                   # genuine, but locked
    assert (d.accepted, d.reason, d.score) == (False, "locked-out", None)
    assert "60 s" in d.detail
    assert v.store.lock_state("alice") == LockState(0, 1060.0)   # the refused try did not extend it
    now[0] += 61                                       # the lock ends
    assert v.verify("alice", sig(1, 8)).accepted
    assert v.store.lock_state("alice") == LockState(0, 0.0)


@pytest.mark.data
def test_parallel_forgeries_get_no_more_judgements_than_the_policy(encoder, sig, tmp_path):
    # The issue: 40 forgeries at once against "lock after 5" got up to 9 judged,
    # because the lockout was checked before, not in, the transaction that records.
    import threading

    from edge.keys import load_keys
    from edge.settings import Settings
    from edge.store import Store
    from edge.verifier import Verifier

    class OneAtATime:               # the interpreter is not thread-safe; the store is the point
        def __init__(self, inner):
            self.manifest, self.model_path, self._inner, self._lock = inner.manifest, inner.model_path, inner, \
                threading.Lock()

        def encode(self, s):
            with self._lock:
                return self._inner.encode(s)

    shared = OneAtATime(encoder)
    settings = Settings(lockout_after=5, lockout_s=300)
    path, key = tmp_path / "race.db", tmp_path / "store.key"
    with Verifier(shared, Store(path, load_keys(key)), settings) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    forgeries = [sig(2 + k % 3, 1 + k // 3) for k in range(40)]   # other writers: never a match
    verifiers = [Verifier(shared, Store(path, load_keys(key)), settings) for _ in forgeries]
    start, reasons = threading.Barrier(len(forgeries)), [None] * len(forgeries)

    def attack(k):
        start.wait()
        reasons[k] = verifiers[k].verify("alice", forgeries[k]).reason
    threads = [threading.Thread(target=attack, args=(k,)) for k in range(len(forgeries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for v in verifiers:
        v.close()
    judged = [r for r in reasons if r in ("no-match", "replay", "match")]
    assert len(judged) == 5 and reasons.count("locked-out") == 35, reasons
