"""The batched random P-1 generator has the statistics of the cctbx generator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lib.phases import engine, generator
from lib.phases.structures import (GeneratorParameters, generate_structure,
                                   min_interatomic_distance, parse_element_mix)

PARAMS = GeneratorParameters(atoms_min=8, atoms_max=30)


def min_distances(batch: generator.StructureBatch) -> np.ndarray:
    """Shortest interatomic distance (B,) in Å of each structure of ``batch`` over all 2 N
    atoms of the cell (x and −x) and all lattice translations (inf for one atom alone when
    its image is far)."""
    out = np.full(len(batch), np.inf)
    metric = np.einsum("bki,bkj->bij", m := generator.orthogonalisation_matrices(batch.cells), m)
    g = generator.reciprocal_metric(batch.cells)
    spacing = 1.0 / np.sqrt(np.stack([g[:, 0, 0], g[:, 1, 1], g[:, 2, 2]], axis=1))
    for i in range(len(batch)):
        n = int(batch.n_atoms[i])
        x = batch.sites[i, :n]
        every = np.concatenate([x, -x], axis=0)
        d = every[:, None, :] - every[None, :, :]
        # an upper bound L: the shortest edge (an atom and its translate) or the shortest
        # pair at the nearest-in-fractions image; a vector shorter than L has fractional
        # components below L/d_i, so images |t_i| ≤ L/d_i + ½ are enough
        reduced = d - np.rint(d)
        lengths = np.einsum("...i,ij,...j->...", reduced, metric[i], reduced)
        np.fill_diagonal(lengths, np.inf)
        bound = min(float(batch.cells[i, :3].min()), float(np.sqrt(lengths.min())))
        reach = np.floor(bound / spacing[i] + 0.5).astype(int)
        shifts = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"),
                          axis=-1).reshape(-1, 3)
        dd = (d - np.rint(d))[:, :, None, :] + shifts[None, None]
        d2 = np.einsum("...i,ij,...j->...", dd, metric[i], dd)
        diag = np.arange(2 * n)
        same = np.all(shifts == 0, axis=1)
        d2[diag, diag, :] = np.where(same, np.inf, d2[diag, diag, :])
        out[i] = np.sqrt(d2.min())
    return out



@pytest.fixture(scope="module")
def ours() -> engine.StructureBatch:
    return generator.generate_batch(PARAMS, seed=5, index=0, size=600)


@pytest.fixture(scope="module")
def theirs() -> list:
    return [generate_structure(PARAMS, seed=5, index=i) for i in range(150)]


def test_same_seed_same_batch_and_new_index_new_batch():
    a = generator.generate_batch(PARAMS, seed=1, index=3, size=20)
    b = generator.generate_batch(PARAMS, seed=1, index=3, size=20)
    c = generator.generate_batch(PARAMS, seed=1, index=4, size=20)
    for name in ("sites", "element", "u_iso", "occupancy", "cells", "n_atoms"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.cells, c.cells)


def test_parameters_are_respected(ours):
    p = PARAMS
    n = ours.n_atoms
    assert n.min() >= p.atoms_min and n.max() <= p.atoms_max
    assert ours.sites.shape == (600, p.atoms_max, 3)
    present = np.arange(p.atoms_max)[None] < n[:, None]
    assert np.array_equal(ours.occupancy, present.astype(float))
    assert np.all(ours.cells[:, :3] >= p.cell_edge_min) and np.all(
        ours.cells[:, :3] <= p.cell_edge_max)
    assert np.all(ours.cells[:, 3:] >= p.cell_angle_min) and np.all(
        ours.cells[:, 3:] <= p.cell_angle_max)
    assert np.allclose(engine.cell_volumes(ours.cells), 2 * n * p.volume_per_atom)
    u = ours.u_iso[present]
    assert u.min() >= p.u_iso_min and u.max() <= p.u_iso_max
    assert min_distances(ours).min() >= p.min_distance - 1e-9


def test_min_distances_agree_with_cctbx_pair_tables(theirs):
    batch = engine.batch_from_cctbx(theirs[:30])
    ours = min_distances(batch)
    cctbx = np.array([min_interatomic_distance(xs) for xs in theirs[:30]])
    assert np.allclose(ours, cctbx, atol=1e-9)


def test_same_distributions_as_the_cctbx_generator(ours, theirs):
    """Two-sample KS tests (p > 0.001) on atoms, cell volume, edges, angles, minimum distance,
    U; element fractions within 3 percentage points of the mix."""
    batch = engine.batch_from_cctbx(theirs)
    samples = {
        "atoms": (ours.n_atoms, batch.n_atoms),
        "volume": (engine.cell_volumes(ours.cells), engine.cell_volumes(batch.cells)),
        "edges": (ours.cells[:, :3].ravel(), batch.cells[:, :3].ravel()),
        "angles": (ours.cells[:, 3:].ravel(), batch.cells[:, 3:].ravel()),
        "min distance": (min_distances(ours), min_distances(batch)),
        "U": (ours.u_iso[ours.occupancy > 0], batch.u_iso[batch.occupancy > 0]),
    }
    for name, (a, b) in samples.items():
        p = stats.ks_2samp(a, b).pvalue
        assert p > 1e-3, f"{name}: KS p = {p:.2g} (means {np.mean(a):.3f} vs {np.mean(b):.3f})"
    mix = parse_element_mix(PARAMS.elements)
    present = ours.occupancy > 0
    for e, symbol in enumerate(ours.table.labels):
        fraction = np.mean(ours.element[present] == e)
        labels = [t for xs in theirs for t in xs.scatterers().extract_scattering_types()]
        theirs_fraction = labels.count(symbol) / len(labels)
        assert abs(fraction - mix[symbol]) < 0.03, symbol
        assert abs(fraction - theirs_fraction) < 0.03, symbol


def test_sites_accepted_by_cctbx_min_distance_check():
    """cctbx rebuilds our structures with its own minimum-distance check
    (general positions, symmetry equivalents)."""
    from cctbx import crystal, xray

    batch = generator.generate_batch(PARAMS, seed=9, index=0, size=10)
    for i in range(len(batch)):
        n = int(batch.n_atoms[i])
        symmetry = crystal.symmetry(unit_cell=tuple(batch.cells[i]), space_group_symbol="P-1")
        settings = crystal.special_position_settings(symmetry, min_distance_sym_equiv=0.5)
        xs = xray.structure(settings, scatterers=None)
        for j in range(n):
            xs.add_scatterer(xray.scatterer(label=f"C{j}", site=tuple(batch.sites[i, j]),
                                            u=0.02))
        assert xs.site_symmetry_table().n_special_positions() == 0
        assert min_interatomic_distance(xs) >= PARAMS.min_distance - 1e-9


def test_impossible_packing_is_a_clear_error():
    dense = GeneratorParameters(atoms_min=20, atoms_max=20, volume_per_atom=4.0,
                                min_distance=2.5, cell_edge_min=3.0)
    with pytest.raises((RuntimeError, ValueError), match="volume_per_atom|plane spacing"):
        generator.generate_batch(dense, seed=0, index=0, size=2, max_redraws=2)


def test_rows_come_from_fixed_blocks_whatever_the_split():
    """Data-set rows are structure r mod block of batch r // block: any split into chunks
    gives the same structures, and one row alone is the same structure."""
    whole = generator.structures_in_rows(PARAMS, 2, 1, 0, 11, block=4)
    parts = generator.concatenate_batches([generator.structures_in_rows(PARAMS, 2, 1, s, e, 4)
                                           for s, e in ((0, 3), (3, 9), (9, 11))])
    direct = generator.generate_batch(PARAMS, 2, 2, 4, stream=1)   # rows 8..11
    one = generator.structure_at(PARAMS, 2, 1, 9, block=4)
    for name in ("sites", "element", "u_iso", "occupancy", "cells", "n_atoms"):
        assert np.array_equal(getattr(whole, name), getattr(parts, name)), name
        assert np.array_equal(getattr(whole, name)[8:], getattr(direct, name)[:3]), name
        assert np.array_equal(getattr(one, name)[0], getattr(whole, name)[9]), name
    with pytest.raises(ValueError, match="start < stop"):
        generator.structures_in_rows(PARAMS, 2, 1, 5, 5)


def test_source_ids_round_trip():
    assert generator.engine_source_id(7, 1, 42) == "engine:7:1:42"
    assert generator.parse_engine_source_id("engine:7:1:42") == (7, 1, 42)
    assert generator.parse_engine_source_id("gen:7:1:42") is None
    assert generator.parse_engine_source_id("engine:7:x:42") is None


def test_to_cctbx_gives_the_engines_structure_factors():
    """A generated structure converted to cctbx: cctbx's direct summation equals the engine's
    F within 1e-5 of the strongest |F| (same atoms, elements, U, occupancies and cell)."""
    from lib.phases import reflections
    from lib.phases.structure_factors import calculate

    hkl = reflections.index_set(4630)
    batch = generator.generate_batch(PARAMS, seed=11, index=0, size=3)
    ours = engine.structure_factors_batch(batch, hkl)
    for i in range(len(batch)):
        xs = generator.to_cctbx(batch, i)
        assert xs.scatterers().size() == batch.n_atoms[i]
        assert str(xs.space_group_info()) == "P -1"
        f = calculate(xs, hkl).f.real
        assert np.max(np.abs(ours.f[i] - f)) <= 1e-5 * np.abs(f).max()
