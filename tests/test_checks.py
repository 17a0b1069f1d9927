"""lib.phases.checks: the independent NumPy sum of F, the index-set check, and the sign
balance per parity class, on hand-made cases, against cctbx, and on data sets that were
tampered with (the checks must be able to fail)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lib.phases import build, checks, reflections, store
from lib.phases import structure_factors as sfm
from lib.phases.structures import GeneratorParameters, generate_structure, read_cif_file

HKL = reflections.index_set(reflections.N_FULL)


def one_atom(site, element: str = "C", u_iso: float = 0.02, cell=(6.0, 7.0, 8.0, 80, 95, 105)):
    """A P-1 structure with one atom at ``site`` (cctbx)."""
    from cctbx import crystal, xray

    symmetry = crystal.symmetry(unit_cell=cell, space_group_symbol="P-1")
    xs = xray.structure(crystal_symmetry=symmetry)
    xs.add_scatterer(xray.scatterer(label=element + "1", site=tuple(site), u=u_iso,
                                    scattering_type=element))
    return xs


# ---------------------------------------------------------------------------------------------
# Geometry and form factors
# ---------------------------------------------------------------------------------------------


def test_stol2_matches_cctbx_on_a_triclinic_cell():
    cell = (5.3, 9.1, 12.7, 71.0, 98.5, 113.0)
    assert np.allclose(checks.stol2_numpy(cell, HKL), sfm.stol2(cell, HKL), rtol=1e-12)


def test_stol2_of_a_cubic_cell_is_h2_over_4a2():
    hkl = np.array([[1, 0, 0], [1, 1, 1], [2, -3, 4]])
    assert np.allclose(checks.stol2_numpy((10, 10, 10, 90, 90, 90), hkl),
                       (hkl ** 2).sum(axis=1) / 400.0)


def test_form_factor_at_zero_angle_is_the_electron_count():
    assert checks.form_factor("C", np.array([0.0]))[0] == pytest.approx(6.0, abs=0.01)
    assert checks.form_factor("Cl", np.array([0.0]))[0] == pytest.approx(17.0, abs=0.01)
    assert checks.form_factor("O1-", np.array([0.0]))[0] == pytest.approx(9.0, abs=0.01)
    with pytest.raises(ValueError, match="Xx"):
        checks.form_factor_coefficients("Xx")


# ---------------------------------------------------------------------------------------------
# The independent sum on hand-made structures
# ---------------------------------------------------------------------------------------------


def test_one_atom_at_the_origin_gives_all_positive_signs():
    xs = one_atom((0.0, 0.0, 0.0))
    f = checks.p1bar_structure_factors(xs, HKL)
    assert np.all(f.real > 0) and np.allclose(f.imag, 0)
    s2 = checks.stol2_numpy(xs.unit_cell().parameters(), HKL)
    # counted once (the atom is its own inversion image): F = f(s) exp(−8π²U s²)
    expected = checks.form_factor("C", s2) * np.exp(-8 * np.pi ** 2 * 0.02 * s2)
    assert np.allclose(f.real, expected, rtol=1e-12)
    assert np.allclose(f.real, sfm.calculate(xs, HKL).f.real, rtol=1e-9)


def test_one_atom_at_another_inversion_centre_gives_signs_minus_one_to_the_h():
    f = checks.p1bar_structure_factors(one_atom((0.5, 0.0, 0.0)), HKL)
    assert np.array_equal(np.sign(f.real), np.where(HKL[:, 0] % 2 == 0, 1.0, -1.0))


def test_a_general_atom_counts_twice_x_and_minus_x():
    xs = one_atom((0.1, 0.23, 0.37))
    f = checks.p1bar_structure_factors(xs, HKL)
    s2 = checks.stol2_numpy(xs.unit_cell().parameters(), HKL)
    fj = checks.form_factor("C", s2) * np.exp(-8 * np.pi ** 2 * 0.02 * s2)
    assert np.allclose(f.real, 2 * fj * np.cos(2 * np.pi * HKL @ np.array([0.1, 0.23, 0.37])))
    assert np.max(np.abs(f.imag)) < 1e-12 * np.max(np.abs(f))


def test_the_sum_refuses_a_structure_without_the_inversion_at_the_origin():
    from cctbx import crystal, xray

    symmetry = crystal.symmetry(unit_cell=(6, 7, 8, 90, 90, 90), space_group_symbol="P1")
    xs = xray.structure(crystal_symmetry=symmetry)
    xs.add_scatterer(xray.scatterer(label="C1", site=(0.1, 0.2, 0.3), u=0.02))
    with pytest.raises(ValueError, match="P 1"):
        checks.p1bar_structure_factors(xs, HKL)


# ---------------------------------------------------------------------------------------------
# Against cctbx
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2])
def test_numpy_sum_equals_cctbx_on_generated_structures(index: int):
    xs = generate_structure(GeneratorParameters(), seed=11, index=index)
    f = checks.p1bar_structure_factors(xs, HKL)
    g = sfm.calculate(xs, HKL).f
    assert np.max(np.abs(f - g)) < 1e-10 * np.max(np.abs(g))


def test_numpy_sum_equals_cctbx_on_real_cod_p1bar_structures(shared_data):
    """Real COD P-1 structures: isotropic ones (ions, atoms on inversion centres, partial
    occupancy) and anisotropic ones (U*)."""
    folder = shared_data / "cod_structures" / "p-1"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    seen = {"isotropic": 0, "anisotropic": 0, "special position": 0}
    for path in sorted(folder.glob("*.cif")):
        for s in read_cif_file(path).structures:
            xs = s.structure
            sc = list(xs.scatterers())
            aniso = any(a.flags.use_u_aniso() for a in sc)
            special = bool(checks.on_inversion_centre(checks.atom_table(xs).sites).any())
            seen["anisotropic" if aniso else "isotropic"] += 1
            seen["special position"] += special
            f = checks.p1bar_structure_factors(xs, HKL)
            g = sfm.calculate(xs, HKL).f
            assert np.max(np.abs(f - g)) < 1e-9 * np.max(np.abs(g)), s.source_id
    if sum(seen.values()) == 0:
        pytest.skip(f"no P-1 structure in {folder}")
    assert seen["isotropic"] >= 1, seen


# ---------------------------------------------------------------------------------------------
# Stored data sets: passes on a true file, fails on a tampered one
# ---------------------------------------------------------------------------------------------


def _small_set(path, engine: str = "batched"):
    generator = GeneratorParameters(atoms_min=4, atoms_max=8)
    build.build_generated(path, "calculated", 4, seed=3, generator=generator, chunk_size=4,
                          progress=False, engine=engine)
    return path


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    """A calculated data set of 4 small generated structures (batched engine)."""
    return _small_set(tmp_path_factory.mktemp("checks") / "calculated.h5")


def test_a_cctbx_built_set_agrees_with_the_numpy_sum(tmp_path):
    """Sets of the old path (cctbx generator, ``gen:`` ids) are still checked."""
    path = _small_set(tmp_path / "calculated.h5", engine="cctbx")
    rows = checks.compare_stored_structure_factors(path, [0, 3])
    assert [r["source_id"] for r in rows] == ["gen:3:0:0", "gen:3:0:3"]
    assert all(r["ok"] and r["max_delta_f_rel"] < 1e-6 for r in rows), rows


def test_stored_set_agrees_with_the_numpy_sum(small_set):
    rows = checks.compare_stored_structure_factors(small_set, checks.sample_rows(4, 3))
    assert [r["row"] for r in rows] == [0, 2, 3]
    for r in rows:
        assert r["ok"], r
        assert r["source_id"].startswith("engine:3:0:")
        assert r["max_delta_f_rel"] < 1e-6 and r["max_imag_f_rel"] < 1e-10
        assert r["n_strong"] > 3000 and r["sign_mismatches_strong"] == 0
    with pytest.raises(IndexError, match="holds 4 structures"):
        checks.stored_row(small_set, 4)


def _tampered(small_set, tmp_path, edit):
    path = tmp_path / "calculated.h5"
    shutil.copy(small_set, path)
    import h5py

    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def test_a_flipped_sign_fails_the_check(small_set, tmp_path):
    def flip(f):
        sign = f["sign"][1]
        strongest = int(np.argmax(f["amplitude"][1]))
        sign[strongest] *= -1
        f["sign"][1] = sign

    (row,) = checks.compare_stored_structure_factors(_tampered(small_set, tmp_path, flip), [1])
    assert not row["ok"] and row["sign_mismatches_strong"] == 1
    assert row["max_delta_f_rel"] > 1.0


def test_permuted_reflections_fail_the_check(small_set, tmp_path):
    def permute(f):
        hkl = f["hkl"][:]
        f["hkl"][:] = hkl[np.random.default_rng(0).permutation(len(hkl))]

    path = _tampered(small_set, tmp_path, permute)
    (row,) = checks.compare_stored_structure_factors(path, [0])
    assert not row["ok"] and row["sign_mismatches_strong"] > 100
    with store.open_dataset(path) as f:
        assert "not sorted by h² + k² + l²" in checks.index_set_problems(f["hkl"][:])


def test_a_cif_built_set_agrees_with_the_numpy_sum(shared_data, tmp_path):
    source = shared_data / "cod_structures" / "p-1"
    files = sorted(source.glob("*.cif"))[:3] if source.is_dir() else []
    if not files:
        pytest.skip(f"no CIFs in {source}")
    folder = tmp_path / "cifs"
    folder.mkdir()
    for p in files:
        shutil.copy(p, folder / p.name)
    result = build.build_calculated_from_cifs(tmp_path / "calculated.h5", folder,
                                              chunk_size=8, progress=False)
    if result.n_structures == 0:
        pytest.skip("no usable P-1 structure among the first CIFs")
    rows = checks.compare_stored_structure_factors(result.path, range(result.n_structures))
    assert all(r["ok"] for r in rows), rows
    assert not any(r["source_id"].startswith("gen:") for r in rows)


def test_structure_for_source_names_what_it_cannot_find(tmp_path):
    with pytest.raises(ValueError, match="no generator"):
        checks.structure_for_source("gen:1:0:5")
    with pytest.raises(ValueError, match="no CIF folder"):
        checks.structure_for_source("foo.cif")
    (tmp_path / "empty.cif").write_text("")
    with pytest.raises(ValueError, match="empty.cif"):
        checks.structure_for_source("empty.cif", cif_dir=tmp_path)
    assert checks.parse_generated_source_id("gen:7:1:42") == (7, 1, 42)
    assert checks.parse_generated_source_id("gen:7:x:42") is None


# ---------------------------------------------------------------------------------------------
# The index set
# ---------------------------------------------------------------------------------------------


def test_the_report_index_set_has_no_problems_and_broken_ones_do():
    assert checks.index_set_problems(HKL) == []
    assert "not sorted by h² + k² + l²" in checks.index_set_problems(HKL[::-1])
    friedel = HKL.copy()
    friedel[5] = -friedel[5]             # a Friedel mate instead: still complete, fine
    assert checks.index_set_problems(friedel[reflections.report_order(friedel)]) == []
    duplicate = np.vstack([HKL[:-1], HKL[:1]])
    problems = checks.index_set_problems(duplicate[reflections.report_order(duplicate)])
    assert any("twice" in p for p in problems) and any("missing" in p for p in problems)
    assert any("(0, 0, 0)" in p for p in checks.index_set_problems(
        np.vstack([[[0, 0, 0]], HKL[:-1]])))
    assert any("4630" in p for p in checks.index_set_problems(HKL[:709]))


# ---------------------------------------------------------------------------------------------
# Sign balance per parity class
# ---------------------------------------------------------------------------------------------


def test_parity_classes_of_hand_made_reflections():
    hkl = np.array(checks.PARITY_CLASSES) + np.array([2, -4, 6])   # one of each, shifted
    assert list(checks.parity_classes(hkl)) == list(range(8))
    assert checks.parity_classes(np.array([[-1, -2, -3]]))[0] == 5      # (1, 0, 1)
    assert checks.parity_label((0, 1, 1)) == "(0,1,1)"


def test_sign_balance_by_parity_on_hand_made_signs():
    # two reflections per class; 4 structures
    hkl = np.repeat(np.array(checks.PARITY_CLASSES), 2, axis=0)
    sign = np.ones((4, 16), dtype=np.int8)
    sign[:, 0:2] = -1                     # (0,0,0): all negative
    sign[0:2, 2:4] = -1                   # (0,0,1): half negative, by structure
    sign[:, 4] = -1                       # (0,1,0): one reflection of two negative
    sign[0, 6:8] = -1                     # (0,1,1): 1 structure of 4 negative
    table = {r["parity"]: r for r in checks.sign_balance_by_parity(sign, hkl)}
    assert list(table) == [checks.parity_label(p) for p in checks.PARITY_CLASSES]
    semi = table["(0,0,0)"]
    assert semi["seminvariant"] and semi["fraction_positive"] == 0.0
    assert semi["best_constant_accuracy"] == 1.0 and semi["standard_error"] == 0.0
    assert not any(r["seminvariant"] for k, r in table.items() if k != "(0,0,0)")
    assert table["(0,0,1)"]["fraction_positive"] == 0.5
    # per-structure fractions 0, 0, 1, 1: SE = std(ddof=1) / √4
    assert table["(0,0,1)"]["standard_error"] == pytest.approx(np.std([0, 0, 1, 1], ddof=1) / 2)
    assert table["(0,1,0)"]["fraction_positive"] == 0.5
    assert table["(0,1,0)"]["standard_error"] == 0.0          # every structure exactly ½
    assert table["(0,1,1)"]["fraction_positive"] == 0.75
    assert table["(0,1,1)"]["best_constant_accuracy"] == 0.75
    assert table["(0,1,1)"]["z"] == pytest.approx(0.25 / (np.std([0, 1, 1, 1], ddof=1) / 2))
    assert table["(1,1,1)"]["fraction_positive"] == 1.0
    assert all(r["n_reflections"] == 2 and r["n_structures"] == 4 for r in table.values())
    assert not checks.origin_classes_balanced(list(table.values()))


def test_origin_classes_balanced_ignores_the_seminvariants():
    rng = np.random.default_rng(1)
    hkl = HKL[:709]
    sign = np.where(rng.random((400, len(hkl))) < 0.5, 1, -1).astype(np.int8)
    semi = checks.parity_classes(hkl) == 0
    sign[:, semi] = -1                      # seminvariants all negative: not checked
    table = checks.sign_balance_by_parity(sign, hkl)
    assert checks.origin_classes_balanced(table)
    assert table[0]["parity"] == "(0,0,0)" and table[0]["n_reflections"] == 89
    assert table[0]["best_constant_accuracy"] == 1.0
    sign[:, checks.parity_classes(hkl) == 7] = 1    # (1,1,1) all positive: fails
    assert not checks.origin_classes_balanced(checks.sign_balance_by_parity(sign, hkl))


def test_sign_balance_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="n_structures"):
        checks.sign_balance_by_parity(np.ones((3, 5)), HKL[:6])
