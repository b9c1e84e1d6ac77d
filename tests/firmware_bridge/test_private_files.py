"""The one helper for files of signatures: 0600 files, 0700 new folders, whatever the umask
(issue #23). The umask is the process's, so each case runs in a subprocess started with 000."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge.private_files import write_private

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

UNDER_UMASK_000 = """
import json, os, stat, sys
from pathlib import Path
from firmware_bridge import recording, svc2004
from firmware_bridge.private_files import create_private_file, make_private_dirs, write_private
from firmware_bridge.synthetic import make_writer
top = Path(sys.argv[1])
mode = lambda p: stat.S_IMODE(os.lstat(p).st_mode)
sig = make_writer(3).genuine(0)
make_private_dirs(top / "x" / "y" / "z")
recording.write(top / "x" / "rec.json", sig)
svc2004.write(sig, top / "x" / "U1S1.TXT")
write_private(top / "x" / "img.png", b"png")
created = create_private_file(top / "x" / "new.db"), create_private_file(top / "x" / "new.db")
open(top / "plain", "w").close()                      # what a bare open() makes under this umask
print(json.dumps({"modes": {str(p.relative_to(top)): mode(p) for p in sorted(top.rglob("*"))}, "created": created}))
"""


def test_files_0600_and_new_folders_0700_under_umask_000(tmp_path):
    r = subprocess.run([sys.executable, "-c", UNDER_UMASK_000, str(tmp_path)], env=ENV, umask=0,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    modes = out["modes"]
    assert modes.pop("plain") == 0o666                 # the control: the umask really was 000
    assert modes == {"x": 0o700, "x/y": 0o700, "x/y/z": 0o700, "x/rec.json": 0o600, "x/U1S1.TXT": 0o600,
                     "x/img.png": 0o600, "x/new.db": 0o600}
    assert out["created"] == [True, False]             # the second time something is there: left alone


def test_a_folder_that_exists_is_left_as_it_is(tmp_path):
    from firmware_bridge.private_files import make_private_dirs
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    make_private_dirs(shared / "mine")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755 and stat.S_IMODE((shared / "mine").stat().st_mode) == 0o700


def test_an_old_file_or_a_link_at_the_name_is_replaced_not_written_through(tmp_path):
    old = tmp_path / "old.json"
    old.write_text("old")
    os.chmod(old, 0o644)
    write_private(old, b"new")
    assert old.read_bytes() == b"new" and stat.S_IMODE(old.stat().st_mode) == 0o600
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    write_private(link, b"image")
    assert target.read_text() == "keep" and not link.is_symlink() and link.read_bytes() == b"image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link.png", "old.json"]   # no temp left


def test_a_missing_folder_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_private(tmp_path / "no" / "such.png", b"x")
    assert list(tmp_path.iterdir()) == []
