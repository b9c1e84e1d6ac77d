"""``sigpad backup`` / ``sigpad restore``: real store files, a real key, a real verify after the round trip."""

from __future__ import annotations

import json
import shutil
import stat

import pytest

from edge.app.cli import main
from edge.app.config import Config
from edge.verifier import open_verifier
from firmware_bridge.synthetic import make_writer

ALICE, BOB, CAROL = (make_writer(7_000_000_000 + n) for n in (11, 12, 13))


def enrol(cfg: Config, user: str, writer) -> None:
    with open_verifier(cfg) as v:
        v.enrol(user, [writer.genuine(i) for i in range(6)])


def cli(capsys, *argv) -> tuple[int, dict, str]:
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def live(tmp_path, model_dir):
    """A store with alice and bob, as a kiosk has it."""
    cfg = Config(store=tmp_path / "kiosk" / "templates.db", model=model_dir, lockout_after=0)
    enrol(cfg, "alice", ALICE)
    enrol(cfg, "bob", BOB)
    return cfg


def test_round_trip_with_the_key_sealed(tmp_path, live, model_dir, capsys):
    (tmp_path / "pass").write_text("correct horse battery\n")
    with open_verifier(live) as still_open:               # online: the store is open meanwhile
        assert len(still_open.store.users()) == 2
        code, made, _ = cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "b.zip"),
                            "--passphrase-file", str(tmp_path / "pass"))
    assert code == 0 and made["key"] == "wrapped" and made["generation"] >= 2
    assert mode(tmp_path / "b.zip") == 0o600

    new = Config(store=tmp_path / "spare" / "templates.db", model=model_dir, lockout_after=0)
    code, done, _ = cli(capsys, "restore", "--store", str(new.store), str(tmp_path / "b.zip"),
                        "--passphrase-file", str(tmp_path / "pass"))
    assert code == 0 and done["users"] == 2
    key = new.store.parent / "store.key"
    assert key.read_bytes() == (live.store.parent / "store.key").read_bytes() and mode(key) == 0o600
    assert mode(new.store) == 0o600
    with open_verifier(new) as v:
        assert sorted(u.user for u in v.store.users()) == ["alice", "bob"]
        d = v.verify("alice", ALICE.genuine(10))
        assert (d.accepted, d.reason) == (True, "match")
        assert v.verify("bob", ALICE.genuine(11)).accepted is False


def test_without_a_passphrase_the_key_stays_out_and_both_commands_say_so(tmp_path, live, model_dir, capsys):
    code, made, err = cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "b.zip"))
    assert code == 0 and made["key"] == "absent"
    assert "the key is not in the backup" in err and str(live.store.parent / "store.key") in err
    new = tmp_path / "spare" / "templates.db"
    code, done, err = cli(capsys, "restore", "--store", str(new), str(tmp_path / "b.zip"))
    assert code == 0 and done["users"] is None and "holds no key" in err
    assert not (new.parent / "store.key").exists()
    shutil.copy2(live.store.parent / "store.key", new.parent / "store.key")
    with open_verifier(Config(store=new, model=model_dir, lockout_after=0)) as v:
        assert v.verify("bob", BOB.genuine(10)).accepted


def test_a_rollback_is_refused_unless_forced(tmp_path, live, model_dir, capsys):
    """A broken kiosk's store is gone but its anchor is newer than the backup: carol enrolled since."""
    code, made, _ = cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "old.zip"))
    enrol(live, "carol", CAROL)
    for part in ("", "-wal", "-shm"):
        (live.store.parent / f"templates.db{part}").unlink(missing_ok=True)
    code, out, err = cli(capsys, "restore", "--store", str(live.store), str(tmp_path / "old.zip"))
    assert code == 2 and "rollback refused" in out["error"] and f"generation {made['generation']}" in err
    code, done, _ = cli(capsys, "restore", "--store", str(live.store), str(tmp_path / "old.zip"), "--force")
    assert code == 0 and done["users"] == 2
    with open_verifier(live) as v:                         # the anchor follows: the store opens
        assert sorted(u.user for u in v.store.users()) == ["alice", "bob"]


def test_restore_never_overwrites_a_live_store(tmp_path, live, capsys):
    cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "b.zip"))
    code, out, _ = cli(capsys, "restore", "--store", str(live.store), str(tmp_path / "b.zip"))
    assert code == 2 and "exists: restore into a new place" in out["error"]


def test_bad_backups_and_passphrases_are_named(tmp_path, live, capsys):
    (tmp_path / "pass").write_text("correct horse battery\n")
    (tmp_path / "wrong").write_text("incorrect horse\n")
    cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "b.zip"),
        "--passphrase-file", str(tmp_path / "pass"))
    target = str(tmp_path / "new" / "templates.db")
    code, out, _ = cli(capsys, "restore", "--store", target, str(tmp_path / "b.zip"), "--passphrase-file",
                       str(tmp_path / "wrong"))
    assert code == 2 and "wrong passphrase" in out["error"]
    assert not (tmp_path / "new" / "templates.db").exists()    # nothing half restored
    damaged = bytearray((tmp_path / "b.zip").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "d.zip").write_bytes(bytes(damaged))
    code, out, _ = cli(capsys, "restore", "--store", target, str(tmp_path / "d.zip"))
    assert code == 2 and ("damaged" in out["error"] or "not a sigpad backup" in out["error"])
    code, out, _ = cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "b.zip"))
    assert code == 2 and "never overwrites" in out["error"]


def test_a_backup_the_key_in_place_cannot_open_leaves_the_live_store_alone(tmp_path, live, model_dir, capsys):
    """Forced over a kiosk whose key is another one: refused before anything is written
    (it used to replace the live store first, and then find the key did not open it)."""
    cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "b.zip"))
    other = Config(store=tmp_path / "other" / "templates.db", model=model_dir, lockout_after=0)
    enrol(other, "carol", CAROL)                           # its own, new key beside it
    before = other.store.read_bytes()
    code, out, _ = cli(capsys, "restore", "--store", str(other.store), str(tmp_path / "b.zip"), "--force")
    assert code == 2 and "does not open this backup" in out["error"]
    assert other.store.read_bytes() == before
    with open_verifier(other) as v:
        assert [u.user for u in v.store.users()] == ["carol"]


def test_the_rollback_check_reads_the_sealed_generation_not_the_manifest(tmp_path, live, capsys):
    """A manifest edited to claim a newer generation does not get past the rollback check."""
    import zipfile
    cli(capsys, "backup", "--store", str(live.store), str(tmp_path / "old.zip"))
    enrol(live, "carol", CAROL)
    with zipfile.ZipFile(tmp_path / "old.zip") as z:
        parts = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(parts["manifest.json"])
    manifest["generation"] = 10**6
    parts["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "edited.zip", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    for part in ("", "-wal", "-shm"):
        (live.store.parent / f"templates.db{part}").unlink(missing_ok=True)
    code, out, _ = cli(capsys, "restore", "--store", str(live.store), str(tmp_path / "edited.zip"))
    assert code == 2 and "rollback refused" in out["error"]
