"""The sealed fleet record: what opens, and what is refused with a reason."""

from __future__ import annotations

import base64
import json
import os
import zlib

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edge.app.fleet.sealing import FleetKeys, open_sealed, seal
from edge.errors import FleetError

SHA = "ab" * 32
PLAIN = {"user": "alice@bank", "model_sha": SHA, "templates": ["AAEC"], "signatures": ["1 2 3\n" * 400]}


def test_a_record_opens_with_its_key_and_holds_no_plaintext():
    keys = FleetKeys.generate()
    value = seal(keys, "alice@bank", SHA, PLAIN)
    assert open_sealed(keys, "alice@bank", value) == PLAIN
    assert b"alice@bank" not in value and b"1 2 3" not in value
    outer = json.loads(value)
    assert outer["kid"] == "k1" and outer["model_sha"] == SHA
    assert len(value) < len(json.dumps(PLAIN)) / 2                     # compressed before sealing


def _flipped(ct: bytes) -> bytes:
    """The ciphertext with its first byte's bits flipped: changed whatever the random nonce made it
    (writing b"x" there left it as it was one time in 256)."""
    return bytes([ct[0] ^ 0xFF]) + ct[1:]


@pytest.mark.parametrize("change, why", [
    (lambda o: {**o, "ct": base64.b64encode(_flipped(base64.b64decode(o["ct"]))).decode()}, "does not open"),
    (lambda o: {**o, "model_sha": "cd" * 32}, "does not open"),         # read under another model
    (lambda o: {**o, "kid": "k9"}, "sealed with fleet key 'k9'"),
    (lambda o: {**o, "v": 2}, "version 2"),
    (lambda o: {k: v for k, v in o.items() if k != "nonce"}, "not a sealed fleet record"),
])
def test_a_changed_record_is_refused_saying_why(change, why):
    keys = FleetKeys.generate()
    outer = json.loads(seal(keys, "alice@bank", SHA, PLAIN))
    with pytest.raises(FleetError, match=why):
        open_sealed(keys, "alice@bank", json.dumps(change(outer)).encode())


def test_a_record_moved_to_another_user_or_opened_with_another_key_is_refused():
    keys = FleetKeys.generate()
    value = seal(keys, "alice@bank", SHA, PLAIN)
    with pytest.raises(FleetError, match="does not open"):
        open_sealed(keys, "bob", value)
    other = FleetKeys("k1", {"k1": os.urandom(32)})
    with pytest.raises(FleetError, match="does not open"):
        open_sealed(other, "alice@bank", value)
    with pytest.raises(FleetError, match="not a sealed fleet record"):
        open_sealed(keys, "alice@bank", b"\xff not json")


def test_rotation_keeps_old_keys_to_open_and_seals_with_the_new_one():
    keys = FleetKeys.generate()
    old_value = seal(keys, "alice@bank", SHA, PLAIN)
    rotated = keys.rotated()
    assert rotated.current == "k2" and set(rotated.keys) == {"k1", "k2"}
    assert open_sealed(rotated, "alice@bank", old_value) == PLAIN
    new_value = seal(rotated, "alice@bank", SHA, PLAIN)
    with pytest.raises(FleetError, match="sealed with fleet key 'k2'"):
        open_sealed(keys, "alice@bank", new_value)
    assert "k1" not in rotated.only_current().keys


def test_a_record_that_inflates_past_the_limit_is_refused():
    keys = FleetKeys.generate()
    bomb = zlib.compress(b"[" + b"0," * (5 << 20) + b"0]", 9)           # 10 MB of JSON from ~10 KB
    nonce = os.urandom(12)
    ct = AESGCM(keys.keys["k1"]).encrypt(nonce, bomb, f"sigpad-fleet/1|alice@bank|{SHA}".encode())
    value = json.dumps({"v": 1, "kid": "k1", "model_sha": SHA, "nonce": base64.b64encode(nonce).decode(),
                        "ct": base64.b64encode(ct).decode()}).encode()
    with pytest.raises(FleetError, match="over"):
        open_sealed(keys, "alice@bank", value)
