"""DET curves on probit axes and score histograms, for ``evaluate --plot``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import norm

from . import metrics

TICKS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]


def plot_det(scores: dict, path: Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gen = np.concatenate(list(scores["genuine"].values()))
    fig, (ax_det, ax_hist) = plt.subplots(1, 2, figsize=(11, 4.5))
    for kind, colour in (("skilled", "tab:red"), ("random", "tab:blue")):
        imp = np.concatenate(list(scores[kind].values()))
        _, fmr, fnmr = metrics.operating_points(gen, imp)
        eps = 1e-4  # probit of 0 is -inf: clip to the plot's floor
        ax_det.plot(norm.ppf(np.clip(fmr, eps, 1 - eps)), norm.ppf(np.clip(fnmr, eps, 1 - eps)),
                    color=colour, label=f"{kind} (EER {100 * metrics.eer(gen, imp)[0]:.2f} %)")
        ax_hist.hist(imp, bins=60, alpha=0.5, density=True, color=colour, label=kind)
    ax_hist.hist(gen, bins=60, alpha=0.5, density=True, color="tab:green", label="genuine")
    ticks = norm.ppf(TICKS)
    labels = [f"{100 * t:g}" for t in TICKS]
    ax_det.set_xticks(ticks, labels)
    ax_det.set_yticks(ticks, labels)
    lim = (norm.ppf(0.0008), norm.ppf(0.5))
    ax_det.set_xlim(lim)
    ax_det.set_ylim(lim)
    ax_det.plot(lim, lim, "k:", lw=0.8)
    ax_det.set_xlabel("false match rate (%)")
    ax_det.set_ylabel("false non-match rate (%)")
    ax_det.set_title(f"DET {title}")
    ax_det.grid(True, lw=0.3)
    ax_det.legend()
    ax_hist.set_xlabel("score (higher = more genuine)")
    ax_hist.set_title("score distributions")
    ax_hist.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
