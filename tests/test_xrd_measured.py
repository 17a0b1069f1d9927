"""Measured patterns: background subtraction, wavelengths and axes, suspicious input, .xrdml,
and the rruff_dev reader (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from lib import config
from lib.xrd import classify, measured, patterns
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid

from test_xrd_patterns import nacl, silicon

GRID = Grid(0.0, 90.0, 900)
CU = 1.54184


def profile(structure, lo=10.0, hi=80.0, step=0.01, fwhm=0.12, background=None,
            wavelength="CuKa"):
    """A simulated scan (2θ degrees, intensity) of ``structure`` at ``wavelength``."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    tt = np.arange(lo, hi, step)
    pat = XRDCalculator(wavelength=wavelength).get_pattern(structure, two_theta_range=(lo, hi))
    sig = fwhm / 2.355
    prof = sum(h * np.exp(-0.5 * ((tt - p) / sig) ** 2) for p, h in zip(pat.x, pat.y))
    if background is not None:
        prof = prof + background(tt)
    return tt, prof


def hump(tt):
    """An air-scatter rise at low angle, an amorphous hump near 25° and a constant."""
    return 60 * np.exp(-(tt - 10) / 6) + 25 * np.exp(-0.5 * ((tt - 25) / 5) ** 2) + 8


# -- background ---------------------------------------------------------------------------------

def test_snip_is_pybaselines_snip_for_a_batch():
    pybaselines = pytest.importorskip("pybaselines")
    from pybaselines.smooth import snip

    rng = np.random.default_rng(1)
    rows = []
    for _ in range(3):
        tt, prof = profile(silicon(), 5, 90, 0.1, 0.3,
                           lambda t: hump(t) + 40 * np.exp((t - 90) / 4))  # rises at both ends
        rows.append(prof + rng.normal(0, 0.5, len(prof)))
    rows = np.array(rows)
    ours = classify.snip_baseline(rows, 12)
    for row, got in zip(rows, ours):
        ref = snip(row, 12)[0]
        np.testing.assert_allclose(got, ref, atol=1e-8)
    assert pybaselines.__version__


def test_snip_removes_a_known_background_and_keeps_the_peaks():
    tt, clean = profile(nacl(), 5, 90, 0.01)
    _, with_bg = profile(nacl(), 5, 90, 0.01, background=hump)
    grid = Grid(0.0, 90.0, 4500)
    vec_clean = classify.to_model_input(tt, clean, grid, 5.0, "profile")[0]
    raw = classify.to_model_input(tt, with_bg, grid, 5.0, "profile", background="none")[0]
    snip = classify.to_model_input(tt, with_bg, grid, 5.0, "profile", background="snip")[0]
    err_raw, err_snip = np.abs(raw - vec_clean).mean(), np.abs(snip - vec_clean).mean()
    assert err_snip < 0.2 * err_raw
    assert np.corrcoef(snip, vec_clean)[0, 1] > 0.9
    assert np.corrcoef(raw, vec_clean)[0, 1] < 0.5
    # the peaks stay where they were, with their order of heights
    strongest = np.argsort(vec_clean)[::-1][:3]
    assert np.all(snip[strongest] > 0.5)
    # no step where the scan starts (5°): the zeros outside the scan are not background
    assert snip[(grid.two_theta > 5) & (grid.two_theta < 8)].max() < 0.05


def test_preprocess_none_leaves_simulated_patterns_as_they_are():
    x, y = patterns.peaks(silicon())
    vec = patterns.render(x, y, GRID, 5.0)
    np.testing.assert_allclose(classify.preprocess(vec, GRID, "none"), vec, atol=1e-6)
    both = classify.preprocess(np.stack([vec, 0.5 * vec]), GRID, "snip")
    assert both.shape == (2, GRID.n_points) and both.dtype == np.float32
    np.testing.assert_allclose(both[0], both[1], atol=1e-6)
    assert np.isclose(both.max(axis=1), 1).all()
    with pytest.raises(ValueError, match="background must be one of"):
        classify.preprocess(vec, GRID, "rolling")


# -- wavelength and axis ------------------------------------------------------------------------

def test_mo_ka_simulation_of_nacl_maps_onto_its_cu_ka_peaks():
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    mo = XRDCalculator(wavelength="MoKa").get_pattern(nacl(), two_theta_range=(5, 60))
    cu = XRDCalculator(wavelength="CuKa").get_pattern(nacl(), two_theta_range=(5, 90))
    tt, ok = classify.to_two_theta(np.asarray(mo.x), "2theta",
                                   classify.wavelength_angstrom("MoKa"), CU)
    reached = tt[ok]
    in_range = reached[reached <= 90]
    np.testing.assert_allclose(in_range, np.asarray(cu.x), atol=1e-6)
    np.testing.assert_allclose(mo.y[ok][reached <= 90], cu.y, rtol=0.3)  # same reflections
    assert not ok.all()   # short d-spacings seen with Mo cannot be reached with Cu


def test_a_mo_scan_file_is_classified_on_the_cu_grid(tmp_path):
    tt_mo, mo = profile(nacl(), 5, 45, 0.005, 0.06, wavelength="MoKa")
    tt_cu, cu = profile(nacl(), 5, 90, 0.01, 0.12)
    path = tmp_path / "nacl_mo.xy"
    np.savetxt(path, np.column_stack([tt_mo, mo]))
    scan = classify.load_scan(path, wavelength="MoKa", model_wavelength=CU)
    assert scan.wavelength == pytest.approx(0.71073) and not scan.suspicions
    strongest = scan.two_theta[np.argmax(scan.intensity)]
    assert strongest == pytest.approx(tt_cu[np.argmax(cu)], abs=0.05)
    grid = Grid(0.0, 90.0, 4500)
    a = classify.to_model_input(scan.two_theta, scan.intensity, grid, 5.0, "auto",
                                positions=scan.raw_x)
    b = classify.to_model_input(tt_cu, cu, grid, 5.0, "auto")
    assert a[1] == b[1] == "profile"
    assert np.corrcoef(a[0], b[0])[0, 1] > 0.9
    assert classify.wavelength_angstrom("0.7093") == pytest.approx(0.7093)
    for bad in ("XyKa", "12", "-1"):
        with pytest.raises(ValueError, match="wavelength"):
            classify.wavelength_angstrom(bad)


@pytest.mark.parametrize("axis", ["d", "q"])
def test_d_and_q_files(tmp_path, axis):
    tt, prof = profile(silicon(), 10, 80, 0.01)
    d = CU / (2 * np.sin(np.radians(tt) / 2))
    x = d if axis == "d" else 2 * np.pi / d
    path = tmp_path / f"si_{axis}.xy"
    np.savetxt(path, np.column_stack([x, prof]))
    scan = classify.load_scan(path, axis=axis)
    assert not scan.suspicions
    np.testing.assert_allclose(scan.two_theta, tt, atol=1e-8)
    np.testing.assert_allclose(scan.intensity, prof)
    assert not classify.looks_like_peak_list(scan.raw_x)   # a scan, though irregular in d
    # read as 2θ, the same file is flagged
    flagged = classify.load_scan(path)
    assert flagged.suspicions and ("--axis d" in flagged.suspicions[0]
                                   or "--axis q" in flagged.suspicions[0])


# -- suspicious input ---------------------------------------------------------------------------

def _write(path, x, y):
    np.savetxt(path, np.column_stack([x, y]))
    return path


def test_each_suspicious_input_is_flagged(tmp_path):
    tt, prof = profile(silicon(), 10, 80, 0.01, background=lambda t: 5 + 0 * t)
    assert not classify.load_scan(_write(tmp_path / "ok.xy", tt, prof)).suspicions
    cases = {
        "radians.xy": ((np.radians(tt), prof), "radians"),
        "d_as_2theta.xy": ((CU / (2 * np.sin(np.radians(tt[::-1]) / 2)), prof[::-1]),
                           "d-spacing"),
        "q_as_2theta.xy": ((4 * np.pi * np.sin(np.radians(tt) / 2) / CU, prof), "--axis q"),
        "d_increasing.xy": ((np.sort(CU / (2 * np.sin(np.radians(tt) / 2))), prof[::-1]),
                            "typical of a d-spacing"),
        "upside_down.xy": ((tt, -prof), "peaks point down"),
        "inverted.xy": ((tt, prof.max() - prof), "peaks point down"),
    }
    for name, ((x, y), reason) in cases.items():
        scan = classify.load_scan(_write(tmp_path / name, x, y))
        assert any(reason in s for s in scan.suspicions), (name, scan.suspicions)
    # a few dropped-out detector points (zeros) on a high background are not "upside down"
    gaps = prof + 200
    gaps[[100, 2000, 4000]] = 0
    assert not classify.load_scan(_write(tmp_path / "gaps.xy", tt, gaps)).suspicions
    # peaks all outside the model's range: a Cu scan 60–150° whose peaks lie above 90°
    x = np.arange(60, 150, 0.02)
    y = (5 + 100 * np.exp(-0.5 * ((x - 106.7) / 0.1) ** 2)
         + 80 * np.exp(-0.5 * ((x - 114.1) / 0.1) ** 2))
    scan = classify.load_scan(_write(tmp_path / "high.xy", x, y))
    assert "outside the model's 2θ range" in classify.peaks_outside(scan.two_theta,
                                                                    scan.intensity, GRID)
    assert classify.peaks_outside(tt, prof, GRID) is None


# -- .xrdml -------------------------------------------------------------------------------------

XRDML = """<?xml version="1.0" encoding="UTF-8"?>
<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5" status="Completed">
  <sample type="To be analyzed"><id>si</id></sample>
  <xrdMeasurement measurementType="Scan" status="Completed">
    <usedWavelength intended="K-Alpha 1">
      <kAlpha1 unit="Angstrom">{l1}</kAlpha1>
      <kAlpha2 unit="Angstrom">{l2}</kAlpha2>
      <kBeta unit="Angstrom">1.3922500</kBeta>
      <ratioKAlpha2KAlpha1>0.5000</ratioKAlpha2KAlpha1>
    </usedWavelength>
    <scan appendNumber="0" mode="Continuous" scanAxis="Gonio" status="Completed">
      <dataPoints>
        <positions axis="2Theta" unit="deg">
          {positions}
        </positions>
        <positions axis="Omega" unit="deg">
          <startPosition>5.0</startPosition><endPosition>40.0</endPosition>
        </positions>
        <commonCountingTime unit="seconds">0.5</commonCountingTime>
        <intensities unit="counts">{counts}</intensities>
      </dataPoints>
    </scan>
  </xrdMeasurement>
</xrdMeasurements>
"""


def test_xrdml_start_end_and_list_positions(tmp_path):
    tt, prof = profile(silicon(), 10, 80, 0.02, background=lambda t: 10 + 0 * t)
    counts = " ".join(str(int(round(v))) for v in prof)
    start_end = (f"<startPosition>{tt[0]:.4f}</startPosition>"
                 f"<endPosition>{tt[-1]:.4f}</endPosition>")
    listed = "<listPositions>" + " ".join(f"{v:.4f}" for v in tt) + "</listPositions>"
    for name, pos in (("a.xrdml", start_end), ("b.xrdml", listed)):
        (tmp_path / name).write_text(XRDML.format(l1="1.5405980", l2="1.5444260",
                                                  positions=pos, counts=counts))
        x, y, lam = classify.read_xrdml(tmp_path / name)
        np.testing.assert_allclose(x, tt, atol=1e-4)
        np.testing.assert_allclose(y, np.round(prof))
        assert lam == pytest.approx((1.540598 + 0.5 * 1.544426) / 1.5)
        scan = classify.load_scan(tmp_path / name, model_wavelength=CU)
        assert scan.wavelength_source == "file" and not scan.suspicions
        np.testing.assert_allclose(scan.two_theta, tt, atol=3e-3)   # λ 1.54184 vs 1.54187
    # a Mo Kα xrdml file is mapped through its own wavelength
    (tmp_path / "mo.xrdml").write_text(XRDML.format(l1="0.7093", l2="0.71359", positions=start_end,
                                                    counts=counts))
    scan = classify.load_scan(tmp_path / "mo.xrdml", model_wavelength=CU)
    lam = (0.7093 + 0.5 * 0.71359) / 1.5
    assert scan.wavelength == pytest.approx(lam)
    assert scan.two_theta[0] == pytest.approx(2 * np.degrees(np.arcsin(CU / lam *
                                                                     np.sin(np.radians(5)))))
    assert len(scan.two_theta) < len(tt) and scan.two_theta.max() < 180   # past 180°: dropped
    bad = {"broken.xrdml": ("<xrdMeasurements><scan>", "not a readable .xrdml"),
           "noscan.xrdml": ("<xrdMeasurements/>", "without a <scan>"),
           "short.xrdml": (XRDML.format(l1="1.54", l2="1.54", positions=listed,
                                        counts="1 2 3"), "positions and 3 intensities")}
    for name, (text, reason) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(classify.PatternError, match=reason):
            classify.load_scan(tmp_path / name)


# -- rruff_dev ----------------------------------------------------------------------------------

def test_read_measured_folder_with_labels(tmp_path):
    tt, prof = profile(silicon(), 5, 90, 0.01)
    _write(tmp_path / "a.xy", tt, prof + 3)
    _write(tmp_path / "b.xy", tt, prof[::-1] * 0 + prof + 1)
    (tmp_path / "c.xy").write_text("5 1\n")
    (tmp_path / "labels.csv").write_text("file,space_group,crystal_system\n"
                                         "a.xy,227,cubic\nb.xy,14,monoclinic\nc.xy,62,"
                                         "orthorhombic\n")
    got = measured.read_rruff_dev(tmp_path, GRID, 5.0, "snip")
    assert got.files == ["a.xy", "b.xy"] and got.patterns.shape == (2, GRID.n_points)
    assert list(got.crystal_system) == [CRYSTAL_SYSTEMS.index("cubic"),
                                        CRYSTAL_SYSTEMS.index("monoclinic")]
    assert got.skipped == [{"file": "c.xy", "reason": "only one data point"}]
    assert got.summary()["per_crystal_system"]["cubic"] == 1
    (tmp_path / "labels.csv").write_text("file,space_group,crystal_system\na.xy,227,hexagonal\n")
    with pytest.raises(ValueError, match="line 2: space group 227 is cubic"):
        measured.read_rruff_dev(tmp_path, GRID, 5.0)
    with pytest.raises(ValueError, match="no labels.csv"):
        measured.read_rruff_dev(tmp_path / "nowhere", GRID, 5.0)


def test_rruff_dev_reads_whole():
    folder = config.resolve_shared("shared", "rruff_dev")
    if folder is None:
        pytest.skip("../shared/data/rruff_dev is absent")
    got = measured.read_rruff_dev(folder, GRID, 5.0, "snip")
    assert len(got) == 301 and not got.skipped
    counts = got.summary()["per_crystal_system"]
    assert counts["trigonal"] == 0 and counts["monoclinic"] == 95
    assert np.allclose(got.patterns.max(axis=1), 1) and got.patterns.min() >= 0


def test_xrdml_reader_agrees_with_fairmat_readers_xrd(tmp_path):
    fairmat = pytest.importorskip("fairmat_readers_xrd")
    counts = " ".join(str(v) for v in (np.arange(200) % 37 + 5))
    pos = "<startPosition>10.0</startPosition><endPosition>30.0</endPosition>"
    path = tmp_path / "a.xrdml"
    path.write_text(XRDML.format(l1="1.5405980", l2="1.5444260", positions=pos, counts=counts))
    x, y, lam = classify.read_xrdml(path)
    ref = fairmat.read_file(str(path))
    np.testing.assert_allclose(x, ref["2Theta"].to("degree").magnitude)
    np.testing.assert_allclose(y, ref["intensity"].magnitude)
    # the same numbers through the optional path used for .brml / .raw / .rasx
    fx, fy, flam = classify.read_instrument_file(path)
    np.testing.assert_allclose(fx, x) and np.testing.assert_allclose(fy, y)
    assert flam == pytest.approx(lam)


def test_instrument_files_without_their_reader(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fairmat_readers_xrd", None)   # not installed
    (tmp_path / "scan.brml").write_bytes(b"PK\x03\x04")
    with pytest.raises(classify.PatternError, match="need the reader package fairmat-readers"):
        classify.load_scan(tmp_path / "scan.brml")
