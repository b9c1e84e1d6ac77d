"""Which models should be active after an install: never a silent mismatch.

Run by install.sh with the target's Python (stdlib only). There is one model
per pad kind, ``pressure`` and ``no_pressure`` (a bundle model's kind is its
directory name; installed, it is ``KIND-SHA12``), and the active ones are the
links ``--active``/pressure and ``--active``/no_pressure. Prints one line
``KIND=NAME`` per kind to activate, then what the admin must know.

A user's templates were made by one model (``users.model_sha256`` in the
store); another model cannot verify them. So, for each kind, when the bundle
brings a model whose sha256 differs from that kind's active one and users are
enrolled with the active one, the active model stays until ``--switch`` is
given, and the output says how many users would need to re-enrol. Reads only
the store's plaintext columns, so it needs no key.

An install from before both kinds were installed has ``--active`` as one link
to one model: that model counts as the active one of its own kind, so the rule
holds across the upgrade, and the other kind has none yet.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

KINDS = ("pressure", "no_pressure")
PADS = {"pressure": "pads with pressure", "no_pressure": "pads without pressure (e.g. Topaz)"}


def model_sha(directory: Path) -> str:
    return json.loads((directory / "manifest.json").read_text())["sha256"]


def kind_of(name: str) -> str:
    """``pressure-0123456789ab`` -> ``pressure``: the bundle directory name."""
    return name.rsplit("-", 1)[0]


def enrolled_shas(db: Path) -> Counter:
    """Users per model sha256 in the store; empty when there is no store yet."""
    if not db.exists():
        return Counter()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT model_sha256, COUNT(*) FROM users GROUP BY model_sha256").fetchall()
    except sqlite3.OperationalError:  # a store from before the users table
        rows = []
    finally:
        con.close()
    return Counter({sha: n for sha, n in rows})


def active_models(active: Path) -> dict[str, str]:
    """Kind -> the installed model name active now (a dangling link counts as none)."""
    if (active / "manifest.json").exists():  # the old layout: one link, one model
        name = active.resolve().name
        return {kind_of(name): name} if kind_of(name) in KINDS else {}
    return {k: (active / k).resolve().name for k in KINDS if (active / k / "manifest.json").exists()}


def choose(models: Path, kind: str, current: str | None, new: str | None, users: Counter,
           switch: bool) -> tuple[str | None, list[str]]:
    """One kind's model to activate, and the notes about it."""
    if new is None or current == new:
        return current or new, []
    if current is None:
        return new, []
    on_current = users.get(model_sha(models / current), 0)
    if on_current and not switch:
        return current, [f"new {kind} model {new} installed but NOT active: {on_current} user(s) are "
                         f"enrolled with {current}, which stays active. To switch (they must then "
                         f"re-enrol): run install.sh again with --switch-model"]
    return new, [f"switched {kind} model {current} -> {new}"] if on_current else []


def decide(models: Path, active: Path, db: Path, new: list[str], switch: bool) -> tuple[dict, list[str]]:
    users = enrolled_shas(db)
    current = active_models(active)
    incoming, notes = {}, []
    for name in new:
        if kind_of(name) in KINDS:
            incoming[kind_of(name)] = name
        else:
            notes.append(f"model {name} installed but not active: its kind is none of {', '.join(KINDS)}")
    chosen = {}
    for kind in KINDS:
        name, more = choose(models, kind, current.get(kind), incoming.get(kind), users, switch)
        notes += more
        if name is None:
            notes.append(f"no {kind} model: {PADS[kind]} are refused until a bundle brings one")
        else:
            chosen[kind] = name
    chosen_shas = {model_sha(models / name) for name in chosen.values()}
    stale = sum(n for sha, n in users.items() if sha not in chosen_shas)
    if stale:
        notes.append(f"{stale} enrolled user(s) have templates from another model than "
                     f"{' or '.join(chosen.values()) or 'any active one'} and must re-enrol "
                     f"(sigpad users lists them; sigpad enroll USER --replace)")
    return chosen, notes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, required=True, help="directory of installed models")
    p.add_argument("--active", type=Path, required=True,
                   help="the active models' directory (links per kind), or an old single-model link")
    p.add_argument("--db", type=Path, required=True, help="the template store")
    p.add_argument("--new", action="append", default=[],
                   help="a bundle model, a directory name in --models (repeat for each)")
    p.add_argument("--switch", action="store_true", help="activate the new models regardless")
    a = p.parse_args(argv)
    try:
        chosen, notes = decide(a.models, a.active, a.db, a.new, a.switch)
    except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
        print(f"model_state: {exc}", file=sys.stderr)
        return 1
    print("\n".join([*(f"{k}={n}" for k, n in chosen.items()), *notes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
