"""trainer.evaluation stands alone: no TensorFlow, and nothing of the training side.

The same probe as tests/test_dependency_rule.py: every module imported in a
fresh interpreter in which tensorflow and keras cannot be imported at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_dependency_rule import PROBE  # tests/ is on sys.path: pytest imports tests/conftest.py from it

ROOT = Path(__file__).resolve().parents[3]
# What else the wing pulled in of the trainer: only trainer itself (its __init__) and the
# progress display, a leaf that imports nothing of the trainer (checked below), may be there.
SHARED_LEAVES = ("trainer.progress",)
OTHERS = ("print(sorted(m for m in sys.modules if m.startswith('trainer.')"
          f" and not m.startswith('trainer.evaluation') and m not in {SHARED_LEAVES!r}))")
LEAF = "import sys, trainer.progress; print(sorted(m for m in sys.modules if m.startswith('trainer.')))"


def test_every_evaluation_module_imports_without_tensorflow_or_training_code():
    result = subprocess.run([sys.executable, "-c", PROBE + OTHERS, "trainer.evaluation", "tensorflow,keras"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    count, others = result.stdout.strip().splitlines()
    assert int(count) >= 6  # the package and its five modules
    assert others == "[]"


def test_the_shared_progress_display_imports_nothing_of_the_trainer():
    result = subprocess.run([sys.executable, "-c", LEAF], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['trainer.progress']"
