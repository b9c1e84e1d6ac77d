"""firmware_bridge <- edge <- trainer, and the edge never needs TensorFlow.

Each check imports every module of a package in a fresh interpreter in which
the forbidden packages cannot be imported at all, so a lazy import hidden in a
module body fails here rather than on a Raspberry Pi.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import importlib, importlib.abc, pkgutil, sys
BLOCKED = set(sys.argv[2].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is forbidden here")
        return None

sys.meta_path.insert(0, Block())
package = importlib.import_module(sys.argv[1])
names = [sys.argv[1]] + [m.name for m in pkgutil.walk_packages(package.__path__, sys.argv[1] + ".")
                         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


@pytest.mark.parametrize("package, blocked", [
    ("firmware_bridge", "tensorflow,keras,edge,trainer,scipy"),
    ("edge", "tensorflow,keras,trainer,scipy"),
])
def test_package_imports_without_forbidden_packages(package, blocked):
    result = subprocess.run([sys.executable, "-c", PROBE, package, blocked],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip()) >= 2  # the package and at least one module


def test_probe_really_blocks():
    # The check above is only worth something if a forbidden import fails.
    # trainer.cli imports firmware_bridge.errors at its top.
    result = subprocess.run([sys.executable, "-c", PROBE, "trainer", "firmware_bridge"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "firmware_bridge is forbidden here" in result.stderr


def test_virtual_pad_signs_synthetic_writers_without_scipy():
    # The demo on a Pi: scipy is not installed there.
    code = PROBE.replace("print(len(names))", (
        "from firmware_bridge.synthetic import make_writer\n"
        "w = make_writer(3)\n"
        "print(len(w.genuine(0)), len(w.forgery(0, rate_hz=200.0)))"))
    result = subprocess.run([sys.executable, "-c", code, "firmware_bridge", "scipy,tensorflow"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    genuine, forgery = map(int, result.stdout.split())
    assert genuine >= 10 and forgery >= 10
