"""The store key: 32 random bytes from a systemd credential or a 0600 file.

Where the key comes from, first match wins:

1. ``$CREDENTIALS_DIRECTORY/sigpad-store-key`` - a systemd credential
   (``LoadCredential=`` / ``LoadCredentialEncrypted=``): systemd keeps it out
   of the state directory, and can seal it to the TPM.
2. The key file (default ``<store dir>/store.key``), created on first use
   with mode 0600 by an exclusive create, so two processes starting at once
   cannot each write a different key.

A key file readable by group or others is refused rather than used: a key
that anyone on the machine can read protects nothing. Two keys are derived
from it with HKDF, one for AES-GCM and one for HMACs of signature streams, so
no key is used for two purposes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from firmware_bridge.private_files import make_private_dirs

from .errors import StoreError

KEY_BYTES = 32
CREDENTIAL_NAME = "sigpad-store-key"


@dataclass(frozen=True, repr=False)
class StoreKeys:
    """The derived keys; repr never shows them."""

    aead: bytes
    mac: bytes
    source: str

    def __repr__(self) -> str:
        return f"StoreKeys(from {self.source})"


def derive(master: bytes, source: str = "key") -> StoreKeys:
    if len(master) != KEY_BYTES:
        raise StoreError(f"{source}: key is {len(master)} bytes, expected {KEY_BYTES}")
    return StoreKeys(_hkdf(master, b"sigpad-store-aead/1"), _hkdf(master, b"sigpad-stream-mac/1"), source)


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


def credential_path() -> Path | None:
    """The systemd credential, when the service runs with one."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL_NAME
    return path if path.exists() else None


def load_keys(key_file: str | os.PathLike[str], create: bool = True) -> StoreKeys:
    """The store keys from the systemd credential or ``key_file`` (made if absent)."""
    cred = credential_path()
    if cred is not None:
        return derive(_read(cred), str(cred))
    path = Path(key_file)
    if not path.exists():
        if not create:
            raise StoreError(f"{path}: no key file")
        _create(path)
    _check_mode(path)
    return derive(_read(path), str(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read key: {exc.strerror or exc}") from exc


def _create(path: Path) -> None:
    # Written to a temporary file, then linked into place: link() fails if the
    # name exists, so a second process starting at once never sees a
    # half-written key and never replaces the first one's.
    import tempfile
    try:
        make_private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
    except OSError as exc:
        raise StoreError(f"{path}: cannot create key file: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    except OSError as exc:
        raise StoreError(f"{path}: cannot create key file: {exc.strerror or exc}") from exc
    finally:
        os.unlink(tmp)


def _check_mode(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreError(f"{path}: key file has mode {stat.S_IMODE(mode):04o}; "
                         f"it must be readable by its owner only (chmod 600 {path})")
