"""Smoke runs of the phase-learning notebooks 02–05 through papermill.

Each depends on ``smoke_data`` (``00_data`` run once per session) and checks its metrics JSON:
keys present, values in range, chance levels, baselines and ceilings recorded, figures written.
One more test trains the plain MLP on the smoke data and checks the ceiling of finding 1.
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


def _check_baselines(baselines: dict[str, Any]) -> None:
    """Best constants of the training split, scored on validation and test (709 set)."""
    assert baselines["seminvariant"]["n_reflections"] == 89
    assert baselines["non_seminvariant"]["n_reflections"] == 620
    for subset in ("all", "seminvariant", "non_seminvariant"):
        assert baselines[subset]["constant"] in (1, -1)
        for split in ("validation", "test"):
            assert 0.3 < baselines[subset][split] < 0.7
    assert 0.45 < baselines["origin_aware"]["test"] < 0.6


def _check_ceilings(ceilings: dict[str, Any], n_plain: int) -> None:
    """One ceiling record per plain run: ½ + (89/709)(a_semi − ½), subsets with baselines."""
    assert len(ceilings) == n_plain
    for record in ceilings.values():
        semi = record["subsets"]["seminvariant"]
        assert record["ceiling"] == pytest.approx(0.5 + 89 / 709 * (semi["accuracy"] - 0.5),
                                                  abs=2e-6)
        assert record["ceiling_perfect_seminvariants"] == pytest.approx(0.5 + 89 / 1418,
                                                                        abs=1e-6)
        for subset in ("all", "seminvariant", "non_seminvariant"):
            values = record["subsets"][subset]
            assert 0 <= values["accuracy"] <= 1 and values["se"] >= 0
            assert isinstance(values["above_baseline"], bool)


def _check_sign_run(record: dict[str, Any]) -> None:
    assert set(record["metrics"]) == {"train", "validation", "test"}
    for split, values in record["metrics"].items():
        for key in ("accuracy", "origin_accuracy", "weighted_accuracy", "seminvariant_accuracy",
                    "non_seminvariant_accuracy"):
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
        assert 0.3 < finding["baseline"] < 0.7
    assert set(m["verdicts"].values()) <= VERDICTS
    assert {"experimental_overfits", "dataset_size_1_layers", "dataset_size_3_layers",
            "chance_explained_by_overfitting"} <= set(m["verdicts"])
    for baselines in m["baselines"].values():
        _check_baselines(baselines)
    _check_ceilings(m["ceiling"], expected // 2)
    for row in m["table"]:
        assert (row["ceiling"] is None or math.isnan(row["ceiling"])) == (
            row["loss"] == "origin-invariant")
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
    types = ("none", "intensity", "exp_intensity")
    assert set(m["runs"]) == {*types, *(f"{t}_origin_invariant" for t in types)}
    for name, record in m["runs"].items():
        _check_sign_run(record)
        assert record["run"]["origin_invariant"] == name.endswith("_origin_invariant")
    _check_chance(m["chance"])
    for row in m["table"] + m["table_origin_invariant"]:
        assert 0 <= row["test_intensity_weighted_acc"] <= 1
        assert 0.45 < row["chance_intensity_weighted_acc"] < 0.55
        assert 0.3 < row["seminv_baseline"] < 0.7 and 0.45 < row["origin_baseline"] < 0.6
    assert {row["loss"] for row in m["table_origin_invariant"]} == {"origin-invariant"}
    _check_baselines(m["baselines"])
    _check_ceilings(m["ceiling"], len(types))
    assert set(m["verdicts"].values()) <= VERDICTS
    assert set(m["verdicts"]) == {"no_weighting_generalises",
                                  "plain_loss_can_compare_weightings",
                                  "no_weighting_generalises_origin_invariant",
                                  "weighting_makes_no_difference_origin_invariant"}
    _figures("fig15_weight_types_accuracy", "fig16_weight_types_loss",
             "fig15_weight_types_accuracy_origin_invariant",
             "fig16_weight_types_loss_origin_invariant")


@pytest.mark.notebook
def test_notebook_04(run_notebook: Callable[..., dict[str, Any]], smoke_data) -> None:
    m = run_notebook("04_layer_sizes")
    widths = config.int_list(config.profile_parameters("04_layer_sizes", "smoke")["widths"])
    assert set(m["runs"]) == {*(str(w) for w in widths),
                              *(f"{w}_origin_invariant" for w in widths)}
    for name, record in m["runs"].items():
        _check_sign_run(record)
        assert record["run"]["origin_invariant"] == name.endswith("_origin_invariant")
    _check_chance(m["chance"])
    _check_baselines(m["baselines"])
    _check_ceilings(m["ceiling"], len(widths))
    assert len(m["table"]) == len(m["table_origin_invariant"]) == len(widths)
    assert m["best_width"] in widths and m["report_best_width"] == 100
    assert m["best_width_origin_invariant"] in widths
    assert set(m["verdicts"]) == {"best_width_about_100", "plain_loss_can_rank_widths",
                                  "best_width_about_100_origin_invariant"}
    assert set(m["verdicts"].values()) <= VERDICTS
    _figures("fig17_layer_sizes_accuracy", "fig18_layer_sizes_loss",
             "fig18b_layer_sizes_final_accuracy", "fig17_layer_sizes_accuracy_origin_invariant",
             "fig18_layer_sizes_loss_origin_invariant",
             "fig18b_layer_sizes_final_accuracy_origin_invariant")


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


def test_plain_model_stays_within_the_ceiling(smoke_data, tmp_path) -> None:
    """Finding 1 on a trained model: the plain MLP, trained a few epochs on the smoke
    calculated set, scores at most ½ + (89/709)(a_semi − ½) + 3 SE on the test structures,
    while it memorises the training structures beyond that ceiling."""
    from lib.phases import losses, store, training
    from lib.phases.inputs import dataset_summary

    info = dataset_summary(store.dataset_path("smoke", "calculated"))
    data = training.data_spec(info, None, 0.1, 0.2, "smoke calculated")
    run = training.SignRun(name="ceiling_check", n_reflections=709, depth=1, width=709,
                           epochs=8, batch_size=32, seed=3)
    result = training.train_sign_model(run, data, tmp_path, keep_model=False)
    test = result.metrics["test"]
    ceiling = losses.plain_accuracy_ceiling(test["seminvariant_accuracy"], 89, 709)
    assert test["accuracy"] <= ceiling + 3 * test["accuracy_se"]
    assert test["accuracy"] <= losses.plain_accuracy_ceiling(1.0, 89, 709)
    # the others are coin flips on unseen structures, not on the memorised training ones
    assert abs(test["non_seminvariant_accuracy"] - 0.5) < 3 * max(test["accuracy_se"], 0.005)
    assert result.metrics["train"]["accuracy"] > ceiling + 0.02
