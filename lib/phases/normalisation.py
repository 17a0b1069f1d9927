"""Normalisation of intensities per structure, and the comparison of report 1, §3.1.

Every measured data set comes on its own arbitrary scale (crystal size, beam, exposure), so the
network's input must be normalised per structure (per row).  :func:`normalise` divides each
row by its maximum, mean or median intensity, ignoring unmeasured reflections (NaN).

The report (§3.1, Figs 1–5) compared, by eye, scatter plots of measured against calculated
intensity after normalising by maximum, mean, median and by linear regression.
:func:`compare_normalisations` puts numbers on it: per file, both the measured and the
calculated intensities are normalised the same way (the calculated ones need it too: a
network trained on calculated intensities sees them normalised), then

* the per-file **slope** s_f of the least-squares line through the origin,
  norm(I_meas) ≈ s_f · norm(I_calc) — 1 for every file when the normalisation removes the
  scale; the spread across files is the coefficient of variation CV = sd(s_f) / mean(s_f)
  (``ratio_spread`` of the metrics);
* the per-file **median ratio** m_f = median(norm(I_meas) / norm(I_calc)) over the file's
  strong reflections (I_calc ≥ the file's median I_calc; weak ones make the ratio unstable),
  and its robust spread across files 1.4826·MAD(m_f) / median(m_f);
* the between-file sd of log10 m_f (decades).

Methods: ``none`` (raw intensities), ``max``, ``mean``, ``median`` (both sides divided by their
own statistic), and ``linear_regression``: I_meas is divided by the least-squares scale
a = Σ I_meas·I_calc / Σ I_calc² fitted through the origin (I_meas ≈ a·I_calc, no intercept:
the model of a measured intensity is a pure scale k·|F|², and an intercept would not leave a
scaled intensity), I_calc is left as it is.  Because that fit uses I_calc, its in-sample
slope is 1 by construction; its spread is therefore measured by two-fold cross-fitting: the
scale is fitted on one random half of a file's reflections and the slope measured on the
other half (and vice versa).  Note that this method needs I_calc, i.e. the structure — it
cannot normalise data of an unknown structure, which is what the network must do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .measured import MeasuredData
from .reflections import index_set

#: Per-row normalisations usable without the structure (network input).
METHODS: tuple[str, ...] = ("max", "mean", "median")
#: The methods compared in §3.1, in the report's order (Figs 1–5).
COMPARISON_METHODS: tuple[str, ...] = ("none", "max", "mean", "median", "linear_regression")
#: Consistency constant of the MAD for a normal distribution.
MAD_TO_SD: float = 1.4826


def row_statistic(intensity: np.ndarray, method: str) -> np.ndarray:
    """The per-row statistic (max, mean or median intensity; NaN ignored), shape (n,) or ()."""
    x = np.asarray(intensity, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"unknown normalisation {method!r}: choose one of {', '.join(METHODS)}")
    if x.size == 0 or x.shape[-1] == 0:
        raise ValueError("cannot normalise an empty intensity array")
    func = {"max": np.nanmax, "mean": np.nanmean, "median": np.nanmedian}[method]
    all_nan = np.all(np.isnan(x), axis=-1)
    safe = np.where(all_nan[..., None], 0.0, x) if x.ndim > 1 else (
        np.zeros_like(x) if all_nan else x)
    stat = np.asarray(func(safe, axis=-1), dtype=np.float64)
    return np.where(all_nan, np.nan, stat)


def normalise(intensity: np.ndarray, method: str) -> np.ndarray:
    """Divide each structure's (row's) intensities by its max, mean or median intensity.

    ``intensity``: (n_structures, n_reflections) or (n_reflections,), any scale; NaN marks an
    unmeasured reflection and is ignored by the statistic (and stays NaN).  Returns float64
    of the same shape, dimensionless.  A row whose statistic is not positive and finite (all
    NaN, all zero, a negative median of very weak data) comes back as NaN — it carries no
    usable scale.
    """
    x = np.asarray(intensity, dtype=np.float64)
    stat = row_statistic(x, method)
    good = np.isfinite(stat) & (stat > 0)
    denom = np.where(good, stat, np.nan)
    return x / (denom[..., None] if x.ndim > 1 else denom)


def fit_scale(i_meas: np.ndarray, i_calc: np.ndarray, intercept: bool = False
              ) -> tuple[float, float]:
    """Least-squares fit I_meas ≈ a·I_calc (+ b): returns (a, b); b = 0 without intercept.

    NaN pairs are ignored.  Through the origin a = Σ I_meas·I_calc / Σ I_calc².
    """
    y = np.asarray(i_meas, dtype=np.float64)
    x = np.asarray(i_calc, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < (2 if intercept else 1):
        return float("nan"), float("nan") if intercept else 0.0
    if intercept:
        a, b = np.polyfit(x, y, 1)
        return float(a), float(b)
    den = float(np.dot(x, x))
    return (float(np.dot(x, y) / den) if den > 0 else float("nan")), 0.0


def normalise_pair(i_meas: np.ndarray, i_calc: np.ndarray, method: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One file's (I_meas, I_calc) after ``method`` (see :data:`COMPARISON_METHODS`)."""
    y = np.asarray(i_meas, dtype=np.float64)
    x = np.asarray(i_calc, dtype=np.float64)
    if method == "none":
        return y, x
    if method in METHODS:
        return normalise(y, method), normalise(x, method)
    if method == "linear_regression":
        a, _ = fit_scale(y, x)
        return y / a, x
    raise ValueError(f"unknown method {method!r}: choose one of {', '.join(COMPARISON_METHODS)}")


def strong_median_ratio(y: np.ndarray, x: np.ndarray) -> float:
    """median(y / x) over the reflections with x ≥ median(x) (and finite, x > 0)."""
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    if not np.any(ok):
        return float("nan")
    x, y = x[ok], y[ok]
    strong = x >= np.median(x)
    return float(np.median(y[strong] / x[strong]))


def _cross_fitted_slope(i_meas: np.ndarray, i_calc: np.ndarray, rng: np.random.Generator
                        ) -> tuple[float, float]:
    """Two-fold cross-fitted (slope, median ratio) of the linear-regression normalisation."""
    ok = np.flatnonzero(np.isfinite(i_meas) & np.isfinite(i_calc))
    perm = rng.permutation(ok)
    halves = (perm[: len(perm) // 2], perm[len(perm) // 2:])
    slopes, ratios = [], []
    for fit_on, test_on in (halves, halves[::-1]):
        a, _ = fit_scale(i_meas[fit_on], i_calc[fit_on])
        y, x = i_meas[test_on] / a, i_calc[test_on]
        slopes.append(fit_scale(y, x)[0])
        ratios.append(strong_median_ratio(y, x))
    return float(np.mean(slopes)), float(np.mean(ratios))


def spread(values: Sequence[float]) -> dict[str, float]:
    """Spread across files of per-file numbers: CV, robust CV, sd of log10, mean, n."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out = {"n": int(v.size), "mean": float("nan"), "median": float("nan"), "cv": float("nan"),
           "robust_cv": float("nan"), "sd_log10": float("nan")}
    if v.size == 0:
        return out
    mean = float(np.mean(v))
    med = float(np.median(v))
    out["mean"] = mean
    out["median"] = med
    if v.size >= 2:
        out["cv"] = float(np.std(v, ddof=1) / abs(mean)) if mean != 0 else float("nan")
        out["robust_cv"] = float(MAD_TO_SD * np.median(np.abs(v - med)) / abs(med)) \
            if med != 0 else float("nan")
        pos = v[v > 0]
        if pos.size >= 2:
            out["sd_log10"] = float(np.std(np.log10(pos), ddof=1))
    return out


@dataclass
class NormalisationComparison:
    """Result of :func:`compare_normalisations`.

    ``slopes[method]`` and ``median_ratios[method]``: per-file values (list order = files);
    ``summary[method]``: spreads (see :func:`spread`) of the slopes (keys prefixed
    ``slope_``) and median ratios (``ratio_``); ``within_file_iqr_log10``: per-file
    interquartile range of log10(I_meas/I_calc) over strong reflections — the scatter no
    per-file scale can remove.
    """

    source_ids: list[str]
    slopes: dict[str, list[float]] = field(default_factory=dict)
    median_ratios: dict[str, list[float]] = field(default_factory=dict)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    within_file_iqr_log10: list[float] = field(default_factory=list)

    @property
    def ratio_spread(self) -> dict[str, float]:
        """CV across files of the per-file slope, per method (the metrics' ``ratio_spread``)."""
        return {m: self.summary[m]["slope_cv"] for m in self.summary}

    def table(self) -> "pandas.DataFrame":  # noqa: F821
        """The §3.1 table: one row per method, spreads across files as columns."""
        import pandas as pd

        rows = []
        for method in self.summary:
            s = self.summary[method]
            rows.append({"method": method, "files": s["slope_n"],
                         "mean slope": s["slope_mean"],
                         "CV of slope": s["slope_cv"],
                         "robust CV of slope": s["slope_robust_cv"],
                         "sd log10 slope": s["slope_sd_log10"],
                         "median ratio (median over files)": s["ratio_median"],
                         "robust CV of median ratio": s["ratio_robust_cv"]})
        return pd.DataFrame(rows).set_index("method")


def compare_normalisations(i_meas: Sequence[np.ndarray], i_calc: Sequence[np.ndarray],
                           source_ids: Sequence[str] | None = None,
                           methods: Sequence[str] = COMPARISON_METHODS,
                           rng: np.random.Generator | None = None) -> NormalisationComparison:
    """Compare normalisations of measured vs calculated intensities across files (§3.1).

    ``i_meas[f]`` and ``i_calc[f]`` are one file's measured and calculated intensities on the
    same reflections (NaN = unmeasured; files may have different lengths).  ``rng`` drives
    the two-fold split of the cross-fitted linear regression.  See the module docstring.
    """
    if len(i_meas) != len(i_calc):
        raise ValueError(f"{len(i_meas)} measured files but {len(i_calc)} calculated")
    if len(i_meas) == 0:
        raise ValueError("no files to compare")
    rng = rng if rng is not None else np.random.default_rng(0)
    ids = list(source_ids) if source_ids is not None else [str(i) for i in range(len(i_meas))]
    result = NormalisationComparison(source_ids=ids)
    pairs = [(np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64))
             for y, x in zip(i_meas, i_calc)]
    for y, x in pairs:
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        strong = ok & (x >= np.median(x[ok])) if np.any(ok) else ok
        q = np.log10(y[strong] / x[strong])
        result.within_file_iqr_log10.append(
            float(np.subtract(*np.percentile(q, [75, 25]))) if q.size else float("nan"))
    for method in methods:
        slopes, ratios = [], []
        for y, x in pairs:
            if method == "linear_regression":
                s, r = _cross_fitted_slope(y, x, rng)
            else:
                yn, xn = normalise_pair(y, x, method)
                s, r = fit_scale(yn, xn)[0], strong_median_ratio(yn, xn)
            slopes.append(s)
            ratios.append(r)
        result.slopes[method] = slopes
        result.median_ratios[method] = ratios
        summary = {f"slope_{k}": v for k, v in spread(slopes).items()}
        summary.update({f"ratio_{k}": v for k, v in spread(ratios).items()})
        result.summary[method] = summary
    return result


def restrict_to_index_set(data: MeasuredData, reflection_set: str | int) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """(I_meas, I_calc) of one data set on the report's index set, or on all its reflections.

    ``reflection_set``: ``"all"`` (every unique measured reflection), or 4630 / 709 (the
    report's P-1 index sets of :mod:`lib.phases.reflections`; unmeasured reflections are dropped).
    """
    if str(reflection_set).lower() == "all":
        return data.i_meas.copy(), data.i_calc.copy()
    on = data.on_index_set(index_set(int(reflection_set)))
    ok = np.isfinite(on["i_meas"])
    return on["i_meas"][ok], on["i_calc"][ok]
