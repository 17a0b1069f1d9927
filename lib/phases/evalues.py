"""Normalised structure factors |E| and reflections by resolution.

Normalised structure factors
----------------------------
A crystallographer phases from |E|, not from raw intensities: the normalised structure factor
E(h) = F(h) / √(ε ⟨|F|²/ε⟩_shell) divides each amplitude by the root-mean-square amplitude of
the reflections at the same resolution (a *shell* of (sin θ/λ)²), so that ⟨|E|²⟩ = 1 in every
shell whatever the form factors, the displacement parameters, the number of atoms and the
arbitrary scale of the data.  ε is the epsilon factor of the reflection (1 for every reflection
of P-1).  :func:`e_values` does this with cctbx's shell ("Karle") normalisation
``miller.array.normalize(reflections_per_bin)`` (shells of about ``reflections_per_bin``
reflections, using the cell for the resolution of each reflection); :func:`wilson_e_values`
uses cctbx's Wilson-plot normalisation (``miller.array.normalised_amplitudes``: scale and
overall B from a Wilson plot, with the unit-cell content).  |E| is clipped at ``clip`` (5 by
default: in a centric distribution P(|E| > 5) ≈ 6·10⁻⁷, a larger value is an outlier).
:func:`shell_e_values` is the vectorised NumPy twin of cctbx's shell normalisation for a whole
batch of structures at once (the data sets of ``00_data`` and the sphere stream use it;
``tests/test_sphere.py`` checks it against :func:`e_values` to ≈ 1e-7).

Reflections by resolution
-------------------------
The report's index cube means different resolutions in different cells.  A *resolution
sphere* keeps, for each structure, every unique reflection of P-1 (one of each Friedel pair)
with d ≥ d_min (Å).  To store structures of different cells in one array, the reflections
live on a fixed index grid, all Friedel-unique (h, k, l) with |h|, |k|, |l| ≤ index_max:
reflection h lies inside the sphere of a cell only if |h| ≤ a/d_min (h = a·s with
|s| = 1/d ≤ 1/d_min), so ``index_max = ceil(cell_edge_max / d_min)`` covers every cell with
edges up to ``cell_edge_max`` Å.  Entries outside a structure's sphere are masked; d (Å) is
recorded for every entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from .engine import StructureBatch, stol2_batch, structure_factors_batch
from .reflections import cube_indices, friedel_unique
from .structure_factors import flex_miller_indices

#: Default clipping of |E| (dimensionless).
E_CLIP: float = 5.0
#: Default number of reflections per resolution shell of the shell normalisation.
REFLECTIONS_PER_SHELL: int = 100
#: Relative tolerance (of the d*² range) of cctbx's equal-volume binning limits.
_BIN_TOLERANCE: float = 1e-6
#: d*² tolerance (Å⁻²) of cctbx's counting-sorted binner.
_COUNT_TOLERANCE: float = 1e-10


# ---------------------------------------------------------------------------------------------
# Reflections by resolution
# ---------------------------------------------------------------------------------------------


def _unit_cell(cell):
    from cctbx import uctbx

    if isinstance(cell, uctbx.ext.unit_cell):
        return cell
    values = tuple(float(v) for v in cell)
    if len(values) != 6:
        raise ValueError(f"a cell is a, b, c (Å), α, β, γ (degrees); got {cell!r}")
    return uctbx.unit_cell(values)


def grid_index_max(d_min: float, cell_edge_max: float = 15.0) -> int:
    """Largest |h|, |k|, |l| of the fixed index grid holding the resolution sphere d ≥ ``d_min``
    (Å) of every cell with edges ≤ ``cell_edge_max`` (Å): ceil(cell_edge_max / d_min)."""
    if not (d_min > 0 and math.isfinite(d_min)):
        raise ValueError(f"d_min must be a positive resolution in Å, got {d_min!r}")
    if not (cell_edge_max > 0 and math.isfinite(cell_edge_max)):
        raise ValueError(f"cell_edge_max must be a positive length in Å, got {cell_edge_max!r}")
    return int(math.ceil(cell_edge_max / d_min - 1e-9))


@lru_cache(maxsize=4)
def _grid(index_max: int) -> np.ndarray:
    hkl = friedel_unique(cube_indices(index_max))
    hkl.setflags(write=False)
    return hkl


def resolution_grid(d_min: float, cell_edge_max: float = 15.0) -> np.ndarray:
    """The fixed index grid for resolution ``d_min`` (Å) and cells with edges up to
    ``cell_edge_max`` (Å): every Friedel-unique (h, k, l) ≠ 0 of P-1 (cctbx asu) with
    |h|, |k|, |l| ≤ :func:`grid_index_max`, in the report's order.  Shape (n, 3), read-only."""
    return _grid(grid_index_max(d_min, cell_edge_max))


def d_spacings(cell, hkl: np.ndarray) -> np.ndarray:
    """Interplanar spacing d (Å) of reflections ``hkl`` in ``cell`` (cctbx ``unit_cell.d``)."""
    return _unit_cell(cell).d(flex_miller_indices(hkl)).as_numpy_array()


@dataclass
class ResolutionSphere:
    """Reflections of structures on a fixed index grid: ``hkl`` (n, 3); ``d`` spacing in Å of
    every entry, shape (n_structures, n) (or (n,)); ``mask`` True where d ≥ ``d_min``."""

    hkl: np.ndarray
    d: np.ndarray
    mask: np.ndarray
    d_min: float


def reflections_by_resolution(cells: Sequence | np.ndarray, d_min: float,
                              cell_edge_max: float = 15.0) -> ResolutionSphere:
    """Every unique P-1 reflection with d ≥ ``d_min`` (Å) of each cell, on the fixed grid.

    ``cells``: one cell (a, b, c in Å; α, β, γ in degrees) or a sequence of them.  A cell with
    an edge longer than ``cell_edge_max`` raises ``ValueError`` (its sphere would not fit the
    grid).  ``d`` has one row per cell (a 1-D row for a single cell).
    """
    hkl = resolution_grid(d_min, cell_edge_max)
    arr = np.asarray(cells, dtype=np.float64)
    single = arr.ndim == 1
    arr = np.atleast_2d(arr)
    if arr.shape[1] != 6:
        raise ValueError(f"cells must be (a, b, c, α, β, γ) rows, got shape {arr.shape}")
    too_long = np.max(arr[:, :3], axis=1) > cell_edge_max + 1e-9
    if np.any(too_long):
        first = int(np.argmax(too_long))
        raise ValueError(f"cell {first} {tuple(arr[first])} has an edge longer than "
                         f"cell_edge_max = {cell_edge_max} Å: its d ≥ {d_min} Å sphere does "
                         f"not fit the index grid; raise cell_edge_max")
    d = np.stack([d_spacings(row, hkl) for row in arr])
    mask = d >= d_min
    if single:
        d, mask = d[0], mask[0]
    return ResolutionSphere(hkl=hkl, d=d, mask=mask, d_min=float(d_min))


# ---------------------------------------------------------------------------------------------
# Normalised structure factors
# ---------------------------------------------------------------------------------------------


def amplitude_array(amplitude: np.ndarray, hkl: np.ndarray, cell,
                    space_group: str = "P-1"):
    """A cctbx ``miller.array`` of amplitudes |F| (any scale) on reflections ``hkl`` of
    ``cell``; observation type X-ray amplitude."""
    from cctbx import crystal, miller
    from cctbx.array_family import flex

    symmetry = crystal.symmetry(unit_cell=_unit_cell(cell).parameters(),
                                space_group_symbol=space_group)
    ms = miller.set(symmetry, flex_miller_indices(hkl), anomalous_flag=False)
    data = flex.double(np.ascontiguousarray(amplitude, dtype=np.float64))
    return miller.array(ms, data=data).set_observation_type_xray_amplitude()


def _present(amplitude: np.ndarray) -> np.ndarray:
    a = np.asarray(amplitude, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"amplitudes of one structure must be 1-D, got shape {a.shape}")
    if np.any(a[np.isfinite(a)] < 0):
        raise ValueError("amplitudes |F| must be ≥ 0")
    return np.isfinite(a)


def e_values(amplitude: np.ndarray, hkl: np.ndarray, cell,
             reflections_per_shell: int = REFLECTIONS_PER_SHELL,
             clip: float | None = E_CLIP, shells: str = "volume") -> np.ndarray:
    """|E| of one structure by shell normalisation with cctbx.

    ``amplitude``: |F| (any scale; NaN marks a reflection that is not there, e.g. outside the
    resolution sphere) on reflections ``hkl`` of ``cell``.  Reflections are binned by
    resolution into shells of ≈ ``reflections_per_shell`` (at least one shell) and
    |E| = (|F|/√ε) / rms(|F|/√ε)_shell, clipped at ``clip``.  ``shells="volume"``:
    ``miller.array.normalize`` (shells of equal reciprocal volume); ``"count"``: the same
    formula on cctbx's ``setup_binner_counting_sorted`` shells (equal numbers of distinct
    resolutions).  Returns float64 with NaN where the input is NaN (and where cctbx leaves a
    shell without signal undefined); dimensionless.
    """
    if shells not in SHELL_KINDS:
        raise ValueError(f"shells must be one of {SHELL_KINDS}, got {shells!r}")
    a = np.asarray(amplitude, dtype=np.float64)
    present = _present(a)
    out = np.full(a.shape, np.nan)
    n = int(present.sum())
    if n == 0:
        return out
    if reflections_per_shell < 1:
        raise ValueError(f"reflections_per_shell must be ≥ 1, got {reflections_per_shell}")
    fa = amplitude_array(a[present], np.asarray(hkl)[present], cell)
    if shells == "volume":
        e = fa.normalize(reflections_per_bin=min(int(reflections_per_shell), n)).data()
        e = e.as_numpy_array()
    else:
        fa.setup_binner_counting_sorted(reflections_per_bin=int(reflections_per_shell))
        data = fa.data().as_numpy_array()
        e = np.zeros(n)
        for i_bin in fa.binner().range_used():
            selected = fa.binner().selection(i_bin).as_numpy_array()
            if selected.any():                      # normalize's loop (ε = 1 in P-1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    e[selected] = data[selected] / np.sqrt(np.mean(data[selected] ** 2))
    out[present] = np.minimum(e, clip) if clip is not None else e
    return out


def wilson_e_values(amplitude: np.ndarray, hkl: np.ndarray, cell,
                    unit_cell_content: dict[str, float], clip: float | None = E_CLIP,
                    table: str = "wk1995") -> np.ndarray:
    """|E| of one structure by Wilson-plot normalisation with cctbx
    (``miller.array.normalised_amplitudes``): |E| = |F| / √(k ε Σ_j f_j² exp(−2B s²)), with the
    scale k and overall B (Å²) from a Wilson plot over 20 shells and the asymmetric-unit
    content ``unit_cell_content`` ({element: atoms per asymmetric unit}).  NaN entries stay
    NaN; clipped at ``clip``.  ``table`` is fixed to cctbx's wk1995 form factors."""
    if table != "wk1995":
        raise ValueError("cctbx's amplitude_normalisations uses the wk1995 form factors")
    a = np.asarray(amplitude, dtype=np.float64)
    present = _present(a)
    out = np.full(a.shape, np.nan)
    if not present.any():
        return out
    fa = amplitude_array(a[present], np.asarray(hkl)[present], cell)
    e = fa.normalised_amplitudes(unit_cell_content).array().data().as_numpy_array()
    out[present] = np.minimum(e, clip) if clip is not None else e
    return out


# ---------------------------------------------------------------------------------------------
# Shell normalisation (vectorised)
# ---------------------------------------------------------------------------------------------


def _iround(x: np.ndarray | float) -> np.ndarray:
    """cctbx's ``iround``: round half away from zero."""
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def _volume_shells(s: np.ndarray, m: np.ndarray, reflections_per_shell: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Shell of every entry (B, n) and shells per row, cctbx ``binning`` (``setup_binner``):
    n_bins = iround(n_present / per_shell) (≥ 1), limits equally spaced in d*³ between the
    smallest and largest d*² present widened by 10⁻⁶ of their range."""
    n_present = m.sum(axis=1)
    n_bins = np.maximum(1, _iround(n_present / reflections_per_shell))
    lo = np.where(m, s, np.inf).min(axis=1)
    hi = np.where(m, s, -np.inf).max(axis=1)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi), hi, 0.0)
    spread = hi - lo
    lo = np.maximum(lo - spread * _BIN_TOLERANCE, 0.0)
    hi = hi + spread * _BIN_TOLERANCE
    v_lo, v_hi = lo ** 1.5, hi ** 1.5
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = ((np.where(m, s, lo[:, None]) ** 1.5 - v_lo[:, None])
                / (v_hi - v_lo)[:, None])
    shell = np.clip(np.floor(np.nan_to_num(frac) * n_bins[:, None]), 0,
                    n_bins[:, None] - 1).astype(np.int64)
    return shell, n_bins


def _count_shells(s: np.ndarray, m: np.ndarray, reflections_per_shell: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Shell of every entry (B, n) and shells per row, cctbx ``setup_binner_counting_sorted``:
    about ``reflections_per_shell`` distinct d*² values per shell (limits at every
    per-shell-th distinct d*², 10⁻¹⁰ tolerance), so a shell never holds a handful of
    reflections where the data cover only part of a sphere (the corners of an index cube)."""
    shell = np.zeros(s.shape, np.int64)
    n_bins = np.ones(s.shape[0], np.int64)
    for row in range(s.shape[0]):
        present = np.sort(s[row][m[row]])
        if present.size == 0:
            continue
        keep = np.concatenate([[True], np.diff(present) > _COUNT_TOLERANCE])
        unique = present[keep]
        bins = max(1, int(_iround(unique.size / reflections_per_shell)))
        per = unique.size / bins
        inner = unique[np.minimum(_iround(np.arange(1, bins) * per), unique.size - 1)]
        limits = np.concatenate([[max(0.0, unique[0] * (1 - _COUNT_TOLERANCE))],
                                 inner * (1 - _COUNT_TOLERANCE)])
        shell[row] = np.clip(np.searchsorted(limits, s[row], side="right") - 1, 0, bins - 1)
        n_bins[row] = bins
    return shell, n_bins


#: Shell kinds of :func:`shell_e_values`: equal volume in reciprocal space (cctbx
#: ``normalize``) or equal counts of distinct resolutions (cctbx ``counting_sorted`` binner).
SHELL_KINDS: tuple[str, ...] = ("volume", "count")


def shell_e_values(amplitude: np.ndarray, d_star_sq: np.ndarray, mask: np.ndarray,
                   reflections_per_shell: int = REFLECTIONS_PER_SHELL,
                   clip: float | None = E_CLIP, shells: str = "volume") -> np.ndarray:
    """|E| of every structure (row) by shell normalisation: the NumPy twin of :func:`e_values`.

    ``amplitude`` |F| (B, n) on any scale; ``d_star_sq`` = 1/d² (B, n) in Å⁻²; ``mask`` (B, n)
    True for the reflections present.  ``shells="volume"`` (cctbx ``normalize``): n_bins =
    max(1, iround(n_present / reflections_per_shell)) shells with limits equally spaced in
    d*³, right for a full resolution sphere; ``"count"``: shells of about
    ``reflections_per_shell`` distinct resolutions (cctbx's ``counting_sorted`` binner), right
    for the report's index cube, whose outer shells hold only its corners.  |E| = |F| /
    rms(|F|)_shell (ε = 1 in P-1), clipped at ``clip``.  Returns float64 (B, n), 0 where masked
    and where a shell has no signal (all |F| = 0, where cctbx gives NaN).
    """
    a = np.asarray(amplitude, dtype=np.float64)
    s = np.asarray(d_star_sq, dtype=np.float64)
    m = np.asarray(mask, bool)
    if a.shape != s.shape or a.shape != m.shape or a.ndim != 2:
        raise ValueError(f"amplitude {a.shape}, d_star_sq {s.shape} and mask {m.shape} must be "
                         f"equal (B, n) arrays")
    if reflections_per_shell < 1:
        raise ValueError(f"reflections_per_shell must be ≥ 1, got {reflections_per_shell}")
    if shells not in SHELL_KINDS:
        raise ValueError(f"shells must be one of {SHELL_KINDS}, got {shells!r}")
    n_struct = a.shape[0]
    if shells == "volume":
        shell, n_bins = _volume_shells(s, m, reflections_per_shell)
    else:
        shell, n_bins = _count_shells(s, m, reflections_per_shell)
    width = int(n_bins.max())
    key = (np.arange(n_struct)[:, None] * width + shell)[m]
    sum2 = np.bincount(key, weights=a[m] ** 2, minlength=n_struct * width)
    count = np.bincount(key, minlength=n_struct * width)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(sum2 / np.maximum(count, 1))
    out = np.zeros_like(a)
    denominator = rms[key]
    out[m] = np.where(denominator > 0, a[m] / np.where(denominator > 0, denominator, 1), 0.0)
    if clip is not None:
        np.minimum(out, clip, out=out)
    return out


def d_star_sq(cells: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """d*² = 1/d² (B, n) in Å⁻² of reflections ``hkl`` in each cell (= 4 (sin θ/λ)²)."""
    return 4.0 * stol2_batch(np.asarray(cells, dtype=np.float64), hkl)


def e_values_and_d(intensity: np.ndarray, cells: np.ndarray,
                   hkl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|E| of each structure's intensities and the d of every reflection, as the data sets
    store them (``e_value``, ``d_spacing``).

    ``intensity`` (m, n) on any scale per row, NaN where not measured; ``cells`` (m, 6);
    ``hkl`` (n, 3).  |E| by :func:`shell_e_values` over the row's present reflections in its
    cell, in shells of equal counts (``shells="count"``: the index cube covers only the corners
    of its outer resolution shells, where equal-volume shells hold a handful of reflections);
    a negative measured intensity counts as |F| = 0; clipped at :data:`E_CLIP`, NaN where the
    intensity is NaN; d in Å.  Both float32 (m, n)."""
    s2 = d_star_sq(np.asarray(cells, dtype=np.float64), hkl)
    intensity = np.asarray(intensity, dtype=np.float64)
    present = np.isfinite(intensity)
    amplitude = np.sqrt(np.clip(np.where(present, intensity, 0.0), 0.0, None))
    e = shell_e_values(amplitude, s2, present, shells="count")
    e[~present] = np.nan
    return e.astype(np.float32), (1.0 / np.sqrt(s2)).astype(np.float32)


def sphere_arrays(batch: StructureBatch, d_min: float, cell_edge_max: float = 15.0,
                  reflections_per_shell: int = REFLECTIONS_PER_SHELL,
                  backend: str = "numpy") -> dict[str, np.ndarray]:
    """Structure factors of a batch on the resolution sphere of its cells, on the fixed grid.

    Returns ``hkl`` (n, 3) the grid, ``mask`` (B, n) bool (d ≥ d_min), ``d_star_sq`` (B, n)
    Å⁻², ``amplitude`` |F| (B, n) (0 outside the sphere), ``e`` |E| (B, n) (0 outside),
    ``sign`` (B, n) ±1 int8 (+1 outside), ``cells`` (B, 6).  |F| is computed only on the
    grid entries inside some structure's sphere.
    """
    hkl = resolution_grid(d_min, cell_edge_max)
    cells = np.asarray(batch.cells, dtype=np.float64)
    if np.any(cells[:, :3] > cell_edge_max + 1e-9):
        raise ValueError(f"a cell edge exceeds cell_edge_max = {cell_edge_max} Å: its sphere "
                         f"does not fit the grid")
    s2 = d_star_sq(cells, hkl)
    mask = s2 <= 1.0 / d_min ** 2
    used = np.flatnonzero(mask.any(axis=0))
    amplitude = np.zeros(mask.shape, np.float32)
    sign = np.ones(mask.shape, np.int8)
    if used.size:
        sf = structure_factors_batch(batch, hkl[used], backend=backend)
        amplitude[:, used] = np.where(mask[:, used], sf.amplitude, 0.0)
        sign[:, used] = np.where(mask[:, used], sf.sign, 1)
    e = shell_e_values(amplitude, s2, mask, reflections_per_shell)
    return {"hkl": hkl, "mask": mask, "d_star_sq": s2, "amplitude": amplitude,
            "e": e.astype(np.float32), "sign": sign, "cells": cells}
