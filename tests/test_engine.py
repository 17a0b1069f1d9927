"""The batched structure-factor engine against cctbx's direct summation (lib.phases.engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.phases import engine
from lib.phases.reflections import index_set
from lib.phases.structure_factors import calculate, stol2
from lib.phases.structures import GeneratorParameters, generate_structure, read_cif_structures

COD_P1 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cod_structures" / "p-1"
COD_P1 = COD_P1 if COD_P1.is_dir() else Path("/work/shared/data/cod_structures/p-1")
BACKENDS = ["numpy", "keras"]


def assert_matches_cctbx(f: np.ndarray, reference: np.ndarray, sign: np.ndarray) -> float:
    """Every |F| within 1e-5 of the structure's strongest |F|; identical signs wherever |F| >
    1e-3 of the strongest.  Returns the largest |ΔF| / strongest |F|."""
    strongest = np.abs(reference).max(axis=1, keepdims=True)
    error = np.abs(np.abs(f) - np.abs(reference)) / strongest
    assert error.max() <= 1e-5, f"|F| off by {error.max():.3g} of the strongest"
    assert (np.abs(f - reference) / strongest).max() <= 1e-5
    strong = np.abs(reference) > 1e-3 * strongest
    assert np.array_equal(sign[strong], np.where(reference[strong] < 0, -1, 1))
    return float(error.max())


@pytest.fixture(scope="module")
def hkl() -> np.ndarray:
    return index_set(4630)


@pytest.fixture(scope="module")
def random_structures():
    params = GeneratorParameters(atoms_min=8, atoms_max=40)
    return [generate_structure(params, seed=11, index=i) for i in range(6)]


@pytest.fixture(scope="module")
def random_reference(random_structures, hkl):
    return np.array([calculate(xs, hkl).f.real for xs in random_structures])


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_structures_match_cctbx(random_structures, random_reference, hkl, backend):
    batch = engine.batch_from_cctbx(random_structures)
    assert len(set(batch.n_atoms)) > 1                  # different sizes, padded
    sf = engine.structure_factors_batch(batch, hkl, backend=backend)
    assert sf.f.dtype == np.float32 and sf.f.shape == (6, 4630)
    assert_matches_cctbx(sf.f, random_reference, sf.sign)
    assert np.allclose(sf.intensity, sf.amplitude ** 2)
    assert np.array_equal(sf.sign, np.where(sf.f < 0, -1, 1))
    expected_s2 = np.array([stol2(xs.unit_cell(), hkl) for xs in random_structures])
    assert np.allclose(sf.stol2, expected_s2, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_padding_and_occupancy_do_not_change_f(random_structures, random_reference,
                                                      hkl, backend):
    batch = engine.batch_from_cctbx(random_structures, n_max=50)      # extra padding
    small = engine.structure_factors_batch(batch, hkl, backend=backend, max_elements=50_000)
    assert_matches_cctbx(small.f, random_reference, small.sign)
    # an atom with occupancy ½ counts half: F is linear in the occupancies
    half = engine.batch_from_cctbx(random_structures)
    half.occupancy = half.occupancy * 0.5
    f_half = engine.structure_factors_batch(half, hkl, backend=backend).f
    assert np.allclose(f_half, 0.5 * random_reference, atol=1e-5 * np.abs(random_reference).max())


def test_sites_outside_the_cell_give_the_same_f(random_structures, hkl):
    batch = engine.batch_from_cctbx(random_structures[:2])
    moved = batch.take(slice(None))
    moved.sites = moved.sites + np.array([3.0, -2.0, 7.0])
    a = engine.structure_factors_batch(batch, hkl).f
    b = engine.structure_factors_batch(moved, hkl).f
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()


def test_form_factors_are_cctbx_it1992():
    from cctbx.eltbx import xray_scattering

    table = engine.form_factor_table(["C", "O2-", "Cl"])
    s2 = np.linspace(0, 2.5, 7)
    ours = table.at_stol2(s2)
    for e, label in enumerate(table.labels):
        gaussian = xray_scattering.it1992(label).fetch()
        assert np.allclose(ours[e], [gaussian.at_stol_sq(v) for v in s2], rtol=1e-12)
    with pytest.raises(ValueError, match="Xx"):
        engine.form_factor_table(["Xx"])


def test_bad_inputs_are_named(random_structures, hkl):
    batch = engine.batch_from_cctbx(random_structures[:1])
    with pytest.raises(ValueError, match="backend"):
        engine.structure_factors_batch(batch, hkl, backend="fortran")
    broken = batch.take(slice(None))
    broken.cells = np.array([[5, 5, 5, 90, 90, 200.0]])
    with pytest.raises(ValueError, match="cell 0"):
        engine.structure_factors_batch(broken, hkl)
    broken = batch.take(slice(None))
    broken.element = broken.element + 7
    with pytest.raises(ValueError, match="element indices"):
        engine.structure_factors_batch(broken, hkl)
    with pytest.raises(ValueError, match="hkl"):
        engine.structure_factors_batch(batch, hkl[:, :2])


@pytest.mark.skipif(not COD_P1.is_dir(), reason="no COD P-1 structures in shared/data")
@pytest.mark.parametrize("backend", BACKENDS)
def test_real_cod_structures_match_cctbx(backend):
    """Real P-1 structures (H atoms, ions, special positions, partial occupancies), as
    isotropic models: the engine is isotropic."""
    structures, _ = read_cif_structures(COD_P1)
    assert structures, f"no P-1 structure read from {COD_P1}"
    models = []
    for s in structures:
        xs = s.structure.deep_copy_scatterers()
        xs.convert_to_isotropic()
        models.append(xs)
    hkl = index_set(709)
    reference = np.array([calculate(xs, hkl).f.real for xs in models])
    sf = engine.structure_factors_batch(engine.batch_from_cctbx(models), hkl, backend=backend)
    assert_matches_cctbx(sf.f, reference, sf.sign)
