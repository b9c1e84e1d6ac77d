"""Seams inside firmware_bridge: the byte layer stays below the decoders, and
protocols are asked what they have, never what they are called."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge.protocols import PROTOCOLS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("firmware_bridge", "edge", "trainer", "bench", "deploy")
PROTOCOL_MODULES = ROOT / "firmware_bridge" / "protocols"

BYTE_LAYER = ("firmware_bridge.errors", "firmware_bridge.line", "firmware_bridge.port_access",
              "firmware_bridge.stats", "firmware_bridge.transport")
"""Every module of the byte layer: serial lines, ports, counters, the bridge's errors."""
DECODER_LAYER = ("firmware_bridge.protocols", "firmware_bridge.stream", "firmware_bridge.capture",
                 "firmware_bridge.pad")
PACKAGE_INIT = ("firmware_bridge", "firmware_bridge.signature")
"""What ``import firmware_bridge`` itself loads (the ``Signature`` value), below every layer."""

BLOCKED_IMPORT = r"""
import importlib, importlib.abc, sys
BLOCKED = sys.argv[2].split(",")

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is forbidden here")
        return None

sys.meta_path.insert(0, Block())
importlib.import_module(sys.argv[1])
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] == "firmware_bridge")))
"""


def import_alone(module: str, blocked: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Import ``module`` in a fresh interpreter in which ``blocked`` cannot be imported."""
    return subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, module, ",".join(blocked)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", BYTE_LAYER)
def test_each_byte_layer_module_imports_without_the_decoders(module):
    # A fresh interpreter per module: what it pulls in, directly or not, is all there is.
    result = import_alone(module, DECODER_LAYER)
    assert result.returncode == 0, result.stderr[-2000:]
    # And it loads nothing of the bridge outside the byte layer, so the list above
    # is closed: a new module the transport needs has to join it, and is checked.
    loaded = set(result.stdout.split())
    assert module in loaded
    assert loaded <= set(BYTE_LAYER) | set(PACKAGE_INIT), loaded - set(BYTE_LAYER)


def test_the_blocker_bites():
    # The check above is only worth something if a decoder import fails there:
    # ports (not in the byte layer) imports the protocols to name a port's pad.
    result = import_alone("firmware_bridge.ports", DECODER_LAYER)
    assert result.returncode != 0
    assert "firmware_bridge.protocols" in result.stderr and "is forbidden here" in result.stderr


def _names_a_protocol(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in PROTOCOLS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_a_protocol(e) for e in node.elts)
    return False


def _is_a_protocols_name(node: ast.AST) -> bool:
    """``protocol.name``, ``self.protocol.name``, ``pad.protocol.name``, ..."""
    return (isinstance(node, ast.Attribute) and node.attr == "name"
            and "protocol" in ast.unparse(node.value).lower())


def branches_on_protocol_names(source: str) -> list[int]:
    """Lines that compare with a protocol's name, or match on one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_a_protocol(o) or _is_a_protocols_name(o) for o in operands):
                lines.append(node.lineno)
        elif isinstance(node, ast.MatchValue) and _names_a_protocol(node.value):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("source", [
    "if self.protocol.name == 'sigpad':\n    pass",
    "ok = protocol.name != 'isdv4'",
    "speed = 4.0 if args.protocol == 'sigpad' else 1.0",
    "clock = name in ('sigpad', 'topaz')",
    "match kind:\n    case 'topaz':\n        pass",
])
def test_the_scan_finds_a_branch_on_a_name(source):
    # The scan below is only worth something if it sees the code it forbids.
    assert branches_on_protocol_names(source)


def test_no_module_outside_the_protocols_branches_on_a_protocols_name():
    # What a pad can do (clock, heartbeat, version, query) is on its Protocol
    # record; a branch on the name would go stale when a protocol is added.
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if PROTOCOL_MODULES in path.parents:
                continue
            for line in branches_on_protocol_names(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert not offenders, offenders
