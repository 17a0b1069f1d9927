"""Random P-1 structures (cctbx) and the CIF-folder reader (iotbx), bad input included."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lib.phases.structures import (GeneratorParameters, cell_volume, generate_structure,
                            min_interatomic_distance, parse_element_mix, read_cif_file,
                            read_cif_structures)

PARAMS = GeneratorParameters(atoms_min=6, atoms_max=20)


# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------


def test_parse_element_mix_normalises_and_rejects_bad_items():
    mix = parse_element_mix("C:7,N:1,O:2")
    assert mix == pytest.approx({"C": 0.7, "N": 0.1, "O": 0.2})
    for bad, word in [("C:0.5,Xx:0.5", "Xx"), ("C0.5", "C0.5"), ("C:abc", "abc"),
                      ("C:-1", "C"), ("", "empty")]:
        with pytest.raises(ValueError, match=word):
            parse_element_mix(bad)


def test_generator_parameters_are_validated():
    with pytest.raises(ValueError, match="atoms_min"):
        GeneratorParameters(atoms_min=10, atoms_max=5)
    with pytest.raises(ValueError, match="u_iso"):
        GeneratorParameters(u_iso_min=0.0)
    with pytest.raises(ValueError, match="P-1"):
        GeneratorParameters(space_group="P 21/c")


def test_generated_structures_respect_every_parameter():
    structures = [generate_structure(PARAMS, seed=11, index=i) for i in range(40)]
    elements = Counter()
    for xs in structures:
        assert xs.space_group_info().type().number() == 2
        assert xs.space_group().is_origin_centric()   # inversion centre at the origin
        n = xs.scatterers().size()
        assert PARAMS.atoms_min <= n <= PARAMS.atoms_max
        a, b, c, al, be, ga = xs.unit_cell().parameters()
        for edge in (a, b, c):
            assert PARAMS.cell_edge_min - 1e-6 <= edge <= PARAMS.cell_edge_max + 1e-6
        for angle in (al, be, ga):
            assert PARAMS.cell_angle_min - 1e-6 <= angle <= PARAMS.cell_angle_max + 1e-6
        # volume per atom: 2 atoms (asymmetric unit + inversion image) per scatterer
        assert xs.unit_cell().volume() / (2 * n) == pytest.approx(PARAMS.volume_per_atom,
                                                                  rel=1e-6)
        u = np.array(xs.extract_u_iso_or_u_equiv())
        assert np.all((u >= PARAMS.u_iso_min) & (u <= PARAMS.u_iso_max))
        elements.update(xs.scatterers().extract_scattering_types())
        # minimum interatomic distance, symmetry equivalents included (cctbx pair tables)
        pairs = xs.pair_asu_table(distance_cutoff=PARAMS.min_distance - 1e-4)
        assert sum(pairs.pair_counts()) == 0
        assert min_interatomic_distance(xs) >= PARAMS.min_distance - 1e-4
    total = sum(elements.values())
    assert elements["C"] / total == pytest.approx(0.70, abs=0.08)
    assert set(elements) <= {"C", "N", "O", "S", "Cl"}


def test_generator_is_deterministic_per_seed_and_index():
    a = generate_structure(PARAMS, seed=5, index=17)
    # other structures generated in between (another "chunk") change nothing
    for i in range(3):
        generate_structure(PARAMS, seed=5, index=i)
    b = generate_structure(PARAMS, seed=5, index=17)
    assert a.unit_cell().parameters() == b.unit_cell().parameters()
    assert np.array_equal(np.array(a.sites_frac()), np.array(b.sites_frac()))
    assert list(a.scatterers().extract_scattering_types()) == \
        list(b.scatterers().extract_scattering_types())
    c = generate_structure(PARAMS, seed=6, index=17)
    d = generate_structure(PARAMS, seed=5, index=17, stream=1)
    assert c.unit_cell().parameters() != a.unit_cell().parameters()
    assert d.unit_cell().parameters() != a.unit_cell().parameters()


def test_cell_volume_matches_cctbx():
    from cctbx import uctbx

    cell = (7.1, 8.2, 9.3, 80.0, 95.0, 105.0)
    assert cell_volume(cell) == pytest.approx(uctbx.unit_cell(cell).volume())
    assert np.isnan(cell_volume((5, 5, 5, 10, 10, 170)))


# ---------------------------------------------------------------------------------------------
# CIF reader
# ---------------------------------------------------------------------------------------------


def _cif_text(xs) -> str:
    out = io.StringIO()
    xs.as_cif_simple(out=out)
    return out.getvalue()


def _p21c_text() -> str:
    from cctbx.development import random_structure

    xs = random_structure.xray_structure(space_group_symbol="P 1 21/c 1",
                                         elements=["C", "O", "N", "C"], u_iso=0.02)
    return _cif_text(xs)


@pytest.fixture()
def bad_corpus(tmp_path: Path) -> Path:
    """A folder of P-1 CIFs, good and bad, made by the test."""
    good = _cif_text(generate_structure(PARAMS, seed=1, index=0))
    folder = tmp_path / "cifs"
    folder.mkdir()
    (folder / "a_good.cif").write_text(good)
    # truncated in the middle of the atom loop (a row cut short) and in a quoted string
    cut = good.index("_atom_site_occupancy") + 60
    (folder / "b_truncated.cif").write_text(good[:cut])
    (folder / "c_truncated_quote.cif").write_text(good.replace("data_global",
                                                               "data_global\n_x 'open"))
    # no atom loop at all
    no_atoms = good[:good.index("loop_\n  _atom_site_label")]
    (folder / "d_no_atoms.cif").write_text(no_atoms)
    (folder / "e_wrong_space_group.cif").write_text(_p21c_text())
    (folder / "f_not_a_cif.cif").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary junk")
    lines = good.splitlines()
    first_atom = lines.index("  _atom_site_occupancy") + 1
    parts = lines[first_atom].split()
    parts[1] = "?"
    lines[first_atom] = "  " + "  ".join(parts)
    (folder / "g_unknown_type.cif").write_text("\n".join(lines) + "\n")
    (folder / "h_empty.cif").write_text("")
    # truncated right after the loop's data names: iotbx would crash the process on it
    cut = good.index("_atom_site_type_symbol") + 10
    (folder / "i_truncated_in_loop_header.cif").write_text(good[:cut])
    # non-ASCII UTF-8 in a comment and in a value: read, the value in CIF 1.1 markup
    (folder / "j_non_ascii.cif").write_text(
        good.replace("data_global", "data_global\n# Kristall von Jürgen Müller: a ≈ 5 Å, "
                                    "β = 95°, µ = 0.1 mm⁻¹\n_chemical_name_common "
                                    "'Müller–Ångström salt'"), encoding="utf-8")
    (folder / "k_negative_u.cif").write_text(_with_first_atom(good, 5, "-0.0150"))
    (folder / "l_negative_b.cif").write_text(
        _with_first_atom(good, 5, "-1.2").replace("_atom_site_U_iso_or_equiv",
                                                  "_atom_site_B_iso_or_equiv"))
    (folder / "m_occupancy_above_1.cif").write_text(_with_first_atom(good, 7, "1.2"))
    (folder / "n_occupancy_rounding.cif").write_text(_with_first_atom(good, 7, "1.0008"))
    (folder / "o_duplicate_blocks.cif").write_text(good + "\n" + good.replace(
        "data_global", "DATA_GLOBAL"))
    (folder / "z_good_too.cif").write_text(_cif_text(generate_structure(PARAMS, seed=1,
                                                                        index=1)))
    return folder


def _with_first_atom(cif: str, column: int, value: str) -> str:
    """The CIF with column ``column`` of its first atom row set to ``value`` (cctbx's
    ``as_cif_simple`` rows: label, type, x, y, z, U_iso, adp type, occupancy)."""
    lines = cif.splitlines()
    row = lines.index("  _atom_site_occupancy") + 1
    parts = lines[row].split()
    parts[column] = value
    lines[row] = "  " + "  ".join(parts)
    return "\n".join(lines) + "\n"


def test_reader_skips_bad_files_with_reasons_and_goes_on(bad_corpus: Path):
    structures, skipped = read_cif_structures(bad_corpus)
    assert [s.source_id for s in structures] == ["a_good.cif", "j_non_ascii.cif",
                                                 "n_occupancy_rounding.cif", "z_good_too.cif"]
    reasons = {Path(s.path.split("#")[0]).name: s.reason for s in skipped}
    assert set(reasons) == {"b_truncated.cif", "c_truncated_quote.cif", "d_no_atoms.cif",
                            "e_wrong_space_group.cif", "f_not_a_cif.cif",
                            "g_unknown_type.cif", "h_empty.cif",
                            "i_truncated_in_loop_header.cif", "k_negative_u.cif",
                            "l_negative_b.cif", "m_occupancy_above_1.cif",
                            "o_duplicate_blocks.cif"}
    assert "negative displacement parameter: U = -0.015" in reasons["k_negative_u.cif"]
    assert "negative displacement parameter" in reasons["l_negative_b.cif"]
    assert "B = -1.2" in reasons["l_negative_b.cif"]
    assert "occupancy 1.2" in reasons["m_occupancy_above_1.cif"]
    assert "duplicate data block name(s) data_global" in reasons["o_duplicate_blocks.cif"]
    assert "truncated" in reasons["b_truncated.cif"] or "malformed" in reasons["b_truncated.cif"]
    assert "malformed" in reasons["c_truncated_quote.cif"]
    assert "no atoms" in reasons["d_no_atoms.cif"]
    assert "P 1 21/c 1" in reasons["e_wrong_space_group.cif"]
    assert "No. 14" in reasons["e_wrong_space_group.cif"]
    assert "not a CIF" in reasons["f_not_a_cif.cif"]
    assert "unknown type" in reasons["g_unknown_type.cif"] and "'?'" in \
        reasons["g_unknown_type.cif"]
    assert "empty" in reasons["h_empty.cif"]
    assert "truncated" in reasons["i_truncated_in_loop_header.cif"]
    # each skipped entry names its file
    for s in skipped:
        assert str(bad_corpus) in s.path


def test_non_ascii_cif_reads_like_its_ascii_twin(bad_corpus: Path):
    from lib.phases.structures import cif_ascii_text

    plain = read_cif_file(bad_corpus / "a_good.cif").structures[0].structure
    accented = read_cif_file(bad_corpus / "j_non_ascii.cif").structures[0].structure
    assert np.allclose(plain.sites_frac().as_double(), accented.sites_frac().as_double())
    # values keep their meaning in CIF 1.1 markup
    assert cif_ascii_text("Müller–Ångström, 5 Å, 95°, β, µm, é") == \
        'M\\"uller--\\%Angstr\\"om, 5 \\%A, 95\\%, \\b, \\mm, \\\'e'
    assert cif_ascii_text("plain ASCII") == "plain ASCII"


def test_reader_keeps_other_space_group_when_asked(bad_corpus: Path):
    structures, _ = read_cif_structures(bad_corpus, space_group="P 21/c")
    assert [s.source_id for s in structures] == ["e_wrong_space_group.cif"]


def test_reader_errors_on_empty_or_missing_folder(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty"):
        read_cif_structures(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_cif_structures(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown space group"):
        read_cif_structures([tmp_path / "x.cif"], space_group="Q 99")


def test_any_setting_of_p1bar_counts_and_is_moved_to_an_inversion_centre(tmp_path: Path):
    from cctbx import sgtbx

    from lib.phases.reflections import index_set
    from lib.phases.structure_factors import structure_factors

    xs = generate_structure(PARAMS, seed=2, index=3)
    shifted = xs.change_basis(sgtbx.change_of_basis_op("x+1/4,y-1/8,z"))
    assert not shifted.space_group().is_origin_centric()
    path = tmp_path / "shifted.cif"
    path.write_text(_cif_text(shifted))
    result = read_cif_file(path)
    assert len(result.structures) == 1, result.skipped
    read = result.structures[0].structure
    assert read.space_group().is_origin_centric()
    hkl = index_set(709)
    f = structure_factors(read, hkl)
    assert np.max(np.abs(f.imag)) < 1e-6 * np.max(np.abs(f))
    # same intensities as the original structure (the CIF rounds coordinates to 1e-6)
    i0 = np.abs(structure_factors(xs, hkl)) ** 2
    assert np.allclose(np.abs(f) ** 2, i0, rtol=1e-3, atol=1e-4 * i0.max())


def test_reader_on_real_cod_p1bar_folder(shared_data: Path):
    folder = shared_data / "cod_structures" / "p-1"
    if not folder.is_dir():
        pytest.skip("cod_structures/p-1 is absent")
    structures, skipped = read_cif_structures(folder)
    n_files = len(list(folder.glob("*.cif")))
    assert len(structures) + len({s.path.split("#")[0] for s in skipped}) >= n_files
    assert len(structures) >= 25
    for s in structures:
        assert s.structure.space_group_info().type().number() == 2
        assert s.structure.space_group().is_origin_centric()
        assert s.structure.scatterers().size() > 0
    # 2000642.cif has U_eq ≈ 700 Å² (a unit error in the file): skipped, with the reason
    reasons = {Path(s.path).name: s.reason for s in skipped}
    if "2000642.cif" in reasons:
        assert "implausible displacement" in reasons["2000642.cif"]


def test_reader_on_real_cod_other_folder_lists_reasons(shared_data: Path):
    folder = shared_data / "cod_structures" / "other"
    if not folder.is_dir():
        pytest.skip("cod_structures/other is absent")
    structures, skipped = read_cif_structures(folder)
    assert structures == []
    reasons = [s.reason for s in skipped]
    assert any("unknown type" in r for r in reasons)
    assert any("space group" in r and "not the requested" in r for r in reasons)
    files = {Path(s.path.split("#")[0]).name for s in skipped}
    assert files == {p.name for p in folder.glob("*.cif")}
