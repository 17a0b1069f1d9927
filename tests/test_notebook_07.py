"""Smoke run of notebook 07 (the classical phasing baseline) through papermill."""

from __future__ import annotations

import pytest

from lib import config
from lib.phases.baselines import TABLE_COLUMNS

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def m07(run_notebook):
    return run_notebook("07_phasing_baselines")


def _rows(metrics, source):
    return [r for r in metrics["baseline_table"] if r["source"] == source]


def test_baseline_table(m07):
    params = config.profile_parameters("07_phasing_baselines", "smoke")
    assert m07["table_columns"] == list(TABLE_COLUMNS)
    generated = _rows(m07, "generated")
    assert [(r["method"], r["d_min"]) for r in generated] == [
        (m, d) for m in ("charge_flipping", "sigma2") for d in (1.0, 2.0)]
    for row in m07["baseline_table"]:
        assert set(row) == set(TABLE_COLUMNS)
        if row["n_structures"]:
            assert 0 <= row["solved"] <= 1 and row["solved_se"] >= 0
            assert 0.5 <= row["chance"] < 0.7 and 0.5 <= row["chance_strongest"] < 0.75
            assert 0 <= row["accuracy"] <= 1 and 0 <= row["accuracy_strongest"] <= 1
    counts = {r["method"]: r["n_structures"] + r["n_failed"] for r in generated}
    assert counts == {"charge_flipping": params["n_structures"],
                      "sigma2": params["n_sigma2_structures"]}
    cf = {r["d_min"]: r for r in generated if r["method"] == "charge_flipping"}
    assert cf[1.0]["solved"] >= 0.75 and cf[1.0]["accuracy"] > cf[1.0]["chance"] + 0.2
    assert cf[2.0]["solved"] <= 0.25


def test_triplets_verdict_and_figures(m07):
    triplets = {t["d_min"]: t for t in m07["triplets"]}
    assert set(triplets) == {1.0, 2.0}
    assert triplets[1.0]["strongest"]["n"] == 4 * 50
    assert triplets[1.0]["strongest"]["observed"] >= 0.95
    assert all(0 <= c["observed"] <= 1 for c in triplets[2.0]["calibration"])
    assert "charge_flipping" in m07["verdict"] and "triplets" in m07["verdict"]
    assert m07["structures"]["generated"]["stream"] == 8
    figs = config.figures_dir("smoke")
    for stem in ("phasing_fig1_solved_fraction_by_resolution",
                 "phasing_fig2_weighted_accuracy_by_resolution", "phasing_fig3_triplets_against_cochran"):
        assert (figs / f"{stem}.png").is_file() and (figs / f"{stem}.pdf").is_file()


@pytest.mark.shared_data
def test_real_cod_structures(m07, shared_data):
    cod = m07["structures"]["cod_p-1"]
    assert cod["n"] == 2 and len(cod["ids"]) == 2
    rows = _rows(m07, "cod_p-1")
    assert [(r["method"], r["d_min"]) for r in rows] == [
        (m, d) for m in ("charge_flipping", "sigma2") for d in (1.0, 2.0)]
    assert all(r["n_structures"] + r["n_failed"] == 2 for r in rows)
