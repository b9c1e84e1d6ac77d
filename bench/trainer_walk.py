"""The walk: how often a reader who follows one recipe option changes files.

Issue #19 asks that following one option of the shipped recipe
(``--session-augment``) from the Makefile to the saved model file enters
each trainer room once. This measures it on a real run of ``sigpad-train
fit`` (tiny sizes, a scratch cache, so every step runs and nothing is read
from a cache), traced with ``sys.setprofile``:

* **Reading order.** Every function of the project (trainer/, edge/,
  firmware_bridge/) at its FIRST call, under the project function that
  called it: a reader reads a function once, so loops, folds and towers
  add nothing.
* **The option's path.** A function is on it when an argument carries the
  option: the command line, the parsed options, a ``Recipe`` or
  ``TrainConfig`` with the session augmentation on, a ``session`` /
  ``strength`` argument with its value; or what it shaped: a Keras model,
  the int8 file's bytes, the manifest. The callers of those are on it too
  (the reader passes through them).
* **The walk.** Depth first over that path, starting in the Makefile: a
  call into another file *enters* it; the end of a call that returns into
  the caller's file is a *return*.

Counted: files on the walk; entries (calls into another file); re-entries
(entries into a file read before: the reader goes back to a room);
climbs back a layer (calls into a file already on the call stack: a lower
room calls back into a room above it); returns; entries per trainer room.

    python -m bench.trainer_walk                    # this checkout (fit --recipe shipped-pressure)
    PYTHONPATH=OLD python bench/trainer_walk.py --spelled   # another checkout, the Makefile's options

Not part of ``make bench``: it measures the code, not the model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("trainer", "edge", "firmware_bridge")
AUTOGRAPH = "__autograph_generated_file"
OPTION = "--session-augment"
OPTION_VALUE = 1.0
# Tiny sizes: the same steps as the shipped pressure recipe, in minutes.
TINY_OPTIONS = ["--users", "1-10", "--synthetic", "20", "--synthetic-epochs", "1", "--epochs", "1",
                "--pairs-per-epoch", "64", "--batch-size", "32", "--distill-epochs", "1"]
SPELLED = ["--loss", "contrastive", "--seed", "0", "--synthetic", "2000", "--towers", "3", "--distill-epochs", "16",
           "--label-weight", "5", "--score", "centroid-max-cosine", OPTION, str(OPTION_VALUE),
           "--cv-threshold", "--fuse", "--quiet"]


@dataclass
class Call:
    """One function, at its first call."""

    file: str
    name: str
    children: list[Call] = field(default_factory=list)
    on_path: bool = False

    def kept(self) -> bool:
        return self.on_path or any(c.kept() for c in self.children)


@dataclass
class Walk:
    files: list[str] = field(default_factory=list)   # in the order first entered
    entries: Counter = field(default_factory=Counter)
    re_entries: int = 0
    climbs: int = 0
    returns: int = 0
    moves: list[str] = field(default_factory=list)   # "caller file -> callee file: function"

    def report(self) -> dict:
        rooms = {f: n for f, n in self.entries.items() if f.startswith("trainer/")}
        return {"files": len(self.files), "entries": sum(self.entries.values()), "re_entries": self.re_entries,
                "climbs_back": self.climbs, "returns": self.returns,
                "trainer_rooms": len(rooms), "trainer_rooms_entered_more_than_once":
                {f: n for f, n in sorted(rooms.items()) if n > 1}, "order": self.files, "moves": self.moves}


def walk(root: Call, start: str = "Makefile") -> Walk:
    """The reader's moves over the kept part of the call tree (see the module's docstring)."""
    out = Walk(files=[start])
    seen = {start}

    def visit(call: Call, stack: list[str]) -> None:
        for child in (c for c in call.children if c.kept()):
            moved = child.file != call.file
            if moved:
                out.moves.append(f"{call.file} -> {child.file}: {child.name}")
                out.entries[child.file] += 1
                out.re_entries += child.file in seen
                out.climbs += child.file in stack
                if child.file not in seen:
                    seen.add(child.file)
                    out.files.append(child.file)
            visit(child, stack + [child.file])
            out.returns += moved
    visit(Call(start, "model", [root]), [start])
    return out


class Tracer:
    """Builds the first-call tree of the project's functions and marks the option's path."""

    def __init__(self, checkout: Path):
        self.prefix = str(checkout.resolve()) + "/"
        self.keys: dict[object, tuple[str, str] | None] = {}   # per code object
        self.nodes: dict[tuple[str, str], Call] = {}
        self.root: Call | None = None
        self.orphans = 0   # first called from no project function (another thread): left out

    def key(self, frame) -> tuple[str, str] | None:
        """(file, function) of a project frame, else None. Code that autograph converted
        (tf.data's map functions, Keras' compiled steps) runs from a generated file: it
        counts as the function it was made from; autograph's scaffolding not at all."""
        code = frame.f_code
        if code not in self.keys:
            self.keys[code] = self._key(code, frame.f_globals)
        return self.keys[code]

    def _key(self, code, globals_: dict) -> tuple[str, str] | None:
        filename, name = code.co_filename, code.co_qualname
        if AUTOGRAPH in filename:
            if not code.co_name.startswith("tf__"):
                return None
            filename, name = globals_.get("__file__") or "", code.co_name.removeprefix("tf__")
        if not filename.startswith(self.prefix):
            return None
        rel = filename[len(self.prefix):]
        return (rel, name) if rel.split("/")[0] in PACKAGES else None

    def __call__(self, frame, event, arg):
        if event != "call":
            return
        key = self.key(frame)
        if key is None:
            return
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Call(*key)
            parent = self._caller(frame.f_back)
            if parent is None:
                self.root = self.root or node
                self.orphans += self.root is not node
            else:
                parent.children.append(node)
        if not node.on_path and any(self._carries(k, v) for k, v in frame.f_locals.items()):
            node.on_path = True

    def _caller(self, frame) -> Call | None:
        while frame is not None:
            key = self.key(frame)
            if key in self.nodes:
                return self.nodes[key]
            frame = frame.f_back
        return None

    def _carries(self, name: str, value, depth: int = 0) -> bool:
        kind = type(value).__name__
        if kind == "Namespace":
            return bool(getattr(value, "session_augment", 0))
        if kind == "Recipe":
            return bool(value.train.session_augment)
        if kind == "TrainConfig":
            return bool(value.session_augment)
        if kind in ("Manifest",) or (kind.endswith(("Functional", "Model", "Sequential")) and hasattr(value, "layers")):
            return True
        if isinstance(value, bytes) and value[4:8] == b"TFL3":
            return True
        if ("session" in name or name == "strength") and isinstance(value, float):
            return value == OPTION_VALUE
        if isinstance(value, (list, tuple)) and depth == 0:
            return any((isinstance(v, str) and v == OPTION) or self._carries("", v, 1) for v in value[:64])
        return False


def measure(argv: list[str], checkout: Path) -> dict:
    from trainer import cli

    tracer = Tracer(checkout)
    threading.setprofile(tracer)
    sys.setprofile(tracer)
    try:
        with contextlib.redirect_stdout(sys.stderr):   # the report alone on stdout
            rc = cli.main(argv)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    if rc != 0 or tracer.root is None:
        raise SystemExit(f"fit failed (exit {rc})")
    return walk(tracer.root).report() | {"functions": len(tracer.nodes), "orphans": tracer.orphans}


def shrink_named_recipes() -> None:
    """The named recipes at tiny sizes: the same steps, minutes instead of hours."""
    import dataclasses

    from trainer import recipe

    for name, r in recipe.NAMED.items():
        train = dataclasses.replace(r.train, epochs=1, pairs_per_epoch=64, batch_size=32)
        distill = r.distill and dataclasses.replace(r.distill, epochs=1)
        recipe.NAMED[name] = dataclasses.replace(r, train=train, distill=distill,
                                                 synthetic=min(r.synthetic, 20), synthetic_epochs=1)


def main(argv: list[str] | None = None) -> int:
    from firmware_bridge import svc2004

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--spelled", action="store_true",
                   help="spell the shipped pressure recipe as options (a checkout without fit --recipe)")
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task2/)")
    args = p.parse_args(argv)
    root = (args.data or svc2004.default_data_root()).resolve()
    import trainer
    checkout = Path(trainer.__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        run = ["--out", f"{tmp}/model", "--cache", f"{tmp}/cache", "--threads", "2"]
        if args.spelled:
            fit = ["fit", "--data", str(root / "Task2"), *SPELLED, *run, *TINY_OPTIONS]
        else:
            shrink_named_recipes()
            fit = ["fit", "--recipe", "shipped-pressure", "--data", str(root), "--quiet", *run, "--users", "1-10"]
        report = measure(fit, checkout)
    print(json.dumps({"checkout": str(checkout), "command": fit[:4], **report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
