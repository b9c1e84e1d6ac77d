"""The fleet data key and the sealed template record (AES-GCM, key id in clear).

The hub stores what ``seal`` returns and nothing else of a user: the record's
plaintext (templates, stream MACs, statistics) is opened only on kiosks that
hold the key. The associated data binds the user id and the model's sha256,
so a record moved to another key (user) or read for another model fails.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...errors import FleetError

RECORD_VERSION = 1
NONCE_BYTES = 12
MAX_RECORD_BYTES = 8 << 20     # a record opens to at most this much (a few signatures: ~50 KB)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True, repr=False)
class FleetKeys:
    """The fleet's data keys by id, and the one new records are sealed with."""

    current: str
    keys: dict[str, bytes]

    def __repr__(self) -> str:
        return f"FleetKeys(current={self.current}, ids={sorted(self.keys)})"

    @staticmethod
    def generate(key_id: str = "k1") -> FleetKeys:
        return FleetKeys(key_id, {key_id: os.urandom(32)})

    def rotated(self) -> FleetKeys:
        """A new current key; the old ones kept only to open records until they are re-sealed."""
        number = 1 + max(int(k[1:]) for k in self.keys if k[1:].isdigit())
        new = f"k{number}"
        return FleetKeys(new, {**self.keys, new: os.urandom(32)})

    def only_current(self) -> FleetKeys:
        return FleetKeys(self.current, {self.current: self.keys[self.current]})

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "keys": {k: b64(v) for k, v in self.keys.items()}}

    @staticmethod
    def from_json(data: dict[str, Any], where: str) -> FleetKeys:
        try:
            keys = {str(k): unb64(v) for k, v in data["keys"].items()}
            current = str(data["current"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise FleetError(f"{where}: not a fleet key ({exc})") from None
        if current not in keys or any(len(v) != 32 for v in keys.values()):
            raise FleetError(f"{where}: not a fleet key (no 32-byte key {current!r})")
        return FleetKeys(current, keys)


def write_private(path: Path, data: dict[str, Any]) -> None:
    """A 0600 JSON file, written whole (a temporary file renamed into place)."""
    write_private_bytes(path, json.dumps(data, indent=1).encode())


def write_private_bytes(path: Path, data: bytes) -> None:
    """A 0600 file (a key, a certificate), written whole (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_private(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that must be readable by its owner only (it holds secrets)."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise FleetError(f"{path}: {what} has mode {stat.S_IMODE(mode):04o}; chmod 600 {path}")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FleetError(f"{path}: no {what} (`sigpad fleet join URL --creds FILE` writes it)") from None
    except (OSError, ValueError) as exc:
        raise FleetError(f"{path}: cannot read the {what}: {exc}") from None
    if not isinstance(data, dict):
        raise FleetError(f"{path}: the {what} is not a JSON object")
    return data


def _ad(user: str, model_sha: str) -> bytes:
    return f"sigpad-fleet/{RECORD_VERSION}|{user}|{model_sha}".encode()


def seal(keys: FleetKeys, user: str, model_sha: str, plain: dict[str, Any]) -> bytes:
    """The KV value of ``user``'s record: JSON with the key id, model sha, nonce and ciphertext."""
    nonce = os.urandom(NONCE_BYTES)
    # Compressed before sealing: the enrolment signatures (SVC2004 text) shrink about 3x.
    packed = zlib.compress(json.dumps(plain).encode(), 6)
    ct = AESGCM(keys.keys[keys.current]).encrypt(nonce, packed, _ad(user, model_sha))
    return json.dumps({"v": RECORD_VERSION, "kid": keys.current, "model_sha": model_sha,
                       "nonce": b64(nonce), "ct": b64(ct)}).encode()


def open_sealed(keys: FleetKeys, user: str, value: bytes) -> dict[str, Any]:
    """The plaintext of a KV value; ``FleetError`` naming what is wrong (never a half record)."""
    try:
        outer = json.loads(value)
        kid, model_sha = str(outer["kid"]), str(outer["model_sha"])
        nonce, ct = unb64(outer["nonce"]), unb64(outer["ct"])
        version = outer["v"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FleetError(f"record of {user!r}: not a sealed fleet record ({exc})") from None
    if version != RECORD_VERSION:
        raise FleetError(f"record of {user!r}: version {version!r}, this sigpad reads {RECORD_VERSION}")
    if kid not in keys.keys:
        raise FleetError(f"record of {user!r} is sealed with fleet key {kid!r}; this kiosk holds "
                         f"{', '.join(sorted(keys.keys))} (rotated: fetch the new key)")
    try:
        packed = AESGCM(keys.keys[kid]).decrypt(nonce, ct, _ad(user, model_sha))
    except InvalidTag:
        raise FleetError(f"record of {user!r} does not open under fleet key {kid!r} "
                         "(tampered, or moved from another user or model)") from None
    try:
        inflate = zlib.decompressobj()
        text = inflate.decompress(packed, MAX_RECORD_BYTES)
        if inflate.unconsumed_tail:
            raise FleetError(f"record of {user!r} is over {MAX_RECORD_BYTES} bytes: refused")
        plain = json.loads(text)
    except (zlib.error, ValueError) as exc:
        raise FleetError(f"record of {user!r}: its sealed content is damaged ({exc})") from None
    if not isinstance(plain, dict) or plain.get("user") != user or plain.get("model_sha") != model_sha:
        raise FleetError(f"record of {user!r}: its content names another user or model")
    return plain
