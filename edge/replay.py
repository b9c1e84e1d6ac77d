"""Replay detection: nobody signs the same way twice.

``check`` is the whole rule; the verifier asks it once per attempt. Two
checks, both against the user's templates and recent attempts:

* the *stream*: an HMAC (keyed from the store key, so the store holds no
  dictionary of signature hashes) of the signature's samples with time made
  relative to the first sample - a byte-identical stream, re-sent with a new
  clock origin, gives the same MAC;
* the *embedding*: a cosine at or above ``replay_cosine`` (0.995) to a stored
  embedding. Genuine signatures of one writer stay well below it (see
  docs/edge.md for the measured maximum); a replay with a little noise added
  or resampled at another rate stays above it.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

from firmware_bridge.signature import Signature

from .templates import dequantize_many


def stream_mac(key: bytes, sig: Signature) -> bytes:
    """HMAC-SHA256 of the signature's samples (time relative to the first sample)."""
    h = hmac.new(key, b"sigpad-stream/1", hashlib.sha256)
    t = np.asarray(sig.t_ms, dtype=np.float64)
    h.update((t - t[0]).tobytes())
    for arr in (sig.x, sig.y, sig.pressure, sig.pen_down):
        if arr is not None:
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        else:
            h.update(b"-")
    return h.digest()


def closest(embedding: np.ndarray, stored: np.ndarray) -> float:
    """Highest cosine of a unit embedding to stored unit rows (-1 when none)."""
    if len(stored) == 0:
        return -1.0
    return float(np.max(stored @ embedding))


def check(mac: bytes, test: np.ndarray, refs: np.ndarray, enrol_macs, attempts,
          cosine_limit: float) -> str | None:
    """Why this attempt is a replay, or None.

    ``mac``: the attempt's stream MAC; ``test``: its embedding as it will be
    stored (the dequantized int8 template); ``refs`` and ``enrol_macs``: the
    user's dequantized templates and their streams' MACs; ``attempts``: the
    user's recent attempts (``Store.recent_attempts``).
    """
    if mac in enrol_macs or any(a.stream_mac == mac for a in attempts):
        return "byte-identical to an earlier signature: replayed stream"
    stored = refs
    if attempts:
        stored = np.vstack([refs, dequantize_many([a.embedding for a in attempts], len(test))])
    near = closest(test, stored)
    if near >= cosine_limit:
        return f"embedding practically identical (cosine {near:.4f}) to an earlier signature: replay"
    return None
