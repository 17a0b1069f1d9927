"""Batched, vectorised random P-1 structures with the statistics of the cctbx generator.

:func:`generate_batch` draws B structures at once with the parameters of
:class:`lib.phases.structures.GeneratorParameters` and the same recipe as
:func:`lib.phases.structures.generate_structure` (which calls cctbx's
``random_structure.xray_structure``):

* atoms per asymmetric unit N ~ U{atoms_min … atoms_max}; cell volume V = 2 N · volume_per_atom
  (Å³);
* cell: angles α, β, γ ~ U(angle range) (degrees), kept when the unit-cell volume factor is
  ≥ 0.3; edge ratios ~ U(edge range) scaled to V; kept when every edge lies in the edge range
  (rejection, as :func:`lib.phases.structures.random_cell`);
* elements ~ the element mix, U_iso ~ U(u_iso_min, u_iso_max) Å² per atom;
* sites by random sequential addition, as cctbx's ``random_sites``: each new site x is uniform
  in the cell and is accepted when it lies ≥ ``min_distance`` Å from every atom already placed
  *and from their inversion images* −x_i, and from its own image −x (a general position), with
  all lattice translations (the minimum over images, in Cartesian Å).  So all 2 N atoms of the
  cell are pairwise ≥ ``min_distance`` apart.  Up to 100 trial sites per atom; a structure
  whose atom finds no place is drawn again from the start (new N, cell and elements: cctbx
  first retries the same cell, which only matters when the packing is nearly impossible).

Vectorised: the candidates of every structure of the batch (``trials_per_round`` per round)
are tested at once; the loop runs over the atom index and the rounds of trials.  Lattice
images: a vector shorter than r has fractional components below r·|a*_i|, so after reducing the
fractional difference to [−½, ½) only the neighbouring image along an axis whose plane spacing
d_i < 2r can be shorter; only those images are tested.

Seeded: batch ``index`` of ``stream`` under ``seed`` draws from
``numpy.random.SeedSequence(seed, spawn_key=(ENGINE_KEY, stream, index))``: the same
arguments give the same batch in any process.  (The numbers differ from the per-structure
cctbx generator, which has its own streams; the statistics are the same.)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .engine import (StructureBatch, cell_volumes, form_factor_table,
                     orthogonalisation_matrices, reciprocal_metric)
from .structures import STREAM_CALCULATED, GeneratorParameters, parse_element_mix

#: First spawn-key entry of the batched generator's seeds (keeps them apart from cctbx's).
ENGINE_KEY: int = 0xE9
#: Trial sites per atom before a structure is drawn again (cctbx's ``max_trials``).
MAX_TRIALS: int = 100
#: Smallest unit-cell volume factor of an accepted cell (as ``random_cell``).
MIN_UNIT_VOLUME: float = 0.3


def batch_rng(seed: int, index: int, stream: int = STREAM_CALCULATED) -> np.random.Generator:
    """The random generator of batch ``index`` of ``stream`` under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(
        int(seed), spawn_key=(ENGINE_KEY, int(stream), int(index))))


def random_cells(rng: np.random.Generator, volumes: np.ndarray, params: GeneratorParameters,
                 max_rounds: int = 10_000) -> np.ndarray:
    """Cells (B, 6) of the given volumes (Å³): angles uniform in the angle range (kept when
    the volume factor is ≥ 0.3), edges uniform in the edge range scaled to the volume, kept
    when all three stay in the range; rejection, vectorised over the batch."""
    volumes = np.asarray(volumes, dtype=np.float64)
    cells = np.full((len(volumes), 6), np.nan)
    todo = np.arange(len(volumes))
    lo, hi = params.cell_edge_min, params.cell_edge_max
    for _ in range(max_rounds):
        if todo.size == 0:
            return cells
        angles = rng.uniform(params.cell_angle_min, params.cell_angle_max, size=(todo.size, 3))
        unit = cell_volumes(np.concatenate([np.ones((todo.size, 3)), angles], axis=1))
        edges = rng.uniform(lo, hi, size=(todo.size, 3))
        with np.errstate(invalid="ignore"):
            edges *= (volumes[todo] / (unit * edges.prod(axis=1)))[:, None] ** (1.0 / 3.0)
            ok = (unit >= MIN_UNIT_VOLUME) & np.all((edges >= lo) & (edges <= hi), axis=1)
        cells[todo[ok]] = np.concatenate([edges[ok], angles[ok]], axis=1)
        todo = todo[~ok]
    raise ValueError(f"no cell with edges in [{lo}, {hi}] Å and angles in "
                     f"[{params.cell_angle_min}, {params.cell_angle_max}]° for volumes such as "
                     f"{volumes[todo[0]]:.0f} Å³ after {max_rounds} rounds: widen the ranges or "
                     f"change volume_per_atom")


def _image_axes(cells: np.ndarray, radius: float) -> np.ndarray:
    """(B, 3) bool: axes whose plane spacing d_i = 1/|a*_i| is below 2·radius (a neighbouring
    lattice image along them can be closer than ``radius``)."""
    g = reciprocal_metric(cells)
    spacing = 1.0 / np.sqrt(np.stack([g[:, 0, 0], g[:, 1, 1], g[:, 2, 2]], axis=1))
    if np.any(spacing <= radius):
        raise ValueError(f"a cell has a plane spacing ≤ min_distance = {radius} Å")
    return spacing < 2.0 * radius


def _min_image_d2(d: np.ndarray, ortho_t: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Squared shortest lengths (Å²) of fractional difference vectors ``d`` (b, ..., 3) over
    lattice translations; ``ortho_t`` (b, 3, 3): transposed orthogonalisation matrices;
    ``axes`` (3,) bool: axes whose neighbouring image must be tried."""
    d = d - np.rint(d)
    flat_shape = (d.shape[0], -1, 3)

    def length2(v: np.ndarray) -> np.ndarray:
        cart = np.matmul(v.reshape(flat_shape), ortho_t)           # Å
        cart *= cart
        return cart.sum(axis=-1).reshape(d.shape[:-1])

    best = length2(d)
    tried = np.flatnonzero(axes)
    if tried.size:
        step = -np.sign(d)                                  # towards the neighbouring image
        for code in range(1, 1 << tried.size):
            shifted = d.copy()
            for bit, axis in enumerate(tried):
                if code >> bit & 1:
                    shifted[..., axis] += step[..., axis]
            np.minimum(best, length2(shifted), out=best)
    return best


def _place_sites(rng: np.random.Generator, cells: np.ndarray, n_atoms: np.ndarray,
                 radius: float, trials_per_round: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional sites (B, N_max, 3) by random sequential addition, and (B,) bool: placed."""
    n_struct, n_max = len(cells), int(n_atoms.max())
    sites = np.zeros((n_struct, n_max, 3))
    placed = np.ones(n_struct, bool)
    ortho_t = np.ascontiguousarray(np.transpose(orthogonalisation_matrices(cells), (0, 2, 1)))
    axes = _image_axes(cells, radius)
    r2 = radius * radius
    codes = axes @ np.array([1, 2, 4])
    for code in np.unique(codes):                          # structures sharing image axes
        group = np.flatnonzero(codes == code)
        group_axes = axes[group[0]]
        for k in range(n_max):
            need = group[(n_atoms[group] > k) & placed[group]]
            trials = 0
            while need.size and trials < MAX_TRIALS:
                t = min(trials_per_round, MAX_TRIALS - trials)
                trials += t
                cand = rng.random((need.size, t, 3))
                g = ortho_t[need]
                ok = _min_image_d2(2.0 * cand, g, group_axes) >= r2      # own image −x
                if k:
                    old = sites[need, :k]
                    others = np.concatenate([old, -old], axis=1)          # (b, 2k, 3)
                    d = cand[:, :, None, :] - others[:, None, :, :]
                    ok &= np.all(_min_image_d2(d, g, group_axes) >= r2, axis=2)
                found = ok.any(axis=1)
                first = ok.argmax(axis=1)
                rows = need[found]
                sites[rows, k] = cand[found, first[found]]
                need = need[~found]
            placed[need] = False
    return sites, placed


def generate_batch(params: GeneratorParameters, seed: int, index: int, size: int,
                   stream: int = STREAM_CALCULATED, n_max: int | None = None,
                   trials_per_round: int = 4, max_redraws: int = 20) -> StructureBatch:
    """Batch ``index`` of ``size`` random P-1 structures of ``stream`` under ``seed``.

    Returns a :class:`lib.phases.engine.StructureBatch` padded to ``n_max`` atoms (default
    ``params.atoms_max``) with occupancy 1 for the atoms and 0 for the padding; the element
    indices refer to the element mix in its order.  Raises ``RuntimeError`` when some
    structure finds no sites after ``max_redraws`` fresh draws (increase volume_per_atom).
    """
    if size <= 0:
        raise ValueError(f"size must be > 0, got {size}")
    mix = parse_element_mix(params.elements)
    symbols = list(mix)
    probabilities = np.array([mix[s] for s in symbols])
    n_max = params.atoms_max if n_max is None else int(n_max)
    if n_max < params.atoms_max:
        raise ValueError(f"n_max = {n_max} is below atoms_max = {params.atoms_max}")
    rng = batch_rng(seed, index, stream)
    n_atoms = np.zeros(size, np.int32)
    cells = np.zeros((size, 6))
    sites = np.zeros((size, n_max, 3))
    todo = np.arange(size)
    for _ in range(max_redraws):
        n = rng.integers(params.atoms_min, params.atoms_max + 1, size=todo.size)
        c = random_cells(rng, 2 * n * params.volume_per_atom, params)
        s, ok = _place_sites(rng, c, n, params.min_distance, trials_per_round)
        rows = todo[ok]
        n_atoms[rows], cells[rows] = n[ok], c[ok]
        sites[rows, : s.shape[1]] = s[ok]
        todo = todo[~ok]
        if todo.size == 0:
            break
    else:
        raise RuntimeError(f"batch {index} (seed {seed}, stream {stream}): {todo.size} "
                           f"structure(s) found no sites {params.min_distance} Å apart after "
                           f"{max_redraws} draws; increase volume_per_atom")
    element = rng.choice(len(symbols), size=(size, n_max), p=probabilities).astype(np.int32)
    u_iso = rng.uniform(params.u_iso_min, params.u_iso_max, size=(size, n_max))
    present = np.arange(n_max)[None, :] < n_atoms[:, None]
    occupancy = present.astype(np.float64)
    sites[~present] = 0.0
    return StructureBatch(sites=sites, element=np.where(present, element, 0),
                          u_iso=np.where(present, u_iso, 0.0), occupancy=occupancy, cells=cells,
                          table=form_factor_table(symbols), n_atoms=n_atoms)


# ---------------------------------------------------------------------------------------------
# Data-set rows: fixed blocks, so that a row's structure does not depend on how a build is split
# ---------------------------------------------------------------------------------------------

#: Structures per :func:`generate_batch` call when a data set is built: row r of a data set is
#: structure r mod GENERATOR_BLOCK of batch r // GENERATOR_BLOCK (whatever the chunk size).
GENERATOR_BLOCK: int = 64
#: First field of the source id of a structure of the batched generator.
ENGINE_ID_PREFIX: str = "engine"


def engine_source_id(seed: int, stream: int, index: int) -> str:
    """Source id of row ``index`` of ``stream`` under ``seed``: ``engine:<seed>:<stream>:<index>``."""
    return f"{ENGINE_ID_PREFIX}:{int(seed)}:{int(stream)}:{int(index)}"


def parse_engine_source_id(source_id: str) -> tuple[int, int, int] | None:
    """(seed, stream, index) of ``engine:<seed>:<stream>:<index>``, or None for other ids."""
    parts = str(source_id).split(":")
    if len(parts) != 4 or parts[0] != ENGINE_ID_PREFIX:
        return None
    try:
        return int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None


def concatenate_batches(batches: list[StructureBatch]) -> StructureBatch:
    """One batch of the structures of ``batches`` in order (same form-factor table and
    padding)."""
    if not batches:
        raise ValueError("concatenate_batches needs at least one batch")
    table = batches[0].table
    if any(b.table.labels != table.labels or b.sites.shape[1] != batches[0].sites.shape[1]
           for b in batches):
        raise ValueError("batches with different element tables or padding cannot be joined")
    if len(batches) == 1:
        return batches[0]
    return StructureBatch(*(np.concatenate([getattr(b, name) for b in batches])
                            for name in ("sites", "element", "u_iso", "occupancy", "cells")),
                          table=table,
                          n_atoms=np.concatenate([b.n_atoms for b in batches]))


def structures_in_rows(params: GeneratorParameters, seed: int, stream: int, start: int,
                       stop: int, block: int = GENERATOR_BLOCK) -> StructureBatch:
    """The structures of data-set rows ``start .. stop-1`` of ``stream`` under ``seed``.

    Row r is structure r mod ``block`` of :func:`generate_batch` (params, seed,
    index = r // ``block``, size = ``block``, stream): the blocks covering the rows are
    generated and sliced, so a row's structure is the same for any split into chunks.
    """
    if not 0 <= start < stop:
        raise ValueError(f"rows must satisfy 0 <= start < stop, got {start}, {stop}")
    if block <= 0:
        raise ValueError(f"block must be positive, got {block}")
    first, last = start // block, (stop - 1) // block
    batches = [_block(params, int(seed), int(stream), b, int(block))
               for b in range(first, last + 1)]
    offset = first * block
    return concatenate_batches(batches).take(np.arange(start - offset, stop - offset))


@lru_cache(maxsize=4)
def _block(params: GeneratorParameters, seed: int, stream: int, index: int,
           size: int) -> StructureBatch:
    """Block ``index`` of a data set's rows, kept for the next chunk of the same process (a
    chunk whose rows do not end on a block boundary shares its last block with the next).
    Callers get copies (:meth:`StructureBatch.take` with an index array)."""
    return generate_batch(params, seed, index, size, stream)


def structure_at(params: GeneratorParameters, seed: int, stream: int, index: int,
                 block: int = GENERATOR_BLOCK) -> StructureBatch:
    """The structure of data-set row ``index`` (a batch of 1; see :func:`structures_in_rows`)."""
    return structures_in_rows(params, seed, stream, int(index), int(index) + 1, block)


def to_cctbx(batch: StructureBatch, row: int = 0):
    """Structure ``row`` of ``batch`` as a cctbx ``xray.structure`` in P-1 (origin at −1).

    Atoms ``C1, N2, ...`` with the batch's fractional sites, scattering types, U_iso (Å²) and
    occupancies; the padding is left out.  For structures of :func:`generate_batch` (general
    positions, occupancy 1), cctbx's F of the result equals the engine's F.
    """
    from cctbx import crystal, xray

    n = int(batch.n_atoms[row])
    symmetry = crystal.symmetry(unit_cell=tuple(float(v) for v in batch.cells[row]),
                                space_group_symbol="P-1")
    xs = xray.structure(crystal.special_position_settings(symmetry), scatterers=None)
    for j in range(n):
        label = batch.table.labels[int(batch.element[row, j])]
        xs.add_scatterer(xray.scatterer(
            label=f"{label}{j + 1}", site=tuple(float(v) for v in batch.sites[row, j]),
            u=float(batch.u_iso[row, j]), occupancy=float(batch.occupancy[row, j]),
            scattering_type=label))
    return xs
