"""Counters of one pad connection, shared by every layer that handles its bytes.

The transport counts disconnects and reconnects; the stream counts bytes,
frames, samples and errors; the pad counts signatures and refusals. The record
lives in its own module so that the byte layer (``transport``) need not import
the decoder layer (``stream``) to count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace


@dataclass
class Stats:
    """Counters of one pad connection. ``Pad.stats`` hands out copies."""

    bytes_in: int = 0
    frames: int = 0            # good packets (ISDV4, Topaz) or frames (sigpad)
    samples: int = 0
    crc_errors: int = 0
    resyncs: int = 0           # times bytes were skipped to get back in sync
    skipped_bytes: int = 0
    lost_frames: int = 0       # gaps in the pad's sequence numbers
    pad_dropped: int = 0       # samples the pad says it dropped (sigpad STATUS)
    overflows: int = 0
    out_of_range: int = 0      # reports beyond the pad's maxima (dropped)
    jumps: int = 0             # moves faster than a pen can make
    caps_refused: int = 0      # capabilities replies not asked for, or implausible
    disconnects: int = 0
    reconnects: int = 0
    signatures: int = 0
    refusals: int = 0
    damaged: int = 0           # of the refusals: signatures with a damaged stretch
    skipped: dict[str, int] = field(default_factory=dict)   # skipped bytes by the decoder's reason

    def copy(self) -> Stats:
        return replace(self, skipped=dict(self.skipped))

    def since(self, before: Stats) -> Stats:
        """What was counted after ``before`` (an earlier copy) was taken."""
        counts = {f.name: getattr(self, f.name) - getattr(before, f.name)
                  for f in fields(self) if f.name != "skipped"}
        skipped = {k: v - before.skipped.get(k, 0) for k, v in self.skipped.items()
                   if v - before.skipped.get(k, 0)}
        return replace(self, **counts, skipped=skipped)
