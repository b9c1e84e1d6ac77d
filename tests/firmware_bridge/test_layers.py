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


def test_the_byte_layer_does_not_import_the_decoder_layer():
    # A fresh interpreter: what transport pulls in, directly or not, is all there is.
    code = ("import sys, firmware_bridge.transport; "
            "bad = [m for m in ('firmware_bridge.stream', 'firmware_bridge.capture', 'firmware_bridge.pad') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


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
