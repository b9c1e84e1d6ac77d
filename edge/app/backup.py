"""``sigpad backup`` and ``sigpad restore``: the store, its anchor and (wrapped) its key in one file.

A store is three things: the SQLite database (a live WAL database: copying
the file while the service writes can tear it), the ``.gen`` anchor (the
newest generation committed, which refuses a store rolled back) and the key
(a 0600 file or a systemd credential; without it nothing in the database
opens). A backup is one zip file, 0600:

* ``templates.db``: an online copy made with SQLite's backup API (consistent
  even while the service enrols or verifies), and its SHA-256 in the manifest;
* ``manifest.json``: format, time, the store's generation, what the key is;
* ``store.key.wrapped``: the key, only if a passphrase was given
  (``--passphrase-file``): scrypt (n=2^15, r=8, p=1) derives a key that seals
  it with AES-GCM. Without a passphrase the key is left out, and both
  commands say where it must come from.

``restore`` writes into a new place only (a live store is never overwritten
without ``--force``) and refuses a backup older than the store that lived
there (its anchor is newer: a rollback) unless ``--force``; it then opens
the restored store with its key and counts its users, so a restore that
"worked" but cannot be read is found now, not at the next signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from firmware_bridge.errors import SigpadError
from firmware_bridge.private_files import make_private_dirs

from ..errors import BackupError, StoreMissing
from ..keys import KEY_BYTES, credential_path, derive, load_keys
from ..ledger import Anchor, Sealer, read_ledger
from ..store import Store

FORMAT = "sigpad-backup/1"
DB_NAME, MANIFEST, WRAPPED_KEY = "templates.db", "manifest.json", "store.key.wrapped"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
KEY_AD = b"sigpad-backup-key/1"           # the wrapped key's associated data: only this use opens it


# --- the key, wrapped with a passphrase --------------------------------------------------------

def read_passphrase(path: Path) -> bytes:
    """The passphrase file's first line (a trailing newline is not part of it)."""
    try:
        text = path.read_bytes().splitlines()
    except OSError as exc:
        raise BackupError(f"{path}: cannot read the passphrase file: {exc.strerror or exc}") from exc
    if not text or len(text[0]) < 8:
        raise BackupError(f"{path}: the passphrase must be at least 8 characters on the first line")
    return text[0]


def _kek(passphrase: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)


def wrap_key(master: bytes, passphrase: bytes) -> dict[str, Any]:
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_kek(passphrase, salt)).encrypt(nonce, master, KEY_AD)
    return {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "cipher": "AES-256-GCM",
            **{k: base64.b64encode(v).decode() for k, v in (("salt", salt), ("nonce", nonce), ("sealed", sealed))}}


def unwrap_key(wrapped: dict[str, Any], passphrase: bytes) -> bytes:
    try:
        salt, nonce, sealed = (base64.b64decode(wrapped[k]) for k in ("salt", "nonce", "sealed"))
        kek = Scrypt(salt=salt, length=32, n=int(wrapped["n"]), r=int(wrapped["r"]), p=int(wrapped["p"]))
        return AESGCM(kek.derive(passphrase)).decrypt(nonce, sealed, KEY_AD)
    except InvalidTag:
        raise BackupError("the passphrase does not open the backup's key (wrong passphrase?)") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise BackupError(f"the backup's wrapped key is damaged: {exc}") from None


def _master_key(key_path: Path) -> tuple[bytes, str]:
    """The store's key bytes and where they came from (the systemd credential first)."""
    source = credential_path() or key_path
    load_keys(source, create=False)        # the same checks as every use: present, 0600, 32 bytes
    return source.read_bytes(), str(source)


# --- backup ----------------------------------------------------------------------------------

def backup(store_path: Path, key_path: Path, out: Path, passphrase: bytes | None) -> dict[str, Any]:
    """Write the backup of the store at ``store_path`` to ``out``; its manifest (what it holds)."""
    if not store_path.is_file():
        raise StoreMissing(f"no template store at {store_path} to back up (--store DB)")
    if out.exists():
        raise BackupError(f"{out} exists: a backup never overwrites a file (name a new one)")
    master, key_source = _master_key(key_path)
    with tempfile.TemporaryDirectory(prefix="sigpad-backup-") as tmp:
        copy = Path(tmp) / DB_NAME
        _online_copy(store_path, copy)
        generation = _generation(copy, master)
        manifest: dict[str, Any] = {
            "format": FORMAT, "created": time.time(), "store": str(store_path), "generation": generation,
            "anchor": Anchor.unverified_generation(store_path), "sha256": hashlib.sha256(copy.read_bytes()).hexdigest(),
            "key": "wrapped" if passphrase is not None else "absent", "key_source": key_source}
        _write_zip(out, copy, manifest, wrap_key(master, passphrase) if passphrase is not None else None)
    return manifest


def _online_copy(source: Path, dest: Path) -> None:
    """SQLite's online backup: a consistent copy while the service reads and writes (WAL included)."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(dest)
            with dst:
                src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")   # one self-contained file
            dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: cannot copy the store: {exc}") from exc


def _generation(db_path: Path, master: bytes) -> int:
    """The generation the ledger (sealed under the key) records: what ``restore`` compares."""
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return read_ledger(db, Sealer(derive(master).aead)).generation
    finally:
        db.close()


def _write_zip(out: Path, db: Path, manifest: dict[str, Any], wrapped: dict[str, Any] | None) -> None:
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, json.dumps(manifest, indent=1))
            z.write(db, DB_NAME)
            if wrapped is not None:
                z.writestr(WRAPPED_KEY, json.dumps(wrapped))
    except OSError as exc:
        out.unlink(missing_ok=True)
        raise BackupError(f"{out}: cannot write the backup: {exc.strerror or exc}") from exc


# --- restore ---------------------------------------------------------------------------------

def read_backup(path: Path) -> tuple[dict[str, Any], bytes, dict[str, Any] | None]:
    """(manifest, database bytes, wrapped key or None); ``BackupError`` naming what is wrong."""
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read(MANIFEST))
            db = z.read(DB_NAME)
            wrapped = json.loads(z.read(WRAPPED_KEY)) if WRAPPED_KEY in z.namelist() else None
    except FileNotFoundError:
        raise BackupError(f"{path}: no such backup file") from None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BackupError(f"{path}: not a sigpad backup, or damaged: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a {FORMAT} backup")
    if hashlib.sha256(db).hexdigest() != manifest.get("sha256"):
        raise BackupError(f"{path}: the database in the backup is damaged (its SHA-256 does not match)")
    return manifest, db, wrapped


def restore(backup_file: Path, store_path: Path, key_path: Path, passphrase: bytes | None,
            force: bool = False) -> dict[str, Any]:
    """Restore ``backup_file`` to ``store_path`` (and the key to ``key_path`` if it holds one)."""
    manifest, db, wrapped = read_backup(backup_file)
    master = _restored_key(wrapped, passphrase, key_path)
    # Nothing is written before the key opens the backup's sealed ledger: its generation,
    # not the manifest's unauthenticated one, is what the rollback check and the anchor use.
    generation = _sealed_generation(db, master, key_path, manifest)
    _check_target(store_path, generation, force)
    make_private_dirs(store_path.parent)    # 0700 whatever the umask
    for stale in (Path(f"{store_path}-wal"), Path(f"{store_path}-shm")):
        stale.unlink(missing_ok=True)      # a dead store's journal must not replay onto this one
    _write_private(store_path, db, replace=force)
    if master is not None and not key_path.exists() and credential_path() is None:
        _write_private(key_path, master, replace=False)
    _write_anchor(store_path, key_path, generation)
    users = _check_opens(store_path, key_path)
    return {**manifest, "restored_to": str(store_path), "key_file": str(key_path), "users": users}


def _sealed_generation(db: bytes, master: bytes | None, key_path: Path, manifest: dict[str, Any]) -> int:
    """The generation the backup's ledger records, read with the key that will open the store
    (the backup's, else the one in place); a key that does not open it is refused here, before
    the live store is touched. With no key anywhere yet, the manifest's number (checked when the
    key comes: the store refuses a ledger behind its anchor)."""
    key = master if master is not None else (
        _master_key(key_path)[0] if key_path.exists() or credential_path() is not None else None)
    if key is None:
        recorded = manifest.get("generation")
        if not isinstance(recorded, int) or recorded < 0:
            raise BackupError("the backup's manifest has no valid generation (a damaged backup?)")
        return recorded
    with tempfile.TemporaryDirectory(prefix="sigpad-restore-") as tmp:
        copy = Path(tmp) / DB_NAME
        copy.write_bytes(db)
        try:
            return _generation(copy, key)
        except (SigpadError, sqlite3.Error) as exc:
            raise BackupError(f"the key {'in the backup' if master is not None else 'in place'} does not "
                              f"open this backup ({exc}): restore with the key it was made under") from exc


def _check_target(store_path: Path, generation: int, force: bool) -> None:
    if store_path.exists() and not force:
        raise BackupError(f"{store_path} exists: restore into a new place (--store NEW.db), or move the "
                          "live store away first (--force replaces it)")
    recorded = Anchor.unverified_generation(store_path)
    if generation < recorded and not force:
        raise BackupError(f"rollback refused: the backup is at generation {generation}, older than the "
                          f"{recorded} the store at {store_path} reached (its anchor "
                          f"{store_path}.gen); users enrolled, deleted or locked out since would "
                          "come back as they were. --force restores it anyway")


def _restored_key(wrapped: dict[str, Any] | None, passphrase: bytes | None, key_path: Path) -> bytes | None:
    """The key from the backup (None: it has none, or the key in place is used)."""
    if wrapped is None:
        return None
    if passphrase is None:
        if key_path.exists() or credential_path() is not None:
            return None                    # the key in place opens it, or the check says it does not
        raise BackupError("the backup's key is wrapped: --passphrase-file FILE opens it")
    master = unwrap_key(wrapped, passphrase)
    in_place = credential_path() or (key_path if key_path.exists() else None)
    if in_place is not None and in_place.read_bytes() != master:
        raise BackupError(f"{in_place} holds another key: the store would not open with it (restore with "
                          "another --key-file, or move that key away)")
    if len(master) != KEY_BYTES:
        raise BackupError("the backup's key has the wrong length")
    return master


def _write_private(path: Path, data: bytes, replace: bool) -> None:
    """``data`` to ``path``, 0600, whole or not at all (a temporary file renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)             # fails if something appeared there meanwhile
    except OSError as exc:
        raise BackupError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)


def _check_opens(store_path: Path, key_path: Path) -> int | None:
    """The restored store's user count, read with its key; None when no key is here yet."""
    if not key_path.exists() and credential_path() is None:
        return None
    with Store(store_path, load_keys(key_path, create=False)) as store:
        return len(store.users())


def _write_anchor(store_path: Path, key_path: Path, generation: int) -> None:
    """The restored generation as the store's anchor (not a newer, lost one): sealed under the
    key in place, or - no key here yet - in the older plain format, which the store reads and
    seals at its next commit."""
    anchor_path = Path(f"{store_path}.gen")
    anchor_path.unlink(missing_ok=True)
    if credential_path() is not None or key_path.exists():
        Anchor(store_path, derive(_master_key(key_path)[0]).mac).write(generation)
    else:
        _write_private(anchor_path, Anchor.plain_record(generation), replace=True)

