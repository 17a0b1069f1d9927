"""Powder patterns, labels, augmentation and data sets of report 2 (lib.xrd)."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest

from lib.xrd import augment, dataset, patterns, structures
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid

warnings.filterwarnings("ignore")


def nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])


def silicon():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.4309), ["Si"], [[0, 0, 0]])


def magnesium_hcp():
    """Mg, hexagonal close packed (P6_3/mmc, 194), built atom by atom on a pymatgen Lattice."""
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.hexagonal(3.209, 5.211), ["Mg", "Mg"],
                     [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])


def rutile():
    """TiO2 rutile (P4_2/mnm, 136), built atom by atom on a pymatgen Lattice."""
    from pymatgen.core import Lattice, Structure

    u = 0.3048
    return Structure(Lattice.tetragonal(4.594, 2.959), ["Ti", "Ti", "O", "O", "O", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [-u, -u, 0],
                      [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]])


GRID = Grid(0.0, 90.0, 4500)


# -- pattern simulation against pymatgen ---------------------------------------------------------

@pytest.mark.parametrize("make, strongest", [(nacl, 31.7), (silicon, 28.4)])
def test_peaks_on_grid_match_pymatgen(make, strongest):
    """Peak positions on the grid are pymatgen's own peaks (NaCl 200 at 31.7°, Si 111 at 28.4°)."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    s = make()
    ref = XRDCalculator("CuKa").get_pattern(s, two_theta_range=(0, 90))
    x, y = np.asarray(ref.x), np.asarray(ref.y)
    assert abs(x[np.argmax(y)] - strongest) < 0.1
    vec = patterns.peaks_to_grid(*patterns.peaks(s, engine="pymatgen"), GRID)
    assert set(np.flatnonzero(vec)) == set(GRID.index(x))
    assert vec.sum() == pytest.approx(y.sum())
    smooth = patterns.render(x, y, GRID, sigma=5)
    assert smooth.max() == pytest.approx(1.0) and smooth.min() >= 0
    assert abs(GRID.two_theta[np.argmax(smooth)] - x[np.argmax(y)]) <= GRID.step
    # every peak above 5 % is a local maximum of the smoothed pattern (within 2 points)
    for pos in x[y > 5]:
        i = GRID.index(pos)
        window = smooth[max(0, i - 15): i + 16]
        assert abs(int(np.argmax(window)) + max(0, i - 15) - i) <= 2 or smooth[i] < 0.05


@pytest.mark.parametrize("make", [nacl, silicon, magnesium_hcp, rutile])
def test_fast_engine_equals_pymatgen(make):
    s = make()
    x0, y0 = patterns.peaks(s, engine="pymatgen")
    x1, y1 = patterns.peaks(s, engine="fast")
    assert len(x0) == len(x1)
    np.testing.assert_allclose(x1, x0, atol=1e-9)
    np.testing.assert_allclose(y1, y0, rtol=1e-9, atol=1e-9)


def test_fast_engine_equals_pymatgen_on_random_and_disordered_structures():
    from pymatgen.core import Lattice, Structure

    mixed = Structure(Lattice.cubic(5.5), [{"Na": 0.5, "K": 0.5}, "Cl"],
                      [[0, 0, 0], [0.5, 0.5, 0.5]])
    made = [mixed]
    for sg in (2, 14, 62, 139, 160, 186):
        s, why = structures.random_crystal(structures.StructureSpec(0, "x", sg, 7 + sg))
        assert s is not None, why
        made.append(s)
    for s in made:
        x0, y0 = patterns.peaks(s, engine="pymatgen")
        x1, y1 = patterns.peaks(s, engine="fast")
        np.testing.assert_allclose(x1, x0, atol=1e-9)
        np.testing.assert_allclose(y1, y0, rtol=1e-8, atol=1e-8)
    # a partial range: the minimum angle is honoured as pymatgen does
    x0, _ = patterns.pymatgen_peaks(nacl(), (30, 60))
    x1, _ = patterns.fast_peaks(nacl(), (30, 60))
    np.testing.assert_allclose(x1, x0, atol=1e-9)


# -- labels ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make, number, system", [
    (nacl, 225, "cubic"), (silicon, 227, "cubic"), (magnesium_hcp, 194, "hexagonal"),
    (rutile, 136, "tetragonal")])
def test_labels_of_known_structures(make, number, system):
    lab = patterns.symmetry_labels(make(), symprec=0.1)
    assert lab["space_group"] == number
    assert lab["crystal_system"] == system


def test_crystal_system_boundaries():
    edges = {1: "triclinic", 2: "triclinic", 3: "monoclinic", 15: "monoclinic",
             16: "orthorhombic", 74: "orthorhombic", 75: "tetragonal", 142: "tetragonal",
             143: "trigonal", 167: "trigonal", 168: "hexagonal", 194: "hexagonal",
             195: "cubic", 230: "cubic"}
    for number, system in edges.items():
        assert patterns.crystal_system_of(number) == system
    assert sum(len(patterns.space_groups_of(c)) for c in CRYSTAL_SYSTEMS) == 230
    for bad in (0, 231):
        with pytest.raises(ValueError, match="1..230"):
            patterns.crystal_system_of(bad)


def test_grid_validation_and_image():
    with pytest.raises(ValueError, match="exceed"):
        Grid(10, 10, 100)
    with pytest.raises(ValueError, match="2 points"):
        Grid(0, 90, 1)
    vec = patterns.render(*patterns.peaks(nacl()), GRID)
    img = patterns.pattern_to_image(vec, 48)
    assert img.shape == (1, 48, 48, 3) and img.dtype == np.float32
    assert img.min() >= -1 and img.max() <= 1
    # the image is the vector, row by row: its maximum sits where the strongest peak is
    flat = img[0, ..., 0].ravel()
    assert abs(np.argmax(flat) / flat.size - np.argmax(vec) / vec.size) < 0.01


# -- augmentation ----------------------------------------------------------------------------

def test_augmentation_keeps_peaks_inside_the_grid():
    grid = Grid(5.0, 80.0, 1500)
    rng = np.random.default_rng(0)
    aug = augment.Augmentation(zero_shift=0.5, broadening=0.2, texture=0.5, background=0.2,
                               noise=0.05)
    tt = np.array([5.1, 20.0, 45.0, 79.8])
    inten = np.array([100.0, 50.0, 30.0, 80.0])
    for _ in range(200):
        t2, i2 = augment.perturb_peaks(tt, inten, grid, aug, rng)
        assert np.all((t2 >= grid.two_theta_min) & (t2 <= grid.two_theta_max))
        assert len(t2) >= 2                          # the inner peaks always survive
        vec = augment.augment_pattern(tt, inten, grid, 5.0, aug, rng)
        assert vec.shape == (grid.n_points,) and np.all(np.isfinite(vec))
        assert vec.min() >= 0 and vec.max() == pytest.approx(1.0)
    # a peak pushed past the top of the grid is dropped, never wrapped round to the bottom
    only = augment.Augmentation(zero_shift=0.5, broadening=0, texture=0, background=0, noise=0)
    for _ in range(50):
        t2, _ = augment.perturb_peaks(np.array([79.9]), np.array([1.0]), grid, only, rng)
        assert len(t2) == 0 or 79.4 <= t2[0] <= 80.0
    shifted = augment.augment_pattern(np.array([40.0]), np.array([1.0]), grid, 2.0, only, rng)
    assert abs(grid.two_theta[np.argmax(shifted)] - 40.0) <= 0.5 + grid.step
    none = augment.augment_pattern(tt, inten, grid, 5.0, augment.Augmentation.none(), rng)
    np.testing.assert_allclose(none, patterns.render(tt, inten, grid, 5.0), atol=1e-12)


def test_augmented_set_shapes():
    grid = Grid(0, 90, 900)
    peaks = [patterns.peaks(nacl()), patterns.peaks(silicon())]
    x, rows = augment.augmented_set([p[0] for p in peaks], [p[1] for p in peaks], grid, 5.0,
                                    augment.Augmentation(), 3, seed=1)
    assert x.shape == (6, 900) and list(rows) == [0, 0, 0, 1, 1, 1]
    assert not np.allclose(x[0], x[1])


# -- structures and data sets ----------------------------------------------------------------

def test_synthetic_specs_cover_all_space_groups_balanced():
    specs = structures.synthetic_specs(68, seed=3)
    per = pd.Series([s.system for s in specs]).value_counts()
    assert set(per) == {68} and len(per) == 7
    assert len({s.space_group for s in specs}) == 230
    for s in specs:
        assert patterns.crystal_system_of(s.space_group) == s.system
    assert specs == structures.synthetic_specs(68, seed=3)        # seeded


def test_synthetic_dataset_cache_provenance_and_failures(tmp_path):
    grid = Grid(0, 90, 900)
    data = dataset.synthetic_dataset(tmp_path, 2, seed=5, grid=grid, n_workers=1,
                                     progress=False)
    assert len(data) + len(data.failures) == 14
    assert len(data) >= 12
    assert data.patterns.shape == (len(data), 900)
    assert np.all(data.patterns.max(axis=1) == pytest.approx(1.0))
    with h5py.File(data.path, "r") as h5:
        assert h5.attrs["complete"]
        prov = json.loads(h5.attrs["provenance"])
        assert prov["params"]["seed"] == 5 and prov["params"]["symprec"] == 0.1
        assert "pyxtal" in prov["packages"]
    assert not list(tmp_path.glob(".*tmp*"))                  # nothing half-written left
    mtime = data.path.stat().st_mtime_ns
    again = dataset.synthetic_dataset(tmp_path, 2, seed=5, grid=Grid(0, 90, 450),
                                      n_workers=1, progress=False)
    assert again.path.stat().st_mtime_ns == mtime             # cache hit, re-rendered
    assert again.patterns.shape == (len(data), 450)
    np.testing.assert_array_equal(again.space_group, data.space_group)
    # a structure pyxtal cannot make is recorded with a reason, and the batch goes on
    recs = dataset._synthetic_chunk(structures.synthetic_specs(1, 0)[:2], 24, 0, 0.1, "fast",
                                    "x-")
    assert all(not r["ok"] and "attempts failed" in r["reason"] for r in recs)


def test_group_split_shares_no_composition(tmp_path):
    grid = Grid(0, 90, 300)
    data = dataset.synthetic_dataset(tmp_path, 6, seed=11, grid=grid, n_workers=1,
                                     progress=False)
    split = dataset.group_split(data, 0.2, 0.1, seed=0)
    assert sum(len(v) for v in split.values()) == len(data)
    sets = {k: set(data.formula[v]) for k, v in split.items()}
    assert not sets["train"] & sets["test"]
    assert not sets["train"] & sets["validation"]
    assert not sets["validation"] & sets["test"]


def test_variant_set_patterns_labels_and_parents(tmp_path):
    """Variants of each parent: its space group, their own formula, profiles equal to
    patterns.render of their batch_peaks, seeded per parent id, a bad parent listed."""
    from lib.xrd import variants as xrd_variants

    grid = Grid(0, 90, 900)
    data = dataset.synthetic_dataset(tmp_path, 1, seed=5, grid=grid, n_workers=1,
                                     progress=False)
    parents = data.subset(np.arange(min(4, len(data))))
    vs = dataset.variant_set(parents, 3, seed=2, grid=grid, sigma=5.0, progress=False)
    assert len(vs) == 3 * len(parents) and not vs.failures
    assert vs.patterns.shape == (len(vs), 900) and vs.patterns.dtype == np.float32
    np.testing.assert_allclose(vs.patterns.max(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(np.bincount(vs.parent), [3] * len(parents))
    assert list(vs.parent_id) == [parents.structure_id[i] for i in vs.parent]
    for g, c in zip(vs.space_group, vs.crystal_system):
        assert CRYSTAL_SYSTEMS[c] == patterns.crystal_system_of(g)
    # row 1 of parent 0's batch is variant 0: the same peaks, the same profile as render
    sid = str(parents.structure_id[0])
    cif = dataset.read_cifs(parents.path)[sid]
    batch = xrd_variants.make_variants(structures.structure_from_cif(cif, name=sid), 4,
                                       seed=dataset.variant_seed(2, sid))
    tt, inten = xrd_variants.batch_peaks(batch).peaks(1)
    np.testing.assert_allclose(vs.patterns[0], patterns.render(tt, inten, grid, 5.0),
                               atol=1e-6)
    assert vs.formula[0] == batch.structure(1).composition.reduced_formula
    # seeded per parent: a parent's variants do not depend on the other parents
    alone = dataset.variant_set(parents.subset(np.array([1])), 3, seed=2, grid=grid,
                                progress=False)
    np.testing.assert_array_equal(alone.patterns, vs.patterns[vs.parent == 1])
    sub = vs.subset(np.array([0, 4]))
    assert len(sub) == 2 and list(sub.parent) == [vs.parent[0], vs.parent[4]]
    for new, old in enumerate((0, 4)):                     # peak lists follow their rows
        np.testing.assert_array_equal(sub.peaks.peaks(new)[0], vs.peaks.peaks(old)[0])
    np.testing.assert_allclose(vs.peaks.peaks(0)[0], tt, atol=1e-5)
    # a parent that cannot be read is listed with its reason and the rest go on
    recs = dataset._variant_chunk([(0, "bad", "not a cif"), (1, sid, cif)], 2, 0,
                                  xrd_variants.VariantSettings())
    assert not recs[0]["ok"] and recs[0]["reason"] and recs[1]["ok"] and recs[1]["n"] == 2
    # parents then variants as one peak batch (for PatternStream)
    both = dataset.training_peaks(parents, vs)
    assert both.n_patterns == len(parents) + len(vs)
    np.testing.assert_allclose(both.peaks(1)[0], parents.peak_two_theta[1], atol=1e-5)
    np.testing.assert_array_equal(both.peaks(len(parents) + 2)[1], vs.peaks.peaks(2)[1])
    part = dataset.peak_rows(both, np.array([len(parents) + 2, 0]))
    assert part.n_patterns == 2
    np.testing.assert_array_equal(part.peaks(0)[1], both.peaks(len(parents) + 2)[1])
    np.testing.assert_array_equal(part.peaks(1)[0], both.peaks(0)[0])
    assert len(dataset.variant_set(parents, 0, 0, grid, progress=False)) == 0
    with pytest.raises(ValueError, match="n_variants"):
        dataset.variant_set(parents, -1, 0, grid, progress=False)


def test_mp_csv_bad_rows_are_skipped_with_reason(tmp_path):
    good = nacl().to(fmt="cif")
    csv = tmp_path / "mp.csv"
    pd.DataFrame({"material_id": ["mp-good", "mp-bad", "mp-empty"],
                  "cif": [good, "data_x\n_cell_length_a 3\nloop_\n_atom_site_label\n", ""],
                  "spacegroup.number": [225, 1, 1]}).to_csv(csv, index=False)
    data = dataset.mp_dataset(csv, tmp_path, Grid(0, 90, 900), progress=False)
    assert list(data.structure_id) == ["mp-good"]
    assert data.space_group[0] == 225 and data.crystal_system[0] == CRYSTAL_SYSTEMS.index("cubic")
    reasons = {f["id"]: f["reason"] for f in data.failures}
    assert set(reasons) == {"mp-bad", "mp-empty"}
    assert "mp-empty" in reasons["mp-empty"] and "empty" in reasons["mp-empty"]
    bad = tmp_path / "nocol.csv"
    pd.DataFrame({"material_id": ["a"], "cif": [good]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"nocol\.csv.*spacegroup\.number"):
        structures.read_mp_csv(bad)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        structures.read_mp_csv(tmp_path / "missing.csv")


@pytest.mark.shared_data
def test_real_mp20_structures_labels_agree(shared_data):
    csv = shared_data / "mp20_subset" / "mp20_subset.csv"
    if not csv.is_file():
        pytest.skip("mp20_subset.csv absent")
    df = structures.read_mp_csv(csv, limit=12, seed=1)
    agree = 0
    for _, row in df.iterrows():
        s = structures.structure_from_cif(row["cif"], row["material_id"])
        agree += patterns.symmetry_labels(s, 0.1)["space_group"] == row["spacegroup.number"]
    assert agree >= 11


def test_parallel_generation_equals_serial():
    """lib.parallel on a Dask LocalCluster of 2 processes gives the in-process records, in
    the chunks' order."""
    rows = [(f"s{i}", s.to(fmt="cif"), 0) for i, s in
            enumerate([nacl(), silicon(), magnesium_hcp(), rutile()])]
    serial = dataset.generate(dataset._mp_chunk, [rows[:2], rows[2:]], 1, "t", False,
                              symprec=0.1, engine="fast")
    para = dataset.generate(dataset._mp_chunk, [rows[:2], rows[2:]], 2, "t", False,
                            symprec=0.1, engine="fast")
    assert [r["id"] for r in para] == ["s0", "s1", "s2", "s3"]
    assert [r["space_group"] for r in para] == [225, 227, 194, 136]
    for a, b in zip(serial, para):
        np.testing.assert_array_equal(a["two_theta"], b["two_theta"])


def test_optional_loaders_explain_missing_packages():
    import importlib.util

    if importlib.util.find_spec("matminer") is None:
        with pytest.raises(ImportError, match="pip install matminer"):
            next(structures.load_matminer_mp())
    if importlib.util.find_spec("mp_api") is None:
        with pytest.raises(ImportError, match="pip install mp-api"):
            next(structures.load_mp_api())


def test_cache_write_is_atomic(tmp_path):
    """A failure while the HDF5 cache is written leaves no file (and no temporary) behind."""
    good = dataset._mp_chunk([("s0", nacl().to(fmt="cif"), 225)], symprec=0.1, engine="fast")
    bad = [{**good[0], "space_group": "not a number"}]
    path = tmp_path / "xrd_mp_x.h5"
    with pytest.raises(ValueError):
        dataset.write_dataset(path, bad, "mp", {"symprec": 0.1}, Grid(0, 90, 300), 5.0)
    assert list(tmp_path.iterdir()) == []
    dataset.write_dataset(path, good, "mp", {"symprec": 0.1}, Grid(0, 90, 300), 5.0)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert dataset.load_dataset(path).space_group.tolist() == [225]
