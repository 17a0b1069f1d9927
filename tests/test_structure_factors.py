"""Structure factors with cctbx: centric signs, origin shifts, an independent check."""

from __future__ import annotations

import numpy as np
import pytest

from lib.phases.reflections import index_set, origin_shift_parities, origin_shift_signs
from lib.phases.structure_factors import (calculate, intensity_amplitude_sign, shift_structure_origin,
                                   stol2, structure_factors)
from lib.phases.structures import GeneratorParameters, generate_structure

PARAMS = GeneratorParameters(atoms_min=6, atoms_max=24)


@pytest.fixture(scope="module")
def hkl() -> np.ndarray:
    return index_set(4630)


@pytest.fixture(scope="module")
def structure():
    return generate_structure(PARAMS, seed=3, index=0)


def test_centric_signs(structure, hkl):
    sf = calculate(structure, hkl)
    assert sf.f.shape == (4630,)
    # P-1 at an inversion centre: every F is real, the phase is 0 or π
    assert np.max(np.abs(sf.f.imag)) <= 1e-9 * np.max(np.abs(sf.f))
    assert set(np.unique(sf.sign)) == {-1, 1}
    assert sf.sign.dtype == np.int8
    assert np.array_equal(sf.sign, np.where(sf.f.real < 0, -1, 1))
    assert np.allclose(sf.intensity, sf.amplitude ** 2)
    assert np.allclose(sf.sign * sf.amplitude, sf.f.real)
    # both signs are common (random structures: roughly half each)
    assert 0.3 < np.mean(sf.sign > 0) < 0.7


@pytest.mark.parametrize("parity", [tuple(p) for p in origin_shift_parities()])
def test_origin_shift_keeps_intensities_and_flips_signs(structure, hkl, parity):
    sf = calculate(structure, hkl)
    shifted = shift_structure_origin(structure, parity)
    assert shifted.space_group().is_origin_centric()
    moved = np.array(shifted.sites_frac()) - np.array(structure.sites_frac())
    assert np.allclose(moved, np.array(parity) / 2)
    sf2 = calculate(shifted, hkl)
    assert np.allclose(sf2.intensity, sf.intensity, rtol=1e-9, atol=1e-9 * sf.intensity.max())
    expected = sf.sign * (1 - 2 * ((hkl.astype(np.int64) @ np.array(parity)) % 2))
    strong = sf.amplitude > 1e-6 * sf.amplitude.max()   # the sign of F≈0 is meaningless
    assert np.array_equal(sf2.sign[strong], expected[strong])
    # lib.phases.reflections' table of sign changes says the same
    row = [tuple(p) for p in origin_shift_parities()].index(parity)
    assert np.array_equal(sf2.sign[strong], (sf.sign * origin_shift_signs(hkl)[row])[strong])


def test_non_centric_origin_gives_complex_f(structure, hkl):
    from cctbx import sgtbx

    off = structure.change_basis(sgtbx.change_of_basis_op("x+1/4,y,z"))
    f = structure_factors(off, hkl)
    assert np.max(np.abs(f.imag)) > 1e-3 * np.max(np.abs(f))
    assert np.allclose(np.abs(f), np.abs(structure_factors(structure, hkl)), rtol=1e-6,
                       atol=1e-6)


def test_direct_summation_matches_an_independent_numpy_sum(structure):
    """F(h) = Σ_j 2 f_j(s) exp(−8π² U_j s²) cos(2π h·x_j) for P-1 (origin at −1)."""
    from cctbx.eltbx import xray_scattering

    hkl = index_set(709)
    s2 = stol2(structure.unit_cell(), hkl)
    x = np.array(structure.sites_frac())
    u = np.array(structure.extract_u_iso_or_u_equiv())
    types = list(structure.scatterers().extract_scattering_types())
    f0 = np.array([[xray_scattering.it1992(t).fetch().at_stol_sq(v) for v in s2]
                   for t in types])
    phase = 2 * np.pi * (x @ hkl.T.astype(float))
    f_numpy = np.sum(2 * f0 * np.exp(-8 * np.pi ** 2 * u[:, None] * s2[None, :])
                     * np.cos(phase), axis=0)
    f_cctbx = structure_factors(structure, hkl, table="it1992")
    assert np.allclose(f_cctbx.real, f_numpy, rtol=1e-6, atol=1e-6 * np.abs(f_numpy).max())


def test_stol2_is_one_over_four_d_squared(structure):
    hkl = index_set(709)
    d = np.array(structure.unit_cell().d(
        __import__("lib.phases.structure_factors", fromlist=["x"]).flex_miller_indices(hkl)))
    assert np.allclose(stol2(structure.unit_cell(), hkl), 1 / (4 * d ** 2))
    assert np.allclose(stol2(structure.unit_cell().parameters(), hkl), 1 / (4 * d ** 2))


def test_intensity_amplitude_sign_of_zero_is_plus():
    i, a, s = intensity_amplitude_sign(np.array([0.0, -2.0, 3.0]))
    assert list(s) == [1, -1, 1] and list(i) == [0, 4, 9] and list(a) == [0, 2, 3]


def test_shift_rejects_bad_parity(structure):
    with pytest.raises(ValueError, match="parity"):
        shift_structure_origin(structure, (2, 0, 0))
