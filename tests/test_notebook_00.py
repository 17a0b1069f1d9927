"""Notebook 00_data (smoke profile) through papermill: its metrics and its data sets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lib import config

from lib.phases import build, store


@pytest.mark.notebook
def test_smoke_00_data_metrics(smoke_data: dict[str, Any]):
    params = config.profile_parameters("00_data", "smoke")
    calc, expt = smoke_data["calculated"], smoke_data["experimental"]
    assert calc["n_structures"] == params["n_calculated"]
    assert expt["n_structures"] == params["n_experimental"]
    assert calc["source"] == "generated" and expt["simulated"] is True
    assert calc["n_skipped"] == 0 and expt["n_skipped"] == 0
    assert calc["structures_per_second"] > 5
    assert calc["file_bytes"] > 0 and expt["file_bytes"] > 0
    assert smoke_data["n_reflections"] == 4630
    assert abs(expt["fraction_measured"] - params["meas_completeness"]) < 0.02
    signs = smoke_data["sign_balance"]
    assert 0.45 < signs["fraction_positive_all"] < 0.55
    assert signs["fraction_outside_2sigma"] < 0.15
    assert smoke_data["projected_full_minutes_16_cores"] > 0
    assert all(smoke_data["checks"].values())
    assert smoke_data["verdict"] == "supported"
    assert smoke_data["_run"]["profile"] == "smoke"


@pytest.mark.notebook
def test_smoke_00_data_sets_follow_the_contract(smoke_data: dict[str, Any]):
    params = config.profile_parameters("00_data", "smoke")
    for kind, n in (("calculated", params["n_calculated"]),
                    ("experimental", params["n_experimental"])):
        path = store.dataset_path("smoke", kind)
        assert path.exists() and store.is_complete(path)
        data = store.load_arrays(path, ("intensity", "intensity_calc", "amplitude", "sign",
                                          "cell", "source_id", "hkl"))
        assert data["intensity"].shape == (n, 4630)
        assert data["sign"].dtype == np.int8
        assert set(np.unique(data["sign"])) == {-1, 1}
        assert np.allclose(data["amplitude"] ** 2, data["intensity_calc"], rtol=1e-5)
        with store.open_dataset(path) as f:
            assert f.attrs["kind"] == kind
            assert bool(f.attrs["simulated"]) == (kind == "experimental")
    figs = config.figures_dir("smoke")
    for name in ("fig00a_structures", "fig00b_wilson_plot", "fig00c_sign_balance"):
        assert (figs / f"{name}.png").exists() and (figs / f"{name}.pdf").exists()


@pytest.mark.notebook
def test_rerun_reuses_the_data_sets(smoke_data: dict[str, Any], run_notebook):
    again = run_notebook("00_data")
    assert again["calculated"]["reused"] and again["experimental"]["reused"]
    assert again["calculated"]["n_structures"] == smoke_data["calculated"]["n_structures"]
