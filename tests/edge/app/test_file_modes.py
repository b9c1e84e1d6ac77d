"""Files of signatures and images are their owner's alone whatever the umask (issue #23,
failure 11): ``sigpad capture --out``, ``sigpad render``, and the store's and key's new
folders, each run as a real command in a subprocess started with umask 000."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from firmware_bridge import recording
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
SIGPAD = [sys.executable, "-m", "edge.app.cli"]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def sigpad(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SIGPAD, *args], env=ENV, umask=0, capture_output=True, text=True, timeout=timeout)


def test_render_writes_0600_under_umask_000(tmp_path):
    rec = recording.write(tmp_path / "s.json", make_writer(3).genuine(0))
    (tmp_path / "old.png").write_bytes(b"an older image")
    os.chmod(tmp_path / "old.png", 0o644)
    for out in ("s.png", "s.svg", "old.png"):                    # new files, and one replaced
        r = sigpad("render", str(rec), "--out", str(tmp_path / out))
        assert r.returncode == 0, r.stderr
        assert mode(tmp_path / out) == 0o600
    assert (tmp_path / "old.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.png", "s.json", "s.png", "s.svg"]  # no temp left


def test_capture_out_writes_0600_under_umask_000(tmp_path):
    out = tmp_path / "sig.json"
    with VirtualPad("sigpad", speed=8.0) as vpad:
        proc = subprocess.Popen([*SIGPAD, "capture", "--port", vpad.path, "--protocol", "sigpad", "--out", str(out),
                                 "--lift-timeout", "0.5"], env=ENV, umask=0, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            vpad.wait_streaming(timeout=60)
            vpad.sign(make_writer(3).genuine(0))
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert mode(out) == 0o600 and recording.read_signature_file(out).has_pressure


def test_the_stores_and_keys_new_folders_are_0700_and_the_files_0600_under_umask_000(tmp_path):
    store, key = tmp_path / "a" / "b" / "templates.db", tmp_path / "k" / "l" / "store.key"
    r = sigpad("init", "--store", str(store), "--key-file", str(key), "--json")
    assert r.returncode == 0, r.stderr
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "k", tmp_path / "k" / "l"):
        assert mode(folder) == 0o700, folder
    assert mode(store) == 0o600 and mode(key) == 0o600
    assert mode(tmp_path) == stat.S_IMODE(tmp_path.stat().st_mode)            # a folder that was there: as it was
    for extra in store.parent.iterdir():                                      # WAL, shared memory, anchor
        assert mode(extra) & 0o077 == 0, extra
