"""Normalisation per structure and the §3.1 comparison, on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from lib.phases.simulate import simulate_measurement
from lib.phases.normalisation import (COMPARISON_METHODS, compare_normalisations, fit_scale,
                               normalise, normalise_pair, spread, strong_median_ratio)

ROWS = np.array([[1.0, 2.0, 3.0, 6.0],
                 [4.0, np.nan, 8.0, 12.0]])


def test_normalise_by_hand() -> None:
    np.testing.assert_allclose(normalise(ROWS, "max"),
                               [[1 / 6, 2 / 6, 3 / 6, 1.0], [4 / 12, np.nan, 8 / 12, 1.0]])
    np.testing.assert_allclose(normalise(ROWS, "mean"),
                               [[1 / 3, 2 / 3, 1.0, 2.0], [0.5, np.nan, 1.0, 1.5]])
    np.testing.assert_allclose(normalise(ROWS, "median"),
                               [[0.4, 0.8, 1.2, 2.4], [0.5, np.nan, 1.0, 1.5]])
    np.testing.assert_allclose(normalise(ROWS[0], "median"), [0.4, 0.8, 1.2, 2.4])


def test_normalise_removes_any_row_scale() -> None:
    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, size=(5, 100))
    scales = np.array([0.5, 2.0, 10.0, 33.0, 1e4])[:, None]
    for method in ("max", "mean", "median"):
        np.testing.assert_allclose(normalise(x * scales, method), normalise(x, method))


def test_normalise_degenerate_rows_and_errors() -> None:
    out = normalise(np.array([[np.nan, np.nan], [0.0, 0.0], [-1.0, -2.0], [1.0, 3.0]]), "max")
    assert np.all(np.isnan(out[:3])) and np.allclose(out[3], [1 / 3, 1.0])
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(ROWS, "sum")
    with pytest.raises(ValueError, match="empty"):
        normalise(np.zeros((2, 0)), "max")


def test_fit_scale_by_hand() -> None:
    x = np.array([1.0, 2.0, 3.0, np.nan])
    y = np.array([2.0, 4.0, 7.0, 5.0])
    a, b = fit_scale(y, x)
    assert a == pytest.approx((2 + 8 + 21) / (1 + 4 + 9)) and b == 0.0
    a, b = fit_scale(y, x, intercept=True)
    assert a == pytest.approx(2.5) and b == pytest.approx(-2 / 3)


def test_normalise_pair_methods() -> None:
    x = np.array([1.0, 2.0, 4.0])
    y = 3.0 * x
    for method in COMPARISON_METHODS:
        yn, xn = normalise_pair(y, x, method)
        ratio = 3.0 if method == "none" else 1.0
        np.testing.assert_allclose(yn / xn, ratio)
    with pytest.raises(ValueError):
        normalise_pair(y, x, "mode")


def test_strong_median_ratio_and_spread_by_hand() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    y = np.array([9.0, 9.0, 6.0, 12.0, 1.0])
    # strong: x >= median(1,2,3,4) = 2.5 → ratios 2, 3 → median 2.5
    assert strong_median_ratio(y, x) == pytest.approx(2.5)
    s = spread([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["cv"] == pytest.approx(0.5)
    assert s["robust_cv"] == pytest.approx(1.4826 * 1 / 2)
    assert s["sd_log10"] == pytest.approx(np.std(np.log10([1, 2, 3]), ddof=1))


def test_comparison_by_hand() -> None:
    """Two files, exact multiples of I_calc: every method but 'none' gives slope 1."""
    x1 = np.array([1.0, 2.0, 3.0, 4.0])
    x2 = np.array([2.0, 2.0, 5.0, 9.0])
    c = compare_normalisations([2 * x1, 6 * x2], [x1, x2], ["a", "b"])
    assert c.slopes["none"] == pytest.approx([2.0, 6.0])
    assert c.ratio_spread["none"] == pytest.approx(np.std([2, 6], ddof=1) / 4)
    for method in ("max", "mean", "median", "linear_regression"):
        assert c.slopes[method] == pytest.approx([1.0, 1.0])
        assert c.ratio_spread[method] == pytest.approx(0.0, abs=1e-12)
    table = c.table()
    assert list(table.index) == list(COMPARISON_METHODS)
    assert table.loc["none", "files"] == 2


def test_comparison_on_simulated_files_orders_methods() -> None:
    """Simulated files: normalisation shrinks the spread; regression is the floor."""
    rng = np.random.default_rng(5)
    i_calc = rng.exponential(100.0, size=(30, 3000))
    stol2 = rng.uniform(0.0, 0.25, size=3000)
    meas = simulate_measurement(i_calc, stol2, rng, scale_range=(0.5, 50.0), b_max=1.0,
                                noise=0.03, completeness=0.95)
    c = compare_normalisations(list(meas), list(i_calc), rng=np.random.default_rng(0))
    s = c.ratio_spread
    assert set(s) == set(COMPARISON_METHODS)
    assert s["none"] > 0.5
    for method in ("max", "mean", "median"):
        assert 0 < s[method] < s["none"] / 5
    assert 0 < s["linear_regression"] < min(s["max"], s["mean"], s["median"])
    # the maximum of one reflection is noisier than the mean over thousands
    assert s["mean"] < s["max"]


def test_comparison_errors() -> None:
    with pytest.raises(ValueError, match="no files"):
        compare_normalisations([], [])
    with pytest.raises(ValueError, match="measured files"):
        compare_normalisations([np.ones(3)], [])
