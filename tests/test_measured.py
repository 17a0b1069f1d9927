"""Measured intensities: readers of real files, the bad-input corpus, the simulator."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
import pytest

from lib.phases.measured import (MeasuredData, MeasuredDataError, read_measured,
                                 read_measured_folder, shelx_checksum)

from lib.phases.simulate import simulate_measurement, simulate_measurement_details

from lib.phases.normalisation import restrict_to_index_set

from _fake_data import (hklf_with_intensities, measured_texts, synthetic_structure,
                        write_measured_set)

SCALE = 7.5  # the synthetic files' measured scale: I_meas = SCALE * |F_calc|^2


# ---------------------------------------------------------------------------------------------
# A synthetic data set written by the tests (no shared data needed)
# ---------------------------------------------------------------------------------------------


def _synthetic_structure():
    return synthetic_structure(7)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Structure CIF text, its F_calc on a d_min = 1 Å set, and the three reflection formats."""
    xs = _synthetic_structure()
    texts = measured_texts(xs, scale=SCALE)
    cif, refl_cif, hklf, embedded = (texts[k] for k in ("cif", "refl_cif", "hklf", "embedded"))
    root = tmp_path_factory.mktemp("synthetic")
    sets = {}
    for name, files in {"cif_pair": {"structure.cif": cif, "reflections.hkl": refl_cif},
                        "hklf_pair": {"structure.cif": cif, "reflections.hkl": hklf},
                        "embedded": {"structure_with_hkl.cif": embedded}}.items():
        sets[name] = write_measured_set(root / name, files)
    return {"xs": xs, "cif": cif, "refl_cif": refl_cif, "hklf": hklf, "embedded": embedded,
            "n_unique": texts["n_unique"], "sets": sets, "root": root}


@pytest.mark.parametrize("kind", ["cif_pair", "hklf_pair", "embedded"])
def test_synthetic_formats_read_measured_column(synthetic: dict, kind: str) -> None:
    data = read_measured(synthetic["sets"][kind])
    assert isinstance(data, MeasuredData)
    assert data.source_id == kind
    assert data.n_reflections == synthetic["n_unique"]
    assert data.hkl.shape == (data.n_reflections, 3) and data.hkl.dtype == np.int32
    assert data.radiation == "x-ray"
    assert "21/c" in data.space_group
    # the measured column, not the junk calculated one: I_meas = SCALE * |F_calc|^2
    assert data.pearson_r > 0.9999
    ratio = np.median(data.i_meas[data.i_calc > 1] / data.i_calc[data.i_calc > 1])
    if kind == "cif_pair":
        assert ratio == pytest.approx(SCALE, rel=1e-3)
    assert np.all(data.stol2 > 0)
    np.testing.assert_allclose(data.d_spacing, 1 / (2 * np.sqrt(data.stol2)), rtol=1e-9)
    np.testing.assert_allclose(data.i_calc, np.abs(data.f_calc) ** 2)


def test_folder_reader_reads_all_formats(synthetic: dict) -> None:
    data, skipped = read_measured_folder(synthetic["root"])
    assert sorted(d.source_id for d in data) == ["cif_pair", "embedded", "hklf_pair"]
    assert skipped == []


def test_index_set_restriction(synthetic: dict) -> None:
    data = read_measured(synthetic["sets"]["cif_pair"])
    y, x = restrict_to_index_set(data, 709)
    assert 0 < len(y) <= 709
    # the CIF rounds the model (cell to 0.001 Å), so F_calc agrees to ~1 %
    np.testing.assert_allclose(y, SCALE * x, rtol=0.03, atol=0.5)
    y_all, _ = restrict_to_index_set(data, "all")
    assert len(y_all) == data.n_reflections


# ---------------------------------------------------------------------------------------------
# Bad-input corpus
# ---------------------------------------------------------------------------------------------


def _write_set(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for fname, text in files.items():
        (folder / fname).write_text(text)
    return folder


def _with_first_atom(cif: str, column: int, value: str) -> str:
    """The model CIF with column ``column`` of its first atom row set to ``value`` (cctbx's
    ``as_cif_simple`` rows: label, type, x, y, z, U_iso, adp type, occupancy)."""
    lines = cif.splitlines()
    row = lines.index("  _atom_site_occupancy") + 1
    parts = lines[row].split()
    parts[column] = value
    lines[row] = "  " + "  ".join(parts)
    return "\n".join(lines) + "\n"


def _hklf5(hklf: str) -> str:
    """An HKLF 5 file: batch numbers, every 7th reflection a twin component (negative)."""
    body = [ln for ln in hklf.splitlines() if ln[:12].split() != ["0", "0", "0"]]
    rows = [f"{ln:28s}{-2 if i % 7 == 3 else 1:4d}" for i, ln in enumerate(body)]
    return "\n".join(rows + ["   0   0   0    0.00    0.00   0"]) + "\n"


def _bad_corpus(root: Path, s: dict) -> dict[str, tuple[Path, str]]:
    """Bad data sets: name → (folder, the file the error must name, a word of the reason)."""
    cif, refl_cif, hklf = s["cif"], s["refl_cif"], s["hklf"]
    lines = hklf.splitlines()
    no_atoms = cif.split("loop_\n  _atom_site_label")[0]
    wrong_checksum = (shelx_checksum(hklf) + 1) % 100000
    cases = {
        "truncated_cif": ({"structure.cif": cif[: len(cif) // 2] + "\nloop_\n",
                           "reflections.hkl": hklf}, "structure.cif", "truncated"),
        "truncated_cif_mid_row": ({"structure.cif": cif.rstrip()[:-30], "reflections.hkl": hklf},
                                  "structure.cif", "truncated"),
        "truncated_refl_cif": ({"structure.cif": cif,
                                "reflections.hkl": refl_cif[: len(refl_cif) - 25]},
                               "reflections.hkl", "truncated"),
        # cut right after the loop's data names: iotbx would crash the process on it
        "refl_cif_loop_names_only": ({"structure.cif": cif,
                                      "reflections.hkl": refl_cif[: refl_cif.index(
                                          "_refln_F_squared_meas")] + "_refln_F_squared_meas\n"},
                                     "reflections.hkl", "truncated"),
        "truncated_hklf": ({"structure.cif": cif,
                            "reflections.hkl": "\n".join(lines[:40]) + "\n" + lines[40][:15]},
                           "reflections.hkl", "truncated"),
        "non_numeric_hkl": ({"structure.cif": cif,
                             "reflections.hkl": "\n".join(lines[:10] + ["   1   2 abc   10.00"
                                                                       "    1.00"]
                                                          + lines[10:]) + "\n"},
                            "reflections.hkl", "line 11"),
        "empty_hkl": ({"structure.cif": cif, "reflections.hkl": ""},
                      "reflections.hkl", "empty"),
        "no_meas_column": ({"structure.cif": cif,
                            "reflections.hkl": refl_cif.replace("_refln_F_squared_meas",
                                                                "_refln_F_squared_other")},
                           "reflections.hkl", "missing columns"),
        "no_atoms": ({"structure.cif": no_atoms, "reflections.hkl": hklf},
                     "structure.cif", "without atoms"),
        "no_reflections": ({"structure.cif": cif}, "structure.cif", "no reflections"),
        "wrong_space_group": ({"structure.cif": cif,
                               "reflections.hkl": refl_cif.replace("'P 1 21/c 1'", "'P -1'")},
                              "reflections.hkl", "wrong space group"),
        # cut at a line boundary: only the missing 0 0 0 terminator tells
        "hklf_cut_at_line_boundary": ({"structure.cif": cif,
                                       "reflections.hkl": "\n".join(lines[:40]) + "\n"},
                                      "reflections.hkl", "truncated"),
        "hklf5_negative_batch": ({"structure.cif": cif, "reflections.hkl": _hklf5(hklf)},
                                 "reflections.hkl", "HKLF 5 (twinned) data is not supported"),
        "hklf5_instruction_beside": ({"structure.cif": cif, "reflections.hkl": hklf,
                                      "crystal.ins": "TITL twin\nHKLF 5\nEND\n"},
                                     "reflections.hkl", "HKLF 5 (twinned) data is not supported"),
        "embedded_hklf5": ({"structure_with_hkl.cif": s["embedded"] + "_shelx_res_file\n;\n"
                            "TITL twin\nHKLF 5\nEND\n;\n"},
                           "structure_with_hkl.cif", "HKLF 5 (twinned) data is not supported"),
        "embedded_checksum_mismatch": ({"structure_with_hkl.cif": s["embedded"]
                                        + f"_shelx_hkl_checksum {wrong_checksum}\n"},
                                       "structure_with_hkl.cif", "_shelx_hkl_checksum mismatch"),
        "embedded_cut_at_line_boundary": ({"structure_with_hkl.cif": cif + "\n_shelx_hkl_file\n;\n"
                                           + "\n".join(lines[:40]) + "\n;\n"},
                                          "structure_with_hkl.cif", "truncated"),
        "zero_intensities": ({"structure.cif": cif,
                              "reflections.hkl": hklf_with_intensities(hklf, lambda v: 0 * v)},
                             "reflections.hkl", "no signal"),
        "duplicate_blocks": ({"structure.cif": cif + "\n" + cif, "reflections.hkl": hklf},
                             "structure.cif", "duplicate data block name(s) data_synthetic"),
        "negative_u": ({"structure.cif": _with_first_atom(cif, 5, "-0.0200"),
                        "reflections.hkl": hklf}, "structure.cif",
                       "negative displacement parameter"),
        "occupancy_above_1": ({"structure.cif": _with_first_atom(cif, 7, "1.5"),
                               "reflections.hkl": hklf}, "structure.cif", "occupancy 1.5"),
    }
    out = {}
    for name, (files, culprit, word) in cases.items():
        folder = _write_set(root, name, files)
        out[name] = (folder / culprit, word)
    return out


def test_bad_inputs_name_file_and_reason(synthetic: dict, tmp_path: Path) -> None:
    corpus = _bad_corpus(tmp_path, synthetic)
    for name, (culprit, word) in corpus.items():
        with pytest.raises(MeasuredDataError) as info:
            read_measured(culprit.parent)
        message = str(info.value)
        assert str(culprit) in message, (name, message)
        assert word.lower() in message.lower(), (name, message)
        assert info.value.path == culprit


def test_folder_reader_goes_on_and_lists_skipped(synthetic: dict, tmp_path: Path) -> None:
    corpus = _bad_corpus(tmp_path, synthetic)
    _write_set(tmp_path, "good", {"structure.cif": synthetic["cif"],
                                  "reflections.hkl": synthetic["refl_cif"]})
    data, skipped = read_measured_folder(tmp_path)
    assert [d.source_id for d in data] == ["good"]
    assert len(skipped) == len(corpus)
    reasons = dict(skipped)
    for culprit, word in corpus.values():
        assert word.lower() in reasons[str(culprit)].lower()


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(MeasuredDataError, match="empty folder"):
        read_measured_folder(tmp_path)
    with pytest.raises(MeasuredDataError, match="no such file"):
        read_measured(tmp_path / "absent")


def test_min_pearson_skips_mismatched_model(synthetic: dict, tmp_path: Path) -> None:
    xs = _synthetic_structure()
    xs.shake_sites_in_place(rms_difference=0.6)  # a wrong model for these data
    out = io.StringIO()
    xs.as_cif_simple(out=out, data_name="synthetic")
    _write_set(tmp_path, "wrong_model", {"structure.cif": out.getvalue(),
                                         "reflections.hkl": synthetic["refl_cif"]})
    data, skipped = read_measured_folder(tmp_path, min_pearson=0.95)
    assert data == [] and "Pearson" in skipped[0][1]


def test_odd_but_valid_inputs_are_read(synthetic: dict, tmp_path: Path) -> None:
    """Non-ASCII text, occupancy rounded above 1, a verified checksum, HKLF 4 batch numbers."""
    cif, hklf = synthetic["cif"], synthetic["hklf"]
    non_ascii = cif.replace("data_synthetic", "data_synthetic\n# Kristall von Jürgen Müller, "
                                              "a ≈ 5 Å, β = 95°, 2θ < 55°, µ = 0.1 mm⁻¹\n"
                                              "_chemical_name_common 'Müller–Ångström salt'")
    batches = "\n".join(f"{ln:28s}{1 + i % 3:4d}" for i, ln in
                        enumerate(hklf.splitlines())) + "\n"
    cases = {
        "non_ascii": {"structure.cif": non_ascii, "reflections.hkl": hklf},
        "occupancy_rounding": {"structure.cif": _with_first_atom(cif, 7, "1.0005"),
                               "reflections.hkl": hklf},
        "checksum_ok": {"structure_with_hkl.cif": synthetic["embedded"]
                        + f"_shelx_hkl_checksum {shelx_checksum(hklf)}\n"},
        "hklf4_with_batch_numbers": {"structure.cif": cif, "reflections.hkl": batches},
    }
    for name, files in cases.items():
        write_measured_set(tmp_path / name, files)
    data, skipped = read_measured_folder(tmp_path, min_pearson=0.9)
    assert skipped == []
    assert sorted(d.source_id for d in data) == sorted(cases)
    assert all(d.pearson_r > 0.999 for d in data)


def _another_structure_same_cell(xs):
    from cctbx.array_family import flex
    from cctbx.development import random_structure

    state = random.getstate()
    random.seed(99)
    flex.set_random_seed(99)
    try:
        return random_structure.xray_structure(
            xs.space_group_info(), unit_cell=xs.unit_cell().parameters(),
            elements=["C"] * 6 + ["O"] * 2, min_distance=1.2, u_iso=0.02)
    finally:
        random.setstate(state)


def impossible_data_sets(root: Path, s: dict) -> dict[str, Path]:
    """Data sets that read but cannot be the measurement of their model (r ≈ 0)."""
    rng = np.random.default_rng(5)
    other = measured_texts(_another_structure_same_cell(s["xs"]))["hklf"]
    cases = {
        "permuted_intensities": hklf_with_intensities(s["hklf"], rng.permutation),
        "another_structure": other,
    }
    return {name: write_measured_set(root / name, {"structure.cif": s["cif"],
                                                   "reflections.hkl": text})
            for name, text in cases.items()}


def test_min_pearson_skips_impossible_data_sets(synthetic: dict, tmp_path: Path) -> None:
    bad = impossible_data_sets(tmp_path, synthetic)
    write_measured_set(tmp_path / "good", {"structure.cif": synthetic["cif"],
                                           "reflections.hkl": synthetic["hklf"]})
    write_measured_set(tmp_path / "zero", {"structure.cif": synthetic["cif"],
                                           "reflections.hkl": hklf_with_intensities(
                                               synthetic["hklf"], lambda v: 0 * v)})
    everything, _ = read_measured_folder(tmp_path)        # without the rule: all but zero read
    r = {d.source_id: d.pearson_r for d in everything}
    assert r["good"] > 0.999 and max(abs(r[n]) for n in bad) < 0.3, r
    data, skipped = read_measured_folder(tmp_path, min_pearson=0.9)
    assert [d.source_id for d in data] == ["good"]
    reasons = dict(skipped)
    assert set(reasons) == {str(p) for p in bad.values()} | {
        str(tmp_path / "zero" / "reflections.hkl")}
    for folder in bad.values():
        assert "Pearson r(I_meas, I_calc)" in reasons[str(folder)]
        assert "min_pearson = 0.9" in reasons[str(folder)]
    assert "no signal" in reasons[str(tmp_path / "zero" / "reflections.hkl")]


def test_shelx_checksum_definition() -> None:
    # sum of the codes of the non-blank characters (here 3 × '1' = 147), mixed as SHELXL does
    assert shelx_checksum("1 1\n 1\n") == ((147 % 714025) * 1366 + 150889) % 714025 % 100000
    assert shelx_checksum("1 1\n 1\n") == shelx_checksum("\n  1\t1 1   \n")


# ---------------------------------------------------------------------------------------------
# Real data from ../shared/data (skipped when absent)
# ---------------------------------------------------------------------------------------------


def _manifest(shared: Path) -> dict[str, dict[str, str]]:
    with open(shared / "manifest.csv", newline="") as fh:
        return {row["id"]: row for row in csv.DictReader(fh) if row["category"] == "experimental"}


@pytest.mark.shared_data
@pytest.mark.parametrize("set_id, fmt, radiation", [
    ("cod_2016452", "_refln_F_squared_meas", "x-ray"),   # COD CIF reflections
    ("cod_2100301", "_refln_F_meas", "neutron"),          # F_meas → F², neutron lengths
    ("nsa2_thpp", "HKLF 4", "x-ray"),                     # SHELX .hkl
    ("cctbx_thpp", "HKLF 4", "x-ray"),                    # unmerged SHELX .hkl
    ("finalcif_SH2185_Cu", "_shelx_hkl_file", "x-ray"),   # embedded in the CIF
])
def test_real_data_reproduce_manifest(shared_data: Path, set_id: str, fmt: str,
                                      radiation: str) -> None:
    row = _manifest(shared_data)[set_id]
    data = read_measured(shared_data / "experimental" / set_id)
    assert fmt in data.reflection_format
    assert data.radiation == radiation
    assert data.n_records == int(row["n_refl_records"])
    assert data.pearson_r >= 0.96
    assert data.pearson_r == pytest.approx(float(row["pearson_r_F2"]), abs=2e-3)
    assert data.d_min == pytest.approx(float(row["d_min"]), abs=2e-3)
    assert np.all(np.isfinite(data.i_meas)) and np.all(data.sigma >= 0)


@pytest.mark.shared_data
def test_real_folder_reads_every_set(shared_data: Path) -> None:
    data, skipped = read_measured_folder(shared_data / "experimental", min_pearson=0.96)
    manifest = _manifest(shared_data)
    assert skipped == []
    assert sorted(d.source_id for d in data) == sorted(manifest)
    for d in data:
        assert d.pearson_r == pytest.approx(float(manifest[d.source_id]["pearson_r_F2"]),
                                            abs=2e-3), d.source_id


@pytest.mark.shared_data
def test_real_embedded_checksums_match(shared_data: Path, tmp_path: Path) -> None:
    """SHELXL's _shelx_hkl_checksum of every real CIF with embedded reflections is reproduced,
    and a changed reflection is caught."""
    import iotbx.cif

    files = sorted((shared_data / "experimental").glob("*/structure_with_hkl.cif"))
    if not files:
        pytest.skip("no CIF with embedded reflections")
    checked = 0
    for path in files:
        model = iotbx.cif.reader(file_path=str(path), strict=False).model()
        for block in model.values():
            for kind in ("hkl", "res"):
                text, recorded = block.get(f"_shelx_{kind}_file"), \
                    block.get(f"_shelx_{kind}_checksum")
                if text is None or recorded is None:
                    continue
                assert shelx_checksum(str(text)) == int(str(recorded)), (path, kind)
                checked += 1
    assert checked >= 2
    # one reflection of a real file altered: the data set is refused, naming the file
    source = files[0]
    text = source.read_text(encoding="utf-8", errors="replace")
    row_start = text.index("\n;", text.index("_shelx_hkl_file")) + 3
    row_end = text.index("\n", row_start)
    row = text[row_start:row_end]
    digit = max(i for i, c in enumerate(row) if c.isdigit())
    row = row[:digit] + ("1" if row[digit] != "1" else "2") + row[digit + 1:]
    altered = write_measured_set(tmp_path / "altered", {
        "structure_with_hkl.cif": text[:row_start] + row + text[row_end:]})
    with pytest.raises(MeasuredDataError, match="_shelx_hkl_checksum mismatch") as info:
        read_measured(altered)
    assert info.value.path == altered / "structure_with_hkl.cif"


@pytest.mark.shared_data
def test_neutron_needs_neutron_lengths(shared_data: Path) -> None:
    """With X-ray form factors the neutron set correlates badly (manifest: r = 0.55)."""
    import lib.phases.measured as measured

    folder = shared_data / "experimental" / "cod_2100301"
    old = measured.NEUTRON_TABLE
    measured.NEUTRON_TABLE = measured.XRAY_TABLE
    try:
        xray = read_measured(folder)
    finally:
        measured.NEUTRON_TABLE = old
    assert xray.pearson_r < 0.8 < read_measured(folder).pearson_r


# ---------------------------------------------------------------------------------------------
# The simulator of measurement
# ---------------------------------------------------------------------------------------------


def _calc(n_files: int = 200, n_refl: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    i_calc = rng.exponential(100.0, size=(n_files, n_refl))  # Wilson acentric intensities
    stol2 = rng.uniform(0.0, 0.25, size=n_refl)
    return i_calc, stol2


def test_simulator_shapes_and_determinism() -> None:
    i_calc, stol2 = _calc(5, 300)
    a = simulate_measurement(i_calc, stol2, np.random.default_rng(3))
    b = simulate_measurement(i_calc, stol2, np.random.default_rng(3))
    assert a.shape == i_calc.shape and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    one = simulate_measurement(i_calc[0], stol2, np.random.default_rng(3))
    assert one.shape == (300,)


def test_simulator_scale_and_b_factor() -> None:
    i_calc, stol2 = _calc(50, 4000)
    sim = simulate_measurement_details(i_calc, stol2, np.random.default_rng(1),
                                       scale_range=(2.0, 20.0), b_max=3.0, noise=0.0,
                                       completeness=1.0)
    assert np.all((sim.scale >= 2.0) & (sim.scale <= 20.0))
    assert np.all((sim.b_factor >= 0.0) & (sim.b_factor <= 3.0))
    expected = sim.scale[:, None] * i_calc * np.exp(-2 * sim.b_factor[:, None] * stol2)
    np.testing.assert_allclose(sim.intensity, expected, rtol=1e-12)
    # B recovered from the log-ratio's slope against stol2 (Wilson-plot style)
    slope = np.polyfit(stol2, np.log(sim.intensity[0] / i_calc[0]), 1)[0]
    assert -slope / 2 == pytest.approx(sim.b_factor[0], abs=1e-9)
    # no B: the ratio is the scale exactly
    flat = simulate_measurement_details(i_calc, stol2, np.random.default_rng(1), b_max=0.0,
                                        noise=0.0, completeness=1.0)
    np.testing.assert_allclose(flat.intensity / i_calc, flat.scale[:, None] + 0 * i_calc)


def test_simulator_noise_is_counting_like() -> None:
    i_calc, stol2 = _calc(1, 200_000)
    noise = 0.05
    sim = simulate_measurement_details(i_calc, stol2, np.random.default_rng(2),
                                       scale_range=(1.0, 1.0), b_max=0.0, noise=noise,
                                       completeness=1.0)
    resid = sim.intensity[0] - i_calc[0]
    mean_i = i_calc[0].mean()
    z = resid / (noise * np.sqrt(i_calc[0] * mean_i))
    assert np.std(z) == pytest.approx(1.0, abs=0.01)
    assert abs(np.mean(z)) < 0.01
    # relative error larger for weak reflections than for strong ones (Poisson-like)
    weak, strong = i_calc[0] < 0.2 * mean_i, i_calc[0] > 3 * mean_i
    assert np.std(resid[weak] / i_calc[0][weak]) > 3 * np.std(resid[strong] / i_calc[0][strong])


def test_simulator_completeness() -> None:
    i_calc, stol2 = _calc(20, 5000)
    for completeness in (1.0, 0.95, 0.5):
        out = simulate_measurement(i_calc, stol2, np.random.default_rng(4),
                                   completeness=completeness)
        assert np.mean(np.isfinite(out)) == pytest.approx(completeness, abs=0.01)


def test_simulator_rejects_bad_parameters() -> None:
    i_calc, stol2 = _calc(2, 10)
    rng = np.random.default_rng(0)
    for kwargs in ({"scale_range": (0.0, 1.0)}, {"b_max": -1.0}, {"noise": -0.1},
                   {"completeness": 0.0}, {"completeness": 1.5}):
        with pytest.raises(ValueError):
            simulate_measurement(i_calc, stol2, rng, **kwargs)
    with pytest.raises(ValueError, match="stol2"):
        simulate_measurement(i_calc, -stol2 - 1, rng)


def test_embedded_hklf_transformation_matrix(synthetic: dict, tmp_path: Path) -> None:
    """HKLF 4 with a matrix in _shelx_res_file: indices transformed as SHELXL does (h' = R h)."""
    rows = []
    for line in synthetic["hklf"].splitlines():
        h, k, l = (int(line[i:i + 4]) for i in (0, 4, 8))
        if (h, k, l) == (0, 0, 0):
            break
        rows.append(f"{k:4d}{l:4d}{h:4d}{line[12:]}")  # file holds (k, l, h)
    hkl_text = "\n".join(rows) + "\n   0   0   0    0.00    0.00\n"
    res = "TITL x\nHKLF 4 1 0 0 1 1 0 0 0 1 0\nEND\n"  # R maps (k, l, h) back to (h, k, l)
    text = (synthetic["cif"] + "\n_shelx_res_file\n;\n" + res + ";\n"
            + "_shelx_hkl_file\n;\n" + hkl_text + ";\n")
    folder = _write_set(tmp_path, "transformed", {"structure_with_hkl.cif": text})
    data = read_measured(folder)
    assert data.pearson_r > 0.9999 and data.n_reflections == synthetic["n_unique"]
    bad = text.replace("HKLF 4 1 0 0 1", "HKLF 5 1 0 0 1")
    folder5 = _write_set(tmp_path, "hklf5", {"structure_with_hkl.cif": bad})
    with pytest.raises(MeasuredDataError, match="HKLF 5"):
        read_measured(folder5)


def test_hklf5_instructions_of_another_data_set_are_not_applied(synthetic: dict,
                                                                tmp_path: Path) -> None:
    """Top-level pairs ``name.cif`` + ``name.hkl``: only ``name.ins``/``name.res`` count."""
    for name in ("plain", "twin"):
        (tmp_path / f"{name}.cif").write_text(synthetic["cif"])
        (tmp_path / f"{name}.hkl").write_text(synthetic["hklf"])
    (tmp_path / "twin.res").write_text("TITL twin\nHKLF 5\nEND\n")
    data, skipped = read_measured_folder(tmp_path)
    assert [d.source_id for d in data] == ["plain"]
    assert skipped == [(str(tmp_path / "twin.hkl"),
                        "HKLF 5 (twinned) data is not supported (HKLF 5 in twin.res)")]
