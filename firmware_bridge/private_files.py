"""Files and folders that hold signatures, images of them or keys: their owner's alone.

A signature (its recording, a PNG or SVG of it, the template store, its key)
is biometric data. ``open`` and ``mkdir`` modes only ever lose bits to the
umask, so a process started with umask 000 (a service manager's, a careless
shell's) made such files 0666 and their folders 0777. Everything here sets
the mode explicitly: files 0600, the folders it creates 0700 (folders that
exist already are left as they are: they may be shared on purpose, and
``edge.wire.check_private_dir`` is where a folder is refused).

The one helper for the whole product: the bridge's recordings, the edge's
store and key, the CLI's ``capture --out`` and ``render``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dirs(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its missing parents, each 0700; returns ``path``."""
    path = Path(path)
    missing = []
    folder = path
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:      # made meanwhile by someone else: theirs, left as it is
            continue
        os.chmod(made, PRIVATE_DIR)
    return path


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty with mode 0600 unless something is there; whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return True


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` as a new 0600 file; returns the path.

    Written to a temporary file beside it (created 0600) and renamed over the
    name: a reader never sees half a file, and an older file or a link at the
    name is replaced, never written through or left with its old mode. The
    folder must exist (a mistyped folder is an error, not a new tree).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), PRIVATE_FILE)
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
