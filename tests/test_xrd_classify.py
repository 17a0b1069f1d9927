"""The classify command (python -m lib.xrd classify) on known structures and on bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from lib import config
from lib.xrd import augment, calibration, classify, cli, indexing, models, patterns
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid

from test_xrd_patterns import magnesium_hcp, nacl, rutile, silicon

warnings.filterwarnings("ignore")
GRID = Grid(0.0, 90.0, 900)


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """A small 1D CNN trained in the test on augmented patterns of NaCl, Si, Mg and rutile."""
    import keras

    keras.utils.set_random_seed(0)
    known = [(nacl(), "cubic", 225), (silicon(), "cubic", 227),
             (magnesium_hcp(), "hexagonal", 194), (rutile(), "tetragonal", 136)]
    peaks = [patterns.peaks(s) for s, _, _ in known]
    aug = augment.Augmentation(zero_shift=0.1, broadening=0.1, texture=0.2, background=0.1,
                               noise=0.02)
    x, rows = augment.augmented_set([p[0] for p in peaks], [p[1] for p in peaks], GRID, 5.0,
                                    aug, 40, seed=0)
    y = {"crystal_system": np.array([CRYSTAL_SYSTEMS.index(k[1]) for k in known])[rows],
         "space_group": np.array([k[2] - 1 for k in known])[rows]}
    model = models.build_cnn1d(GRID.n_points, filters=16, dense=(32,), dropout=0.1)
    models.train(model, x, y, x[::7], {k: v[::7] for k, v in y.items()}, epochs=12,
                 batch_size=16, learning_rate=2e-3, seed=0, verbose=0)
    folder = tmp_path_factory.mktemp("model") / "tiny_cnn"
    models.save_bundle(model, folder, "cnn1d", GRID, 5.0, None, {"test": True})
    return folder


def write_profile(path, structure, lo=10.0, hi=80.0, step=0.013, fwhm=0.12, background=5.0):
    """A simulated Cu Kα scan of ``structure`` on its own grid (not the model's)."""
    tt = np.arange(lo, hi, step)
    sig = fwhm / 2.355
    x, y = patterns.peaks(structure)
    prof = background + sum(h * np.exp(-0.5 * ((tt - p) / sig) ** 2) for p, h in zip(x, y))
    np.savetxt(path, np.column_stack([tt, prof]), header="2theta intensity", comments="")
    return tt, prof


def test_classify_known_structure_text_and_npy(tiny_bundle, tmp_path):
    tt, prof = write_profile(tmp_path / "nacl.xy", nacl())
    np.save(tmp_path / "nacl.npy", np.column_stack([tt, prof]))
    recs = classify.classify_files([tmp_path / "nacl.xy", tmp_path / "nacl.npy"], tiny_bundle,
                                   top=3)
    for rec in recs:
        assert rec["read_as"] == "profile"
        assert rec["crystal_system"][0]["label"] == "cubic"
        ps = [c["p"] for c in rec["crystal_system"]]
        assert ps == sorted(ps, reverse=True) and len(ps) == 3 and sum(ps) <= 1.0001
        assert len(rec["space_group"]) == 3 and rec["space_group"][0]["symbol"]
    assert recs[0]["crystal_system"] == recs[1]["crystal_system"]


def test_peak_list_is_rendered_exactly_as_in_training(tiny_bundle, tmp_path):
    x, y = patterns.peaks(rutile())
    np.savetxt(tmp_path / "rutile_peaks.txt", np.column_stack([x, y]), delimiter=",")
    rec = classify.classify_files([tmp_path / "rutile_peaks.txt"], tiny_bundle, top=7)[0]
    assert rec["read_as"] == "peaks"
    bundle = models.load_bundle(tiny_bundle)
    direct = models.predict(bundle.model, patterns.render(x, y, GRID, 5.0)[None].astype(np.float32))
    got = {c["label"]: c["p"] for c in rec["crystal_system"]}
    for i, name in enumerate(CRYSTAL_SYSTEMS):
        assert got[name] == pytest.approx(direct["crystal_system"][0, i], abs=1e-4)
    assert rec["crystal_system"][0]["label"] == "tetragonal"


BAD_FILES = {
    "empty.xy": ("", "empty"),
    "comments_only.xy": ("# nothing here\n\n", "empty"),
    "one_column.xy": ("10\n11\n12\n", "one column"),
    "non_numeric.xy": ("10 5\n11 abc\n12 7\n", "line 2: non-numeric value 'abc'"),
    "decreasing.xy": ("10 5\n12 6\n11 7\n", "2θ not increasing"),
    "repeated.xy": ("10 5\n10 6\n11 7\n", "2θ not increasing"),
    "nan.xy": ("10 5\n11 nan\n12 7\n", "NaN"),
    "ragged.xy": ("10 5 1\n11 6\n", "columns"),
    "out_of_range.xy": ("200 5\n300 6\n", "outside 0–180"),
    "no_overlap.xy": ("100 5\n101 6\n102 7\n103 6\n", "does not overlap"),
    "flat.xy": ("10 5\n11 5\n12 5\n13 5\n", "no signal"),
    "ambiguous_commas.csv": ("12,5,300,7\n12,6,310,2\n12,7,320,1\n", "ambiguous commas"),
    "decimal_and_separator_commas.csv": ("12,5,300\n12,6,310\n12,7,320\n", "ambiguous commas"),
    "thousands.csv": ("12,5;1.300,5\n12,6;1.310,2\n", "ambiguous number '1.300,5'"),
}


def test_each_bad_file_gets_a_clear_error_and_the_rest_are_classified(tiny_bundle, tmp_path):
    good = tmp_path / "good.xy"
    write_profile(good, silicon())
    paths = [good]
    for name, (text, _) in BAD_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    np.save(tmp_path / "one_col.npy", np.arange(10.0))
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    (tmp_path / "garbage.npy").write_bytes(b"not numpy")
    (tmp_path / "binary.xy").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x81\xff")
    (tmp_path / "utf16_no_bom.xy").write_bytes("10 5\n11 6\n12 7\n".encode("utf-16-le"))
    extra = {"one_col.npy": "one column", "strings.npy": "non-numeric",
             "garbage.npy": "not a readable .npy", "binary.xy": "not a text file",
             "utf16_no_bom.xy": "UTF-16 text without a byte-order mark",
             "missing.xy": "no such file"}
    paths += [tmp_path / n for n in extra]
    recs = classify.classify_files(paths, tiny_bundle)
    assert recs[0]["file"] == str(good) and "crystal_system" in recs[0]
    expected = {**{k: v[1] for k, v in BAD_FILES.items()}, **extra}
    for rec in recs[1:]:
        name = os.path.basename(rec["file"])
        assert "error" in rec, name
        assert expected[name] in rec["error"], (name, rec["error"])


def _text_variants(tt: np.ndarray, prof: np.ndarray) -> dict[str, bytes]:
    """One pattern written the ways instruments and spreadsheets write it."""
    dot = "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(tt, prof))
    comma_semi = "".join(f"{a:.3f};{b:.2f}\n".replace(".", ",") for a, b in zip(tt, prof))
    comma_tab = "".join(f"{a:.3f}\t{b:.2f}\n".replace(".", ",") for a, b in zip(tt, prof))
    return {"dot.xy": ("2theta intensity\n" + dot).encode(),
            "comma_semicolon.csv": ("2Theta;Intensität\n" + comma_semi).encode(),
            "comma_tab.xy": comma_tab.encode(),
            "utf8_bom.xy": "\ufeff# scan\n".encode() + dot.encode(),
            "utf16_le_bom.xy": ("# 2θ intensity\n" + dot).encode("utf-16"),
            "utf16_be_bom.xy": b"\xfe\xff" + ("2θ;I\n" + comma_semi).encode("utf-16-be")}


def test_comma_decimal_and_utf16_files_are_read_as_the_same_pattern(tiny_bundle, tmp_path):
    tt, prof = write_profile(tmp_path / "ref.xy", silicon(), step=0.05)
    paths = []
    for name, raw in _text_variants(tt, prof).items():
        (tmp_path / name).write_bytes(raw)
        paths.append(tmp_path / name)
    ref = classify.load_scan(paths[0])
    ref_tt, ref_i = ref.two_theta, ref.intensity
    assert ref_tt[0] == pytest.approx(10.0) and len(ref_tt) == len(tt)
    for path in paths[1:]:
        got = classify.load_scan(path)
        got_tt, got_i = got.two_theta, got.intensity
        np.testing.assert_allclose(got_tt, ref_tt, err_msg=path.name)
        np.testing.assert_allclose(got_i, ref_i, err_msg=path.name)
    recs = classify.classify_files(paths, tiny_bundle, top=7)
    assert all("error" not in r for r in recs), recs
    assert all(r["crystal_system"] == recs[0]["crystal_system"] for r in recs)


def test_a_single_path_is_one_file(tiny_bundle, tmp_path):
    good = tmp_path / "si.xy"
    write_profile(good, silicon())
    for one in (str(good), good):
        recs = classify.classify_files(one, tiny_bundle)
        assert len(recs) == 1 and recs[0]["file"] == str(good) and "crystal_system" in recs[0]


def test_cli_json_exit_status_and_messages(tiny_bundle, tmp_path, capsys):
    good = tmp_path / "si.xy"
    write_profile(good, silicon())
    bad = tmp_path / "bad.xy"
    bad.write_text("10\n11\n", encoding="utf-8")
    code = cli.main(["classify", str(good), str(bad), "--model", str(tiny_bundle),
                          "--top", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    records = json.loads(out)
    assert [r["file"] for r in records] == [str(good), str(bad)]
    assert len(records[0]["crystal_system"]) == 2
    assert set(records[0]["crystal_system"][0]) == {"label", "p"}
    assert f"{bad}: one column" in err and "1 of 2 file(s) failed" in err
    code = cli.main(["classify", str(good), "--model", str(tiny_bundle)])
    out, err = capsys.readouterr()
    assert code == 0 and "crystal system:" in out and "space group:" in out


def test_wrong_model_files(tiny_bundle, tmp_path, capsys):
    good = tmp_path / "si.xy"
    write_profile(good, silicon())
    not_model = tmp_path / "notes.txt"
    not_model.write_text("hello", encoding="utf-8")
    empty_dir = tmp_path / "empty_dir"
    empty_dir.mkdir()
    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / "bundle.json").write_text("{not json", encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "bundle.json").write_text('{"format": "something else"}', encoding="utf-8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text((tiny_bundle / "bundle.json").read_text())
    (broken / "model.keras").write_bytes(b"truncated")
    info = json.loads((tiny_bundle / "bundle.json").read_text())
    keras_bytes = (tiny_bundle / "model.keras").read_bytes()
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "bundle.json").write_text(json.dumps(info), encoding="utf-8")
    (truncated / "model.keras").write_bytes(keras_bytes[:len(keras_bytes) // 2])
    cases = {not_model: "not a model bundle", empty_dir: "no bundle.json",
             bad_json: "not valid JSON", other: "not a phases-and-patterns",
             broken: "damaged or truncated model file",
             truncated: "damaged or truncated model file", tmp_path / "nope": "no such file"}
    short = {**info, "heads": {**info["heads"],
                               "crystal_system": info["heads"]["crystal_system"][:-1]}}
    variants = {"no_grid": ({k: v for k, v in info.items() if k != "grid"}, "lacks grid"),
                "no_sigma_heads": ({k: v for k, v in info.items() if k not in ("sigma", "heads")},
                                   "lacks sigma, heads"),
                "few_labels": (short, "head 'crystal_system' has 6 labels but the model gives "
                                      "7 classes"),
                "bad_grid": ({**info, "grid": {"n_points": 10}}, "bad grid or sigma")}
    for name, (content, reason) in variants.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "bundle.json").write_text(json.dumps(content), encoding="utf-8")
        (folder / "model.keras").write_bytes(keras_bytes)
        cases[folder] = reason
    for model, reason in cases.items():
        code = cli.main(["classify", str(good), "--model", str(model)])
        _, err = capsys.readouterr()
        assert code == 2, model
        assert reason in err and "model" in err, (model, err)
        assert str(model) in err, (model, err)


def test_module_entry_point(tiny_bundle, tmp_path):
    """``python -m lib.xrd classify`` in a fresh process, as a user runs it."""
    good = tmp_path / "mg.xy"
    write_profile(good, magnesium_hcp())
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "lib.xrd", "classify", str(good), "--model",
                           str(tiny_bundle / "model.keras"), "--json"], capture_output=True,
                          text=True, cwd=config.ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads(proc.stdout)[0]
    assert rec["file"] == str(good)
    assert rec["crystal_system"][0]["label"] == "hexagonal"


def test_suspicious_files_are_flagged_not_classified(tiny_bundle, tmp_path, capsys):
    tt, prof = write_profile(tmp_path / "si.xy", silicon())
    cu = 1.54184
    d = cu / (2 * np.sin(np.radians(tt) / 2))
    high = np.arange(60.0, 150.0, 0.02)
    cases = {"radians.xy": (np.radians(tt), prof, "radians"),
             "d_column.xy": (d, prof, "a d-spacing column"),
             "upside_down.xy": (tt, -prof, "peaks point down"),
             "beyond_90.xy": (high, 5 + 100 * np.exp(-0.5 * ((high - 106.7) / 0.1) ** 2),
                              "outside the model's 2θ range")}
    paths = []
    for name, (x, y, _) in cases.items():
        np.savetxt(tmp_path / name, np.column_stack([x, y]))
        paths.append(tmp_path / name)
    recs = classify.classify_files(paths, tiny_bundle)
    for rec, (name, (_, _, reason)) in zip(recs, cases.items()):
        assert rec.get("suspicious") is True and reason in rec["error"], (name, rec)
        assert "--force" in rec["error"]
    forced = classify.classify_files(paths, tiny_bundle, force=True)
    for rec in forced:
        assert "crystal_system" in rec and rec["confident"] is False and rec["warnings"]
    code = cli.main(["classify", str(paths[0]), "--model", str(tiny_bundle)])
    _, err = capsys.readouterr()
    assert code == 1 and "suspicious input" in err and "radians" in err
    # the d column read as d is fine and gives the answer of the 2θ file
    d_rec = classify.classify_files([tmp_path / "d_column.xy"], tiny_bundle, axis="d", top=7)[0]
    ref = classify.classify_files([tmp_path / "si.xy"], tiny_bundle, top=7)[0]
    assert d_rec["read_as"] == "profile" and d_rec["axis"] == "d" and d_rec["confident"]
    got = {c["label"]: c["p"] for c in d_rec["crystal_system"]}
    for c in ref["crystal_system"]:
        assert got[c["label"]] == pytest.approx(c["p"], abs=0.02)


def test_other_wavelengths_and_xrdml(tiny_bundle, tmp_path, capsys):
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    tt = np.arange(5.0, 45.0, 0.005)
    mo = XRDCalculator(wavelength="MoKa").get_pattern(nacl(), two_theta_range=(5, 45))
    prof = 5 + sum(h * np.exp(-0.5 * ((tt - p) / 0.03) ** 2) for p, h in zip(mo.x, mo.y))
    np.savetxt(tmp_path / "nacl_mo.xy", np.column_stack([tt, prof]))
    code = cli.main(["classify", str(tmp_path / "nacl_mo.xy"), "--model", str(tiny_bundle),
                          "--wavelength", "MoKa", "--json"])
    out, _ = capsys.readouterr()
    rec = json.loads(out)[0]
    assert code == 0 and rec["wavelength_angstrom"] == pytest.approx(0.71073)
    assert rec["crystal_system"][0]["label"] == "cubic"
    # read as Cu Kα, the Mo scan's peaks sit at half their angles: not the same answer
    as_cu = classify.classify_files([tmp_path / "nacl_mo.xy"], tiny_bundle, top=7)[0]
    assert as_cu["crystal_system"] != rec["crystal_system"]
    # .xrdml (PANalytical XML) with its own Cu Kα1/Kα2 wavelength
    si_tt, si = write_profile(tmp_path / "si.xy", silicon(), step=0.02)
    xml = ('<?xml version="1.0"?><xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/'
           '2.1"><xrdMeasurement><usedWavelength><kAlpha1 unit="Angstrom">1.540598</kAlpha1>'
           '<kAlpha2 unit="Angstrom">1.544426</kAlpha2><ratioKAlpha2KAlpha1>0.5'
           '</ratioKAlpha2KAlpha1></usedWavelength><scan><dataPoints><positions axis="2Theta" '
           f'unit="deg"><startPosition>{si_tt[0]}</startPosition><endPosition>{si_tt[-1]}'
           '</endPosition></positions><intensities unit="counts">'
           + " ".join(f"{v:.1f}" for v in si) + '</intensities></dataPoints></scan>'
           '</xrdMeasurement></xrdMeasurements>')
    (tmp_path / "si.xrdml").write_text(xml)
    a, b = classify.classify_files([tmp_path / "si.xrdml", tmp_path / "si.xy"], tiny_bundle,
                                   top=7)
    assert a["read_as"] == "profile" and a["crystal_system"][0]["label"] == "cubic"
    pa = {c["label"]: c["p"] for c in a["crystal_system"]}
    for c in b["crystal_system"]:
        assert pa[c["label"]] == pytest.approx(c["p"], abs=0.02)
    with pytest.raises(SystemExit) as stop:
        cli.main(["classify", str(tmp_path / "si.xy"), "--model", str(tiny_bundle),
                       "--wavelength", "XyKa"])
    assert stop.value.code == 2 and "--wavelength must be one of" in capsys.readouterr().err


def test_bundle_background_wavelength_and_confidence(tiny_bundle, tmp_path):
    info = json.loads((tiny_bundle / "bundle.json").read_text())
    assert info["background"] == "none" and info["wavelength_angstrom"] == pytest.approx(1.54184)
    assert info["confidence_threshold"] == 0.0
    good = tmp_path / "si.xy"
    write_profile(good, silicon())
    assert classify.classify_files([good], tiny_bundle)[0]["confident"] is True
    strict = tmp_path / "strict"
    strict.mkdir()
    (strict / "model.keras").write_bytes((tiny_bundle / "model.keras").read_bytes())
    (strict / "bundle.json").write_text(json.dumps({**info, "confidence_threshold": 1.0,
                                                    "background": "snip"}))
    bundle = models.load_bundle(strict)
    assert bundle.background == "snip" and bundle.confidence_threshold == 1.0
    rec = classify.classify_files([good], bundle)[0]
    assert rec["confident"] is False and "NOT CONFIDENT" in classify.format_text([rec])
    old = {k: v for k, v in info.items()
           if k not in ("background", "wavelength_angstrom", "confidence_threshold")}
    (strict / "bundle.json").write_text(json.dumps(old))
    bundle = models.load_bundle(strict)
    assert (bundle.background, bundle.wavelength, bundle.confidence_threshold) == \
        ("none", pytest.approx(1.54184), 0.0)
    (strict / "bundle.json").write_text(json.dumps({**info, "background": "rolling"}))
    with pytest.raises(ValueError, match="unknown background 'rolling'"):
        models.load_bundle(strict)


def test_calibrated_probabilities_follow_the_bundle_temperature():
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(classify.calibrated(p, 1.0), p)
    hot = classify.calibrated(p, 2.0)
    np.testing.assert_allclose(hot.sum(axis=1), 1.0)
    assert np.all(hot.max(axis=1) < p.max(axis=1))                 # T > 1 lowers confidence
    np.testing.assert_allclose(hot[0], np.sqrt(p[0]) / np.sqrt(p[0]).sum())
    assert np.all(np.argmax(hot, axis=1) == np.argmax(p, axis=1))  # the ranking is kept
    with pytest.raises(ValueError, match="temperature"):
        classify.calibrated(p, 0.0)


def test_answer_probabilities_are_calibrated_then_prior_corrected():
    """What classify answers with (and notebook 06 scores): the temperature first, then the
    bundle's class prior when it has one."""
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(classify.answer_probabilities(p, 2.0), classify.calibrated(p, 2.0))
    prior = [0.2, 0.2, 0.6]
    got = classify.answer_probabilities(p, 2.0, prior)
    np.testing.assert_allclose(got, calibration.prior_corrected(classify.calibrated(p, 2.0),
                                                                np.array(prior)))
    assert np.argmax(got[1]) == 2                  # the prior moves the second answer


def test_bundle_class_prior_corrects_the_crystal_system_probabilities(tiny_bundle, tmp_path):
    """A bundle with meta.class_prior: classify's crystal-system probabilities are the
    temperature-scaled ones times prior / uniform, renormalised (calibration.prior_corrected)."""

    good = tmp_path / "mg.xy"
    write_profile(good, magnesium_hcp())
    plain = classify.classify_files([good], tiny_bundle, top=7)[0]
    info = json.loads((tiny_bundle / "bundle.json").read_text())
    prior = np.array([0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.88])       # mostly cubic
    folder = tmp_path / "with_prior"
    folder.mkdir()
    (folder / "model.keras").write_bytes((tiny_bundle / "model.keras").read_bytes())
    (folder / "bundle.json").write_text(json.dumps(
        {**info, "meta": {**info["meta"], "class_prior": prior.tolist()}}))
    shifted = classify.classify_files([good], folder, top=7)[0]

    def probs(rec):
        p = {r["label"]: r["p"] for r in rec["crystal_system"]}
        return np.array([p[c] for c in CRYSTAL_SYSTEMS])

    np.testing.assert_allclose(probs(shifted), calibration.prior_corrected(probs(plain), prior),
                               atol=2e-3)
    assert probs(shifted)[CRYSTAL_SYSTEMS.index("cubic")] > probs(plain)[
        CRYSTAL_SYSTEMS.index("cubic")]


def test_cli_index_adds_the_classical_cell(tiny_bundle, tmp_path, capsys):
    path = tmp_path / "rutile.xy"
    write_profile(path, rutile())
    code = cli.main(["classify", str(path), "--model", str(tiny_bundle), "--index", "--json"])
    out, _ = capsys.readouterr()
    entry = json.loads(out)[0]["indexing"]
    assert code == 0 and entry["indexed"] and entry["crystal_system"] == "tetragonal"
    assert entry["M"] >= 10 and entry["n_indexed"] >= entry["n_lines"] - 2
    # the profile is simulated at the weighted Cu Kα, the cell computed with Cu Kα1
    assert entry["cell_angstrom"] == pytest.approx([4.594, 2.959], rel=3e-3)
    assert abs(entry["zero_deg"]) < 0.02
    # rutile's lines fit P4₂/mnm's conditions (0kl: k + l = 2n; 00l: l = 2n) best
    assert entry["absences"] == "P 42 n m, P -4 n 2, P 42/m n m"
    assert entry["confident"] is None          # the bundle has no M threshold
    assert entry["space_group"] == 136 and entry["space_group_symbol"] == "P4_2/mnm"
    answer = json.loads(out)[0]["answer"]     # indexing first: its system and space group
    assert answer == {"crystal_system": "tetragonal", "from": "indexing", "space_group": 136,
                      "space_group_symbol": "P4_2/mnm", "space_group_from": "indexing",
                      "confident": None}
    code = cli.main(["classify", str(path), "--model", str(tiny_bundle), "--index"])
    out, _ = capsys.readouterr()
    assert code == 0 and "indexing:       tetragonal (P cell 4.5" in out
    assert "most symmetric space group they allow: P4_2/mnm (136))" in out
    assert "answer:         tetragonal (from indexing), space group P4_2/mnm (136, from " \
           "indexing)" in out
    code = cli.main(["classify", str(path), "--model", str(tiny_bundle), "--json"])
    assert "indexing" not in json.loads(capsys.readouterr()[0])[0]


@pytest.mark.parametrize("m_threshold, confident", [(10.0, True), (1e6, False)])
def test_an_indexing_is_confident_from_the_bundles_m_threshold(tiny_bundle, tmp_path, capsys,
                                                               m_threshold, confident):
    # notebook 06 stores the lowest M at which the indexed rruff_dev patterns were right
    # often enough; classify --index calls a cell confident from that M on
    import shutil
    folder = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, folder)
    info = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    info["meta"]["indexing_m_threshold"] = m_threshold
    (folder / "bundle.json").write_text(json.dumps(info), encoding="utf-8")
    path = tmp_path / "rutile.xy"
    write_profile(path, rutile())
    code = cli.main(["classify", str(path), "--model", str(folder), "--index", "--json"])
    entry = json.loads(capsys.readouterr()[0])[0]["indexing"]
    assert code == 0 and entry["confident"] is confident and entry["m_threshold"] == m_threshold
    cli.main(["classify", str(path), "--model", str(folder), "--index"])
    word = "confident: M ≥ 10.0" if confident else "NOT CONFIDENT: M < 1000000.0"
    assert word in capsys.readouterr()[0]


def test_indexing_entries_that_find_no_cell_or_cannot_index(tiny_bundle, tmp_path):
    none = cli.indexing_summary({"file": "a.xy", "crystal_system": "monoclinic",
                                 "indexed": False, "n_picked": 19, "solution": None})
    assert none["indexed"] is False and none["crystal_system"] is None
    assert "no cell indexes the lines (triclinic only searched with 20 lines" in none["note"]
    path = tmp_path / "rutile_mo.xy"
    write_profile(path, rutile())
    bundle = models.load_bundle(tiny_bundle)
    recs = classify.classify_files(path, bundle, wavelength="MoKa", force=True,
                                   each=cli.add_indexing(bundle, wavelength="MoKa"))
    assert "Cu Kα scans in 2θ only" in recs[0]["indexing"]["error"]
    answer = recs[0]["answer"]            # no indexing: the network's answer, its own flag
    assert answer["from"] == "network" and answer["space_group_from"] == "network"
    assert answer["crystal_system"] == recs[0]["crystal_system"][0]["label"]
    assert answer["confident"] is recs[0]["confident"]
    recs[0]["indexing"] = none
    text = classify.format_text(recs)
    assert "no cell indexes the 19 lines" in text


def test_an_orthorhombic_entry_names_the_space_groups_its_absences_fit():
    from test_xrd_indexing import olivine_lines
    res = indexing.index_lines(olivine_lines(zero_deg=0.03))
    entry = cli.indexing_summary({"file": "fo.xy", "n_picked": 20, **res})
    assert entry["crystal_system"] == "orthorhombic" and "P n m a" in entry["absences"]
    assert entry["zero_deg"] == pytest.approx(0.03, abs=0.005)
    assert entry["space_group"] == 62 and entry["space_group_symbol"] == "Pnma"
    assert ("; reflection conditions of P n 21 a, P n m a; most symmetric space group they "
            "allow: Pnma (62))") in classify._indexing_text(entry)
    assert entry["beta_deg"] is None and "Å, M = " in classify._indexing_text(entry)


def test_a_monoclinic_entry_gives_beta_and_the_space_group():
    from test_xrd_indexing import lines, monoclinic
    res = indexing.index_lines(lines(monoclinic()))
    entry = cli.indexing_summary({"file": "p21c.xy", "n_picked": 20, **res})
    assert entry["crystal_system"] == "monoclinic" and entry["space_group_symbol"] == "P12_1/c1"
    assert entry["cell_angstrom"] == pytest.approx([5.1, 6.3, 7.7], abs=2e-3)
    assert entry["beta_deg"] == pytest.approx(103.0, abs=0.02)
    text = classify._indexing_text(entry)
    assert "monoclinic (P cell 5.1000, 6.3000, 7.7000 Å, β = 103.000°, M = " in text
    assert "P 1 21/c 1; most symmetric space group they allow: P12_1/c1 (14))" in text


def test_an_entry_indexed_on_a_computed_scans_weak_lines_says_so():
    from test_xrd_indexing import cooperite_scan
    tt, scan = cooperite_scan()
    entry = cli.indexing_summary({"file": "pts.xy", **indexing.index_scan(tt, scan)})
    assert entry["lines"] == "weak" and entry["crystal_system"] == "tetragonal"
    assert "9 of 9 lines down to 1 % of the strongest (a computed scan's weak lines)" in \
        classify._indexing_text(entry)


def test_a_triclinic_entry_gives_its_three_angles_and_p_1():
    from test_xrd_indexing import lines
    from test_xrd_variants import triclinic
    entry = cli.indexing_summary({"file": "p-1.xy", "n_picked": 20,
                                  **indexing.index_lines(lines(triclinic()))})
    assert entry["crystal_system"] == "triclinic" and entry["space_group_symbol"] == "P-1"
    assert entry["beta_deg"] is None and len(entry["angles_deg"]) == 3
    assert "Å, α, β, γ = " in classify._indexing_text(entry)


def test_the_indexing_first_answer_takes_the_network_where_no_cell_indexes():
    cs = np.zeros((1, 7))
    cs[0, CRYSTAL_SYSTEMS.index("monoclinic")] = 0.6
    cs[0, CRYSTAL_SYSTEMS.index("cubic")] = 0.4
    sg = np.full((1, 230), 1.0)
    sg[0, 220] = 9.0                      # the network's favourite group, 221, is cubic
    sg[0, 12] = 2.0                       # its best monoclinic one: 13
    probs = {"crystal_system": cs, "space_group": sg}
    unindexed = {"file": "a.xy", "crystal_system": "monoclinic", "indexed": False,
                 "solution": None, "space_group": None}
    meta = {"indexing_m_threshold": 14.0}
    got = cli.indexing_first_answer(unindexed, probs, meta, False)
    assert got == {"crystal_system": "monoclinic", "from": "network", "space_group": 13,
                   "space_group_symbol": "P12/c1", "space_group_from": "network",
                   "confident": False}
    prior = calibration.class_frequencies(np.full(20, 13), 230)      # P2₁/c twenty times
    with_prior = {"space_group_prior": prior.tolist()}
    assert cli.indexing_first_answer(unindexed, probs, with_prior, True)["space_group"] == 14
    cubic = {"file": "b.xy", "crystal_system": "cubic", "indexed": True, "space_group": 225,
             "solution": {"M": 20.0}}
    got = cli.indexing_first_answer(cubic, probs, meta, False)
    assert got["from"] == "indexing" and got["crystal_system"] == "cubic"
    assert got["space_group"] == 225 and got["confident"] is True
    assert cli.indexing_first_answer(cubic, probs, {}, False)["confident"] is None
    # indexing names no group (the lattice's metric symmetry is higher than its cell's): the
    # network's best group of the system indexing gives
    plain = {**cubic, "space_group": None}
    got = cli.indexing_first_answer(plain, probs, {"indexing_m_threshold": 30.0}, False)
    assert got["space_group"] == 221 and got["space_group_from"] == "network"
    assert got["confident"] is False
    assert "also_possible" not in got


def test_a_hexagonal_indexing_answer_says_trigonal_is_as_possible():
    """The lines of a primitive hexagonal lattice (P6₃/mmc, or the trigonal P-31c with the same
    conditions) are the same: the answer says so, in the JSON and in the text."""
    probs = {"crystal_system": np.eye(7)[[CRYSTAL_SYSTEMS.index("trigonal")]]}
    hexagonal = {"file": "h.xy", "crystal_system": "hexagonal", "indexed": True,
                 "space_group": 194, "solution": {"M": 40.0}}
    got = cli.indexing_first_answer(hexagonal, probs, {"indexing_m_threshold": 14.0}, False)
    assert got["crystal_system"] == "hexagonal" and got["also_possible"] == ["trigonal"]
    assert got["confident"] is True and got["from"] == "indexing"
    text = classify._answer_text(got)
    assert text.startswith("hexagonal (from indexing) or trigonal (the same lattice")
    unindexed = {"file": "u.xy", "indexed": False, "solution": None, "space_group": None}
    probs = {"crystal_system": np.eye(7)[[CRYSTAL_SYSTEMS.index("hexagonal")]]}
    assert "also_possible" not in cli.indexing_first_answer(unindexed, probs, {}, False)


def test_the_indexing_first_answer_falls_back_on_the_prior_when_the_bundle_says_so():
    cs = np.eye(7)[[CRYSTAL_SYSTEMS.index("cubic")]]
    probs = {"crystal_system": cs, "space_group": np.eye(230)[[220]]}     # the network: Pm-3m
    class_prior = calibration.class_frequencies(np.full(5, CRYSTAL_SYSTEMS.index("monoclinic")),
                                                7)
    meta = {"indexing_fallback": "prior", "class_prior": class_prior.tolist(),
            "space_group_prior": calibration.class_frequencies(np.full(20, 13), 230).tolist()}
    unindexed = {"file": "a.xy", "indexed": False, "solution": None, "space_group": None}
    got = cli.indexing_first_answer(unindexed, probs, meta, True)
    assert got == {"crystal_system": "monoclinic", "from": "prior", "space_group": 14,
                   "space_group_symbol": "P12_1/c1", "space_group_from": "prior",
                   "confident": False}          # a guess is never confident
    # an indexed file is indexing's whatever the fallback
    cubic = {"file": "b.xy", "crystal_system": "cubic", "indexed": True, "space_group": None,
             "solution": {"M": 50.0}}
    got = cli.indexing_first_answer(cubic, probs, meta, False)
    assert got["from"] == "indexing" and got["space_group"] == 221
    # without a class prior in the bundle the network answers
    got = cli.indexing_first_answer(unindexed, probs, {"indexing_fallback": "prior"}, True)
    assert got["from"] == "network" and got["crystal_system"] == "cubic" and got["confident"]
