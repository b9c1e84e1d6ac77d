"""A pseudo-terminal that can be unplugged and plugged back, at a stable path.

``os.openpty`` gives a master (the pad's end) and a slave (``/dev/pts/N``,
the end a host opens with pyserial). Unplugging closes both of our ends: the
host's reads then fail with EIO, exactly what an unplugged USB adapter does.
Replugging opens a new pty; like udev's ``/dev/sigpad`` symlink, ``path``
is a symlink in a private temp directory that is re-pointed, so the host can
reopen the same path it was given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tty


class PtyLink:
    """The pad's end of a pty pair, behind a stable symlink ``path``."""

    def __init__(self, directory: str | None = None, name: str = "sigpad"):
        self._own_dir = directory is None
        self.directory = tempfile.mkdtemp(prefix="sigpad-vpad-") if directory is None else directory
        self.path = os.path.join(self.directory, name)
        self.master: int | None = None
        self._slave: int | None = None
        self.tty: str | None = None
        self.plug()

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        """A new pty; the symlink now points at it."""
        if self.plugged:
            return
        master, slave = os.openpty()
        # Raw before any host opens it: no echo, no CR/LF games with our bytes.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.tty = os.ttyname(slave)
        # Holding the slave open keeps the master readable while no host is attached.
        self.master, self._slave = master, slave
        tmp = self.path + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(self.tty, tmp)
        os.replace(tmp, self.path)       # atomic: a host never sees a missing link

    def unplug(self) -> None:
        """Close our ends; the host's reads and writes fail from now on."""
        if os.path.lexists(self.path):
            os.unlink(self.path)         # udev removes the node on unplug too
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None

    def close(self) -> None:
        self.unplug()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<PtyLink {self.path} -> {self.tty if self.plugged else 'unplugged'}>"
