"""The classical phasing baseline: resolution sweep, its summary table, triplet statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from lib.phases import baselines
from lib.phases.structures import (STREAM_CALCULATED, STREAM_EXPERIMENTAL, GeneratorParameters,
                                   generate_structure)

SEED = 2026


@pytest.fixture(scope="module")
def structures():
    """Three small generated structures of the phasing stream."""
    return baselines.generated_test_structures(GeneratorParameters(atoms_max=12), SEED, 3)


def test_parameters_are_parsed_and_checked() -> None:
    assert baselines.parse_resolutions("1.5, 0.8,1.0") == [0.8, 1.0, 1.5]
    assert baselines.parse_resolutions([2.0, 1.0]) == [1.0, 2.0]
    for bad in ("", "1.0,-2", "1.0,abc"):
        with pytest.raises(ValueError, match="d_mins"):
            baselines.parse_resolutions(bad)
    assert baselines.parse_methods("charge_flipping,sigma2") == ["charge_flipping", "sigma2"]
    with pytest.raises(ValueError, match="charge_flipping"):
        baselines.parse_methods("charge_flipping,shelxd")


def test_test_structures_come_from_their_own_stream(structures) -> None:
    params = GeneratorParameters(atoms_max=12)
    ids = [sid for sid, _ in structures]
    assert ids == [f"gen:{SEED}:{baselines.STREAM_PHASING_TEST}:{i}" for i in range(3)]
    assert baselines.STREAM_PHASING_TEST not in (STREAM_CALCULATED, STREAM_EXPERIMENTAL)
    again = baselines.generated_test_structures(params, SEED, 1)[0][1]
    np.testing.assert_allclose(again.sites_frac().as_double().as_numpy_array(),
                               structures[0][1].sites_frac().as_double().as_numpy_array())
    for stream in (STREAM_CALCULATED, STREAM_EXPERIMENTAL):       # not a row of 00_data
        training = generate_structure(params, SEED, 0, stream)
        assert training.unit_cell().parameters() != structures[0][1].unit_cell().parameters()


def test_binomial_standard_error() -> None:
    assert baselines.binomial_se(0.5, 100) == pytest.approx(0.05)
    assert baselines.binomial_se(1.0, 10) == 0.0
    assert math.isnan(baselines.binomial_se(0.5, 0))


def _row(source, method, d_min, solved, accuracy, error=""):
    return {"source": source, "structure": f"s{accuracy}", "method": method, "d_min": d_min,
            "n_reflections": 100, "seconds": 1.0, "converged": solved, "solved": solved,
            "map_correlation": 0.8 if solved else 0.2, "atoms_found": 1.0 if solved else 0.0,
            "accuracy": accuracy, "chance": 0.53, "accuracy_strongest": accuracy + 0.05,
            "chance_strongest": 0.56, "error": error}


def test_summary_table_by_hand() -> None:
    rows = pd.DataFrame([
        _row("generated", "sigma2", 1.0, True, 0.9),
        _row("generated", "charge_flipping", 1.0, True, 0.9),
        _row("generated", "charge_flipping", 1.0, False, 0.6),
        _row("generated", "charge_flipping", 1.0, True, 0.8),
        _row("generated", "charge_flipping", 1.0, True, 0.7),
        {**_row("generated", "charge_flipping", 1.0, False, 0.0, "RuntimeError: no map"),
         "solved": np.nan, "accuracy": np.nan},
    ])
    table = baselines.summarise_sweep(rows)
    assert list(table.columns) == list(baselines.TABLE_COLUMNS)
    assert table["method"].tolist() == ["charge_flipping", "sigma2"]   # METHODS order
    cf = table.iloc[0]
    assert cf["n_structures"] == 4 and cf["n_failed"] == 1
    assert cf["solved"] == 0.75 and cf["solved_se"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert cf["accuracy"] == pytest.approx(0.75)
    assert cf["accuracy_se"] == pytest.approx(np.std([0.9, 0.6, 0.8, 0.7], ddof=1) / 2)
    assert cf["chance"] == pytest.approx(0.53) and cf["chance_strongest"] == pytest.approx(0.56)
    assert math.isnan(table.iloc[1]["accuracy_se"])                      # one structure
    records = baselines.baseline_records(table)
    assert records[1]["accuracy_se"] is None and records[0]["n_structures"] == 4
    json.dumps(records, allow_nan=False)                                 # strict JSON
    assert baselines.failures(rows) == ["s0.0 (charge_flipping, 1 Å): RuntimeError: no map"]
    ok, bad = baselines.solved_range(table, "charge_flipping")
    assert ok == [1.0] and bad == []


def test_sweep_solves_at_atomic_resolution_and_goes_on_after_a_failure(structures) -> None:
    rows = baselines.resolution_sweep(
        {"generated": structures[:2], "broken": [("not-a-structure", None)]}, [1.0],
        ["charge_flipping", "sigma2"], n_per_method={"sigma2": 1}, seed=SEED, chunk_size=2)
    assert len(rows) == 2 + 1 + 1 + 1             # cf: 2 generated + broken; Σ2: 1 + broken
    assert len(baselines.failures(rows)) == 2
    table = baselines.summarise_sweep(rows)
    generated = table[table["source"] == "generated"].set_index("method")
    assert generated.loc["charge_flipping", "n_structures"] == 2
    assert generated.loc["sigma2", "n_structures"] == 1
    assert generated["solved"].tolist() == [1.0, 1.0]           # smtbx solves at 1.0 Å
    assert (generated["accuracy"] > generated["chance"] + 0.2).all()
    assert (generated["chance"].between(0.5, 0.6)).all()
    broken = table[table["source"] == "broken"]
    assert broken["n_structures"].tolist() == [0, 0] and broken["n_failed"].tolist() == [1, 1]
    text = baselines.baseline_verdict(table, [])
    assert "charge_flipping" in text and "1.00 ± 0.00 (n = 2)" in text


def test_triplet_statistics_follow_the_centrosymmetric_formula(structures) -> None:
    assert baselines.centric_triplet_probability(0.0) == 0.5
    assert baselines.centric_triplet_probability(2.0) == pytest.approx(0.5 + 0.5 * np.tanh(1))
    stats = baselines.triplet_statistics(structures, 1.0, n_triplets=20, n_strong=100)
    record = stats.record()
    assert record["strongest"]["n"] == 60 and stats.n_structures == 3
    assert record["strongest"]["observed"] >= 0.95
    assert record["all_strong"]["n"] > record["strongest"]["n"]
    calibration = stats.calibration()
    assert calibration["count"].sum() == record["all_strong"]["n"]
    assert (calibration["predicted"] <= calibration["predicted_tanh_a"]).all()
    # the observed fraction rises with A and agrees with the prediction overall
    assert calibration["observed"].iloc[-1] > calibration["observed"].iloc[0]
    assert abs(record["all_strong"]["observed"] - record["all_strong"]["predicted"]) < 0.08
    text = baselines.baseline_verdict(pd.DataFrame(columns=list(baselines.TABLE_COLUMNS)),
                                      [stats])
    assert "triplets" in text and "d_min = 1 Å" in text
