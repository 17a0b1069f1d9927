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
    assert calc["engine"] == params["engine"] == "batched"
    assert calc["structures_per_second_per_worker"] > 0
    reference = smoke_data["cctbx_reference"]     # the old path, timed for comparison
    assert reference["n_structures"] == params["cctbx_timing_structures"] > 0
    assert reference["structures_per_second"] > 0
    assert reference["speedup_per_worker"] == pytest.approx(
        calc["structures_per_second_per_worker"] / reference["structures_per_second"])
    assert reference["speedup_like_for_like"] == pytest.approx(
        reference["batched_structures_per_second"] / reference["structures_per_second"])
    assert calc["file_bytes"] > 0 and expt["file_bytes"] > 0
    assert smoke_data["n_reflections"] == 4630
    assert abs(expt["fraction_measured"] - params["meas_completeness"]) < 0.02
    assert smoke_data["sign_balance"]["fraction_outside_2sigma"] < 0.15
    assert smoke_data["projected_full_minutes_16_cores"] > 0
    parts = smoke_data["projected_full_minutes"]        # from the measured rates, not typed in
    full = config.profile_parameters("00_data", "full")
    assert parts["n_structures"] == full["n_calculated"] and parts["n_workers"] == full["n_workers"]
    assert parts["computing"] > 0 and parts["assembling"] >= 0
    assert parts["computing"] + parts["assembling"] == pytest.approx(
        smoke_data["projected_full_minutes_16_cores"])
    assert set(smoke_data["checks"]) == {
        "the reflections are the unique half of the index cube [−10, 10]³, in the report order",
        "stored F, |F|, I and signs equal an independent NumPy sum over the atoms",
        "signs of the 7 non-seminvariant parity classes within 3 SE of ½",
        "150,000 structures within an hour on 16 cores",
        "generated structures keep the minimum interatomic distance (cctbx pair tables)",
    }
    assert all(smoke_data["checks"].values())
    assert smoke_data["verdict"] == "supported"
    assert smoke_data["_run"]["profile"] == "smoke"


@pytest.mark.notebook
def test_smoke_00_data_independent_structure_factors(smoke_data: dict[str, Any]):
    """5 structures of each (generated) set regenerated from their source_id and summed in
    NumPy agree with the stored F, |F|, I and signs."""
    check = smoke_data["independent_f"]
    assert smoke_data["index_set_problems"] == []
    assert check["n_structures"] == 10 and len(check["structures"]) == 10
    assert {r["set"] for r in check["structures"]} == {"calculated", "experimental"}
    assert check["max_delta_f_rel"] <= check["tolerance"] == 1e-4
    assert check["max_delta_intensity_rel"] <= 2e-4
    assert check["max_imag_f_rel"] < 1e-10
    assert check["sign_mismatches_strong"] == 0
    for row in check["structures"]:
        assert row["ok"] and row["n_strong"] > 4000
        assert row["source_id"].startswith("engine:")     # built by the batched engine


@pytest.mark.notebook
def test_smoke_00_data_sign_balance_by_parity(smoke_data: dict[str, Any]):
    """The 8 parity classes of (h, k, l) mod 2 for all 4630 and the first 709 reflections;
    the 7 non-seminvariant classes are within 3 SE of ½, the seminvariants are reported with
    their best-constant accuracy."""
    params = config.profile_parameters("00_data", "smoke")
    tables = smoke_data["sign_balance_by_parity"]
    assert set(tables) == {"reflections_4630", "reflections_709"}
    for name, n_refl, n_semi in (("reflections_4630", 4630, 665), ("reflections_709", 709, 89)):
        table = tables[name]
        assert list(table) == [f"({h},{k},{l})" for h in (0, 1) for k in (0, 1) for l in (0, 1)]
        assert sum(r["n_reflections"] for r in table.values()) == n_refl
        semi = table["(0,0,0)"]
        assert semi["seminvariant"] and semi["n_reflections"] == n_semi
        assert semi["n_structures"] == min(2000, params["n_calculated"])
        assert semi["best_constant_accuracy"] == pytest.approx(
            max(semi["fraction_positive"], 1 - semi["fraction_positive"]))
        assert 0.40 < semi["fraction_positive"] < 0.55
        for label, row in table.items():
            assert 0 < row["standard_error"] < 0.05
            if label != "(0,0,0)":
                assert not row["seminvariant"]
    assert all(abs(r["z"]) <= 3 for k, r in tables["reflections_4630"].items()
               if k != "(0,0,0)")


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

    from conftest import read_metrics
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
