"""Measurement-like patterns from peak lists (lib.xrd.simulate): each effect by itself, then
whole batches (on the grid, seeded)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest

from lib.xrd import simulate, variants
from lib.xrd.patterns import CU_KA, Grid
from lib.xrd.simulate import Conditions, MeasurementModel, PeakSet

warnings.filterwarnings("ignore")


def nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])


def rutile():
    from pymatgen.core import Lattice, Structure

    u = 0.3048
    return Structure(Lattice.tetragonal(4.594, 2.959), ["Ti", "Ti", "O", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [-u, -u, 0],
                      [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]])


@pytest.fixture(scope="module")
def batches():
    out = []
    for i, s in enumerate((nacl(), rutile())):
        vb = variants.make_variants(s, 4, seed=i)
        pb = variants.batch_peaks(vb)
        out.append((vb, pb, simulate.reflection_table(vb, pb)))
    return out


@pytest.fixture(scope="module")
def peakset(batches):
    return PeakSet.from_batches([b[1] for b in batches], [b[2] for b in batches])


def one_peak(two_theta_ka1: float) -> PeakSet:
    """A single peak of intensity 100 whose Kα1 line lies at ``two_theta_ka1`` degrees."""
    source = simulate.bragg_two_theta(np.array([two_theta_ka1]), simulate.CU_KA1, CU_KA)
    return PeakSet.from_lists([source], [np.array([100.0])])


def test_wavelengths_are_pymatgens():
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS

    assert simulate.CU_KA1 == WAVELENGTHS["CuKa1"]
    assert simulate.CU_KA2 == WAVELENGTHS["CuKa2"]
    assert CU_KA == WAVELENGTHS["CuKa"]


def test_ka2_doublet_at_the_bragg_angle():
    """A peak at 2θ = 40° for Cu Kα1 has its Kα2 line where λ(Kα2) = 2d sin θ₂, at half the
    intensity."""
    d = simulate.CU_KA1 / (2 * math.sin(math.radians(20.0)))
    expected = 2 * math.degrees(math.asin(simulate.CU_KA2 / (2 * d)))
    assert simulate.bragg_two_theta(np.array([40.0]), simulate.CU_KA1,
                                    simulate.CU_KA2)[0] == pytest.approx(expected, abs=1e-10)
    cond = Conditions.ideal(1)
    cond.ka2_ratio[:] = 0.5
    model = MeasurementModel.ideal()
    pat, tt, inten, _ = simulate.measured_peaks(one_peak(40.0), np.array([0]), cond, model)
    assert tt == pytest.approx([40.0, expected], abs=1e-9)
    assert inten == pytest.approx([100.0, 50.0])
    # the split follows Δ2θ ≈ 2 tan θ Δλ/λ (≈ 0.104° at 40°)
    split = math.degrees(2 * math.tan(math.radians(20.0)) * (simulate.CU_KA2 - simulate.CU_KA1)
                         / simulate.CU_KA1)
    assert expected - 40.0 == pytest.approx(split, rel=1e-3)


def test_bragg_beyond_180_degrees_is_nan():
    assert np.isnan(simulate.bragg_two_theta(np.array([170.0]), 1.0, 1.2))[0]


def test_zero_shift_moves_peaks_by_the_given_amount():
    tt = np.array([12.0, 35.5, 80.0])
    assert simulate.shift_two_theta(tt, 0.07, 0.0, 217.5) == pytest.approx(tt + 0.07)
    # sample displacement: −2 s cos θ / R radians
    s, radius = 0.1, 200.0
    shifted = simulate.shift_two_theta(tt, 0.0, s, radius)
    assert shifted - tt == pytest.approx(-np.degrees(2 * s * np.cos(np.radians(tt / 2)) / radius))
    # and on the rendered pattern: the maximum moves by Δ (within half a grid step)
    grid = Grid(20.0, 60.0, 8001)
    model = MeasurementModel.ideal()
    peaks = one_peak(40.0)
    cond = Conditions.ideal(2)
    cond.zero_shift[:] = [0.0, 0.235]
    out = simulate.measure(peaks, np.array([0, 0]), cond, grid, model, np.random.default_rng(0))
    top = grid.two_theta[out.argmax(axis=1)]
    assert top[0] == pytest.approx(40.0, abs=grid.step / 2 + 1e-9)
    assert top[1] - top[0] == pytest.approx(0.235, abs=grid.step)


def test_scherrer_width():
    """No instrument width: FWHM = Kλ/(L cos θ) radians of 2θ."""
    tt = np.array([20.0, 60.0])
    fwhm = simulate.peak_fwhm(tt, np.zeros((2, 3)), np.array([50.0, 50.0]), simulate.CU_KA1,
                              1e-6)
    expected = np.degrees(0.9 * 0.154056 / (50.0 * np.cos(np.radians(tt / 2))))
    assert fwhm == pytest.approx(expected)
    caglioti = np.array([[0.02, -0.01, 0.05]] * 2)
    wide = simulate.peak_fwhm(tt, caglioti, np.array([1e9, 1e9]), simulate.CU_KA1, 1e-6)
    t = np.tan(np.radians(tt / 2))
    assert wide == pytest.approx(np.sqrt(0.02 * t * t - 0.01 * t + 0.05))


def test_march_dollase_factor():
    assert simulate.march_dollase(np.array([0.0, 0.5, 1.0]), np.ones(3)) == pytest.approx(1.0)
    # its mean over a sphere of normals is 1 (cos α uniform on [0, 1])
    c = (np.arange(200_000) + 0.5) / 200_000
    for r in (0.6, 1.5):
        assert simulate.march_dollase(c, np.full_like(c, r)).mean() == pytest.approx(1, abs=1e-4)
    # platelets (r < 1): reflections normal to the axis are enhanced
    assert simulate.march_dollase(np.array([1.0]), np.array([0.6]))[0] > 1


def test_reflection_table_matches_the_peaks(batches):
    """Every peak has its reflections; Σ|F|² × Lorentz–polarisation reproduces the intensities;
    NaCl's 200 peak holds the three reflections of {200} in one Friedel half-space."""
    for vb, pb, refl in batches:
        counts = np.bincount(refl.peak, minlength=len(pb.two_theta))
        assert counts.min() >= 1
        assert np.allclose(np.linalg.norm(refl.direction, axis=1), 1, atol=1e-6)
        theta = np.radians(pb.two_theta) / 2
        lp = (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
        f2 = np.bincount(refl.peak, weights=refl.weight, minlength=len(pb.two_theta))
        for k in range(pb.n_patterns):
            sel = pb.pattern == k
            inten = f2[sel] * lp[sel]
            assert inten / inten.max() * 100 == pytest.approx(pb.intensity[sel], rel=1e-4,
                                                               abs=1e-3)
    vb, pb, refl = batches[0]
    a = np.linalg.norm(vb.lattices[0], axis=1)[0] * math.sqrt(2)       # primitive fcc → cubic
    tt200 = 2 * math.degrees(math.asin(CU_KA / (2 * a / 2)))
    i = int(np.argmin(np.abs(pb.two_theta - tt200) + (pb.pattern != 0) * 1e3))
    assert abs(pb.two_theta[i] - tt200) < 1e-3
    assert counts_of(refl, i) == 3


def test_reflection_table_without_symmetry_operations():
    """Variants of a structure taken as it is (no idealisation, so no Laue classes): every
    reflection's |F|² computed, the same intensities."""
    settings = variants.VariantSettings(symmetrize=False, check=False)
    vb = variants.make_variants(rutile(), 3, seed=5, settings=settings)
    assert vb.rotations is None
    pb = variants.batch_peaks(vb)
    refl = simulate.reflection_table(vb, pb)
    theta = np.radians(pb.two_theta) / 2
    lp = (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
    inten = np.bincount(refl.peak, weights=refl.weight, minlength=len(pb.two_theta)) * lp
    for k in range(pb.n_patterns):
        sel = pb.pattern == k
        assert inten[sel] / inten[sel].max() * 100 == pytest.approx(pb.intensity[sel],
                                                                     rel=1e-4, abs=1e-3)


def counts_of(refl, peak):
    return int(np.sum(refl.peak == peak))


def test_texture_keeps_positive_intensities_and_r1_changes_nothing(peakset):
    rows = np.arange(peakset.n_rows)
    idx = np.arange(len(peakset.two_theta))
    owner = np.repeat(rows, np.diff(peakset.starts))
    pick = np.random.default_rng(0).random(len(rows))
    ones = simulate.texture_factors(peakset, idx, owner, peakset.starts, np.ones(len(rows)),
                                    pick)
    assert np.all(ones == 1.0)
    tex = simulate.texture_factors(peakset, idx, owner, peakset.starts,
                                   np.full(len(rows), 0.6), pick)
    assert np.all(np.isfinite(tex)) and np.all(tex > 0)
    assert np.any(np.abs(tex - 1) > 0.05)


def test_each_effect_keeps_peak_order_and_stays_on_the_grid(peakset):
    """Under every drawn condition the main phase's Kα1 lines keep their order; the patterns
    are finite, ≥ 0 and zero outside the scan."""
    grid = Grid()
    model = MeasurementModel()
    rng = np.random.default_rng(3)
    rows = np.arange(peakset.n_rows)
    cond = simulate.draw_conditions(model, len(rows), rng)
    pat, tt, inten, fwhm = simulate.measured_peaks(peakset, rows, cond, model, None)
    n_main = np.diff(peakset.starts)
    for r in rows:
        mine = tt[pat == r][:n_main[r]]            # Kα1 lines of the main phase, first
        assert len(mine) == n_main[r]
        assert np.all(np.diff(mine) > 0)
    assert np.all(fwhm >= model.min_fwhm) and np.all(inten >= 0)
    # shifts are small: every line moved by less than 0.5°
    src = peakset.two_theta[np.concatenate([np.arange(peakset.starts[r], peakset.starts[r + 1])
                                            for r in rows])]
    ka1 = np.concatenate([tt[pat == r][:n_main[r]] for r in rows])
    assert np.abs(ka1 - src).max() < 0.5
    out = simulate.measure(peakset, rows, cond, grid, model, rng,
                           impurity_rows=(rows + 1) % len(rows))
    assert out.shape == (len(rows), grid.n_points) and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and out.min() >= 0
    inside = simulate.scan_mask(grid, cond.scan_start, cond.scan_end)
    assert np.all(out[~inside] == 0)
    assert np.all(out.max(axis=1) > 0.5)


def test_scan_range_defaults():
    cond = simulate.draw_conditions(MeasurementModel(), 500, np.random.default_rng(1))
    assert 5 <= cond.scan_start.min() and cond.scan_start.max() <= 15
    assert 60 <= cond.scan_end.min() and cond.scan_end.max() <= 90


def test_impurity_is_weak():
    peaks = PeakSet.from_lists([np.array([20.0, 30.0]), np.array([25.0, 50.0])],
                               [np.array([100.0, 40.0]), np.array([100.0, 10.0])])
    cond = Conditions.ideal(1)
    cond.impurity_fraction[:] = 0.03
    pat, tt, inten, _ = simulate.measured_peaks(peaks, np.array([0]), cond,
                                                MeasurementModel.ideal(), np.array([1]))
    assert len(tt) == 4
    assert inten[2:] == pytest.approx([3.0, 0.3])


def test_poisson_noise_variance_equals_mean():
    """At N counts at the strongest peak, the variance of (counts / N) is mean / N."""
    n_rep, n_counts = 400, 1000.0
    grid = Grid(30.0, 50.0, 1001)
    cond = Conditions.ideal(n_rep)
    cond.counts[:] = n_counts
    cond.caglioti[:, 2] = 1.0                                   # 1° wide peak
    out = simulate.measure(one_peak(40.0), np.zeros(n_rep, np.int64), cond, grid,
                           MeasurementModel.ideal(), np.random.default_rng(7))
    mean, var = out.mean(axis=0), out.var(axis=0, ddof=1)
    strong = mean > 0.2
    ratio = var[strong] * n_counts / mean[strong]
    assert ratio.mean() == pytest.approx(1.0, abs=0.03)
    assert mean.max() == pytest.approx(1.0, abs=0.01)


def test_background_within_its_bound():
    grid = Grid()
    cond = simulate.draw_conditions(MeasurementModel(hump_probability=1.0), 50,
                                    np.random.default_rng(2))
    bg = simulate.background_shapes(grid, cond)
    assert bg.min() >= 0
    assert bg.max(axis=1) == pytest.approx(cond.background)


def test_seeded_reproducibility(peakset):
    grid = Grid()
    rows = np.array([0, 3, 5, 7, 1])
    model = MeasurementModel()
    a = simulate.simulate(peakset, rows, model, grid, np.random.default_rng(11))
    b = simulate.simulate(peakset, rows, model, grid, np.random.default_rng(11))
    c = simulate.simulate(peakset, rows, model, grid, np.random.default_rng(12))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_model_ranges_are_checked():
    with pytest.raises(ValueError, match="scan_start"):
        MeasurementModel(scan_start=(15.0, 5.0))
    with pytest.raises(ValueError, match="probability"):
        MeasurementModel(ka2_probability=1.5)
    with pytest.raises(ValueError, match="scan start"):
        MeasurementModel(scan_start=(5.0, 70.0), scan_end=(60.0, 90.0))
    assert replace(MeasurementModel(), eta=(0.5, 0.5)).eta == (0.5, 0.5)


def test_profiles_rendered_in_chunks_match_one_call(peakset, monkeypatch):
    """measure() renders PROFILE_CHUNK patterns at a time (the direct window around each peak
    is sized by the broadest peak of a call): the same patterns as one call for all, to the
    accuracy of the Lorentzian tails (10⁻⁵ of the strongest point), same Poisson draws."""
    from dataclasses import replace

    grid = Grid()
    rows = np.arange(peakset.n_rows)
    model = replace(MeasurementModel(), counts=(1e9, 1e9))
    monkeypatch.setattr(simulate, "PROFILE_CHUNK", 10_000)
    whole = simulate.simulate(peakset, rows, model, grid, np.random.default_rng(3))
    monkeypatch.setattr(simulate, "PROFILE_CHUNK", 3)
    chunked = simulate.simulate(peakset, rows, model, grid, np.random.default_rng(3))
    assert len(rows) > 3 and chunked.shape == whole.shape
    assert np.max(np.abs(chunked - whole)) < 1e-4
