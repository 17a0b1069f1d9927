"""|E| values, reflections by resolution, origin fixing, phasing metrics and classical phasing."""

from __future__ import annotations

import numpy as np
import pytest

from lib.phases import classical, evalues, origin
from lib.phases import phasing_metrics as pm
from lib.phases.reflections import origin_shift_parities, shift_origin
from lib.phases.structure_factors import calculate, shift_structure_origin
from lib.phases.structures import GeneratorParameters, generate_structure

SEED = 2026


@pytest.fixture(scope="module")
def known():
    """Generated structure 0 with its reflections d ≥ 1.0 Å, F and |E|."""
    xs = generate_structure(GeneratorParameters(), SEED, 0)
    cell = tuple(float(v) for v in xs.unit_cell().parameters())
    sphere = evalues.reflections_by_resolution(cell, 1.0)
    hkl = sphere.hkl[sphere.mask]
    sf = calculate(xs, hkl)
    e = evalues.e_values(sf.amplitude, hkl, cell)
    return xs, cell, hkl, sf, e


# --------------------------------------------------------------------------------------------
# |E| and reflections by resolution
# --------------------------------------------------------------------------------------------


def test_reflections_by_resolution_match_cctbx(known) -> None:
    from cctbx import miller

    xs, cell, hkl, _, _ = known
    assert evalues.grid_index_max(1.0, 15.0) == 15
    assert evalues.grid_index_max(0.8, 15.0) == 19
    sphere = evalues.reflections_by_resolution(cell, 1.0)
    built = miller.build_set(crystal_symmetry=xs, anomalous_flag=False, d_min=1.0)
    assert sphere.mask.sum() == built.size()           # every unique reflection d ≥ d_min
    expected = xs.unit_cell().d(built.indices()).as_numpy_array()
    np.testing.assert_allclose(np.sort(sphere.d[sphere.mask]), np.sort(expected))
    assert np.all(sphere.d[~sphere.mask] < 1.0)
    many = evalues.reflections_by_resolution([cell, cell], 1.0)
    assert many.d.shape == (2, len(sphere.hkl)) and np.array_equal(many.mask[1], sphere.mask)
    with pytest.raises(ValueError, match="cell_edge_max"):
        evalues.reflections_by_resolution((16.0, 6, 6, 90, 90, 90), 1.0)


def test_e_values_against_cctbx(known) -> None:
    xs, cell, hkl, sf, e = known
    direct = evalues.amplitude_array(sf.amplitude, hkl, cell).normalize(
        reflections_per_bin=evalues.REFLECTIONS_PER_SHELL).data().as_numpy_array()
    np.testing.assert_allclose(e, np.minimum(direct, evalues.E_CLIP))
    assert abs(np.mean(e ** 2) - 1) < 0.02
    assert abs(np.mean(e) - np.sqrt(2 / np.pi)) < 0.03      # centric distribution of |E|
    true = np.abs(evalues.true_e_values(xs, hkl))            # E from the atoms (known structure)
    assert np.corrcoef(e, true)[0, 1] > 0.98
    counts: dict[str, int] = {}
    for scatterer in xs.scatterers():
        counts[scatterer.scattering_type] = counts.get(scatterer.scattering_type, 0) + 1
    wilson = evalues.wilson_e_values(sf.amplitude, hkl, cell, counts)
    assert np.corrcoef(wilson, true)[0, 1] > 0.98
    # missing reflections stay missing, the scale of the data does not matter, clipping works
    amplitude = 1000 * sf.amplitude.copy()
    amplitude[::7] = np.nan
    masked = evalues.e_values(amplitude, hkl, cell, clip=1.5)
    assert np.all(np.isnan(masked[::7])) and np.nanmax(masked) == 1.5
    batch = evalues.e_values_batch(np.stack([sf.amplitude, 3 * sf.amplitude]), hkl, [cell, cell])
    np.testing.assert_allclose(batch[1], e)


# --------------------------------------------------------------------------------------------
# Origin fixing
# --------------------------------------------------------------------------------------------


def test_gf2_rank_and_choice() -> None:
    assert origin.gf2_rank(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])) == 2
    assert origin.gf2_rank(np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0]])) == 3
    hkl = np.array([[2, 0, 0], [1, 0, 0], [3, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    e = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 1.0])
    # (2,0,0) is a seminvariant, (3,0,0) has the class of (1,0,0), (1,1,0) is their sum
    assert origin.choose_origin_reflections(e, hkl).tolist() == [1, 3, 5]
    with pytest.raises(ValueError, match="independent"):
        origin.choose_origin_reflections(e[:5], hkl[:5])


def test_origin_fixing_round_trip_and_invariance(known) -> None:
    xs, cell, hkl, sf, e = known
    fix = origin.fix_origin(sf.sign, hkl, e)
    assert np.all(fix.signs[fix.reflections] == 1)
    np.testing.assert_array_equal(origin.undo_origin_fix(fix.signs, hkl, fix.parity), sf.sign)
    for parity in origin_shift_parities():
        shifted = calculate(shift_structure_origin(xs, parity), hkl)     # the same structure
        np.testing.assert_array_equal(shifted.sign, shift_origin(sf.sign, hkl, parity))
        again = origin.fix_origin(shifted.sign, hkl, e)
        np.testing.assert_array_equal(again.signs, fix.signs)            # one right answer
        np.testing.assert_array_equal(
            origin.undo_origin_fix(again.signs, hkl, again.parity), shifted.sign)
    batch, chosen, parities = origin.fix_origin_batch(np.stack([sf.sign, -sf.sign]), hkl,
                                                      np.stack([e, e]))
    np.testing.assert_array_equal(batch[0], fix.signs)
    assert np.all(batch[1][chosen[1]] == 1)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def test_origin_aware_accuracy_by_hand() -> None:
    hkl = np.array([[1, 0, 0], [0, 1, 0], [2, 0, 0], [1, 1, 0]])
    true = np.array([1, 1, 1, 1])
    shifted = np.array([-1, 1, 1, -1])                        # true moved by p = (1, 0, 0)
    assert pm.sign_accuracy(shifted, true, hkl) == 1.0
    assert pm.sign_accuracy(shifted, true, hkl, origin_aware=False) == 0.5
    wrong_semi = np.array([1, 1, -1, 1])                      # a seminvariant wrong: no shift helps
    w = np.array([1.0, 1.0, 2.0, 1.0])
    assert pm.sign_accuracy(wrong_semi, true, hkl, w) == pytest.approx(3 / 5)
    assert pm.sign_accuracy(wrong_semi, true, hkl, w, mask=[True, True, False, True]) == 1.0
    assert pm.seminvariant_mask(hkl).tolist() == [False, False, True, False]
    e = np.array([[1.0, 3.0, 2.0, np.nan, 0.5]])
    assert pm.strongest_mask(e, 0.5).tolist() == [[False, True, True, False, False]]


def test_baselines_and_ceiling_by_hand() -> None:
    train = np.array([[1, -1, -1], [-1, -1, 1]])
    test = np.array([[-1, -1, 1], [-1, 1, 1]])
    semi = np.array([True, True, False])
    constant, positive, accuracy = pm.best_constant_baseline(train, test, semi, semi)
    assert (constant, positive, accuracy) == (-1, 0.25, 0.75)
    assert pm.plain_accuracy_ceiling(89, 709, 0.515) == pytest.approx(0.5 + 89 / 709 * 0.015)
    assert pm.plain_accuracy_ceiling(0, 10, 1.0) == 0.5


def test_map_correlation(known) -> None:
    xs, cell, hkl, sf, e = known
    rng = np.random.default_rng(0)
    for parity in origin_shift_parities():                    # true signs at any origin
        moved = shift_origin(sf.sign, hkl, parity)
        mc = pm.map_correlation(sf.amplitude, moved, sf.sign, hkl)
        assert mc.value == pytest.approx(1.0) and mc.parity.tolist() == parity.tolist()
    random_cc = pm.map_correlation(sf.amplitude, rng.choice([-1, 1], size=(20, len(hkl))),
                                   np.broadcast_to(sf.sign, (20, len(hkl))), hkl).value
    assert abs(random_cc.mean()) < 0.15 and not pm.solved(random_cc).any()
    noisy = np.where(rng.random(len(hkl)) < 0.2, -sf.sign, sf.sign)
    reciprocal = np.sum(sf.amplitude ** 2 * noisy * sf.sign) / np.sum(sf.amplitude ** 2)
    assert pm.real_space_map_correlation(sf.amplitude, noisy, sf.sign, hkl, cell) == \
        pytest.approx(reciprocal, abs=1e-6)                   # Parseval, cctbx FFT maps
    assert pm.atoms_found(xs, sf.amplitude, sf.sign, hkl) == 1.0
    assert pm.atoms_found(xs, sf.amplitude, shift_origin(sf.sign, hkl, (0, 1, 1)), hkl,
                          (0, 1, 1)) == 1.0
    assert pm.atoms_found(xs, sf.amplitude, rng.choice([-1, 1], size=len(hkl)), hkl) < 0.5
    chance = pm.chance_sign_accuracy(sf.sign, hkl, e)
    assert 0.5 < chance < 0.56                                # best of 8 lifts chance above ½


# --------------------------------------------------------------------------------------------
# Classical phasing
# --------------------------------------------------------------------------------------------


def test_triplets_by_hand() -> None:
    hkl = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [-1, 1, 0], [3, 3, 3]])
    found = {tuple(t) for t in classical.triplets(hkl).tolist()}
    assert found == {(0, 1, 2), (0, 1, 3)}                    # h+k and h−k (Friedel mate)
    pairs = classical.triplets(hkl[:2], targets=hkl[2:4])
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1, 0), (0, 1, 1)]


def test_charge_flipping_solves_generated_structure(known) -> None:
    xs, cell, hkl, sf, e = known
    result = classical.charge_flipping_signs(e, hkl, cell, seed=0)
    mc = pm.map_correlation(sf.amplitude, result.signs, sf.sign, hkl)
    assert result.converged and mc.value > 0.8
    assert pm.atoms_found(xs, sf.amplitude, result.signs, hkl, mc.parity) > 0.9


def test_charge_flipping_solves_cod_structure(shared_data) -> None:
    from lib.phases.structures import read_cif_structures

    path = shared_data / "cod_structures" / "p-1" / "4023987.cif"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    structures, _ = read_cif_structures([path])
    result = classical.phase_known_structure(structures[0].structure, 0.8, "charge_flipping")
    assert result["solved"] and result["map_correlation"] > 0.7
    assert result["atoms_found"] > 0.6                        # H atoms are hardly seen


def test_sigma2_solves_small_structure() -> None:
    xs = generate_structure(GeneratorParameters(), SEED, 5)   # 12 atoms in the asu
    result = classical.phase_known_structure(xs, 1.0, "sigma2", seed=0, n_trials=64)
    assert result["solved"] and result["accuracy_strongest"] > 0.9


def test_cochran_triplets_hold() -> None:
    structures = [generate_structure(GeneratorParameters(), SEED, i) for i in range(3)]
    e_all, s_all, h_all = [], [], []
    for xs in structures:
        from cctbx import miller

        hkl = np.array(miller.build_set(crystal_symmetry=xs, anomalous_flag=False,
                                        d_min=1.0).indices()).reshape(-1, 3)
        sf = calculate(xs, hkl)
        e_all.append(evalues.e_values(sf.amplitude, hkl, xs.unit_cell()))
        s_all.append(sf.sign)
        h_all.append(hkl)
    check = classical.cochran_check(structures, e_all, s_all, h_all, n_triplets=50)
    assert len(check.a) == 150
    assert check.observed > 0.95 and check.predicted > 0.9
    assert classical.sigma_ratio(structures[0]) == pytest.approx(
        1 / np.sqrt(2 * structures[0].scatterers().size()), rel=0.3)
