"""Decode throughput per pad protocol, and the CPU an idle open pad costs.

    python -m bench.bench_decode [--samples N] [--idle-s S]

Prints one JSON line per protocol::

    {"bench": "decode", "protocol": "isdv4", "samples_per_s": ..., ...}

then one for the idle measurement (process CPU seconds while a virtual pad
and an open host pad sit idle). Throughput is measured through
``SampleStream.feed`` (decode, the range and pen-speed checks, conversion to
``Sample``) in 4 KiB reads, which is what the host does per read; the line
also says what the checks flagged in the synthetic stream (its positions
wrap around the pad: a jump each time a pad clock times it; a full read on
the host's clock bounds no time, so there nothing is flagged). Not a test:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time

from firmware_bridge.pad import open_pad
from firmware_bridge.protocols import PROTOCOLS
from firmware_bridge.protocols.base import PenReport
from firmware_bridge.stream import SampleStream
from firmware_bridge.virtual import VirtualPad

CHUNK = 4096
TARGET = 100_000


def _reports(protocol, n: int) -> list[PenReport]:
    caps = protocol.default_caps
    p = caps.max_pressure // 2 if caps.max_pressure else None
    tilt = 10 if caps.max_tilt_x else None
    return [PenReport((i * 7) % caps.max_x, (i * 13) % caps.max_y, p, True, True,
                      tilt, tilt, 0, i * 5000 if protocol.has_clock else None)
            for i in range(n)]


def bench_protocol(name: str, n: int = 100_000, repeat: int = 3) -> dict:
    proto = PROTOCOLS[name]
    data, _ = proto.encode(_reports(proto, n), 0)
    best = float("inf")
    for _ in range(repeat):
        stream = SampleStream(proto)
        t0 = time.perf_counter()
        for k in range(0, len(data), CHUNK):
            stream.feed(data[k:k + CHUNK], 0.0)
        best = min(best, time.perf_counter() - t0)
        assert stream.stats.samples == n, stream.stats
    rate = n / best
    return {"bench": "decode", "protocol": name, "samples_per_s": round(rate),
            "mb_per_s": round(len(data) / best / 1e6, 2), "samples": n,
            "checks": {"out_of_range": stream.stats.out_of_range, "jumps": stream.stats.jumps},
            "target_samples_per_s": TARGET, "meets_target": rate >= TARGET}


def bench_idle(protocol: str = "sigpad", seconds: float = 2.0) -> dict:
    with VirtualPad(protocol) as vpad, open_pad(vpad.path, protocol) as pad:
        import threading
        t = threading.Thread(target=lambda: list(pad.signatures()), daemon=True)
        t.start()
        time.sleep(0.3)                   # let the handshake settle
        c0, w0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - c0, time.monotonic() - w0
        pad.close()
        t.join(2)
    return {"bench": "idle_cpu", "protocol": protocol, "cpu_s": round(cpu, 4),
            "wall_s": round(wall, 2), "cpu_percent": round(100 * cpu / wall, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m bench.bench_decode")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--idle-s", type=float, default=2.0)
    args = ap.parse_args(argv)
    results = [bench_protocol(name, args.samples) for name in sorted(PROTOCOLS)]
    results.append(bench_idle(seconds=args.idle_s))
    for r in results:
        print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    main()
