"""Figures for people to judge synthetic writers (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def draw_signature(ax, sig, color="k") -> None:
    """Pen-down ink only: a line per stroke (cut at the time gaps of pen lifts)."""
    t = sig.t_ms
    dt = np.diff(t)
    step = np.median(dt[dt > 0]) if np.any(dt > 0) else 10.0
    cuts = np.flatnonzero(dt > 3 * step) + 1
    for xs, ys in zip(np.split(sig.x, cuts), np.split(sig.y, cuts)):
        ax.plot(xs, ys, color=color, lw=0.8)
    ax.set_aspect("equal")
    ax.axis("off")


def draw_speed(ax, sig, color="k", label=None) -> None:
    """Speed (tablet units / s) against time, gaps left blank."""
    t, dt = sig.t_ms - sig.t_ms[0], np.diff(sig.t_ms)
    speed = np.hypot(np.diff(sig.x), np.diff(sig.y)) / np.maximum(dt, 1e-9) * 1000
    # Lifts (long steps) and timestamp glitches (SVC2004 has zero-length steps) are no speed.
    step = np.median(dt[dt > 0])
    speed[(dt > 3 * step) | (dt < 0.5 * step)] = np.nan
    ax.plot(t[1:] / 1000, speed, color=color, lw=0.8, label=label)
    ax.set_xlabel("s")


def plot_writers(writers, path: Path, rate_hz: float = 100.0, shown: int = 3) -> None:
    """One row per writer: genuine signatures, forgeries, speed of genuine 0 and forgery 0."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(writers), 2 * shown + 1, figsize=(2.2 * (2 * shown + 1), 1.8 * len(writers)),
                             squeeze=False)
    for row, writer in zip(axes, writers):
        _draw_row(row, [writer.genuine(i, rate_hz) for i in range(shown)],
                  [writer.forgery(i, rate_hz) for i in range(shown)], f"writer {writer.seed}")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _draw_row(row, genuine, forged, name: str) -> None:
    """One row of axes: the genuine signatures, as many forgeries, then both speed profiles."""
    shown = len(genuine)
    for i in range(shown):
        draw_signature(row[i], genuine[i], "navy")
        draw_signature(row[shown + i], forged[i], "firebrick")
    draw_speed(row[-1], genuine[0], "navy", "genuine")
    draw_speed(row[-1], forged[0], "firebrick", "forgery")
    row[0].set_title(f"{name}: genuine", fontsize=8, loc="left")
    row[shown].set_title("skilled forgeries", fontsize=8, loc="left")


def plot_synthetic_vs_real(writer, real_genuine, real_forgeries, path: Path, shown: int = 3) -> None:
    """Top: a synthetic writer; bottom: a real one. Genuine in blue, forgeries in red, speed right."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2 * shown + 1, figsize=(2.0 * (2 * shown + 1), 3.6))
    rows = [([writer.genuine(i) for i in range(shown)], [writer.forgery(i) for i in range(shown)], "synthetic"),
            (real_genuine[:shown], real_forgeries[:shown], "SVC2004 Task2")]
    for row, (genuine, forged, name) in zip(axes, rows):
        _draw_row(row, genuine, forged, name)
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
