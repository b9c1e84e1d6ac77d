"""Which model should be active after an install: never a silent mismatch.

Run by install.sh with the target's Python (stdlib only). Prints the model
directory name to activate on the first line, then what the admin must know.

A user's templates were made by one model (``users.model_sha256`` in the
store); another model cannot verify them. So when the bundle brings a model
whose sha256 differs from the active one and users are enrolled with the
active one, the active model stays until ``--switch`` is given, and the
output says how many users would need to re-enrol. Reads only the store's
plaintext columns, so it needs no key.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path


def model_sha(directory: Path) -> str:
    return json.loads((directory / "manifest.json").read_text())["sha256"]


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


def decide(models: Path, active_link: Path, db: Path, new: str, switch: bool) -> tuple[str, list[str]]:
    new_sha = model_sha(models / new)
    users = enrolled_shas(db)
    current = active_link.resolve().name if active_link.exists() else None
    notes = []
    if current is None or current == new:
        chosen = new
    else:
        on_current = users.get(model_sha(models / current), 0)
        if on_current and not switch:
            notes.append(f"new model {new} installed but NOT active: {on_current} user(s) are enrolled "
                         f"with {current}, which stays active. To switch (they must then re-enrol): "
                         f"run install.sh again with --switch-model")
            chosen = current
        else:
            chosen = new
            if on_current:
                notes.append(f"switched model {current} -> {new}")
    chosen_sha = model_sha(models / chosen)
    stale = sum(n for sha, n in users.items() if sha != chosen_sha)
    if stale:
        notes.append(f"{stale} enrolled user(s) have templates from another model than {chosen} and must "
                     f"re-enrol (sigpad users lists them; sigpad enroll USER --replace)")
    return chosen, notes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, required=True, help="directory of installed models")
    p.add_argument("--active", type=Path, required=True, help="the active-model symlink")
    p.add_argument("--db", type=Path, required=True, help="the template store")
    p.add_argument("--new", required=True, help="the bundle's model, a directory name in --models")
    p.add_argument("--switch", action="store_true", help="activate the new model regardless")
    a = p.parse_args(argv)
    try:
        chosen, notes = decide(a.models, a.active, a.db, a.new, a.switch)
    except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
        print(f"model_state: {exc}", file=sys.stderr)
        return 1
    print("\n".join([chosen, *notes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
