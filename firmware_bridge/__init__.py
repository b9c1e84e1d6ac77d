"""Bytes to signatures: pen pad protocols, serial transports, a virtual pad.

The lowest layer of sigpad: it imports nothing from ``edge`` or ``trainer``.
"""

from .errors import SigpadError, SignatureError
from .signature import Sample, Signature

__all__ = ["Sample", "Signature", "SigpadError", "SignatureError"]
