"""The SQLite + AES-GCM store: round trip, tampering, wrong key, model change,
a crash mid-enrolment, and two processes at once. Real files throughout."""

import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from edge.errors import ConfigError, EnrolmentError, ReenrolmentNeeded, TemplateIntegrityError, UnknownUser
from edge.keys import load_keys
from edge.store import Store, check_user_id

SHA = "a" * 64
TEMPLATES = [bytes([i] * 64) for i in range(1, 6)]
MACS = [bytes([i]) * 32 for i in range(1, 6)]
STATS = {"loo_mean": 0.9, "loo_sd": 0.01, "n": 5}


def enrol(store, user="alice", templates=TEMPLATES, **kw):
    store.save_enrolment(user, SHA, templates, MACS, STATS, **kw)


def test_round_trip_and_listing(store):
    enrol(store)
    enrol(store, "bob")
    got = store.load("alice", SHA)
    assert got.templates == TEMPLATES and got.stream_macs == MACS
    assert got.profile["loo_mean"] == 0.9
    assert [(u.user, u.templates) for u in store.users()] == [("alice", 5), ("bob", 5)]
    assert store.delete("alice") and not store.delete("alice")
    with pytest.raises(UnknownUser, match="not enrolled"):
        store.load("alice", SHA)


def test_templates_are_encrypted_and_no_raw_signature_by_default(store):
    enrol(store)
    store.close()
    blob = store.path.read_bytes() + store.path.with_name(store.path.name + "-wal").read_bytes() \
        if store.path.with_name(store.path.name + "-wal").exists() else store.path.read_bytes()
    assert TEMPLATES[2] not in blob
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM raw_signatures").fetchone() == (0,)
        sealed = db.execute("SELECT sealed FROM templates").fetchone()[0]
    assert len(sealed) == 12 + 64 + 16  # nonce + int8 template + GCM tag


def test_raw_signatures_only_when_asked(store):
    enrol(store, raw=["1\n1 2 3 0 0 0 5\n"] * 5)
    assert store.raw_signatures("alice")[0].startswith("1\n")


def test_re_enrol_needs_replace(store):
    enrol(store)
    with pytest.raises(EnrolmentError, match="--replace"):
        enrol(store)
    enrol(store, templates=[bytes([9] * 64)] * 5, replace=True)
    assert store.load("alice", SHA).templates[0] == bytes([9] * 64)


def _sql(store, statement, args=()):
    with sqlite3.connect(store.path) as db:
        db.execute(statement, args)


def test_tampered_template_row(store):
    enrol(store)
    with sqlite3.connect(store.path) as db:
        sealed = bytearray(db.execute("SELECT sealed FROM templates LIMIT 1").fetchone()[0])
    sealed[20] ^= 1
    _sql(store, "UPDATE templates SET sealed=? WHERE rowid=(SELECT MIN(rowid) FROM templates)",
         (bytes(sealed),))
    with pytest.raises(TemplateIntegrityError, match="fails authentication"):
        store.load("alice", SHA)


def test_row_moved_to_another_user(store):
    enrol(store)
    enrol(store, "bob", templates=[bytes([7] * 64)] * 5)
    # Give bob alice's sealed templates: they decrypt only for alice.
    _sql(store, "DELETE FROM templates WHERE user_id='bob'")
    _sql(store, "UPDATE templates SET user_id='bob'")
    with pytest.raises(TemplateIntegrityError):
        store.load("bob", SHA)


def test_deleted_template_row(store):
    enrol(store)
    _sql(store, "DELETE FROM templates WHERE rowid=(SELECT MIN(rowid) FROM templates)")
    with pytest.raises(TemplateIntegrityError, match="added or removed"):
        store.load("alice", SHA)


def test_model_change_needs_reenrolment_and_the_column_cannot_be_forged(store):
    enrol(store)
    with pytest.raises(ReenrolmentNeeded, match="re-enrolment needed"):
        store.load("alice", "b" * 64)
    _sql(store, "UPDATE users SET model_sha256=?", ("b" * 64,))
    with pytest.raises(TemplateIntegrityError):
        store.load("alice", "b" * 64)


def test_wrong_key(store, tmp_path):
    enrol(store)
    store.close()
    with pytest.raises(TemplateIntegrityError, match="wrong key"):
        Store(store.path, load_keys(tmp_path / "other.key"))


def test_garbage_database_file(tmp_path):
    from edge.errors import StoreError
    path = tmp_path / "templates.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        Store(path, load_keys(tmp_path / "store.key"))


def test_user_ids():
    assert check_user_id("alice.b-2@x") == "alice.b-2@x"
    for bad in ("", "-x", "a b", "a\n", "x" * 65, "é"):
        with pytest.raises(ConfigError):
            check_user_id(bad)


CRASH = textwrap.dedent("""
    import os, sys
    from edge.keys import load_keys
    from edge.store import Store
    store = Store(sys.argv[1], load_keys(sys.argv[2]))
    calls = []
    def crash_on_third(*args):
        calls.append(1)
        if len(calls) == 3:
            os._exit(9)            # power cut: no rollback, no close
        original(*args)
    original = store._insert_template
    store._insert_template = crash_on_third
    store.save_enrolment("alice", "a" * 64, [bytes([9] * 64)] * 5, [b"m" * 32] * 5, {}, replace=True)
""")


def test_crash_mid_enrolment_keeps_the_previous_one(store, tmp_path):
    enrol(store)
    store.close()
    r = subprocess.run([sys.executable, "-c", CRASH, str(store.path), str(tmp_path / "store.key")],
                       timeout=60)
    assert r.returncode == 9
    again = Store(store.path, load_keys(tmp_path / "store.key"))
    assert again.load("alice", SHA).templates == TEMPLATES
    again.close()


WORKER = textwrap.dedent("""
    import sys
    from edge.keys import load_keys
    from edge.lockout import LockoutPolicy
    from edge.store import Store
    store = Store(sys.argv[1], load_keys(sys.argv[2]))
    name = sys.argv[3]
    policy = LockoutPolicy(after=1000)
    for k in range(30):
        store.save_enrolment(f"{name}{k % 3}", "a" * 64, [bytes([k % 100 + 1] * 64)] * 5,
                             [bytes([k % 200]) * 32] * 5, {}, replace=True)
        store.record_attempt("shared", "a" * 64, b"m" * 32, bytes(64), False,
                             lambda st: policy.update(st, False, 0.0), history=100)
        assert len(store.load(f"{name}{k % 3}", "a" * 64).templates) == 5
    print("ok")
""")


def test_two_processes_share_one_store(store, tmp_path):
    enrol(store, "shared")
    store.close()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(store.path),
                               str(tmp_path / "store.key"), name], stdout=subprocess.PIPE, text=True)
             for name in ("p", "q")]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert outs == ["ok\n", "ok\n"]
    again = Store(store.path, load_keys(tmp_path / "store.key"))
    # 30 failures from each process, counted together (no lost update)
    assert again.lock_state("shared").failures == 60
    assert len(again.recent_attempts("shared", SHA)) == 60
    assert len(again.users()) == 7
    again.close()
