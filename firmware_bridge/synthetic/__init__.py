"""Synthetic signature writers: genuine signatures and skilled forgeries, no dataset needed.

* ``sigmalognormal`` - the sigma-lognormal model of handwriting: parameters,
  synthesis in closed form, and extraction from a recorded signature.
* ``writers`` - ``make_writer(seed)`` and ``Writer``: random templates, their
  genuine signatures, and writers fitted to real signatures.

Numpy only at import (the virtual pad signs with these on a Pi without scipy);
``sigmalognormal.extract`` imports scipy when it runs.

>>> from firmware_bridge.synthetic import make_writer
>>> len(make_writer(3).genuine(0)) > 10
True
"""

from .writers import FORGERS, GENUINE_SPREAD, Forger, PenStyle, Writer, make_writer, render

__all__ = ["FORGERS", "GENUINE_SPREAD", "Forger", "PenStyle", "Writer", "make_writer", "render"]
