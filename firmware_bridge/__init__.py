"""Bytes to signatures: pen pad protocols, serial transports, a virtual pad.

The lowest layer of sigpad: it imports nothing from ``edge`` or ``trainer``.
"""

from .errors import SignatureError, SigpadError
from .signature import Sample, Signature

__all__ = ["Sample", "Signature", "SignatureError", "SigpadError"]
