"""Synthetic signature writers: genuine signatures and skilled forgeries, no dataset needed.

* ``sigmalognormal`` - the sigma-lognormal model of handwriting: parameters,
  synthesis in closed form, and extraction from a recorded signature.
* ``writers`` - ``make_writer(seed)`` and ``Writer``: random templates, their
  genuine signatures and forgeries, and writers fitted to real signatures.
* ``forgers`` - the skilled forgers who copy a writer's shape (``Forger``).
* ``pen`` - a hand's pressure and tilt (``PenStyle``), and ``render``, which
  samples strokes into a ``Signature``.

Numpy only at import (the virtual pad signs with these on a Pi without scipy);
``sigmalognormal.extract`` imports scipy when it runs.

>>> from firmware_bridge.synthetic import make_writer
>>> len(make_writer(3).genuine(0)) > 10
True
"""

from .forgers import FORGERS, Forger
from .pen import PenStyle, render
from .writers import GENUINE_SPREAD, Writer, make_writer

__all__ = ["FORGERS", "GENUINE_SPREAD", "Forger", "PenStyle", "Writer", "make_writer", "render"]
