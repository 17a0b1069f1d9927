"""Figures of report 1's notebooks (01–05): drawing only.

Every function takes numbers already computed (by :mod:`lib.phases.normalisation`,
:mod:`lib.phases.training`, :mod:`lib.phases.autoencoders` or :mod:`lib.phases.verdicts`) and
returns a matplotlib figure; the notebook saves it (:func:`lib.figures.save_figure`).
Learning curves are drawn from the runs' own histories (training dashed, validation solid, one
colour per run) with the chance level measured on random predictions as a dotted line.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator, NullFormatter, NullLocator
import pandas as pd

from .models import count_parameters, layer_table

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


# ---------------------------------------------------------------------------------------------
# 02 — the sign MLP (Fig 6)
# ---------------------------------------------------------------------------------------------

#: Box colour of each Keras layer type in the architecture drawing.
LAYER_COLOURS: dict[str, str] = {"InputLayer": "#9ecae1", "Dense": "#fdae6b",
                                 "Activation": "#c7e9c0", "Dropout": "#d9d9d9",
                                 "BatchNormalization": "#dadaeb"}


def draw_architecture(model: Any, ax: Any, title: str | None = None) -> None:
    """Draw ``model`` on a matplotlib axis: one box per layer, sized by its units (Fig 6).

    Built from the model's own layers (:func:`lib.phases.models.layer_table`: units,
    activation, parameters), so the drawing is always the network that was trained.
    """
    from matplotlib.patches import FancyBboxPatch

    rows = layer_table(model)
    units = [r["units"] or 1 for r in rows]
    top = max(units)
    for i, (row, u) in enumerate(zip(rows, units)):
        height = 0.25 + 0.75 * np.sqrt(u / top)
        ax.add_patch(FancyBboxPatch((i - 0.3, -height / 2), 0.6, height,
                                    boxstyle="round,pad=0.02", edgecolor="0.3",
                                    facecolor=LAYER_COLOURS.get(row["type"], "#eeeeee")))
        label = f"{row['name']}\n{row['type']}\n{u} units"
        if row["activation"] and row["activation"] != "linear":
            label += f"\n{row['activation']}"
        if row["parameters"]:
            label += f"\n{row['parameters']:,} params"
        ax.text(i, -0.62, label, ha="center", va="top", fontsize=7)
        if i:
            ax.annotate("", xy=(i - 0.32, 0), xytext=(i - 0.68, 0),
                        arrowprops={"arrowstyle": "->", "color": "0.3"})
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(-1.35, 0.65)
    ax.axis("off")
    ax.set_title(title or f"{model.name}: {count_parameters(model):,} trainable parameters")


def architecture_figure(model: Any, title: str | None = None) -> plt.Figure:
    """Fig 6: the architecture of a built Keras model (:func:`draw_architecture`)."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    draw_architecture(model, ax, title)
    return fig


# ---------------------------------------------------------------------------------------------
# 01 — measured against calculated intensity (Figs 1–5)
# ---------------------------------------------------------------------------------------------

def spread_picks(values: Sequence[float], n: int) -> list[int]:
    """Indices of at most ``n`` entries spread evenly over the range of ``values`` (sorted)."""
    order = np.argsort(values)
    picks = np.unique(np.linspace(0, len(values) - 1, min(n, len(values))).round())
    return sorted(int(order[int(k)]) for k in picks)


def set_ratio_axis(ax: Any, values: Sequence[float]) -> None:
    """x axis for positive ratios around 1: logarithmic over a decade or more, else linear.

    A log axis over less than a decade labels its minor ticks, which then overlap (Fig 5).
    """
    v = np.asarray(values, dtype=np.float64)
    v = np.append(v[np.isfinite(v) & (v > 0)], 1.0)
    if v.max() / v.min() >= 10.0:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_minor_locator(NullLocator())


def intensity_figure(shown: Sequence[tuple[np.ndarray, np.ndarray]], labels: Sequence[str],
                     slopes: Sequence[float], ids: Sequence[str], spread: float, method: str,
                     title: str, fit_slopes: Sequence[float] | None = None) -> plt.Figure:
    """Figs 1–5: (normalised) I_meas against I_calc per file, and every file's slope s_f.

    ``shown``: the (I_meas, I_calc) pairs drawn (after ``method``), one colour each, labelled
    ``labels``; non-positive intensities are left out of the log–log scatter.  ``fit_slopes``:
    draw each file's least-squares line I_meas = a·I_calc (raw data); otherwise the line
    y = x.  Right: ``slopes`` of all files ``ids`` and their CV across files ``spread``.
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.8), width_ratios=(1.6, 1))
    colours = plt.cm.tab20(np.linspace(0, 1, max(len(shown), 2)))
    lo, hi = np.inf, -np.inf
    for k, (colour, (y, x), label) in enumerate(zip(colours, shown, labels)):
        ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
        ax.scatter(x[ok], y[ok], s=3, alpha=0.35, color=colour, label=label, rasterized=True)
        if ok.any():
            lo, hi = min(lo, x[ok].min(), y[ok].min()), max(hi, x[ok].max(), y[ok].max())
        if fit_slopes is not None:
            xs_line = np.geomspace(max(x[ok].min(), 1e-12), x[ok].max(), 50)
            ax.plot(xs_line, fit_slopes[k] * xs_line, color=colour, lw=1.2)
    if fit_slopes is None and np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("I_calc = |F_calc|²" if method in ("none", "linear_regression")
                  else f"I_calc / {method}(I_calc)")
    ax.set_ylabel({"none": "I_meas (file's own scale)", "linear_regression": "I_meas / a"}.get(
        method, f"I_meas / {method}(I_meas)"))
    ax.legend(fontsize=6, markerscale=3, ncol=2, loc="upper left")
    slopes = np.asarray(slopes, dtype=np.float64)
    bx.scatter(slopes, np.arange(len(slopes)), s=12, color="tab:blue")
    bx.axvline(1.0, color="k", ls="--", lw=1)
    set_ratio_axis(bx, slopes)
    bx.set_yticks(np.arange(len(slopes)), ids, fontsize=6)
    bx.set_xlabel("per-file slope s_f" + (" (cross-fitted)" if method == "linear_regression"
                                          else ""))
    bx.set_title(f"CV across files = {spread:.3g}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 02 — plain against origin-invariant loss (Fig 14b)
# ---------------------------------------------------------------------------------------------

def loss_pairs_figure(pairs: pd.DataFrame, title: str) -> plt.Figure:
    """Fig 14b: overfitting gap and test origin-aware accuracy, plain vs origin-invariant loss.

    ``pairs``: :func:`lib.phases.verdicts.loss_pairs_table`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    x = np.arange(len(pairs))
    axes[0].bar(x - 0.2, pairs["gap_plain"], 0.4, label="plain loss")
    axes[0].bar(x + 0.2, pairs["gap_invariant"], 0.4, label="origin-invariant loss")
    axes[0].set_ylabel("train − validation origin-aware accuracy")
    axes[0].set_title("overfitting gap", fontsize=10)
    axes[1].bar(x - 0.2, pairs["test_origin_acc_plain"], 0.4, label="plain loss")
    axes[1].bar(x + 0.2, pairs["test_origin_acc_invariant"], 0.4, label="origin-invariant loss")
    axes[1].axhline(float(pairs["chance_origin_acc"].mean()), color="0.4", ls=":",
                    label="chance (best of 8 random)")
    axes[1].set_ylabel("test origin-aware accuracy")
    lowest = float(pairs[["test_origin_acc_plain", "test_origin_acc_invariant"]].min().min())
    axes[1].set_ylim(min(0.45, lowest - 0.01), None)
    axes[1].set_title("generalisation", fontsize=10)
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(pairs["configuration"], rotation=30, ha="right", fontsize=7)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 04 — final accuracy against hidden-layer width (Fig 18b)
# ---------------------------------------------------------------------------------------------

def width_figure(table: pd.DataFrame, chance: Mapping[str, float], report_best: int,
                 title: str) -> plt.Figure:
    """Fig 18b: final train/validation/test accuracy (plain, origin-aware) against width.

    ``table``: :func:`lib.phases.verdicts.width_table`; error bars 2 standard errors (where
    the table has them); dotted: chance; dash-dotted: the report's best width.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = ((axes[0], "acc", "plain sign accuracy", chance["accuracy"]),
              (axes[1], "origin_acc", "origin-aware accuracy", chance["origin_accuracy"]))
    for ax, key, ylabel, ch in panels:
        ax.plot(table["width"], table[f"train_{key}"], "o--", label="train")
        for split, fmt in (("val", "o-"), ("test", "s-")):
            se = table.get(f"{split}_{key}_se")
            ax.errorbar(table["width"], table[f"{split}_{key}"],
                        yerr=None if se is None else 2 * se, fmt=fmt,
                        label="validation" if split == "val" else "test")
        ax.axhline(ch, color="0.4", ls=":", label=f"chance ({ch:.3f})")
        ax.axvline(report_best, color="tab:red", ls="-.", lw=0.8,
                   label=f"report's best (≈{report_best})")
        ax.set_xscale("log")
        ax.set_xlabel("hidden-layer width (units)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 05 — autoencoders (Figs 19–21)
# ---------------------------------------------------------------------------------------------

def _colour(i: int) -> str:
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return colours[i % len(colours)]


def autoencoder_mse_figure(histories: Mapping[int, pd.DataFrame], table: pd.DataFrame,
                           mean_intensity_mse: float, title: str) -> plt.Figure:
    """Fig 19: MSE per epoch of every bottleneck (left); test MSE against width, with PCA of
    the same width and the error of predicting the mean intensity (right).

    ``table``: :func:`lib.phases.verdicts.autoencoder_table`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, (w, h) in enumerate(histories.items()):
        axes[0].plot(h["epoch"], h["loss"], "--", color=_colour(i), label=f"{w} (train)")
        axes[0].plot(h["epoch"], h["val_loss"], "-", color=_colour(i), label=f"{w} (validation)")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("MSE of normalised intensities")
    axes[0].set_title("training (dashed) and validation (solid) loss", fontsize=10)
    axes[0].legend(fontsize=6, ncol=2)
    axes[1].plot(table["bottleneck"], table["ae_test_mse"], "o-", label="autoencoder (test)")
    axes[1].plot(table["bottleneck"], table["pca_test_mse"], "s--",
                 label="PCA, same width (test)")
    axes[1].axhline(mean_intensity_mse, color="0.4", ls=":", label="predict the mean intensity")
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("bottleneck width (units / components)")
    axes[1].set_ylabel("test MSE")
    axes[1].set_title("final test error", fontsize=10)
    axes[1].legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def per_reflection_error_figure(errors: Mapping[int, np.ndarray], r2: np.ndarray,
                                title: str) -> plt.Figure:
    """Fig 20: test MSE of each reflection (report order, by R = h²+k²+l²) per bottleneck."""
    x = np.arange(len(r2))
    fig, ax = plt.subplots(figsize=(12, 4.2))
    for i, (w, per_reflection) in enumerate(errors.items()):
        ax.plot(x, per_reflection, lw=0.5, color=_colour(i), label=f"bottleneck {w}", alpha=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("reflection index, sorted by R = h²+k²+l², then h, k, l")
    ax.set_ylabel("test MSE of the reflection")
    sec = ax.secondary_xaxis("top", functions=(lambda i: np.interp(i, x, r2),
                                               lambda v: np.interp(v, r2, x)))
    sec.set_xlabel("R = h² + k² + l²")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def smoothed_error_figure(smoothed: Mapping[int, Mapping[str, np.ndarray]],
                          reference: np.ndarray, reference_label: str,
                          title: str) -> plt.Figure:
    """Fig 21: smoothed per-reflection error, absolute (left) and relative (right).

    ``smoothed[w]``: :func:`lib.phases.autoencoders.smoothed_errors` of bottleneck ``w``;
    ``reference``: a relative error drawn dashed on the right (PCA).
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharex=True)
    x = np.arange(len(reference))
    for i, (w, s) in enumerate(smoothed.items()):
        axes[0].plot(x, s["absolute"], color=_colour(i), label=f"bottleneck {w}")
        axes[1].plot(x, s["relative"], color=_colour(i), label=f"bottleneck {w}")
    axes[1].plot(x, reference, "k--", lw=0.8, label=reference_label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("MSE (smoothed)")
    axes[1].set_ylabel("Σ MSE / Σ mean squared intensity (window)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("reflection index, sorted by R")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Notebook 07: the classical phasing baseline (numbers from lib.phases.baselines)
# ---------------------------------------------------------------------------------------------

#: Line style of each source of test structures in the baseline figures.
BASELINE_SOURCE_STYLES: dict[str, str] = {"generated": "-", "cod_p-1": "--"}


def _baseline_lines(table: pd.DataFrame):
    """(label, colour, line style, x, rows sorted by d_min) per source × method of a baseline
    table (:func:`lib.phases.baselines.summarise_sweep`), generated structures first; x is
    d_min (Å) moved by a few hundredths per line so that equal values stay visible."""
    methods = list(dict.fromkeys(table["method"]))
    groups = sorted(table.groupby(["source", "method"], sort=False),
                    key=lambda g: (g[0][0] != "generated", g[0][0]))
    step = 0.015 * (table["d_min"].max() - table["d_min"].min() or 1.0)
    for i, ((source, method), rows) in enumerate(groups):
        rows = rows.sort_values("d_min")
        x = rows["d_min"] + (i - (len(groups) - 1) / 2) * step
        yield (f"{method} ({source})", _colour(methods.index(method)),
               BASELINE_SOURCE_STYLES.get(source, ":"), x, rows)


def solved_fraction_figure(table: pd.DataFrame, title: str) -> plt.Figure:
    """Fraction of structures solved (map correlation ≥ 0.5) against d_min (Å), one line per
    method and source, error bars = binomial standard error; high resolution on the left."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, colour, style, x, rows in _baseline_lines(table):
        ax.errorbar(x, rows["solved"], yerr=rows["solved_se"], color=colour,
                    ls=style, marker="o", capsize=3,
                    label=f"{label}, n = {int(rows['n_structures'].min())}")
    ax.set_xlabel("resolution d_min (Å)")
    ax.set_ylabel("fraction solved (map correlation ≥ 0.5)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(sorted(set(table["d_min"])))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def baseline_accuracy_figure(table: pd.DataFrame, title: str) -> plt.Figure:
    """|E|-weighted origin-aware sign accuracy against d_min (Å): all reflections (left) and
    the strongest 20 % (right), mean ± standard error over structures, each source with its
    chance level measured with random signs (grey)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, score, what in ((axes[0], "accuracy", "all reflections"),
                            (axes[1], "accuracy_strongest", "strongest 20 % by |E|")):
        chance = "chance" if score == "accuracy" else "chance_strongest"
        for label, colour, style, x, rows in _baseline_lines(table):
            ax.errorbar(x, rows[score], yerr=rows[f"{score}_se"], color=colour,
                        ls=style, marker="o", capsize=3, label=label)
        for source, rows in table.groupby("source", sort=False):
            # chance of the method phased on the most structures of this source
            most = rows.groupby("method")["n_structures"].sum().idxmax()
            rows = rows[rows["method"] == most].sort_values("d_min")
            ax.plot(rows["d_min"], rows[chance], color="0.35",
                    ls=":" if source == "generated" else "-.", lw=1.3,
                    label=f"chance: random signs ({source})")
        ax.set_xlabel("resolution d_min (Å)")
        ax.set_title(what, fontsize=10)
        ax.set_xticks(sorted(set(table["d_min"])))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("|E|-weighted origin-aware sign accuracy")
    axes[1].legend(fontsize=6)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def cochran_figure(calibrations: Mapping[float, pd.DataFrame], title: str) -> plt.Figure:
    """Observed P(s(h)s(k)s(h+k) = +1) of triplets of strong reflections against Cochran's A,
    one set of points (± binomial SE) per resolution d_min (Å), with the centrosymmetric
    prediction ½ + ½ tanh(A/2) (solid) and ½ + ½ tanh A (dashed) as lines; right panel: how
    many triplets each bin of A holds."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    top = max([float(c["a_mean"].max()) for c in calibrations.values() if len(c)] + [1.0])
    a = np.linspace(0, top * 1.05, 200)
    axes[0].plot(a, 0.5 + 0.5 * np.tanh(a / 2), "k-", lw=1,
                 label="centrosymmetric: ½ + ½ tanh(A/2)")
    axes[0].plot(a, 0.5 + 0.5 * np.tanh(a), color="0.5", ls="--", lw=1, label="½ + ½ tanh A")
    for i, (d_min, cal) in enumerate(calibrations.items()):
        axes[0].errorbar(cal["a_mean"], cal["observed"], yerr=cal["observed_se"], ls="none",
                         marker="o", ms=4, capsize=2, color=_colour(i),
                         label=f"observed, d_min = {d_min:g} Å")
        axes[1].plot(cal["a_mean"], cal["count"], marker="o", color=_colour(i),
                     label=f"d_min = {d_min:g} Å")
    axes[0].axhline(0.5, color="0.5", ls=":", lw=1)
    axes[0].set_xlabel("Cochran's A = 2 σ₃ σ₂^(−3/2) |E_h E_k E_h+k| (bin mean)")
    axes[0].set_ylabel("P(s(h) s(k) s(h+k) = +1)")
    axes[0].legend(fontsize=7)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("A (bin mean)")
    axes[1].set_ylabel("triplets in the bin")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 08 — sign models: learning curves
# ---------------------------------------------------------------------------------------------

def learning_curve_figure(curves: Mapping[str, Sequence[Mapping[str, float]]],
                          extrapolations: Mapping[str, Mapping[str, Any]], title: str
                          ) -> plt.Figure:
    """Held-out |E|-weighted origin-aware accuracy on the strongest 20 % against structures
    seen (log axis; the untrained point drawn at ½ batch), one line per model ± standard
    error, its chance level dotted, and each power-law fit 1 − a·n^(−b) dashed up to 10× the
    data seen."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (name, curve) in enumerate(curves.items()):
        seen = np.array([c["structures_seen"] for c in curve], dtype=float)
        first = seen[seen > 0].min() if (seen > 0).any() else 1.0
        x = np.where(seen > 0, seen, first / 2)
        y = np.array([c["accuracy_strongest"] for c in curve])
        se = np.array([c.get("accuracy_strongest_se") or 0.0 for c in curve])
        ax.errorbar(x, y, yerr=se, color=_colour(i), marker="o", capsize=2, label=name)
        ax.plot(x, [c["chance_strongest"] for c in curve], color=_colour(i), ls=":", lw=1)
        fit = extrapolations.get(name) or {}
        if fit.get("b") is not None:
            grid = np.geomspace(first, 10 * x.max(), 50)
            ax.plot(grid, 1 - fit["a"] * grid ** (-fit["b"]), color=_colour(i), ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("structures seen (never the same twice)")
    ax.set_ylabel("held-out accuracy, strongest 20 %")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
