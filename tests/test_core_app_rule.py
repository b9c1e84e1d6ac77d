"""Inside the edge: the verifier core never imports its application (``edge.app``).

The same check as tests/test_dependency_rule.py, one level down: a fresh
interpreter in which ``edge.app`` and everything under it cannot be imported
imports every core module, so a core module that reached for the CLI, the
service or the TOML loader (even lazily, in its body) fails here. The control
shows that the blocker catches dotted submodule imports, which is what the
rule needs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# argv: the package to walk, then the comma-separated module prefixes that may not be imported.
PROBE = r"""
import importlib, importlib.abc, pkgutil, sys
package, blocked = sys.argv[1], tuple(sys.argv[2].split(","))

def is_blocked(name):
    return any(name == b or name.startswith(b + ".") for b in blocked)

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if is_blocked(name):
            raise ImportError(f"{name} is forbidden here")
        return None

sys.meta_path.insert(0, Block())
root = importlib.import_module(package)
names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")
                     if not is_blocked(m.name) and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(" ".join(names))
"""


def probe(package: str, blocked: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, package, blocked],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_core_imports_without_the_app():
    result = probe("edge", "edge.app")
    assert result.returncode == 0, result.stderr[-2000:]
    imported = set(result.stdout.split())
    assert {"edge.verifier", "edge.settings", "edge.decision", "edge.store"} <= imported
    assert not any(name.startswith("edge.app") for name in imported)


def test_probe_blocks_dotted_submodules():
    # edge.app.config imports edge.settings at its top: blocking one core
    # module must make importing the app fail, naming that module.
    result = probe("edge.app", "edge.settings")
    assert result.returncode != 0
    assert "edge.settings is forbidden here" in result.stderr
