"""Verdicts, tables and metric records of notebooks 01–05, on hand-made numbers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lib.phases import verdicts
from lib.phases.normalisation import NormalisationComparison


@dataclass
class Run:
    """The fields of :class:`lib.phases.training.RunResult` that the verdicts read."""

    name: str
    metrics: dict[str, dict[str, float]]
    chance: dict[str, float] = field(default_factory=lambda: {
        "accuracy": 0.5, "origin_accuracy": 0.6, "weighted_accuracy": 0.5,
        "always_positive_seminvariant_accuracy": 0.55})
    spec: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=lambda: {"sizes": {"train": 80}})
    seconds: float = 1.0
    n_parameters: int = 100

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": self.metrics, "chance": self.chance}


def sign_run(name: str, train: float, val: float, test: float = 0.5, se: float = 0.002,
             origin: float = 0.6, **spec: Any) -> Run:
    """A sign run with plain accuracies ``train``/``val``/``test``, all with standard error se."""
    def split(acc: float) -> dict[str, float]:
        return {"accuracy": acc, "accuracy_se": se, "origin_accuracy": max(acc, origin),
                "origin_accuracy_se": se, "weighted_accuracy": acc,
                "weighted_origin_accuracy": max(acc, origin), "seminvariant_accuracy": 0.5,
                "seminvariant_accuracy_se": se}
    return Run(name, {"train": split(train), "validation": split(val), "test": split(test)},
               spec=spec)


# -- building blocks ----------------------------------------------------------------------------

def test_above_chance_needs_two_standard_errors_and_one_point():
    assert verdicts.above_chance(0.53, 0.50, 0.005)
    assert not verdicts.above_chance(0.53, 0.50, 0.02)        # within 2 SE
    assert not verdicts.above_chance(0.505, 0.50, 0.0001)     # significant but < 1 point
    assert not verdicts.above_chance(0.40, 0.50, 0.0)


def test_verdict_line_and_unknown_status():
    assert verdicts.verdict("supported", "claim", "numbers") == "- **supported** — claim: numbers"
    with pytest.raises(ValueError, match="status must be one of"):
        verdicts.verdict("maybe", "claim", "numbers")


def test_format_table_rounds_floats_only():
    df = pd.DataFrame({"a": [0.123456], "n": [3], "s": ["x"]})
    out = verdicts.format_table(df, 2)
    assert out.loc[0, "a"] == 0.12 and out.loc[0, "n"] == 3 and df.loc[0, "a"] == 0.123456


def test_json_ready_rounds_and_converts():
    out = verdicts.json_ready({1: np.float32(0.1234567891), "a": np.arange(2),
                               "b": (np.int64(3),)})
    assert out == {"1": 0.123457, "a": [0, 1], "b": [3]}
    json.dumps(out)


def test_results_table_and_gap():
    r = sign_run("r", 0.9, 0.6, width=16, origin_invariant=True)
    table = verdicts.results_table([r], columns=("width",))
    assert table.loc[0, "width"] == 16 and table.loc[0, "loss"] == "origin-invariant"
    assert table.loc[0, "train_acc"] == 0.9 and table.loc[0, "n_train"] == 80
    assert verdicts.overfitting_gap(r) == pytest.approx(0.3)


# -- 01 ------------------------------------------------------------------------------------------

def comparison(cv: dict[str, float], raw_slopes=(0.5, 1.02, 20.0)) -> NormalisationComparison:
    c = NormalisationComparison(source_ids=["a", "b", "c"])
    for m, v in cv.items():
        c.slopes[m] = list(raw_slopes) if m == "none" else [1.0, 1.0, 1.0]
        c.summary[m] = {"slope_cv": v, "slope_robust_cv": v / 2, "ratio_robust_cv": v / 3,
                        "slope_mean": 1.0}
    c.within_file_iqr_log10 = [0.1, 0.2, float("nan")]
    return c


@pytest.mark.parametrize("best, status", [(0.2, "supported"), (0.8, "inconclusive at this scale"),
                                          (1.5, "not supported")])
def test_judge_normalisation(best, status):
    cv = {"none": 1.0, "max": best, "mean": best + 0.1, "median": 4.0, "linear_regression": 0.01}
    j = verdicts.judge_normalisation(comparison(cv), "simulated", "4630", simulated=True)
    assert j.values["verdict"] == j.verdicts["common_scale"] == status
    assert j.values["best_structure_free_method"] == "max"
    assert j.values["best_method"] == "linear_regression"
    assert j.values["n_files_raw_slope_near_1"] == 1
    assert j.values["within_file_iqr_log10_median"] == pytest.approx(0.15)
    text = j.markdown()
    assert f"**{status}**" in text and "simulated" in text and "median is the worst" in text


def test_normalisation_metrics_keys():
    cv = {"none": 1.0, "max": 0.2, "mean": 0.3, "median": 0.4, "linear_regression": 0.01}
    c = comparison(cv)
    pairs = [(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.1, 2.9]))] * 3
    j = verdicts.judge_normalisation(c, "real: x (3 files)", "709", simulated=False)
    m = verdicts.normalisation_metrics(c, j, pairs, "real: x (3 files)", False, "709",
                                       [("bad.cif", "no model")])
    assert m["n_files"] == 3 and m["n_reflections_compared"] == 9 and m["n_skipped"] == 1
    assert m["ratio_spread"] == cv and m["ratio_spread_robust"]["max"] == 0.1
    assert m["per_file_slope"]["none"] == {"a": 0.5, "b": 1.02, "c": 20.0}
    assert m["pearson_r"]["a"] > 0.99 and m["verdict"] == "supported"
    json.dumps(m)


# -- 02 ------------------------------------------------------------------------------------------

def test_judge_overfit():
    assert verdicts.judge_overfit(sign_run("a", 0.9, 0.50), "x")[0] == "supported"
    assert verdicts.judge_overfit(sign_run("a", 0.52, 0.50), "x")[0] == \
        "inconclusive at this scale"
    status, evidence = verdicts.judge_overfit(sign_run("a", 0.9, 0.60), "x")
    assert status == "not supported" and "above chance" in evidence


def test_judge_dataset_size():
    shrinking = [sign_run("s", 0.9, 0.5), sign_run("b", 0.6, 0.5)]
    assert verdicts.judge_dataset_size(shrinking, [10, 100], 1)[0] == "supported"
    growing = [sign_run("s", 0.6, 0.5), sign_run("b", 0.9, 0.5)]
    assert verdicts.judge_dataset_size(growing, [10, 100], 1)[0] == "not supported"
    learns = [sign_run("s", 0.9, 0.5), sign_run("b", 0.7, 0.6)]
    assert verdicts.judge_dataset_size(learns, [10, 100], 3)[0] == "not supported"
    assert verdicts.judge_dataset_size(learns[:1], [10], 1)[0] == "inconclusive at this scale"


def test_sign_learning_tables_and_verdicts():
    results = {}
    for size in (10, 100):
        for depth in (1, 3):
            for loss, train in (("plain", 0.9), ("invariant", 0.7)):
                name = f"calculated_{size}_{depth}x709_{loss}"
                results[name] = sign_run(name, train, 0.5, depth=depth, width=709,
                                         origin_invariant=loss == "invariant")
    table = verdicts.sign_runs_table(results.values())
    assert list(table["gap"].round(3)) == [0.4, 0.2] * 4
    assert set(table["chance_seminv_pos"]) == {0.55}
    pairs = verdicts.loss_pairs_table(results)
    assert len(pairs) == 4 and (pairs["gap_plain"] > pairs["gap_invariant"]).all()
    calculated = {d: [results[f"calculated_{s}_{d}x709_plain"] for s in (10, 100)]
                  for d in (1, 3)}
    j = verdicts.judge_sign_learning(
        sign_run("e", 0.95, 0.5), calculated, [10, 100], pairs,
        [results[c + "_invariant"] for c in pairs["configuration"]])
    assert j.verdicts["experimental_overfits"] == "supported"
    assert set(j.verdicts) == {"experimental_overfits", "calculated_1_layers_no_generalisation",
                               "calculated_3_layers_no_generalisation", "dataset_size_1_layers",
                               "dataset_size_3_layers"}
    assert j.values["origin_invariant_mean_gap_change"] == pytest.approx(-0.2)
    finding = j.values["findings"]["seminvariant_test_accuracy_3_layers"]
    assert finding == {"accuracy": 0.5, "se": 0.002, "above_chance": False}
    record = verdicts.run_metrics(results, table, j, seconds=1.23456789)
    assert record["seconds"] == 1.234568 and len(record["runs"]) == len(record["table"]) == 8
    assert record["verdicts"] == j.verdicts and "findings" in record
    json.dumps(record)


# -- 03 ------------------------------------------------------------------------------------------

def test_weighting_table_and_verdict():
    results = {t: sign_run(t, 0.7, v) for t, v in (("none", 0.5), ("intensity", 0.505))}
    scores = {"none": {"weighted_accuracy": 0.52, "weighted_origin_accuracy": 0.6},
              "intensity": {"weighted_accuracy": 0.56, "weighted_origin_accuracy": 0.62}}
    chance = {"accuracy": 0.5, "origin_accuracy": 0.6}
    common = {"weighted_accuracy": 0.5, "weighted_origin_accuracy": 0.6}
    table = verdicts.weighting_table(results, scores, chance, common)
    assert list(table["test_intensity_weighted_acc"]) == [0.52, 0.56]
    assert (table["chance_intensity_weighted_acc"] == 0.5).all()
    j = verdicts.judge_weighting(results, table, chance, common)
    assert j.verdicts == {"no_weighting_generalises": "supported"}
    assert "intensity 0.560" in j.markdown() and "spread between weightings 0.040" in j.markdown()
    results["exp_intensity"] = sign_run("exp_intensity", 0.7, 0.6)
    scores["exp_intensity"] = scores["none"]
    table = verdicts.weighting_table(results, scores, chance, common)
    assert verdicts.judge_weighting(results, table, chance, common).verdicts[
        "no_weighting_generalises"] == "not supported"


# -- 04 ------------------------------------------------------------------------------------------

def width_results(vals: dict[int, float], se: float = 0.005) -> list[Run]:
    return [sign_run(f"width_{w}", 0.8, v, se=se, width=w) for w, v in vals.items()]


def test_width_verdicts():
    chance = {"accuracy": 0.5, "origin_accuracy": 0.6}
    table = verdicts.width_table(width_results({25: 0.55, 100: 0.60, 1000: 0.56}))
    assert list(table["parameters"]) == [100] * 3 and list(table["val_acc_se"]) == [0.005] * 3
    j = verdicts.judge_width(table, chance, 100)
    assert j.verdicts["best_width_about_100"] == "supported"
    assert j.values["best_width"] == 100 and j.values["widths_tied_with_best"] == [100]
    j = verdicts.judge_width(verdicts.width_table(width_results({25: 0.60, 100: 0.55})),
                             chance, 100)
    assert j.verdicts["best_width_about_100"] == "not supported"
    j = verdicts.judge_width(verdicts.width_table(width_results({25: 0.50, 100: 0.501})),
                             chance, 100)
    assert j.verdicts["best_width_about_100"] == "inconclusive at this scale"
    assert j.values["best_width_above_chance"] is False and "noise" in j.markdown()


# -- 05 ------------------------------------------------------------------------------------------

def test_saturation_width():
    assert verdicts.saturation_width([10, 50, 100], [1.0, 0.52, 0.50], 0.05) == 50
    assert verdicts.saturation_width([100, 10], [0.5, 1.0], 0.05) == 100
    assert verdicts.saturation_width([10, 50, 100], [1.0, 0.8, 0.5], 0.05) == 100


def test_autoencoder_table_and_verdicts():
    results = {w: Run(f"ae_{w}", {s: {"mse": m} for s in ("train", "validation", "test")})
               for w, m in ((10, 0.010), (50, 0.0052), (100, 0.0050))}
    table = verdicts.autoencoder_table(results, {10: 0.008, 50: 0.006, 100: 0.004},
                                       {10: 10, 50: 50, 100: 80})
    assert list(table["ae_over_pca"].round(3)) == [1.25, 0.867, 1.25]
    relative = np.r_[np.full(10, 0.1), np.full(80, 0.2), np.full(10, 0.3)]
    j = verdicts.judge_autoencoders(table, relative, 0.05)
    assert j.verdicts == {"error_falls_with_width": "supported", "error_saturates": "supported",
                          "error_varies_with_R": "supported"}
    assert j.values["saturation_width"] == 50 and j.values["pca_saturation_width"] == 100
    assert j.values["ae_beats_pca_at"] == [50]
    assert j.values["relative_error_low_r_tenth"] == pytest.approx(0.1)
    flat = verdicts.judge_autoencoders(table, np.full(100, 0.2), 0.05)
    assert flat.verdicts["error_varies_with_R"] == "not supported"
    assert math.isclose(flat.values["relative_error_high_r_tenth"], 0.2)
