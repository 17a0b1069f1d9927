"""Figures and verdicts shared by the phase-learning notebooks (02–05).

Learning curves are drawn from the runs' own ``history.csv`` (training dashed, validation
solid, one colour per run) with the chance level measured on random predictions as a dotted
line.  :func:`verdict` formats the notebooks' "does this run support the report?" statements.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
import pandas as pd

#: Labels of the history columns.
METRIC_LABELS: dict[str, str] = {
    "accuracy": "sign accuracy",
    "origin_accuracy": "origin-aware sign accuracy (best of 8 origins)",
    "weighted_accuracy": "weighted sign accuracy",
    "weighted_origin_accuracy": "weighted origin-aware sign accuracy",
    "loss": "training loss (BCE, nats)",
    "bce": "binary cross-entropy (nats)",
    "origin_invariant_bce": "origin-invariant BCE (nats)",
}

VERDICTS = ("supported", "not supported", "inconclusive at this scale")


def plot_curves(ax: Any, histories: Mapping[str, pd.DataFrame], metric: str,
                chance: float | None = None, chance_label: str = "chance",
                title: str | None = None, validation: bool = True, train: bool = True) -> None:
    """Per-epoch ``metric`` of several runs: training dashed, validation solid."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, hist) in enumerate(histories.items()):
        c = colours[i % len(colours)]
        if train and metric in hist:
            ax.plot(hist["epoch"], hist[metric], ls="--", color=c, label=f"{label} (train)")
        if validation and f"val_{metric}" in hist:
            ax.plot(hist["epoch"], hist[f"val_{metric}"], ls="-", color=c,
                    label=f"{label} (validation)")
    if chance is not None:
        ax.axhline(chance, color="0.4", ls=":", lw=1.2, label=f"{chance_label} ({chance:.3f})")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def accuracy_figure(histories: Mapping[str, pd.DataFrame], chance: Mapping[str, float],
                    title: str) -> plt.Figure:
    """Two panels: plain and origin-aware sign accuracy per epoch, each with its chance level."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    plot_curves(axes[0], histories, "accuracy", chance.get("accuracy"),
                "chance: random signs", "plain sign accuracy")
    plot_curves(axes[1], histories, "origin_accuracy", chance.get("origin_accuracy"),
                "chance: best of 8 random", "origin-aware accuracy (best of 8 origin shifts)")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def loss_figure(histories: Mapping[str, pd.DataFrame], title: str,
                metric: str = "loss", chance: float | None = None) -> plt.Figure:
    """Training and validation loss per epoch, with the uninformative loss ln 2 as reference."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plot_curves(ax, histories, metric, chance, "P(+) = ½: ln 2")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def verdict(status: str, claim: str, evidence: str) -> str:
    """A markdown verdict line: **status** — the report's claim — this run's numbers."""
    if status not in VERDICTS:
        raise ValueError(f"status must be one of {VERDICTS}, got {status!r}")
    return f"- **{status}** — {claim}: {evidence}"


#: Smallest accuracy above chance (absolute) that the verdicts call a real gain: one point.
PRACTICAL_MARGIN: float = 0.01


def above_chance(value: float, chance: float, se: float, n_se: float = 2.0,
                 margin: float = PRACTICAL_MARGIN) -> bool:
    """Whether an accuracy is above its chance level, statistically *and* practically.

    Statistically: more than ``n_se`` standard errors (spread over structures) above it;
    practically: by at least ``margin`` (a large test set makes 0.502 "significant", but a
    sign accuracy of 50.2 % is still a coin for a crystallographer).
    """
    diff = value - chance
    return bool(diff > n_se * max(se, 1e-12) and diff >= margin)


def format_table(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Round the float columns of a results table for display."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out
