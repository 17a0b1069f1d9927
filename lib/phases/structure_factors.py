"""Structure factors with cctbx on the report's index sets: F, intensity, amplitude, sign.

For a structure in P-1 with its origin at an inversion centre every structure factor
F(h) = Σ_j f_j(s) exp(−B_j s²) 2 cos(2π h·x_j) is real: its phase is 0 or π and its *sign*
is ±1 (phase 0 → +1, π → −1).  The intensity is I = |F|² and the amplitude |F|.

Moving the origin to another of the 8 inversion centres of P-1 (by p/2, p ∈ {0, 1}³)
multiplies F(h) by (−1)^(h·p): intensities are unchanged, signs of the reflections with odd
h·p flip (:mod:`lib.phases.reflections`).  :func:`shift_structure_origin` applies such a shift to
the atomic coordinates with cctbx (a change of basis ``x+p/2``), so tests can check that.

F is computed by cctbx's direct summation (``algorithm="direct"``, exact) with the
International Tables 1992 form factors (``table="it1992"``) by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Default scattering-factor table (cctbx name).
DEFAULT_TABLE: str = "it1992"
#: Default algorithm of cctbx's structure_factors_from_scatterers.
DEFAULT_ALGORITHM: str = "direct"


@dataclass
class StructureFactors:
    """Structure factors of one structure on an index set (one value per reflection).

    ``f``: complex F (electrons); ``intensity``: |F|² (e²); ``amplitude``: |F| (e);
    ``sign``: ±1 int8 (sign of Re F; +1 where F = 0); ``stol2``: (sin θ/λ)² in Å⁻².
    """

    f: np.ndarray
    intensity: np.ndarray
    amplitude: np.ndarray
    sign: np.ndarray
    stol2: np.ndarray


@lru_cache(maxsize=8)
def _flex_indices(key: bytes, n: int):
    from cctbx.array_family import flex

    hkl = np.frombuffer(key, dtype=np.int32).reshape(n, 3)
    return flex.miller_index([tuple(int(v) for v in row) for row in hkl])


def flex_miller_indices(hkl: np.ndarray):
    """cctbx ``flex.miller_index`` of an (n, 3) integer array (cached per index set)."""
    hkl = np.ascontiguousarray(np.asarray(hkl, dtype=np.int32))
    if hkl.ndim != 2 or hkl.shape[1] != 3:
        raise ValueError(f"hkl must have shape (n, 3), got {hkl.shape}")
    return _flex_indices(hkl.tobytes(), hkl.shape[0])


def miller_set(xs, hkl: np.ndarray):
    """A cctbx ``miller.set`` of the reflections ``hkl`` in the symmetry of structure ``xs``
    (non-anomalous)."""
    from cctbx import miller

    return miller.set(xs.crystal_symmetry(), flex_miller_indices(hkl), anomalous_flag=False)


def stol2(unit_cell, hkl: np.ndarray) -> np.ndarray:
    """(sin θ/λ)² = 1/(4 d²) in Å⁻² of reflections ``hkl`` in ``unit_cell`` (a cctbx unit
    cell or a 6-tuple a, b, c (Å), α, β, γ (degrees))."""
    from cctbx import uctbx

    uc = unit_cell if isinstance(unit_cell, uctbx.ext.unit_cell) else uctbx.unit_cell(
        tuple(float(v) for v in unit_cell))
    return uc.stol_sq(flex_miller_indices(hkl)).as_numpy_array()


def structure_factors(xs, hkl: np.ndarray, algorithm: str = DEFAULT_ALGORITHM,
                      table: str = DEFAULT_TABLE) -> np.ndarray:
    """Complex structure factors F(h) (electrons) of structure ``xs`` for reflections ``hkl``.

    Computed by cctbx's ``structure_factors_from_scatterers`` with ``algorithm`` ("direct":
    exact summation; "fft" is faster for big structures but approximate) and the
    scattering-factor ``table`` ("it1992", "wk1995", "n_gaussian", "neutron", ...).
    """
    xs.scattering_type_registry(table=table)
    ms = miller_set(xs, hkl)
    f_calc = ms.structure_factors_from_scatterers(xs, algorithm=algorithm).f_calc()
    real, imag = f_calc.data().parts()   # flex → numpy without a Python-level loop
    return real.as_numpy_array() + 1j * imag.as_numpy_array()


def inversion_centre_at_origin(xs) -> bool:
    """True when the structure's space group contains the inversion −x, −y, −z itself
    (centrosymmetric with an inversion centre at the origin), so that every F is real."""
    return bool(xs.space_group().is_origin_centric())


def intensity_amplitude_sign(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intensity |F|², amplitude |F| and sign (±1 int8, sign of Re F, +1 where Re F = 0)."""
    f = np.asarray(f)
    amplitude = np.abs(f)
    intensity = amplitude ** 2
    sign = np.where(np.real(f) < 0, -1, 1).astype(np.int8)
    return intensity, amplitude, sign


def calculate(xs, hkl: np.ndarray, algorithm: str = DEFAULT_ALGORITHM,
              table: str = DEFAULT_TABLE, check_real: bool = True,
              tolerance: float = 1e-6) -> StructureFactors:
    """F, intensity, amplitude and sign of structure ``xs`` on reflections ``hkl``.

    When the structure is centrosymmetric with an inversion centre at the origin and
    ``check_real`` is set, asserts that every F is real (|Im F| ≤ ``tolerance``·max|F|):
    then the sign is the phase (0 → +1, π → −1).
    """
    f = structure_factors(xs, hkl, algorithm=algorithm, table=table)
    if check_real and inversion_centre_at_origin(xs) and f.size:
        scale = max(float(np.max(np.abs(f))), 1.0)
        worst = float(np.max(np.abs(f.imag)))
        if worst > tolerance * scale:
            raise AssertionError(f"centrosymmetric structure with the inversion centre at the "
                                 f"origin has complex F: max |Im F| = {worst:.3g} "
                                 f"(max |F| = {scale:.3g})")
    intensity, amplitude, sign = intensity_amplitude_sign(f)
    return StructureFactors(f=f, intensity=intensity, amplitude=amplitude, sign=sign,
                            stol2=stol2(xs.unit_cell(), hkl))


def shift_structure_origin(xs, parity: np.ndarray | tuple[int, int, int]):
    """Structure ``xs`` with the origin moved by ``parity``/2 (p ∈ {0, 1}³), using cctbx's
    change of basis x' = x + p/2.  For P-1 this moves the origin to another inversion centre:
    F'(h) = (−1)^(h·p) F(h)."""
    from cctbx import sgtbx

    p = [int(v) for v in parity]
    if len(p) != 3 or any(v not in (0, 1) for v in p):
        raise ValueError(f"origin-shift parity must be three 0/1 values, got {parity!r}")
    parts = [f"{axis}+1/2" if v else axis for axis, v in zip("xyz", p)]
    cb_op = sgtbx.change_of_basis_op(",".join(parts))
    return xs.change_basis(cb_op)
