"""Powder XRD patterns on a fixed 2θ grid, and the crystal-system / space-group labels.

A pattern is made in three steps, as in report 2:

1. the peak list (2θ in degrees, intensity scaled to a maximum of 100) of a structure, from
   pymatgen's :class:`~pymatgen.analysis.diffraction.xrd.XRDCalculator` (CuKα,
   λ = 1.54184 Å, 2θ from 0 to 90°) — or from :func:`fast_peaks`, a vectorised copy of the
   same calculation without the hkl-family bookkeeping (validated against pymatgen in
   ``tests/test_xrd_patterns.py``);
2. the peaks placed on a fixed 2θ grid (:class:`Grid`), zero where there is no peak
   (:func:`peaks_to_grid`; peaks falling on the same grid point add up);
3. the vector smoothed with ``scipy.ndimage.gaussian_filter1d`` (σ in grid points, 5 as in the
   report) and normalised to [0, 1] (:func:`smooth_normalise`).

The square images MobileNetV2 needs are made from the same vector by :func:`pattern_to_image`.
Labels come from pymatgen's :class:`~pymatgen.symmetry.analyzer.SpacegroupAnalyzer` with a
stated ``symprec`` (Å).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d

#: The 7 crystal systems in the order of their space-group numbers (the class order of the models).
CRYSTAL_SYSTEMS: tuple[str, ...] = ("triclinic", "monoclinic", "orthorhombic", "tetragonal",
                                    "trigonal", "hexagonal", "cubic")
#: First and last space-group number of each crystal system.
SPACE_GROUP_RANGES: dict[str, tuple[int, int]] = {
    "triclinic": (1, 2), "monoclinic": (3, 15), "orthorhombic": (16, 74),
    "tetragonal": (75, 142), "trigonal": (143, 167), "hexagonal": (168, 194),
    "cubic": (195, 230),
}
#: The 230 space-group numbers (the class order of the space-group head).
SPACE_GROUPS: tuple[int, ...] = tuple(range(1, 231))
#: Wavelength of Cu Kα in Å (pymatgen's "CuKa": the weighted Kα1/Kα2 mean).
CU_KA: float = 1.54184


def crystal_system_of(space_group: int) -> str:
    """Crystal system of an international space-group number (1–230)."""
    number = int(space_group)
    for system, (first, last) in SPACE_GROUP_RANGES.items():
        if first <= number <= last:
            return system
    raise ValueError(f"space-group number must be in 1..230, got {space_group!r}")


def space_groups_of(system: str) -> list[int]:
    """The space-group numbers of a crystal system."""
    if system not in SPACE_GROUP_RANGES:
        raise ValueError(f"unknown crystal system {system!r}; one of {', '.join(CRYSTAL_SYSTEMS)}")
    first, last = SPACE_GROUP_RANGES[system]
    return list(range(first, last + 1))


@dataclass(frozen=True)
class Grid:
    """A uniform 2θ grid in degrees: ``n_points`` points from ``two_theta_min`` to ``two_theta_max``
    (both included)."""

    two_theta_min: float = 0.0
    two_theta_max: float = 90.0
    n_points: int = 4500

    def __post_init__(self) -> None:
        if not self.two_theta_max > self.two_theta_min:
            raise ValueError(f"2θ grid: max ({self.two_theta_max}) must exceed min "
                             f"({self.two_theta_min})")
        if self.n_points < 2:
            raise ValueError(f"2θ grid needs at least 2 points, got {self.n_points}")
        if self.two_theta_min < 0 or self.two_theta_max > 180:
            raise ValueError("2θ grid must lie within 0..180 degrees")

    @property
    def step(self) -> float:
        """Grid spacing in degrees 2θ."""
        return (self.two_theta_max - self.two_theta_min) / (self.n_points - 1)

    @property
    def two_theta(self) -> np.ndarray:
        """The grid's 2θ values in degrees, shape (n_points,)."""
        return np.linspace(self.two_theta_min, self.two_theta_max, self.n_points)

    def index(self, two_theta: np.ndarray) -> np.ndarray:
        """Nearest grid index of each 2θ (degrees); may lie outside ``[0, n_points)``."""
        return np.rint((np.asarray(two_theta, float) - self.two_theta_min) / self.step).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Grid":
        return cls(float(data["two_theta_min"]), float(data["two_theta_max"]),
                   int(data["n_points"]))


# ---------------------------------------------------------------------------------------------
# Peak lists
# ---------------------------------------------------------------------------------------------

def pymatgen_peaks(structure: Any, two_theta_range: tuple[float, float] = (0.0, 90.0),
                   wavelength: str | float = "CuKa") -> tuple[np.ndarray, np.ndarray]:
    """Peak positions (2θ, degrees) and intensities (max = 100) from pymatgen's XRDCalculator."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    pattern = XRDCalculator(wavelength=wavelength).get_pattern(
        structure, scaled=True, two_theta_range=tuple(two_theta_range))
    return np.asarray(pattern.x, float), np.asarray(pattern.y, float)


_SCATTERING: dict[str, np.ndarray] | None = None


def scattering_params() -> dict[str, np.ndarray]:
    global _SCATTERING
    if _SCATTERING is None:
        from pymatgen.analysis.diffraction.xrd import ATOMIC_SCATTERING_PARAMS

        _SCATTERING = {k: np.asarray(v, float) for k, v in ATOMIC_SCATTERING_PARAMS.items()}
    return _SCATTERING


def fast_peaks(structure: Any, two_theta_range: tuple[float, float] = (0.0, 90.0),
               wavelength: str | float = "CuKa") -> tuple[np.ndarray, np.ndarray]:
    """Peak positions (2θ, degrees) and intensities (max = 100), as pymatgen's XRDCalculator.

    The same physics and the same numbers as ``XRDCalculator.get_pattern`` (atomic scattering
    factors f(s) = Z − 41.78214 s² Σ aᵢ exp(−bᵢ s²), |F|², Lorentz-polarisation factor
    (1 + cos² 2θ)/(sin² θ cos θ), reflections merged within 10⁻⁵ ° 2θ, peaks below 10⁻³ of the
    strongest dropped) but without computing hkl families, which the patterns do not need.
    No Debye–Waller factors (the patterns of the study use none).
    """
    from pymatgen.analysis.diffraction.core import AbstractDiffractionPatternCalculator as Core
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS

    lam = float(WAVELENGTHS[wavelength]) if isinstance(wavelength, str) else float(wavelength)
    params = scattering_params()
    lo, hi = two_theta_range
    min_r = 2 * math.sin(math.radians(lo / 2)) / lam
    max_r = 2 * math.sin(math.radians(hi / 2)) / lam
    recip = structure.lattice.reciprocal_lattice_crystallographic
    fcoords, dists = _points_in_sphere(recip, max_r)
    hkl = np.rint(fcoords).astype(np.int64)
    g = dists
    h, k, l = hkl.T
    keep = (h > 0) | ((h == 0) & (k > 0)) | ((h == 0) & (k == 0) & (l > 0))
    if min_r:
        keep &= g >= min_r
    hkl, g = hkl[keep], g[keep]
    if len(g) == 0:
        return np.zeros(0), np.zeros(0)
    order = np.lexsort((-hkl[:, 2], -hkl[:, 1], -hkl[:, 0], g))
    hkl, g = hkl[order], g[order]
    theta = np.arcsin(np.clip(lam * g / 2, -1, 1))
    s2 = (g / 2) ** 2
    groups: dict[str, list] = {}
    for site in structure:
        for sp, occu in site.species.items():
            if sp.symbol not in params:
                raise ValueError(f"no X-ray scattering coefficients for element {sp.symbol}")
            grp = groups.setdefault(sp.symbol, [sp.Z, [], []])
            grp[1].append(site.frac_coords)
            grp[2].append(occu)
    hklf = hkl.astype(float)
    f_hkl = np.zeros(len(g), dtype=np.complex128)
    for symbol, (z, coords, occus) in groups.items():
        coeff = params[symbol]
        fs = z - 41.78214 * s2 * np.sum(coeff[:, 0] * np.exp(-coeff[:, 1] * s2[:, None]), axis=1)
        phase = np.exp(2j * math.pi * (hklf @ np.asarray(coords).T))
        f_hkl += fs * (phase @ np.asarray(occus, float))
    intensity = (f_hkl.real ** 2 + f_hkl.imag ** 2)
    lorentz = (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
    intensity = 2 * intensity * lorentz
    two_theta = np.degrees(2 * theta)
    keys = np.rint(two_theta / Core.TWO_THETA_TOL).astype(np.int64)
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=intensity, minlength=len(uniq))
    positions = two_theta[first]
    strongest = merged.max()
    visible = merged / strongest * 100 > Core.SCALED_INTENSITY_TOL
    return positions[visible], merged[visible] / strongest * 100


def _points_in_sphere(recip: Any, max_r: float) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal-lattice points (fractional hkl) within ``max_r`` Å⁻¹ of the origin, and |g|."""
    pts = recip.get_points_in_sphere([[0, 0, 0]], [0, 0, 0], max_r)
    if len(pts) == 0:
        return np.zeros((0, 3)), np.zeros(0)
    fcoords = np.array([p[0] for p in pts], float)
    dists = np.array([p[1] for p in pts], float)
    return fcoords, dists


ENGINES = ("fast", "pymatgen")


def peaks(structure: Any, engine: str = "fast",
          two_theta_range: tuple[float, float] = (0.0, 90.0)) -> tuple[np.ndarray, np.ndarray]:
    """Peak list (2θ in degrees, intensity with max 100) of ``structure`` for Cu Kα.

    ``engine``: ``"pymatgen"`` (XRDCalculator.get_pattern) or ``"fast"`` (:func:`fast_peaks`,
    the same numbers without the hkl families).
    """
    if engine == "pymatgen":
        return pymatgen_peaks(structure, two_theta_range)
    if engine == "fast":
        return fast_peaks(structure, two_theta_range)
    raise ValueError(f"unknown pattern engine {engine!r}; one of {', '.join(ENGINES)}")


# ---------------------------------------------------------------------------------------------
# Grid vectors
# ---------------------------------------------------------------------------------------------

def peaks_to_grid(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid) -> np.ndarray:
    """Place peaks (2θ in degrees, intensity) on the nearest points of ``grid``.

    Zero where there is no peak; peaks on the same point add up; peaks outside the grid are
    dropped.  Returns float64 of shape (n_points,).
    """
    idx = grid.index(two_theta)
    inside = (idx >= 0) & (idx < grid.n_points)
    return np.bincount(idx[inside], weights=np.asarray(intensity, float)[inside],
                       minlength=grid.n_points).astype(float)


def smooth_normalise(vector: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """Gaussian smoothing (σ in grid points; 0 = none) along the last axis, then scaling of each
    pattern to [0, 1] (an all-zero pattern stays zero)."""
    out = np.asarray(vector, float)
    if sigma > 0:
        out = gaussian_filter1d(out, sigma=sigma, axis=-1, mode="constant")
    out = out - np.minimum(out.min(axis=-1, keepdims=True), 0.0)
    top = out.max(axis=-1, keepdims=True)
    return np.divide(out, top, out=np.zeros_like(out), where=top > 0)


def render(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid,
           sigma: float = 5.0) -> np.ndarray:
    """The model input of a peak list: on the grid, smoothed (σ grid points), scaled to [0, 1]."""
    return smooth_normalise(peaks_to_grid(two_theta, intensity, grid), sigma)


def pattern_to_image(patterns: np.ndarray, size: int) -> np.ndarray:
    """Square images for MobileNetV2 from pattern vectors (the report's representation).

    Each vector (the whole 2θ grid) is resampled by linear interpolation to ``size²`` points
    and laid out row by row (row-major reshape) into a ``size × size`` image, repeated over 3
    channels (MobileNetV2 expects RGB) and scaled to [−1, 1] as
    ``keras.applications.mobilenet_v2.preprocess_input`` does.  Input (n, n_points) or
    (n_points,); output (n, size, size, 3) float32.
    """
    arr = np.atleast_2d(np.asarray(patterns, np.float32))
    n_points = arr.shape[1]
    dst = np.linspace(0.0, 1.0, size * size)
    if n_points == size * size:
        flat = arr
    else:
        # linear interpolation of all rows at once
        pos = dst * (n_points - 1)
        lo = np.clip(np.floor(pos).astype(np.int64), 0, n_points - 2)
        frac = (pos - lo).astype(np.float32)
        flat = arr[:, lo] * (1 - frac) + arr[:, lo + 1] * frac
    img = flat.reshape(len(arr), size, size, 1) * 2.0 - 1.0
    return np.repeat(img, 3, axis=-1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------

def symmetry_labels(structure: Any, symprec: float = 0.1,
                    angle_tolerance: float = 5.0) -> dict[str, Any]:
    """Space group (number and Hermann–Mauguin symbol) and crystal system of ``structure``.

    From SpacegroupAnalyzer with ``symprec`` (Å) and ``angle_tolerance`` (degrees).  The crystal
    system follows from the space-group number (so the two labels always agree).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=angle_tolerance)
    number = int(sga.get_space_group_number())
    return {"space_group": number, "space_group_symbol": sga.get_space_group_symbol(),
            "crystal_system": crystal_system_of(number)}
