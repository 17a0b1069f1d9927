"""Smoke runs of the phase-learning notebooks 02–05 through papermill.

Each depends on ``smoke_data`` (``00_data`` run once per session) and checks its metrics JSON:
keys present, values in range, chance levels recorded, figures written.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest

from lib import config

VERDICTS = {"supported", "not supported", "inconclusive at this scale"}


def _figures(*names: str) -> None:
    folder = config.figures_dir("smoke")
    for name in names:
        assert (folder / f"{name}.png").is_file() and (folder / f"{name}.pdf").is_file(), name


def _check_chance(chance: dict[str, Any]) -> None:
    assert 0.45 < chance["accuracy"] < 0.55
    assert chance["origin_accuracy"] > chance["accuracy"]          # best of 8 guesses
    assert chance["loss"] == pytest.approx(math.log(2))


def _check_sign_run(record: dict[str, Any]) -> None:
    assert set(record["metrics"]) == {"train", "validation", "test"}
    for split, values in record["metrics"].items():
        for key in ("accuracy", "origin_accuracy", "weighted_accuracy", "seminvariant_accuracy"):
            assert 0.0 <= values[key] <= 1.0, (split, key)
        assert values["origin_accuracy"] >= values["accuracy"] - 1e-9
        assert values["loss"] > 0
    _check_chance(record["chance"])
    assert record["epochs_run"] >= 1 and record["n_parameters"] > 0


@pytest.mark.notebook
def test_notebook_02(run_notebook: Callable[..., dict[str, Any]], smoke_data) -> None:
    m = run_notebook("02_experimental_vs_calculated")
    sizes = m["data"]["dataset_sizes_used"]
    assert m["data"]["scaled_down"] is True and m["data"]["report_dataset_sizes"] == [
        7000, 50000, 150000]
    expected = 2 + 4 * len(sizes)          # experimental ×2 losses + sizes × depths × losses
    assert len(m["runs"]) == len(m["table"]) == expected
    for record in m["runs"].values():
        _check_sign_run(record)
    _check_chance(m["chance"]["calculated_test"])
    assert len(m["origin_invariant_vs_plain"]) == expected // 2
    for finding in m["findings"].values():
        assert 0 <= finding["accuracy"] <= 1 and finding["se"] >= 0
    assert set(m["verdicts"].values()) <= VERDICTS
    assert {"experimental_overfits", "dataset_size_1_layers",
            "dataset_size_3_layers"} <= set(m["verdicts"])
    _figures("fig06_mlp_architecture", "fig07_experimental_accuracy", "fig08_experimental_loss",
             "fig09_calculated_1_vs_3_layers_accuracy", "fig10_calculated_1_vs_3_layers_loss",
             "fig11_dataset_size_1_layer_accuracy", "fig12_dataset_size_1_layer_loss",
             "fig13_dataset_size_3_layers_accuracy", "fig14_dataset_size_3_layers_loss",
             "fig14b_origin_invariant_loss_overfitting")
    models = config.models_dir("smoke") / "02_experimental_vs_calculated"
    run_dir = models / next(iter(m["runs"]))
    for name in ("history.csv", "model.keras", "config.json"):
        assert (run_dir / name).is_file()


@pytest.mark.notebook
def test_notebook_03(run_notebook: Callable[..., dict[str, Any]], smoke_data) -> None:
    m = run_notebook("03_weight_types")
    assert set(m["runs"]) == {"none", "intensity", "exp_intensity"}
    for record in m["runs"].values():
        _check_sign_run(record)
    _check_chance(m["chance"])
    for row in m["table"]:
        assert 0 <= row["test_intensity_weighted_acc"] <= 1
        assert 0.45 < row["chance_intensity_weighted_acc"] < 0.55
    assert set(m["verdicts"].values()) <= VERDICTS
    _figures("fig15_weight_types_accuracy", "fig16_weight_types_loss")


@pytest.mark.notebook
def test_notebook_04(run_notebook: Callable[..., dict[str, Any]], smoke_data) -> None:
    m = run_notebook("04_layer_sizes")
    widths = config.int_list(config.profile_parameters("04_layer_sizes", "smoke")["widths"])
    assert sorted(int(w) for w in m["runs"]) == sorted(widths)
    for record in m["runs"].values():
        _check_sign_run(record)
    _check_chance(m["chance"])
    assert m["best_width"] in widths and m["report_best_width"] == 100
    assert m["verdicts"]["best_width_about_100"] in VERDICTS
    _figures("fig17_layer_sizes_accuracy", "fig18_layer_sizes_loss",
             "fig18b_layer_sizes_final_accuracy")


@pytest.mark.notebook
def test_notebook_05(run_notebook: Callable[..., dict[str, Any]], smoke_data) -> None:
    m = run_notebook("05_autoencoders")
    widths = config.int_list(config.profile_parameters("05_autoencoders", "smoke")["bottlenecks"])
    assert sorted(int(w) for w in m["runs"]) == widths
    for row in m["table"]:
        assert row["ae_test_mse"] > 0 and row["pca_test_mse"] > 0
        assert row["pca_components"] <= row["bottleneck"]
    assert m["saturation_width"] in widths and m["pca_saturation_width"] in widths
    assert m["mean_intensity_reference_mse"] > 0
    assert math.isfinite(m["relative_error_low_r_tenth"])
    assert math.isfinite(m["relative_error_high_r_tenth"])
    assert set(m["verdicts"].values()) <= VERDICTS
    _figures("fig19_autoencoder_mse", "fig20_autoencoder_error_per_reflection",
             "fig21_autoencoder_error_smoothed")
