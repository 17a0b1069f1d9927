"""The figures of report 2 (notebook 06), drawn from numbers computed elsewhere.

Each function takes arrays or tables that :mod:`lib.xrd.dataset` / :mod:`lib.xrd.evaluate`
computed and returns a matplotlib ``Figure``; the notebook saves it with
:func:`lib.figures.save_figure`.  Nothing is computed here beyond what the drawing needs.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .patterns import CRYSTAL_SYSTEMS, Grid


def materials_per_system(counts: Any) -> Any:
    """Fig 2: bars of structures per crystal system, one colour per data set (``counts``: a
    DataFrame indexed by crystal system, one column per data set)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    counts.plot.bar(ax=ax, color=["tab:blue", "tab:orange"])
    ax.set_ylabel("structures")
    ax.set_title("Materials per crystal system (patterns simulated)")
    ax.tick_params(axis="x", rotation=30)
    return fig


def system_shares(counts: Any) -> Any:
    """Fig 3: one pie per data set of the share of each crystal system (labels of empty
    systems and percentages under 2 % left out)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(counts.columns), figsize=(10, 4.5), squeeze=False)
    for ax, col in zip(axes.flat, counts.columns):
        vals = counts[col]
        if vals.sum():
            ax.pie(vals, labels=[c if v else "" for c, v in zip(CRYSTAL_SYSTEMS, vals)],
                   autopct=lambda p: f"{p:.0f}%" if p >= 2 else "", startangle=90)
        ax.set_title(col)
    fig.suptitle("Share of each crystal system (patterns simulated)")
    return fig


def example_pattern(peak_two_theta: np.ndarray, peak_intensity: np.ndarray, grid: Grid,
                    pattern: np.ndarray, augmented: np.ndarray, image: np.ndarray,
                    sigma: float, title: str) -> Any:
    """Fig 4: the peak list (2θ in degrees, intensity max 100) as sticks, the model input and
    an augmented copy on the grid, and the square image MobileNetV2 sees."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 4.5))
    ax = fig.add_axes([0.05, 0.12, 0.62, 0.78])
    ax.vlines(peak_two_theta, 0, np.asarray(peak_intensity) / 100, color="k", lw=0.8, alpha=0.7,
              zorder=3, label="peaks (pymatgen)")
    ax.plot(grid.two_theta, pattern, color="tab:blue", lw=1,
            label=f"model input (σ = {sigma:g} points)")
    ax.plot(grid.two_theta, augmented - 1.1, color="tab:red", lw=0.8, label="augmented (offset)")
    ax.set_xlabel("2θ (degrees, Cu Kα)")
    ax.set_ylabel("intensity (normalised)")
    ax.set_title(f"Simulated pattern of {title}", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax2 = fig.add_axes([0.72, 0.12, 0.26, 0.78])
    ax2.imshow(image, cmap="gray")
    ax2.set_title(f"MobileNetV2 input, {image.shape[0]}×{image.shape[1]}", fontsize=10)
    ax2.axis("off")
    return fig


def _confusion_panel(ax: Any, cm: np.ndarray, title: str) -> None:
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for r, c in zip(*np.nonzero(cm)):
        ax.text(c, r, str(cm[r, c]), ha="center", va="center", fontsize=7,
                color="white" if norm[r, c] > 0.6 else "black")
    short = [name[:5] for name in CRYSTAL_SYSTEMS]
    ax.set_xticks(range(len(short)), short, rotation=45)
    ax.set_yticks(range(len(short)), short)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)


def confusion_matrices(panels: Mapping[str, np.ndarray]) -> Any:
    """Fig 5: one 7 × 7 crystal-system confusion matrix per panel ({title: counts, rows true,
    columns predicted}); colour = share of the true class, numbers = counts."""
    import matplotlib.pyplot as plt

    ncol = 2 if len(panels) > 2 else max(1, len(panels))
    nrow = int(np.ceil(len(panels) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 5.4 * nrow), squeeze=False)
    for ax, (title, cm) in zip(axes.flat, panels.items()):
        _confusion_panel(ax, np.asarray(cm), title)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Crystal-system confusion matrices (patterns simulated; colour = row share)")
    fig.tight_layout()
    return fig


def coverage_curves(curves: Mapping[str, Any], thresholds: Mapping[str, float] | None = None,
                    baseline: float | None = None, title: str = "") -> Any:
    """Accuracy against coverage: per model (``curves``: name → ``calibration.Coverage``),
    the fraction of patterns answered (top probability ≥ threshold) on x and the accuracy on
    those on y; the chosen thresholds marked; ``baseline`` (e.g. always the majority class)
    as a dashed line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name, curve in curves.items():
        line, = ax.step(curve.coverage, curve.accuracy, where="post", label=name)
        if thresholds and name in thresholds:
            i = int(np.searchsorted(curve.threshold, thresholds[name], side="left"))
            if i < len(curve.threshold) and curve.coverage[i] > 0:
                ax.plot(curve.coverage[i], curve.accuracy[i], "o", color=line.get_color())
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="grey", lw=1, label="majority class")
    ax.set_xlabel("coverage (fraction of patterns answered)")
    ax.set_ylabel("accuracy of the answered patterns")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
