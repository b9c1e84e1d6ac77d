"""The store key: created 0600 once, refused when readable by others, credential first."""

import os
import stat
import subprocess
import sys

import pytest

from edge.errors import StoreError
from edge.keys import CREDENTIAL_NAME, KEY_BYTES, load_keys


def test_created_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "sub" / "store.key"
    a = load_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == KEY_BYTES
    b = load_keys(path)
    assert (a.aead, a.mac) == (b.aead, b.mac) and a.aead != a.mac
    assert "store.key" in repr(a) and a.aead.hex() not in repr(a)
    assert [p.name for p in path.parent.iterdir()] == ["store.key"]  # no temp file left


def test_refuses_a_key_others_can_read(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "store.key"
    load_keys(path)
    os.chmod(path, 0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        load_keys(path)


def test_wrong_length_and_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "store.key"
    path.write_bytes(b"short")
    os.chmod(path, 0o600)
    with pytest.raises(StoreError, match="5 bytes"):
        load_keys(path)
    with pytest.raises(StoreError, match="no key file"):
        load_keys(tmp_path / "absent.key", create=False)


def test_systemd_credential_wins(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / CREDENTIAL_NAME).write_bytes(b"k" * KEY_BYTES)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    keys = load_keys(tmp_path / "never-made.key")
    assert CREDENTIAL_NAME in keys.source
    assert not (tmp_path / "never-made.key").exists()


def test_two_processes_racing_get_one_key(tmp_path):
    path = tmp_path / "store.key"
    code = ("import sys; from edge.keys import load_keys; "
            "print(load_keys(sys.argv[1]).aead.hex())")
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(4)]
    outs = {p.communicate(timeout=30)[0].strip() for p in procs}
    assert len(outs) == 1 and all(p.returncode == 0 for p in procs)
