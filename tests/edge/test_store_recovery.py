"""Recovery an operator can do (issue #23, failure 12): one user's damaged rows are that
user's alone, named with the way out; a damaged anchor is named, told from a rollback,
and rewritten from the sealed ledger with the key. Real SQLite files throughout."""

import os
import shutil
import sqlite3

import pytest

from edge.errors import DamagedAnchor, DamagedUserRows, StoreError, TemplateIntegrityError
from edge.keys import load_keys
from edge.ledger import Anchor
from edge.lockout import LockState
from edge.store import Store
from edge.store_file import repair_anchor

SHA = "a" * 64
TEMPLATES = [bytes([i] * 64) for i in range(1, 6)]
MACS = [bytes([i]) * 32 for i in range(1, 6)]
STATS = {"loo_mean": 0.9, "loo_sd": 0.01, "n": 5}


def enrol(store, user, replace=False):
    store.save_enrolment(user, SHA, TEMPLATES, MACS, STATS, replace=replace)


def sql(store, statement, args=()):
    with sqlite3.connect(store.path) as db:
        db.execute(statement, args)


@pytest.mark.parametrize("damage", [
    "UPDATE users SET failures=3 WHERE user_id='alice'",                  # a counter edited (tag fails)
    "UPDATE users SET next_seq='x' WHERE user_id='alice'",                 # a word where a number goes
    "UPDATE users SET generation=1e300 WHERE user_id='alice'",             # a huge number
    "UPDATE users SET profile=x'00' WHERE user_id='alice'",                # the sealed profile cut
])
def test_a_damaged_user_row_is_that_users_alone_with_the_way_out(store, damage):
    enrol(store, "alice")
    enrol(store, "bob")
    sql(store, damage)
    reads = [lambda: store.lock_state("alice"), lambda: store.history("alice"), lambda: store.unlock("alice")]
    if "profile" in damage:                                        # the templates' own check sees it too
        reads.append(lambda: store.load("alice", SHA))
    for read in reads:
        with pytest.raises(DamagedUserRows) as caught:
            read()
        assert caught.value.user == "alice"
        assert "only 'alice' is affected: re-enrol them (sigpad enroll alice --replace ...)" in str(caught.value)
        assert isinstance(caught.value, TemplateIntegrityError)      # still the integrity refusal
    assert store.load("bob", SHA).templates == TEMPLATES           # the others: untouched
    assert store.lock_state("bob") == LockState() and store.unlock("bob") == LockState()
    enrol(store, "alice", replace=True)                            # the way out
    assert store.load("alice", SHA).templates == TEMPLATES and store.lock_state("alice") == LockState()


def write_anchor(store, text: bytes) -> None:
    store.anchor.path.write_bytes(text)


def test_a_huge_number_in_the_anchor_is_named_and_repaired_with_the_key(store, tmp_path):
    enrol(store, "alice")
    store.close()
    keys = load_keys(tmp_path / "store.key")
    write_anchor(store, b"99999999999999999999\n")              # the issue's: 20 nines, the plain format
    with pytest.raises(DamagedAnchor, match="damaged or the store rolled back.*sigpad repair-anchor"):
        Store(store.path, keys)
    done = repair_anchor(store.path, keys)
    assert (done.was, done.generation) == ("generation 99999999999999999999 (plain format, no HMAC)", 1)
    with Store(store.path, keys) as again:
        assert again.load("alice", SHA).templates == TEMPLATES
        assert again.counters()["anchor_repairs"] == 1
    for junk in (b"garbage\n", b"9" * 200, b"", b"00000000000000000001 " + b"0" * 64 + b"\n"):
        write_anchor(store, junk)                               # unreadable, or a forged HMAC
        with pytest.raises(DamagedAnchor, match="anchor is damaged .*sigpad repair-anchor"):
            Store(store.path, keys)
        assert repair_anchor(store.path, keys).was == "damaged"
        Store(store.path, keys).close()


def test_repair_needs_the_key_and_refuses_to_hide_a_rollback(store, tmp_path):
    enrol(store, "alice")
    store.close()
    keys = load_keys(tmp_path / "store.key")
    copy = tmp_path / "old.db"
    shutil.copy(store.path, copy)
    with Store(store.path, keys) as later:                      # two more generations
        later.unlock("alice")
        enrol(later, "bob")
    assert Anchor(store.path, keys.mac).read().generation == 3
    shutil.copy(copy, store.path)                               # the whole file rolled back
    for leftover in ("-wal", "-shm"):
        store.path.with_name(store.path.name + leftover).unlink(missing_ok=True)
    with pytest.raises(TemplateIntegrityError, match="older than the 3 it reached"):
        Store(store.path, keys)
    with pytest.raises(TemplateIntegrityError, match="rolled back, the anchor is not damaged"):
        repair_anchor(store.path, keys)
    wrong = load_keys(tmp_path / "other.key")
    with pytest.raises(TemplateIntegrityError, match="ledger fails authentication"):
        repair_anchor(store.path, wrong, accept_rollback=True)
    assert repair_anchor(store.path, keys, accept_rollback=True).generation == 1   # restored on purpose
    Store(store.path, keys).close()
    with pytest.raises(StoreError, match="no template store"):
        repair_anchor(tmp_path / "none.db", keys)


def test_an_anchor_in_the_plain_format_is_read_and_rewritten_with_its_hmac(store, tmp_path):
    enrol(store, "alice")
    store.close()
    write_anchor(store, b"%020d\n" % 1)                         # as the code before wrote it
    keys = load_keys(tmp_path / "store.key")
    with Store(store.path, keys) as again:
        assert again.anchor.read().authentic and again.anchor.read().generation == 1
        assert again.load("alice", SHA).templates == TEMPLATES


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_repair_run_as_root_leaves_the_anchor_to_the_stores_owner(store, tmp_path):
    enrol(store, "alice")
    store.close()
    keys = load_keys(tmp_path / "store.key")
    os.chown(store.path, 65534, 65534)                  # the service's user (nobody, here)
    store.anchor.path.unlink()
    repair_anchor(store.path, keys)                     # `sudo sigpad repair-anchor`
    st = os.stat(store.anchor.path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o600)
