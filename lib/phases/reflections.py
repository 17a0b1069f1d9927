"""Reflection index sets of report 1 and the origin shifts of P-1.

The report's input is the intensity of every unique reflection (h, k, l) with
h, k, l ∈ [−10, 10], (0, 0, 0) left out and one reflection of each Friedel pair kept: 4630
reflections; or the 709 of them with h² + k² + l² < 50.  The representative of each Friedel
pair is the one in cctbx's asymmetric unit of P-1 (``map_to_asu``).  Reflections are kept in
the report's order: by R = h² + k² + l², then h, k, l (Fig 20 sorts by it).  In this order
the 709-reflection set is the first 709 columns of the 4630-reflection set.

Origin shifts: P-1 has 8 equivalent origins, at the inversion centres (p/2) with
p ∈ {0, 1}³.  Moving the origin by p/2 multiplies F(h) by exp(−iπ h·p) = (−1)^(h·p): the
intensities are unchanged, the signs of the reflections with odd h·p flip.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Largest |h|, |k|, |l| of the report's cube.
INDEX_MAX: int = 10
#: The report's bound for the small set: h² + k² + l² < 50.
R2_SMALL: int = 50
N_FULL: int = 4630
N_SMALL: int = 709


def cube_indices(index_max: int = INDEX_MAX) -> np.ndarray:
    """All (h, k, l) with each index in [−index_max, index_max] except (0, 0, 0); shape (n, 3)."""
    r = np.arange(-index_max, index_max + 1)
    h, k, l = np.meshgrid(r, r, r, indexing="ij")
    hkl = np.stack([h.ravel(), k.ravel(), l.ravel()], axis=1)
    return hkl[np.any(hkl != 0, axis=1)].astype(np.int32)


def friedel_unique(hkl: np.ndarray) -> np.ndarray:
    """Keep one reflection of each Friedel pair (h and −h), the one in cctbx's P-1 asu.

    Returns the unique indices, sorted by :func:`report_order`.
    """
    from cctbx import crystal, miller
    from cctbx.array_family import flex

    symmetry = crystal.symmetry(unit_cell=(10, 10, 10, 90, 90, 90), space_group_symbol="P-1")
    indices = flex.miller_index([tuple(int(v) for v in row) for row in np.asarray(hkl)])
    ms = miller.set(symmetry, indices, anomalous_flag=False).map_to_asu().unique_under_symmetry()
    unique = np.array(ms.indices(), dtype=np.int32).reshape(-1, 3)
    return unique[report_order(unique)]


def report_order(hkl: np.ndarray) -> np.ndarray:
    """Permutation that sorts reflections by R = h² + k² + l², then h, k, l (report's Fig 20)."""
    hkl = np.asarray(hkl)
    r2 = (hkl.astype(np.int64) ** 2).sum(axis=1)
    return np.lexsort((hkl[:, 2], hkl[:, 1], hkl[:, 0], r2))


@lru_cache(maxsize=4)
def _index_set(index_max: int, r2_max: int | None) -> np.ndarray:
    hkl = friedel_unique(cube_indices(index_max))
    if r2_max is not None:
        hkl = hkl[squared_index_norm(hkl) < r2_max]
    hkl.setflags(write=False)
    return hkl


def index_set(n_reflections: int = N_FULL) -> np.ndarray:
    """The report's index set of ``n_reflections`` (4630 or 709) reflections, report order.

    Shape (n, 3), int32, read-only.  Any other count raises ``ValueError``.
    """
    if n_reflections == N_FULL:
        return _index_set(INDEX_MAX, None)
    if n_reflections == N_SMALL:
        return _index_set(INDEX_MAX, R2_SMALL)
    raise ValueError(f"n_reflections must be {N_FULL} (h,k,l in [-10,10]) or {N_SMALL} "
                     f"(h²+k²+l² < 50), got {n_reflections}")


def squared_index_norm(hkl: np.ndarray) -> np.ndarray:
    """R = h² + k² + l² of each reflection (dimensionless integer)."""
    return (np.asarray(hkl, dtype=np.int64) ** 2).sum(axis=1)


def origin_shift_parities() -> np.ndarray:
    """The 8 origin-shift parity vectors p ∈ {0, 1}³ of P-1, shape (8, 3); p = (0,0,0) first."""
    return np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=np.int32)


def origin_shift_signs(hkl: np.ndarray) -> np.ndarray:
    """Sign change (−1)^(h·p) of each reflection under each of the 8 origin shifts.

    Shape (8, n_reflections), values ±1 (int8).  Row 0 (p = 0) is all +1.
    """
    parity = (origin_shift_parities() @ np.asarray(hkl, dtype=np.int64).T) % 2
    return (1 - 2 * parity).astype(np.int8)


def shift_origin(signs: np.ndarray, hkl: np.ndarray, parity: np.ndarray) -> np.ndarray:
    """Signs (±1) of the structure factors after moving the origin by ``parity``/2.

    ``signs`` may be (n_reflections,) or (n_structures, n_reflections).
    """
    factor = 1 - 2 * ((np.asarray(hkl, dtype=np.int64) @ np.asarray(parity)) % 2)
    return np.asarray(signs) * factor.astype(np.asarray(signs).dtype)
