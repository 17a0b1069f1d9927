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
             origin: float = 0.6, semi: float = 0.5, **spec: Any) -> Run:
    """A sign run with plain accuracies ``train``/``val``/``test``, all with standard error se;
    seminvariant accuracy ``semi``, the other reflections' accuracy equal to the plain one."""
    def split(acc: float) -> dict[str, float]:
        return {"accuracy": acc, "accuracy_se": se, "origin_accuracy": max(acc, origin),
                "origin_accuracy_se": se, "weighted_accuracy": acc,
                "weighted_origin_accuracy": max(acc, origin), "seminvariant_accuracy": semi,
                "seminvariant_accuracy_se": se, "non_seminvariant_accuracy": acc,
                "non_seminvariant_accuracy_se": se}
    return Run(name, {"train": split(train), "validation": split(val), "test": split(test)},
               spec=spec)


def baselines(all_: float = 0.5, semi: float = 0.513, other: float = 0.5,
              origin: float = 0.55) -> dict[str, Any]:
    """A :func:`verdicts.sign_baselines` record of the 709 set (89 seminvariants), the same
    on the validation and test splits."""
    def subset(value: float, n: int, constant: int = 1) -> dict[str, Any]:
        return {"constant": constant, "n_reflections": n, "train_positive_fraction": 0.5,
                "validation": value, "test": value}
    return {"all": subset(all_, 709), "seminvariant": subset(semi, 89, -1),
            "non_seminvariant": subset(other, 620),
            "origin_aware": {"constant": "x", "validation": origin, "test": origin}}


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
    assert status == "not supported" and "above the baseline" in evidence
    # 0.51 is above chance (0.5) but not above the seminvariants' best constant 0.513 + 1 point
    assert verdicts.judge_overfit(sign_run("a", 0.9, 0.52), "x", baseline=0.513)[0] == \
        "supported"


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
    base = {name: baselines() for name in [*results, "e"]}
    table = verdicts.sign_runs_table(results.values(), base)
    assert list(table["gap"].round(3)) == [0.4, 0.2] * 4
    assert set(table["seminv_baseline"]) == {0.513} and set(table["all_baseline"]) == {0.5}
    assert table["ceiling"].isna().sum() == 4                   # origin-invariant runs
    assert set(table["ceiling"].dropna()) == {0.5}              # seminvariants at ½
    assert set(table["origin_baseline"]) == {0.6}               # chance 0.6 > constants 0.55
    pairs = verdicts.loss_pairs_table(results)
    assert len(pairs) == 4 and (pairs["gap_plain"] > pairs["gap_invariant"]).all()
    calculated = {d: [results[f"calculated_{s}_{d}x709_plain"] for s in (10, 100)]
                  for d in (1, 3)}
    j = verdicts.judge_sign_learning(
        sign_run("e", 0.95, 0.5), calculated, [10, 100], pairs,
        [results[c + "_invariant"] for c in pairs["configuration"]], base)
    assert j.verdicts["experimental_overfits"] == "supported"
    assert set(j.verdicts) == {"experimental_overfits", "calculated_1_layers_no_generalisation",
                               "calculated_3_layers_no_generalisation", "dataset_size_1_layers",
                               "dataset_size_3_layers", "chance_explained_by_overfitting"}
    # every ceiling is at chance: "at chance" is no support for the overfitting explanation
    assert j.verdicts["chance_explained_by_overfitting"] == "not supported"
    assert set(j.values["ceiling"]) == {"e"} | {n for n in results if n.endswith("_plain")}
    assert j.values["origin_invariant_mean_gap_change"] == pytest.approx(-0.2)
    finding = j.values["findings"]["seminvariant_test_accuracy_3_layers"]
    assert finding == {"accuracy": 0.5, "se": 0.002, "baseline": 0.513,
                       "above_baseline": False}
    record = verdicts.run_metrics(results, table, j, seconds=1.23456789)
    assert record["seconds"] == 1.234568 and len(record["runs"]) == len(record["table"]) == 8
    assert record["verdicts"] == j.verdicts and "findings" in record
    json.dumps(record)


# -- 03 ------------------------------------------------------------------------------------------

def test_weighting_table_and_verdicts():
    plain = {t: sign_run(f"w_{t}", 0.7, v) for t, v in (("none", 0.5), ("intensity", 0.505))}
    inv = {t: sign_run(f"w_{t}_inv", 0.7, 0.5, origin=o, origin_invariant=True)
           for t, o in (("none", 0.60), ("intensity", 0.64))}
    base = {r.name: baselines() for r in [*plain.values(), *inv.values()]}
    scores = {"none": {"weighted_accuracy": 0.52, "weighted_origin_accuracy": 0.6},
              "intensity": {"weighted_accuracy": 0.56, "weighted_origin_accuracy": 0.62}}
    chance = {"accuracy": 0.5, "origin_accuracy": 0.6}
    common = {"weighted_accuracy": 0.5, "weighted_origin_accuracy": 0.6}
    table = verdicts.weighting_table(plain, scores, chance, common, base)
    table_inv = verdicts.weighting_table(inv, scores, chance, common, base)
    assert list(table["test_intensity_weighted_acc"]) == [0.52, 0.56]
    assert (table["chance_intensity_weighted_acc"] == 0.5).all()
    assert list(table_inv["loss"]) == ["origin-invariant"] * 2
    j = verdicts.judge_weighting(plain, inv, pd.concat([table, table_inv]), base, common)
    assert j.verdicts == {"no_weighting_generalises": "supported",
                          "plain_loss_can_compare_weightings": "not supported",
                          "no_weighting_generalises_origin_invariant": "not supported",
                          "weighting_makes_no_difference_origin_invariant": "not supported"}
    text = j.markdown()
    assert "intensity 0.5600" in text and "spread between weightings 0.0400" in text
    assert set(j.values["ceiling"]) == {"w_none", "w_intensity"}
    # a plain run above its best constant generalises
    plain["exp_intensity"] = sign_run("w_exp", 0.7, 0.6)
    base["w_exp"] = baselines()
    scores["exp_intensity"] = scores["none"]
    table = verdicts.weighting_table(plain, scores, chance, common, base)
    assert verdicts.judge_weighting(plain, {}, table, base, common).verdicts[
        "no_weighting_generalises"] == "not supported"


def test_judge_differences():
    status, _, learned = verdicts.judge_differences(["a", "b"], [0.60, 0.64], [0.005, 0.005],
                                                    0.55, "x")
    assert status == "not supported" and learned == ["a", "b"]
    status, _, learned = verdicts.judge_differences(["a", "b"], [0.60, 0.601], [0.005, 0.005],
                                                    0.55, "x")
    assert status == "supported"
    status, evidence, learned = verdicts.judge_differences(["a", "b"], [0.55, 0.552],
                                                           [0.005, 0.005], 0.55, "x")
    assert status == "inconclusive at this scale" and not learned and "nothing" in evidence


# -- 04 ------------------------------------------------------------------------------------------

def width_results(vals: dict[int, float], se: float = 0.005, **spec: Any) -> list[Run]:
    return [sign_run(f"width_{w}", 0.8, v, se=se, origin=v + 0.05, width=w, **spec)
            for w, v in vals.items()]


def width_table(vals: dict[int, float], **spec: Any) -> pd.DataFrame:
    runs = width_results(vals, **spec)
    return verdicts.width_table(runs, {r.name: baselines() for r in runs})


def test_width_verdicts():
    table = width_table({25: 0.55, 100: 0.60, 1000: 0.56})
    assert list(table["parameters"]) == [100] * 3 and list(table["val_acc_se"]) == [0.005] * 3
    assert list(table["val_origin_acc_se"]) == [0.005] * 3
    j = verdicts.judge_width(table, 0.5, 100)
    assert j.verdicts["best_width_about_100"] == "supported"
    assert j.values["best_width"] == 100 and j.values["widths_tied_with_best"] == [100]
    j = verdicts.judge_width(width_table({25: 0.60, 100: 0.55}), 0.5, 100)
    assert j.verdicts["best_width_about_100"] == "not supported"
    j = verdicts.judge_width(width_table({25: 0.50, 100: 0.501}), 0.5, 100)
    assert j.verdicts["best_width_about_100"] == "inconclusive at this scale"
    assert j.values["best_width_above_baseline"] is False and "noise" in j.markdown()
    # the seminvariant best constant (0.513) is the bar, not 0.5
    j = verdicts.judge_width(width_table({25: 0.52, 100: 0.52}), 0.513, 100)
    assert j.verdicts["best_width_about_100"] == "inconclusive at this scale"


def test_width_sweeps():
    plain = {r.spec["width"]: r for r in width_results({25: 0.5, 100: 0.501})}
    inv = {r.spec["width"]: r for r in width_results({25: 0.60, 100: 0.64}, origin_invariant=True)}
    for r in inv.values():
        r.name += "_inv"
    base = {r.name: baselines() for r in [*plain.values(), *inv.values()]}
    j = verdicts.judge_width_sweeps(plain, inv, verdicts.width_table(plain.values(), base),
                                    verdicts.width_table(inv.values(), base), base, 100)
    assert j.verdicts == {"best_width_about_100": "inconclusive at this scale",
                          "plain_loss_can_rank_widths": "not supported",
                          "best_width_about_100_origin_invariant": "supported"}
    assert j.values["best_width_origin_invariant"] == 100
    assert j.values["report_best_width"] == 100 and set(j.values["ceiling"]) == {
        "width_25", "width_100"}


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


# -- baselines and the plain-loss ceiling (02–04) ------------------------------------------------

HKL = np.array([[0, 0, 2], [2, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]])   # 2 seminvariants


def test_sign_baselines_choose_the_constant_on_the_training_split():
    # training: seminvariants mostly −, the others mostly +
    train = np.array([[-1, -1, 1, 1, 1], [-1, 1, 1, 1, -1], [-1, -1, 1, -1, 1]])
    test = np.array([[1, 1, -1, -1, -1], [-1, 1, 1, 1, 1]])
    b = verdicts.sign_baselines(train, {"test": test}, HKL)
    assert b["seminvariant"]["constant"] == -1 and b["seminvariant"]["n_reflections"] == 2
    assert b["seminvariant"]["train_positive_fraction"] == pytest.approx(1 / 6)
    # chosen on training, scored on test: "always −" is right on 1 of the 4 test seminvariants
    assert b["seminvariant"]["test"] == pytest.approx(0.25)
    assert b["non_seminvariant"]["constant"] == 1
    assert b["non_seminvariant"]["test"] == pytest.approx(3 / 6)
    assert b["all"]["constant"] == 1 and b["all"]["test"] == pytest.approx(6 / 10)
    assert 0 <= b["origin_aware"]["test"] <= 1


def test_sign_baselines_of_reads_the_splits(tmp_path):
    from _fake_data import write_fake_dataset
    from lib.phases.inputs import split_rows
    from lib.phases.store import load_arrays

    path = write_fake_dataset(tmp_path / "calculated.h5", 40, seed=5)
    splits = split_rows(40, None, 0.25, 0.25)
    b = verdicts.sign_baselines_of(path, splits, 709)
    sign = load_arrays(path, ("sign",), n_reflections=709)["sign"]
    semi = np.all(load_arrays(path, ("hkl",), n_reflections=709)["hkl"] % 2 == 0, axis=1)
    train = sign[splits["train"].start:splits["train"].stop][:, semi]
    constant = 1 if (train > 0).mean() >= 0.5 else -1
    test = sign[splits["test"].start:splits["test"].stop][:, semi]
    assert b["seminvariant"]["constant"] == constant
    assert b["seminvariant"]["test"] == pytest.approx(((test > 0) == (constant > 0)).mean())
    assert set(b["all"]) >= {"validation", "test"} and "train" not in b["all"]


def test_subset_se_from_moments():
    m = {"non_seminvariant_accuracy": 0.5, "non_seminvariant_accuracy_mean_square": 0.26,
         "n_structures": 101}
    assert verdicts.subset_se(m, "non_seminvariant") == pytest.approx(
        math.sqrt(0.01 * 101 / 100 / 101))
    assert verdicts.subset_se({"accuracy_se": 0.01}, "all") == 0.01
    assert math.isnan(verdicts.subset_se({"seminvariant_accuracy": 0.5}, "seminvariant"))


def test_ceiling_record_of_a_plain_run():
    # the seminvariants at 0.55: ceiling ½ + 89/709 · 0.05 = 0.50628, within a point of ½
    r = sign_run("r", 0.9, 0.5, test=0.506, semi=0.55)
    rec = verdicts.ceiling_record(r, baselines())
    assert rec["ceiling"] == pytest.approx(0.5 + 89 / 709 * 0.05)
    assert rec["ceiling_perfect_seminvariants"] == pytest.approx(0.5 + 89 / 709 / 2)
    assert rec["within_ceiling"] and rec["ceiling_near_baseline"]
    semi = rec["subsets"]["seminvariant"]
    assert semi["baseline"] == 0.513 and semi["constant"] == -1 and semi["above_baseline"]
    assert not rec["subsets"]["non_seminvariant"]["above_baseline"]
    # 0.52 at a seminvariant accuracy of ½ is more than 3 SE above the ceiling
    assert not verdicts.ceiling_record(sign_run("r", 0.9, 0.5, test=0.52),
                                       baselines())["within_ceiling"]
    line = verdicts.ceiling_line(rec, "x")
    assert "always −" in line and "ceiling 0.5063" in line
    # seminvariants at 0.6: the ceiling 0.5126 is more than a point above chance
    assert not verdicts.ceiling_record(sign_run("r", 0.9, 0.5, semi=0.6),
                                       baselines())["ceiling_near_baseline"]
    table = verdicts.ceiling_table({"r": rec})
    assert table.loc[0, "seminv_best_constant"] == 0.513 and bool(table.loc[0, "seminv_learned"])


def test_judge_chance_explanation():
    near = {"a": verdicts.ceiling_record(sign_run("a", 0.9, 0.5), baselines())}
    assert verdicts.judge_chance_explanation(near)[0] == "not supported"
    # seminvariants all right: the ceiling (0.563) is far above chance
    far = {"b": verdicts.ceiling_record(sign_run("b", 0.9, 0.5, test=0.56, semi=1.0),
                                        baselines())}
    status, evidence = verdicts.judge_chance_explanation({**near, **far})
    assert status == "inconclusive at this scale" and "1 of 2" in evidence
