"""Notebook 00_data (smoke profile) through papermill: its metrics and its data sets."""

from __future__ import annotations

from pathlib import Path
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


@pytest.mark.notebook
def test_00_data_lists_real_data_sets_that_cannot_be_right(tmp_path, monkeypatch):
    """With real measured data, 00_data applies ``min_pearson`` (as 01 does) and the other
    bad-input checks: the skipped data sets and their reasons are in the notebook's output
    and in its metrics; the good one is built.  A private runs folder keeps the session's
    smoke data sets untouched."""
    import json

    from lib.metrics import read_metrics
    from lib.runner import execute_notebook

    from _fake_data import (hklf_with_intensities, measured_texts, synthetic_structure,
                            write_measured_set)

    texts = measured_texts(synthetic_structure(7))
    folder = tmp_path / "experimental"
    rng = np.random.default_rng(2)
    sets = {
        "good": texts["hklf"],
        "zero_intensities": hklf_with_intensities(texts["hklf"], lambda v: 0 * v),
        "permuted_intensities": hklf_with_intensities(texts["hklf"], rng.permutation),
        "another_structure": measured_texts(synthetic_structure(99))["hklf"],
        "cut_at_line_boundary": "\n".join(texts["hklf"].splitlines()[:30]) + "\n",
    }
    for name, hklf in sets.items():
        write_measured_set(folder / name, {"structure.cif": texts["cif"],
                                           "reflections.hkl": hklf})
    link = tmp_path / "experimental_link"          # reached through a symbolic link
    link.symlink_to(folder, target_is_directory=True)
    monkeypatch.setenv("PHASES_RUNS_DIR", str(tmp_path / "runs"))
    executed = execute_notebook(config.NOTEBOOKS_DIR / "00_data.py", "smoke",
                                {"experimental_dir": str(link), "n_calculated": 40,
                                 "chunk_size": 20, "min_pearson": 0.9})
    metrics = read_metrics(config.metrics_dir("smoke") / "00_data.json")
    expt = metrics["experimental"]
    assert expt["simulated"] is False and expt["n_structures"] == 1
    assert expt["min_pearson"] == 0.9
    reasons = {Path(s["path"]).relative_to(folder).parts[0]: s["reason"]
               for s in expt["skipped"]}
    assert set(reasons) == set(sets) - {"good"}
    assert "no signal" in reasons["zero_intensities"]
    assert "Pearson r(I_meas, I_calc)" in reasons["permuted_intensities"]
    assert "Pearson r(I_meas, I_calc)" in reasons["another_structure"]
    assert "truncated" in reasons["cut_at_line_boundary"]
    output = json.dumps(json.loads(Path(executed).read_text())["cells"])
    for name in reasons:                     # the skipped table names each data set
        assert name in output, name
    assert "min_pearson = 0.9" in output
