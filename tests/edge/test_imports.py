"""The device's import footprint: no TensorFlow, no scipy on the enrol/verify/serve path."""

import subprocess
import sys


def test_edge_runtime_imports_neither_tensorflow_nor_scipy():
    code = ("import sys; import edge.verifier, edge.app.cli, edge.app.commands, edge.app.service, "
            "edge.app.padflow; "
            "print(sorted(m for m in ('tensorflow', 'scipy', 'keras', 'trainer') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
