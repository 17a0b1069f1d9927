"""Notebook 08's pieces: seeded classical phasing, the Patterson input, the learning-curve
extrapolation, scoring a model's signs like classical phasing, and the §4 verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.phases import classical, model_study, sphere, verdicts
from lib.phases.baselines import generated_test_structures, summarise_sweep
from lib.phases.phase_models import build_sphere_mlp, model_inputs
from lib.phases.structure_factors import calculate
from lib.phases.structures import GeneratorParameters

SMOKE = GeneratorParameters(atoms_min=8, atoms_max=16)


@pytest.fixture(scope="module")
def structures():
    return generated_test_structures(SMOKE, 20240611, 3)


def _true_seeds(xs, d_min):
    from cctbx import miller

    ms = miller.build_set(crystal_symmetry=xs, anomalous_flag=False, d_min=d_min)
    hkl = np.array(ms.indices(), dtype=np.int32).reshape(-1, 3)
    return hkl, calculate(xs, hkl).sign


# ---------------------------------------------------------------------------------------------
# Seeded classical phasing
# ---------------------------------------------------------------------------------------------


def test_seed_signs_keep_the_strongest_with_an_opinion():
    e = np.array([3.0, 0.1, 2.0, np.nan, 1.5, 0.5, 0.2, 0.3, 0.4, 0.6])
    signs = np.array([1, -1, 0, 1, -1, 1, 1, 1, 1, 1])
    out = classical.seed_signs(e, signs, 0.3)           # 3 of the 9 present
    assert out.tolist() == [1, 0, 0, 0, -1, 0, 0, 0, 0, 1]


def test_start_phases_put_the_seeds_on_either_friedel_mate():
    hkl = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    seeds = np.array([-1, 1, 0])
    query = [(-1, 0, 0), (0, 1, 0), (0, 0, 1), (2, 0, 0)]
    random = np.array([0.1, 0.2, 0.3, 0.4])
    out = classical.start_phases(query, hkl, seeds, random)
    assert out.tolist() == pytest.approx([math.pi, 0.0, 0.3, 0.4])


def test_seeded_with_the_true_signs_solves(structures):
    """Σ2 started from the true signs of the strongest 20 % solves a smoke structure at
    1.5 Å, and charge flipping from them at 1.0 Å; seeds are reported."""
    _, xs = structures[0]
    for method, d_min in (("sigma2", 1.5), ("charge_flipping", 1.0)):
        row = classical.phase_known_structure(xs, d_min, method, seed=0,
                                              seeds=_true_seeds(xs, d_min))
        assert row["solved"], (method, d_min, row["map_correlation"])
        assert row["n_seeded"] > 10 and row["seed_accuracy"] == pytest.approx(1.0)


def test_seeded_jobs_pair_every_seeded_start_with_a_random_one(structures):
    arrays = model_study.structure_arrays(structures[:2], 2.0, SMOKE.cell_edge_max)
    jobs = model_study.seeded_jobs(structures[:2], arrays, arrays["sign"], "generated", 2.0,
                                   ["charge_flipping"], seed=5)
    assert [j[6] if len(j) > 6 else j[4] for j in jobs] == [
        "charge_flipping", "charge_flipping_seeded"] * 2
    assert [j[5] for j in jobs] == [5, 5, 6, 6]
    hkl, signs = jobs[1][7]["seeds"]
    assert len(hkl) == len(signs) == arrays["mask"][0].sum()


# ---------------------------------------------------------------------------------------------
# Scoring a model's signs on given structures
# ---------------------------------------------------------------------------------------------


def test_true_signs_score_like_a_solved_structure(structures):
    arrays = model_study.structure_arrays(structures, 1.5, SMOKE.cell_edge_max)
    rows = model_study.score_predictions(structures, arrays, arrays["sign"], "generated",
                                         "truth", 1.5)
    assert all(r["solved"] and r["map_correlation"] == pytest.approx(1.0) for r in rows)
    assert all(r["accuracy"] == pytest.approx(1.0) for r in rows)
    assert all(r["chance"] < 0.7 for r in rows)
    # the same structures phased by cctbx's own reflection list give the same chance level
    own = classical.phase_known_structure(structures[0][1], 1.5, "sigma2", seed=0)
    assert rows[0]["n_reflections"] == own["n_reflections"]
    no_opinion = arrays["sign"] * (np.arange(arrays["sign"].shape[1]) % 2)
    half = model_study.score_predictions(structures, arrays, no_opinion.astype(np.int8),
                                         "generated", "half", 1.5)
    assert all(0 < r["map_correlation"] < 1 for r in half)
    table = summarise_sweep(__import__("pandas").DataFrame(rows + half), ["truth", "half"])
    assert list(table["method"]) == ["truth", "half"] and table["solved"].iloc[0] == 1.0


def test_grid_bound_models_skip_cells_that_do_not_fit(structures):
    inside, outside = model_study.fits_grid(structures, 4.0)
    assert inside == [] and len(outside) == len(structures)
    inside, outside = model_study.fits_grid(structures, SMOKE.cell_edge_max)
    assert len(inside) == len(structures) and outside == []


# ---------------------------------------------------------------------------------------------
# Patterson input, MLP inputs
# ---------------------------------------------------------------------------------------------


def test_patterson_maps_equal_the_cosine_sum():
    hkl = sphere.resolution_grid(3.0, 8.0)
    rng = np.random.default_rng(0)
    e = rng.random((2, len(hkl))) * 2
    mask = rng.random((2, len(hkl))) < 0.7
    maps = sphere.patterson_maps(e, mask, hkl)
    shape = sphere.patterson_size(sphere.grid_index_max_of(hkl))
    n = shape[1]
    u = np.stack(np.meshgrid(*[np.arange(s) / n for s in shape], indexing="ij"), -1)
    u = u.reshape(-1, 3)
    direct = (np.where(mask, e ** 2 - 1, 0) @ np.cos(2 * np.pi * hkl @ u.T)) * 2
    direct /= np.sqrt(np.mean(direct ** 2, axis=1, keepdims=True))
    assert maps.shape == (2, int(np.prod(shape)))
    assert np.allclose(maps, direct, atol=1e-4)


def test_mlp_reads_only_the_inputs_it_is_given():
    import keras

    stream = model_study.model_stream(SMOKE, 3, "mlp", 2.0, batch_size=2, patterson=True)
    x, y = stream[0]
    assert "patterson" in x
    model = build_sphere_mlp(stream.hkl, depth=1, width=8, inputs=("patterson", "origin", "cell"))
    assert set(model_inputs(model, x)) == {"patterson", "origin", "cell"}
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=sphere.sphere_sign_loss(stream.hkl, False))
    assert np.isfinite(float(model.train_on_batch(model_inputs(model, x), y)))
    with pytest.raises(ValueError, match="inputs must be"):
        build_sphere_mlp(stream.hkl, inputs=("intensity",))


def test_training_records_a_learning_curve():
    trained = model_study.train_sign_model("mlp", "mlp", SMOKE, 1, 2.0, 8, batch_size=2,
                                           n_points=2, width=8, depth=1)
    seen = [c["structures_seen"] for c in trained.curve]
    assert seen == model_study.checkpoints(8, 2, 2) == [0, 2, 8]
    assert model_study.checkpoints(2400, 16, 1) == [0, 2400]
    assert model_study.checkpoints(3, 4, 5) == [0]
    assert "seen_accuracy_strongest" in trained.curve[-1]
    assert all(0 <= c["accuracy_strongest"] <= 1 for c in trained.curve)
    assert trained.record()["n_parameters"] > 0


# ---------------------------------------------------------------------------------------------
# Learning-curve extrapolation
# ---------------------------------------------------------------------------------------------


def test_power_law_extrapolation():
    n = np.array([0, 10, 100, 1000])
    acc = 1 - 0.5 * np.maximum(n, 1) ** -0.25
    fit = model_study.power_law_extrapolation(n, acc, 0.95)
    assert fit["b"] == pytest.approx(0.25) and fit["a"] == pytest.approx(0.5)
    assert fit["n_needed"] == pytest.approx(10 ** 4, rel=1e-6)     # 0.5 n^-¼ = 0.05
    flat = model_study.power_law_extrapolation([0, 10, 100], [0.6, 0.55, 0.55], 0.9)
    assert flat["n_needed"] is None and flat["b"] < 1e-3
    done = model_study.power_law_extrapolation([10, 100], [0.8, 0.95], 0.9)
    assert done["reached"] and done["n_needed"] == 100
    assert model_study.power_law_extrapolation([0], [0.5], 0.9)["n_needed"] is None
    slow = model_study.power_law_extrapolation([10, 100], [0.5, 0.52], 0.999)
    assert slow["n_needed"] is None and slow["log10_n_needed"] > 17


# ---------------------------------------------------------------------------------------------
# Verdicts of notebook 08
# ---------------------------------------------------------------------------------------------


def _r(acc, se=0.01, chance=0.55, seen=None, seen_acc=None):
    out = {"accuracy_strongest": acc, "accuracy_strongest_se": se, "chance_strongest": chance}
    if seen is not None:
        out["structures_seen"] = seen
    if seen_acc is not None:
        out["seen_accuracy_strongest"] = seen_acc
    return out


def test_beats_needs_two_standard_errors_and_a_point():
    assert verdicts.beats(_r(0.60), _r(0.55))
    assert not verdicts.beats(_r(0.60, se=0.03), _r(0.55, se=0.03))
    assert not verdicts.beats(_r(0.555, se=0.0), _r(0.55, se=0.0))


def test_verdict_status_reads_back_every_status():
    for status in verdicts.VERDICTS:
        assert verdicts.verdict_status(verdicts.verdict(status, "claim", "numbers")) == status
    with pytest.raises(ValueError, match="not a verdict line"):
        verdicts.verdict_status("- something else")


def test_information_verdict():
    chance = _r(0.55)
    assert "**supported**" in verdicts.information_verdict(_r(0.55), _r(0.55), _r(0.70), chance)
    assert "**supported**" in verdicts.information_verdict(_r(0.70), _r(0.55), _r(0.55), chance)
    text = verdicts.information_verdict(_r(0.55), _r(0.55), _r(0.55), _r(0.86))
    assert "**not supported**" in text and "0.860" in text
    assert "inconclusive" in verdicts.information_verdict(_r(0.55), _r(0.55), _r(0.55), chance)


def test_data_verdict():
    fit = {"target": 0.75, "b": 0.2, "n_needed": 2.5e6}
    rising = [_r(0.55, seen=0), _r(0.65, seen=1000)]
    text = verdicts.data_verdict(rising, fit, "m")
    assert "**supported**" in text and "2.5e+06" in text
    flat = [_r(0.55, seen=0), _r(0.55, seen=1000)]
    assert "inconclusive" in verdicts.data_verdict(flat, {**fit, "n_needed": None}, "m")
    high = [_r(0.86, seen=0), _r(0.86, seen=1000)]
    assert "**not supported**" in verdicts.data_verdict(high, {**fit, "n_needed": None}, "m")


def test_capacity_verdict():
    base = _r(0.55)
    assert "**supported**" in verdicts.capacity_verdict(base, {"dropout": _r(0.65)}, 0.0)
    assert "inconclusive" in verdicts.capacity_verdict(base, {"dropout": _r(0.55)}, 0.0)
    assert "**not supported**" in verdicts.capacity_verdict(_r(0.70), {"d": _r(0.70)}, 0.0)
    assert "**not supported**" in verdicts.capacity_verdict(base, {"d": _r(0.55)}, 0.2)


def test_origin_and_target_verdicts():
    assert verdicts.origin_verdict(_r(0.7), _r(0.6), "m")[0] == "fixed"
    assert verdicts.origin_verdict(_r(0.6), _r(0.7), "m")[0] == "min-over-8"
    assert verdicts.origin_verdict(_r(0.6), _r(0.6), "m")[0] == "neither"
    row = {**_r(0.86, chance=0.54), "n_structures": 30, "solved": 0.5, "solved_se": 0.1}
    text = verdicts.target_verdicts("triplet", row, {**row, "accuracy_strongest": 0.55},
                                    {"sigma2_seeded": row}, {"sigma2_seeded": row}, 1.0, 1.5)
    assert "meets the target 0.75" in text and "not clearly above chance" in text
    assert "sigma2_seeded at 1.5 Å" in text


def test_seeding_verdict():
    import pandas as pd

    table = pd.DataFrame([
        {"source": "generated", "method": "sigma2", "d_min": 1.5, "solved": 0.2,
         "solved_se": 0.05, "accuracy_strongest": 0.8, "n_structures": 50},
        {"source": "generated", "method": "sigma2_seeded", "d_min": 1.5, "solved": 0.6,
         "solved_se": 0.05, "accuracy_strongest": 0.9, "n_structures": 50},
        {"source": "generated", "method": "sigma2", "d_min": 2.0, "solved": 0.1,
         "solved_se": 0.05, "accuracy_strongest": 0.6, "n_structures": 50},
        {"source": "generated", "method": "sigma2_seeded", "d_min": 2.0, "solved": 0.12,
         "solved_se": 0.05, "accuracy_strongest": 0.6, "n_structures": 50}])
    text = verdicts.seeding_verdict(table, ["sigma2"], {("sigma2_seeded", 1.5): 0.95})
    first, second = text.splitlines()
    assert "1.5 Å" in first and "helps" in first and "seeds 0.950" in first
    assert "2 Å" in second and "no difference" in second
    table.loc[1, "solved"] = 0.0
    assert "hurts" in verdicts.seeding_verdict(table, ["sigma2"]).splitlines()[0]


def test_data_verdict_when_the_target_is_already_reached():
    curve = [_r(0.86, seen=0), _r(0.86, seen=320)]
    text = verdicts.data_verdict(curve, {"target": 0.75, "b": 0.0, "n_needed": 320.0,
                                         "reached": True}, "triplet")
    assert "already at or above the target 0.75" in text and "**not supported**" in text
