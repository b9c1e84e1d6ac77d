"""``sigpad-train synth``: SVC2004 files any reader can load, a preview, clear errors."""

import subprocess
import sys

from firmware_bridge import svc2004
from trainer import cli


def test_writes_a_loadable_dataset_and_a_preview(tmp_path, capsys):
    out, png = tmp_path / "synth", tmp_path / "preview.png"
    assert cli.main(["synth", "--writers", "2", "--out", str(out), "--seed", "5", "--plot", str(png)]) == 0
    users = svc2004.scan(out)
    assert sorted(users) == [1, 2]
    assert all(len(u.genuine) == 20 and len(u.forgeries) == 20 for u in users.values())
    assert svc2004.read(users[2].forgeries[40]).has_pressure
    assert png.stat().st_size > 10_000
    assert "80 files" in capsys.readouterr().out


def test_same_seed_same_files(tmp_path):
    for name in ("a", "b"):
        assert cli.main(["synth", "--writers", "1", "--out", str(tmp_path / name), "--rate", "200"]) == 0
    assert (tmp_path / "a" / "U1S7.TXT").read_bytes() == (tmp_path / "b" / "U1S7.TXT").read_bytes()


def test_bad_options_exit_2(tmp_path, capsys):
    assert cli.main(["synth", "--writers", "0", "--out", str(tmp_path)]) == 2
    assert "--writers" in capsys.readouterr().err
    assert cli.main(["synth", "--writers", "1", "--out", str(tmp_path), "--rate", "0"]) == 2


def test_does_not_import_tensorflow():
    code = "import sys, trainer.synth_command; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
