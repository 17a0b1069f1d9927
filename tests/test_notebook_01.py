"""Smoke runs of notebooks/01_normalisation.py through papermill (real and simulated data)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pytest

from lib import config

METHODS = ("none", "max", "mean", "median", "linear_regression")
FIGURES = ("fig01_measured_vs_calculated", "fig02_normalised_by_maximum",
           "fig03_normalised_by_mean", "fig04_normalised_by_median",
           "fig05_normalised_by_linear_regression")


def _check_common(m: dict[str, Any]) -> None:
    assert set(m["ratio_spread"]) == set(METHODS)
    for method in METHODS:
        value = m["ratio_spread"][method]
        assert math.isfinite(value) and value > 0, (method, value)
    # normalising by the maximum, and by the best structure-free statistic, removes most of the
    # arbitrary per-file scale (the median of a file with many weak reflections can be near
    # zero, so it is not required to win on a handful of simulated files)
    spread = m["ratio_spread"]
    assert spread["max"] < spread["none"]
    assert spread[m["best_structure_free_method"]] < spread["none"]
    assert m["n_files"] > 0 and m["n_reflections_compared"] > 0
    assert m["verdict"] in ("supported", "not supported", "inconclusive at this scale")
    assert m["best_structure_free_method"] in ("max", "mean", "median")
    figures_dir = config.figures_dir("smoke")
    for name in FIGURES:
        assert (figures_dir / f"{name}.png").is_file() and (figures_dir / f"{name}.pdf").is_file()


@pytest.mark.notebook
@pytest.mark.shared_data
def test_notebook_01_real_data(run_notebook: Callable[..., dict[str, Any]],
                               shared_data: Path) -> None:
    m = run_notebook("01_normalisation")
    assert m["simulated"] is False
    assert m["data_source"].startswith("real: ") and "experimental" in m["data_source"]
    assert f"({m['n_files']} files)" in m["data_source"]
    assert m["n_files"] >= 15 and isinstance(m["skipped"], list)
    _check_common(m)
    assert min(m["pearson_r"].values()) >= 0.96


@pytest.mark.notebook
def test_notebook_01_simulated(run_notebook: Callable[..., dict[str, Any]]) -> None:
    m = run_notebook("01_normalisation", experimental_dir="")
    assert m["simulated"] is True and m["data_source"] == "simulated"
    assert m["n_files"] == config.profile_parameters("01_normalisation", "smoke")[
        "n_simulated_files"]
    assert m["skipped"] == []
    _check_common(m)
    # per-file regression on I_calc is the floor of what one scale per file can do
    assert m["ratio_spread"]["linear_regression"] < m["ratio_spread"]["mean"]
    caption = (config.figures_dir("smoke") / "README.md").read_text()
    assert "simulated" in caption
