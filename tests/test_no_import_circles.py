"""No import circles: no module of ``edge``, ``firmware_bridge`` or ``trainer``
reaches itself again by following its imports.

The graph is read from the source (``ast``), not from a running interpreter,
so every import counts wherever it stands: at the top, inside a function
(a lazy import is still a dependency, and a circle through one only waits
for the day the function runs first), or under ``if TYPE_CHECKING:``.
``from package import name`` is an edge to ``package.name`` when that is a
module, else to ``package`` itself. A package's ``__init__`` is a module
like the others; importing a submodule does not count as importing its
package (every module would otherwise depend on its ``__init__``).

A circle is reported as the modules on it, so the message says where to cut.
The controls show that the finder sees a circle through a function-level
import and a ``from . import`` of a sibling.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware_bridge", "edge", "trainer")



def modules_of(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Module name -> its file, for every ``.py`` under the packages."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _base(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name a (relative) ``from`` import starts from."""
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The known modules that ``module`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node.level, node.module)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                out.add(child if child in known else base)
    return {name for name in out if name in known and name != module}


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    files = modules_of(root, packages)
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def path_around(graph: dict[str, set[str]], component: list[str]) -> str:
    """One way round a circle, ``a -> b -> a``, for the message."""
    members, start = set(component), component[0]
    trail, seen, here = [start], {start}, start
    while True:
        nxt = sorted(graph[here] & members)
        back = [n for n in nxt if n == start]
        if back and len(trail) > 1:
            return " -> ".join(trail + [start])
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return " -> ".join(trail + [nxt[0]]) if nxt else " -> ".join(trail)
        here = fresh[0]
        trail.append(here)
        seen.add(here)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(graph, package):
    mine = [c for c in circles(graph) if c[0].split(".")[0] == package]
    assert not mine, "import circles:\n" + "\n".join(path_around(graph, c) for c in mine)


def test_the_graph_sees_every_package_and_the_app(graph):
    assert {"edge.app.service", "edge.client", "firmware_bridge.transport", "trainer.cli"} <= set(graph)
    assert "edge.app.hub" in graph["edge.app.service"]          # a top-level relative import
    assert "edge.app.web" in graph["edge.app.service"]          # one inside a function


# --- controls: the finder bites ---------------------------------------------------------------

def _package(root: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return import_graph(root, ("pkg",))


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    g = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from .b import thing\n",
        "pkg/b.py": "def thing():\n    from pkg.a import other\n    return other\n",
        "pkg/c.py": "import pkg.a\n",
    })
    assert circles(g) == [["pkg.a", "pkg.b"]]
    assert path_around(g, ["pkg.a", "pkg.b"]) == "pkg.a -> pkg.b -> pkg.a"


def test_a_circle_through_from_dot_import_of_a_sibling_is_found(tmp_path):
    g = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from . import x\n",
        "pkg/sub/x.py": "from ..y import f\n",
        "pkg/y.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import x\n",
    })
    assert g["pkg.sub"] == {"pkg.sub.x"} and g["pkg.sub.x"] == {"pkg.y"}
    assert circles(g) == [["pkg.sub.x", "pkg.y"]]


def test_no_circle_no_report(tmp_path):
    g = _package(tmp_path, {"pkg/__init__.py": "from .a import f\n", "pkg/a.py": "import os\n"})
    assert circles(g) == []
