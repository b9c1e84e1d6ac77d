"""No command takes an abbreviated option: ``--thresh`` is not ``--threshold``.

argparse accepts any unambiguous prefix unless told not to, and a prefix that
works today silently changes meaning when a longer option is added. Every
parser in the project is built with ``allow_abbrev=False``; the scan checks it
(and is shown to see a parser without it), the two CLIs show it in use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("firmware_bridge", "edge", "trainer", "bench", "deploy")


def parsers_without_the_flag(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("ArgumentParser", "add_parser"):
            flag = [k for k in node.keywords if k.arg == "allow_abbrev"]
            if not (flag and isinstance(flag[0].value, ast.Constant) and flag[0].value.value is False):
                lines.append(node.lineno)
    return lines


def test_the_scan_sees_a_parser_without_the_flag():
    assert parsers_without_the_flag("import argparse\np = argparse.ArgumentParser(prog='x')") == [2]
    assert parsers_without_the_flag("sub.add_parser('x', allow_abbrev=False)") == []


def test_every_parser_refuses_prefixes():
    offenders = [f"{path.relative_to(ROOT)}:{line}" for package in PACKAGES
                 for path in sorted((ROOT / package).rglob("*.py"))
                 for line in parsers_without_the_flag(path.read_text())]
    assert not offenders, offenders


def test_sigpad_train_refuses_a_prefix(tmp_path, capsys):
    from trainer import cli
    with pytest.raises(SystemExit) as caught:
        cli.main(["synth", "--wri", "2", "--out", str(tmp_path)])
    assert caught.value.code == 2 and "unrecognized arguments: --wri" in capsys.readouterr().err
