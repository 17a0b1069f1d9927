"""Smoke run of notebook 08 (sign models, the report's §4 tested, ML-seeded phasing)."""

from __future__ import annotations

import pytest

from lib import config
from lib.phases.baselines import TABLE_COLUMNS

pytestmark = pytest.mark.notebook

MODELS = ("triplet_untrained", "triplet", "mlp", "phai_like")
CLASSICAL = ("charge_flipping", "sigma2", "charge_flipping_seeded", "sigma2_seeded")


@pytest.fixture(scope="module")
def m08(run_notebook):
    return run_notebook("08_phasing_models")


def test_model_table(m08):
    params = config.profile_parameters("08_phasing_models", "smoke")
    d_mins = sorted(float(d) for d in params["d_mins"].split(","))
    assert m08["table_columns"] == list(TABLE_COLUMNS)
    generated = [r for r in m08["model_table"] if r["source"] == "generated"]
    assert {(r["method"], r["d_min"]) for r in generated} == {
        (m, d) for m in MODELS + CLASSICAL for d in d_mins}
    for row in m08["model_table"]:
        assert set(row) == set(TABLE_COLUMNS)
        for key in ("solved", "accuracy", "accuracy_strongest", "chance", "chance_strongest",
                    "map_correlation"):
            if row["n_structures"] and row[key] is not None:
                assert -1 <= row[key] <= 1 if key == "map_correlation" else 0 <= row[key] <= 1
    counts = {r["method"]: r["n_structures"] + r["n_failed"] for r in generated}
    assert all(counts[m] == params["n_test"] for m in MODELS)
    assert all(counts[m] == params["n_seeded"] for m in CLASSICAL)


def test_curves_verdicts_and_figures(m08):
    params = config.profile_parameters("08_phasing_models", "smoke")
    d0 = params["train_d_min"]
    curve = m08["models"][f"mlp@{d0:g}"]["curve"]
    assert curve[0]["structures_seen"] == 0
    assert curve[-1]["structures_seen"] == params["mlp_structures"]
    assert all(0 <= c["accuracy_strongest"] <= 1 for c in curve)
    for claim in ("(i) information", "(ii) data", "(iii) capacity"):
        assert claim in m08["explanations"]
    assert m08["origin_handling"]["mlp"] in ("fixed", "min-over-8", "neither")
    assert set(m08["extrapolation"]["strongest_0.75"]) == {"triplet", "mlp", "phai_like"}
    figs = config.figures_dir("smoke")
    for stem in ("phasing_fig4_learning_curves", "phasing_fig5_model_accuracy_by_resolution",
                 "phasing_fig6_solved_fraction_by_method"):
        assert (figs / f"{stem}.png").is_file() and (figs / f"{stem}.pdf").is_file()


@pytest.mark.shared_data
def test_real_cod_structures(m08, shared_data):
    assert m08["structures"]["cod_p-1"]["n"] == 2
    rows = [r for r in m08["model_table"] if r["source"] == "cod_p-1"]
    assert {r["method"] for r in rows} >= {"triplet_untrained", "triplet"}
