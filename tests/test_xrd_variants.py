"""Structure variants that keep the space group, batched peak lists against pymatgen's
XRDCalculator, and the Gaussian / pseudo-Voigt renderers of many patterns (lib.xrd.variants,
lib.xrd.profiles)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from lib import config
from lib.xrd import patterns, profiles, structures, variants
from lib.xrd.patterns import Grid

warnings.filterwarnings("ignore")


def nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])


def silicon():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.4309), ["Si"], [[0, 0, 0]])


def rutile():
    """TiO2 rutile (P4_2/mnm, 136): O on 4f (x, x, 0), one free coordinate."""
    from pymatgen.core import Lattice, Structure

    u = 0.3048
    return Structure(Lattice.tetragonal(4.594, 2.959), ["Ti", "Ti", "O", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [-u, -u, 0],
                      [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]])


def wurtzite():
    """ZnO wurtzite (P6_3mc, 186): Zn and O on 2b (1/3, 2/3, z)."""
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
                                     [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]])


def diopside_like():
    """A monoclinic C2/c (15) structure: Ca, Mg on 4e (0, y, ¼), Si and O on 8f (x, y, z)."""
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("C2/c", Lattice.monoclinic(9.7, 8.9, 5.3, 105.0),
                                     ["Ca", "Mg", "Si", "O"],
                                     [[0, 0.3, 0.25], [0, 0.9, 0.25], [0.29, 0.09, 0.23],
                                      [0.12, 0.09, 0.14]])


def triclinic():
    """A triclinic P-1 (2) structure, every coordinate and cell parameter free."""
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("P-1", Lattice.from_parameters(5.1, 6.2, 7.3, 81, 95, 103),
                                     ["Na", "Al", "O", "O"],
                                     [[0.1, 0.2, 0.3], [0.4, 0.3, 0.8], [0.2, 0.7, 0.1],
                                      [0.6, 0.1, 0.4]])


BUILT = [nacl, silicon, rutile, wurtzite, diopside_like, triclinic]


def mp_structures(n: int = 8) -> list:
    """A seeded sample of the team's MP-20 structures (empty when the CSV is absent)."""
    path = config.resolve_shared("shared", "mp20_subset", "mp20_subset.csv")
    if path is None:
        return []
    df = structures.read_mp_csv(path, limit=n, seed=3)
    return [structures.structure_from_cif(c, m) for c, m in zip(df["cif"], df["material_id"])]


def space_group(structure) -> int:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return int(SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_number())


# -- variants ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", BUILT, ids=lambda f: f.__name__)
def test_variants_keep_space_group(make):
    parent = make()
    batch = variants.make_variants(parent, 8, seed=1)
    assert batch.space_group == space_group(parent)
    assert [space_group(batch.structure(k)) for k in range(8)] == [batch.space_group] * 8
    assert not np.allclose(batch.lattices[1:], batch.lattices[0])       # strained
    assert batch.fallbacks == 0


def test_parent_kept_as_is_without_symmetrize():
    parent = diopside_like()
    batch = variants.make_variants(parent, 3, seed=1,
                                   settings=variants.VariantSettings(symmetrize=False))
    assert np.allclose(batch.lattices[0], parent.lattice.matrix)
    assert np.allclose(batch.frac_coords[0], parent.frac_coords)


def test_mp_variants_keep_space_group():
    """Including pseudo-symmetric ones: idealised first, each variant checked and redrawn."""
    sample = mp_structures(8)
    if not sample:
        pytest.skip("no MP-20 CSV under ../shared/data/mp20_subset")
    for parent in sample:
        batch = variants.make_variants(parent, 4, seed=2)
        assert [space_group(batch.structure(k)) for k in range(4)] == [space_group(parent)] * 4


def test_pseudo_symmetric_mp_structures_keep_their_space_group():
    """MP structures whose symmetry at symprec 0.1 is higher than at 0.01 (mp-22112, Fm-3m at
    0.1 but R-3m at 0.01) or that jitter could lift into a higher group (ScF3 mp-559092, R32
    near Pm-3m; K2Cr2F6 mp-560547)."""
    import pandas as pd

    path = config.resolve_shared("shared", "mp20_subset", "mp20_subset.csv")
    if path is None:
        pytest.skip("no MP-20 CSV under ../shared/data/mp20_subset")
    df = pd.read_csv(path).set_index("material_id")
    ids = [i for i in ("mp-22112", "mp-559092", "mp-560547", "mp-1218148") if i in df.index]
    if not ids:
        pytest.skip("none of the pseudo-symmetric structures is in this CSV")
    for mid in ids:
        parent = structures.structure_from_cif(df.loc[mid, "cif"], mid)
        batch = variants.make_variants(parent, 6, seed=1)
        assert batch.space_group == space_group(parent), mid
        assert [space_group(batch.structure(k)) for k in range(6)] == [batch.space_group] * 6


@pytest.mark.parametrize("make, same", [
    (nacl, "abc"), (rutile, "ab"), (wurtzite, "ab"), (diopside_like, ""), (triclinic, "")])
def test_strain_stays_within_the_crystal_system(make, same):
    """Cubic: a = b = c and right angles; tetragonal/hexagonal: a = b, angles kept; monoclinic:
    α = γ = 90°; triclinic: all six parameters change."""
    from pymatgen.core import Lattice

    parent = make()
    settings = variants.VariantSettings(substitution=0.0, jitter=0.0, strain=0.04,
                                        symmetrize=False)
    batch = variants.make_variants(parent, 6, seed=5, settings=settings)
    for k in range(1, 6):
        lat = Lattice(batch.lattices[k])
        a, b, c = lat.abc
        if same == "abc":
            assert a == pytest.approx(b) == pytest.approx(c)
        if same == "ab":
            assert a == pytest.approx(b)
        if make in (nacl, rutile, wurtzite):
            assert lat.angles == pytest.approx(parent.lattice.angles, abs=1e-8)
        if make is diopside_like:
            assert lat.alpha == pytest.approx(90) and lat.gamma == pytest.approx(90)
            assert lat.beta != pytest.approx(parent.lattice.beta, abs=1e-3)
        if make is triclinic:
            changed = np.abs(np.r_[lat.abc, lat.angles]
                             - np.r_[parent.lattice.abc, parent.lattice.angles])
            assert (changed > 1e-4).all()
        assert np.abs(np.asarray(lat.abc) / parent.lattice.abc - 1).max() < 0.06


@pytest.mark.parametrize("make", [nacl, wurtzite, diopside_like], ids=lambda f: f.__name__)
def test_scale_changes_the_cell_size_only(make):
    """``scale``: every variant's cell is the parent's times one factor in [1/s, s] (no
    strain, so angles and axial ratios are kept), the space group stays, and the peak list
    still equals XRDCalculator's (more reflections enter the 2θ range in larger cells)."""
    settings = variants.VariantSettings(strain=0.0, substitution=0.0, jitter=0.0, scale=1.5)
    batch = variants.make_variants(make(), 8, seed=2, settings=settings)
    base = np.asarray(batch.lattices[0])
    factors = [np.linalg.norm(batch.lattices[k]) / np.linalg.norm(base) for k in range(1, 8)]
    for k, f in enumerate(factors, start=1):
        assert np.allclose(batch.lattices[k], f * base)
    assert 1 / 1.5 <= min(factors) and max(factors) <= 1.5
    assert max(factors) / min(factors) > 1.2                           # spread, not one value
    assert [space_group(batch.structure(k)) for k in range(8)] == [batch.space_group] * 8
    _assert_equal_to_pymatgen(batch)


def test_jitter_moves_only_free_coordinates():
    """Na, Cl (4a, 4b) and Si (8a) have no free coordinate; rutile's O (4f) moves along
    (x, x, 0)."""
    settings = variants.VariantSettings(strain=0.0, substitution=0.0, jitter=0.1,
                                        symmetrize=False)
    for make in (nacl, silicon):
        batch = variants.make_variants(make(), 5, seed=0, settings=settings)
        assert np.allclose(batch.frac_coords, batch.frac_coords[0])
    batch = variants.make_variants(rutile(), 5, seed=0, settings=settings)
    assert np.allclose(batch.frac_coords[:, :2], batch.frac_coords[0, :2])      # Ti on 2a
    o = batch.frac_coords[1:, 2]                                                  # O at (x, x, 0)
    assert np.allclose(o[:, 0], o[:, 1]) and np.allclose(o[:, 2] % 1, 0)
    assert not np.allclose(o, batch.frac_coords[0, 2])


def test_substitution_is_chemically_similar_and_never_merges_elements():
    for el, subs in variants.SUBSTITUTES.items():
        assert el not in subs
        assert all(el in variants.SUBSTITUTES[s] for s in subs)                 # symmetric
    settings = variants.VariantSettings(substitution=1.0, symmetrize=False)
    batch = variants.make_variants(diopside_like(), 12, seed=4, settings=settings)
    parent = list(batch.symbols[0])
    for row in batch.symbols[1:]:
        mapping = dict(zip(parent, row))
        for old, new in mapping.items():
            assert new == old or new in variants.SUBSTITUTES[old]
        assert len(set(mapping.values())) == len(set(parent))                    # none merged
    assert any(list(row) != parent for row in batch.symbols[1:])


def test_variants_are_seeded():
    a = variants.make_variants(triclinic(), 4, seed=7)
    b = variants.make_variants(triclinic(), 4, seed=7)
    c = variants.make_variants(triclinic(), 4, seed=8)
    assert np.array_equal(a.lattices, b.lattices) and np.array_equal(a.frac_coords, b.frac_coords)
    assert np.array_equal(a.symbols, b.symbols)
    assert not np.array_equal(a.lattices, c.lattices)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="strain"):
        variants.VariantSettings(strain=0.7)
    with pytest.raises(ValueError, match="scale"):
        variants.VariantSettings(scale=0.5)
    with pytest.raises(ValueError, match="at least one"):
        variants.make_variants(nacl(), 0)


# -- batched peak lists against XRDCalculator ---------------------------------------------------

def _assert_equal_to_pymatgen(batch, two_theta_range=(0.0, 90.0)):
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    peaks = variants.batch_peaks(batch, two_theta_range)
    calc = XRDCalculator("CuKa")
    for k in range(len(batch)):
        ref = calc.get_pattern(batch.structure(k), two_theta_range=two_theta_range)
        x, y = peaks.peaks(k)
        assert len(x) == len(ref.x), f"variant {k}: {len(x)} peaks, pymatgen {len(ref.x)}"
        assert np.abs(x - np.asarray(ref.x)).max() < 1e-6                      # degrees 2θ
        assert np.abs(y - np.asarray(ref.y)).max() / 100 < 1e-4                # of the strongest


@pytest.mark.parametrize("make", BUILT, ids=lambda f: f.__name__)
def test_batch_peaks_equal_xrdcalculator(make):
    _assert_equal_to_pymatgen(variants.make_variants(make(), 6, seed=11))


def test_batch_peaks_equal_xrdcalculator_on_a_partial_range():
    _assert_equal_to_pymatgen(variants.make_variants(diopside_like(), 4, seed=3), (12.5, 71.0))


def test_batch_peaks_equal_xrdcalculator_on_mp_structures():
    sample = mp_structures(6)
    if not sample:
        pytest.skip("no MP-20 CSV under ../shared/data/mp20_subset")
    for parent in sample:
        _assert_equal_to_pymatgen(variants.make_variants(parent, 4, seed=6))


def test_disordered_sites_keep_their_species_and_match_xrdcalculator():
    """Rock salt with (Na0.5 K0.5) on 4a: variants keep the mixed site, the space group and
    pymatgen's peaks."""
    from pymatgen.core import Lattice, Structure

    parent = Structure.from_spacegroup("Fm-3m", Lattice.cubic(6.0), [{"Na": 0.5, "K": 0.5}, "Cl"],
                                       [[0, 0, 0], [0.5, 0.5, 0.5]])
    batch = variants.make_variants(parent, 4, seed=3)
    for k in range(4):
        s = batch.structure(k)
        assert len(s) == len(parent.get_primitive_structure()) or len(s) == len(parent)
        assert any(len(site.species) == 2 for site in s)
        assert space_group(s) == 225
    _assert_equal_to_pymatgen(batch)


def test_laue_classes_of_a_cubic_crystal():
    """CsCl (Pm-3m): {100}, {110} and {123} are one class each; 100 and 110 are not."""
    from pymatgen.core import Lattice, Structure

    cscl = Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    plain = variants.make_variants(cscl, 2, seed=0,
                                   settings=variants.VariantSettings(symmetrize=False))
    assert plain.rotations is None                      # not known to be exact: no reduction
    batch = variants.make_variants(cscl, 2, seed=0)
    assert len(batch.rotations) == 48
    h100 = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    h110 = [[1, 1, 0], [1, -1, 0], [1, 0, 1], [1, 0, -1], [0, 1, 1], [0, 1, -1]]
    h123 = [[1, 2, 3], [3, -2, 1], [2, 1, -3]]
    hkl = np.array(h100 + h110 + h123)
    reps, expand = variants.laue_representatives(hkl, batch.rotations)
    assert len(reps) == 3
    assert list(expand) == [expand[0]] * 3 + [expand[3]] * 6 + [expand[9]] * 3


@pytest.mark.parametrize("make", [rutile, diopside_like, triclinic], ids=lambda f: f.__name__)
def test_laue_reduction_changes_nothing(make):
    """|F|² once per Laue class = |F|² of every reflection (exactly symmetric variants)."""
    batch = variants.make_variants(make(), 4, seed=2)
    a = variants.batch_peaks(batch, use_symmetry=True)
    b = variants.batch_peaks(batch, use_symmetry=False)
    assert np.array_equal(a.pattern, b.pattern)
    assert np.abs(a.two_theta - b.two_theta).max() == 0
    assert np.abs(a.intensity - b.intensity).max() < 1e-4      # float32 phases: ~1e-8 of 100


def test_shared_hkl_holds_every_variants_reflections():
    """The one hkl list holds the reflection sphere of the largest strained cell."""
    batch = variants.make_variants(triclinic(), 6, seed=2,
                                   settings=variants.VariantSettings(strain=0.08))
    r = 0.9
    shared = {tuple(h) for h in variants.shared_hkl(batch.lattices, r)}
    for k in range(6):
        from pymatgen.core import Lattice

        recip = Lattice(batch.lattices[k]).reciprocal_lattice_crystallographic
        for fcoords, dist, *_ in recip.get_points_in_sphere([[0, 0, 0]], [0, 0, 0], r):
            h = tuple(int(v) for v in np.rint(fcoords))
            if dist > 0:
                assert h in shared or tuple(-v for v in h) in shared


# -- renderers ------------------------------------------------------------------------------------

GRID = Grid(0.0, 90.0, 4500)


def test_gaussian_patterns_equal_render():
    batch = variants.make_variants(rutile(), 5, seed=0)
    pk = variants.batch_peaks(batch)
    many = profiles.gaussian_patterns(pk.pattern, pk.two_theta, pk.intensity, pk.n_patterns, GRID)
    assert many.shape == (5, GRID.n_points)
    for k in range(5):
        one = patterns.render(*pk.peaks(k), GRID, 5.0)
        assert np.abs(many[k] - one).max() < 1e-12


def _single(two_theta, grid, eta, uvw=profiles.CAGLIOTI_UVW, cutoff=None):
    return profiles.pseudo_voigt_patterns(np.array([0]), np.array([two_theta]), np.array([7.0]),
                                          1, grid, uvw=uvw, eta=eta, cutoff=cutoff,
                                          scale=False)[0]


@pytest.mark.parametrize("cutoff", [None, 6.0])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_pseudo_voigt_integrates_to_the_intensity(eta, cutoff):
    """Area under one peak (Σ × step) = intensity × the part of the profile inside the grid
    (the Lorentzian's tails reach the ends of the grid, with or without the FFT tails)."""
    grid = Grid(0.0, 90.0, 9001)
    centre = 37.3
    profile = _single(centre, grid, eta, cutoff=cutoff)
    fwhm = float(profiles.caglioti_fwhm(np.array([centre]), *profiles.CAGLIOTI_UVW)[0])
    gamma = fwhm / 2
    lo, hi = grid.two_theta_min - centre, grid.two_theta_max - centre
    lorentz_inside = (math.atan(hi / gamma) - math.atan(lo / gamma)) / math.pi
    expected = 7.0 * (eta * lorentz_inside + (1 - eta))
    assert profile.sum() * grid.step == pytest.approx(expected, rel=1e-4)
    assert profile.min() >= 0


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_pseudo_voigt_fwhm_follows_caglioti(eta):
    grid = Grid(0.0, 90.0, 90001)
    uvw = (0.05, -0.02, 0.03)
    for centre in (15.0, 45.0, 80.0):
        profile = _single(centre, grid, eta, uvw)
        half = profile.max() / 2
        above = np.flatnonzero(profile >= half)
        i0, i1 = above[0], above[-1]
        x = grid.two_theta

        def cross(i, j):        # linear interpolation of the half-maximum crossing
            return x[i] + (half - profile[i]) * (x[j] - x[i]) / (profile[j] - profile[i])

        width = cross(i1, i1 + 1) - cross(i0 - 1, i0)
        assert width == pytest.approx(float(profiles.caglioti_fwhm(np.array([centre]), *uvw)[0]),
                                      abs=2e-4)
        assert abs(x[np.argmax(profile)] - centre) <= grid.step


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_pseudo_voigt_patterns_equal_a_direct_sum(eta):
    """Near windows + FFT Lorentzian tails = every peak summed on the whole grid in float64
    (peaks just outside the grid included: their tails reach into it)."""
    batch = variants.make_variants(diopside_like(), 3, seed=0)
    pk = variants.batch_peaks(batch, (0.0, 92.0))
    uvw = (0.03, -0.01, 0.02)
    fast = profiles.pseudo_voigt_patterns(pk.pattern, pk.two_theta, pk.intensity, 3, GRID,
                                          uvw=uvw, eta=eta, scale=False)
    x = GRID.two_theta
    fwhm = profiles.caglioti_fwhm(pk.two_theta, *uvw)
    direct = np.zeros((3, GRID.n_points))
    for p, c, i, f in zip(pk.pattern, pk.two_theta, pk.intensity, fwhm):
        direct[p] += i * profiles.pseudo_voigt(x - c, f, eta)
    assert np.abs(fast - direct).max() / direct.max() < 1e-5
    # per-peak widths (e.g. Caglioti with Scherrer broadening) take the same path
    wide = profiles.pseudo_voigt_patterns(pk.pattern, pk.two_theta, pk.intensity, 3, GRID,
                                          eta=eta, scale=False, fwhm=fwhm * 1.5)
    direct_wide = np.zeros((3, GRID.n_points))
    for p, c, i, f in zip(pk.pattern, pk.two_theta, pk.intensity, fwhm * 1.5):
        direct_wide[p] += i * profiles.pseudo_voigt(x - c, f, eta)
    assert np.abs(wide - direct_wide).max() / direct_wide.max() < 1e-5
    scaled = profiles.pseudo_voigt_patterns(pk.pattern, pk.two_theta, pk.intensity, 3, GRID,
                                            uvw=uvw, eta=eta)
    assert np.allclose(scaled.max(axis=1), 1.0) and scaled.min() >= 0


def test_bad_profile_parameters_are_refused():
    with pytest.raises(ValueError, match="FWHM"):
        profiles.caglioti_fwhm(np.array([30.0]), 0.0, -1.0, 0.01)
    with pytest.raises(ValueError, match="η"):
        profiles.pseudo_voigt_patterns(np.array([0]), np.array([30.0]), np.array([1.0]), 1, GRID,
                                       eta=1.5)
    with pytest.raises(ValueError, match="positive"):
        profiles.pseudo_voigt_patterns(np.array([0]), np.array([30.0]), np.array([1.0]), 1, GRID,
                                       fwhm=np.array([0.0]))
    with pytest.raises(ValueError, match="pattern indices"):
        profiles.gaussian_patterns(np.array([2]), np.array([30.0]), np.array([1.0]), 1, GRID)


# -- benchmark ----------------------------------------------------------------------------------

def test_bench_xrd_runs_and_reports_its_keys():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_xrd_engine", config.ROOT / "benchmarks" / "bench_xrd_engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.bench_xrd(2, k_variants=4, repeats=1)
    for key in ("xrd_patterns_per_s", "xrd_ratio_vs_pymatgen", "max_abs_rel_error_vs_pymatgen"):
        assert key in result
    assert result["max_abs_rel_error_vs_pymatgen"] < 1e-4
    assert result["max_abs_two_theta_error_deg"] < 1e-6
