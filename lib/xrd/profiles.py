"""Peak profiles of many powder patterns at once, on a fixed 2θ grid (:class:`~.patterns.Grid`).

The peaks of many patterns are one ragged list: peak i belongs to pattern ``pattern[i]`` (0 ≤
pattern < ``n_patterns``), lies at ``two_theta[i]`` degrees and has ``intensity[i]`` (e.g. pymatgen's
scale, max 100 per pattern).  Two profiles:

- :func:`gaussian_patterns` — today's patterns of report 2, row for row identical to
  :func:`lib.xrd.patterns.render`: peaks on the nearest grid point, ``gaussian_filter1d`` with σ
  in grid points, each pattern scaled to [0, 1];
- :func:`pseudo_voigt_patterns` — a pseudo-Voigt per peak, η·L + (1 − η)·G with unit-area
  Lorentzian L and Gaussian G sharing one full width at half maximum that follows 2θ as Caglioti,
  Paoletti & Ricci (1958) give it: FWHM² = U tan²θ + V tanθ + W (degrees² of 2θ).  The profile
  is evaluated at the grid's exact 2θ (not at a rounded peak position), so the area of a peak
  equals its intensity × 1 degree (up to the part cut off, see ``cutoff``).  Scaled to [0, 1]
  unless ``scale=False``.

To give peaks just outside the grid their tails inside it, pass a peak list computed on a
slightly wider 2θ range than the grid.
"""

from __future__ import annotations

import math

import numpy as np

from .patterns import Grid, smooth_normalise

#: Default Caglioti parameters (degrees² of 2θ): FWHM ≈ 0.22–0.24° over 10–90°, the width of
#: report 2's σ = 5-point smoothing on the 0.02° grid (FWHM = 2.355 × 0.1°).
CAGLIOTI_UVW: tuple[float, float, float] = (0.02, -0.01, 0.05)


def _check(pattern: np.ndarray, two_theta: np.ndarray, intensity: np.ndarray,
           n_patterns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pattern = np.asarray(pattern, np.int64)
    two_theta = np.asarray(two_theta, float)
    intensity = np.asarray(intensity, float)
    if not pattern.shape == two_theta.shape == intensity.shape or pattern.ndim != 1:
        raise ValueError("pattern, two_theta and intensity must be 1-D arrays of one length")
    if len(pattern) and (pattern.min() < 0 or pattern.max() >= n_patterns):
        raise ValueError(f"pattern indices must lie in 0..{n_patterns - 1}")
    return pattern, two_theta, intensity


def peaks_to_grid_many(pattern: np.ndarray, two_theta: np.ndarray, intensity: np.ndarray,
                       n_patterns: int, grid: Grid) -> np.ndarray:
    """Peaks on the nearest grid points, (n_patterns, n_points) float64: row ``p`` equals
    :func:`lib.xrd.patterns.peaks_to_grid` of pattern ``p``'s peaks (outside the grid dropped)."""
    pattern, two_theta, intensity = _check(pattern, two_theta, intensity, n_patterns)
    idx = grid.index(two_theta)
    inside = (idx >= 0) & (idx < grid.n_points)
    flat = pattern[inside] * grid.n_points + idx[inside]
    return np.bincount(flat, weights=intensity[inside],
                       minlength=n_patterns * grid.n_points).reshape(n_patterns, grid.n_points)


def gaussian_patterns(pattern: np.ndarray, two_theta: np.ndarray, intensity: np.ndarray,
                      n_patterns: int, grid: Grid, sigma: float = 5.0) -> np.ndarray:
    """Report 2's model inputs of many peak lists at once, (n_patterns, n_points) in [0, 1]:
    row ``p`` equals ``patterns.render(two_theta_p, intensity_p, grid, sigma)`` (σ in points)."""
    return smooth_normalise(peaks_to_grid_many(pattern, two_theta, intensity, n_patterns, grid),
                            sigma)


def caglioti_fwhm(two_theta: np.ndarray, u: float, v: float, w: float) -> np.ndarray:
    """Full width at half maximum (degrees 2θ) at ``two_theta`` (degrees):
    √(U tan²θ + V tanθ + W), U, V, W in degrees².  ``ValueError`` where the square is ≤ 0."""
    t = np.tan(np.radians(np.asarray(two_theta, float)) / 2)
    square = u * t * t + v * t + w
    if np.any(square <= 0):
        raise ValueError(f"Caglioti U={u}, V={v}, W={w} give FWHM² ≤ 0 at 2θ = "
                         f"{np.asarray(two_theta)[square <= 0].ravel()[:3]} degrees")
    return np.sqrt(square)


def pseudo_voigt(x: np.ndarray, fwhm: np.ndarray, eta: float) -> np.ndarray:
    """Unit-area pseudo-Voigt η·L + (1 − η)·G at offsets ``x`` from the peak (degrees), for a
    full width at half maximum ``fwhm`` (degrees) shared by the Lorentzian and the Gaussian."""
    z = (x / fwhm) ** 2
    gauss = (2 * math.sqrt(math.log(2) / math.pi) / fwhm) * np.exp(-4 * math.log(2) * z)
    lorentz = (2 / (math.pi * fwhm)) / (1 + 4 * z)
    return eta * lorentz + (1 - eta) * gauss


def pseudo_voigt_patterns(pattern: np.ndarray, two_theta: np.ndarray, intensity: np.ndarray,
                          n_patterns: int, grid: Grid,
                          uvw: tuple[float, float, float] = CAGLIOTI_UVW, eta: float = 0.5,
                          cutoff: float | None = 30.0, scale: bool = True) -> np.ndarray:
    """Pseudo-Voigt patterns of many peak lists, (n_patterns, n_points).

    Each peak: ``intensity`` × :func:`pseudo_voigt` with the Caglioti FWHM at its 2θ and mixing
    ``eta`` (0 Gaussian … 1 Lorentzian), evaluated on the grid points within ``cutoff`` FWHM of
    the peak (None: the whole grid; 30 FWHM loses ≈ η·1 % of a peak's area to the cut Lorentzian
    tails).  ``scale``: each pattern scaled to [0, 1] (else the intensity density per degree).
    """
    if not 0 <= eta <= 1:
        raise ValueError(f"pseudo-Voigt mixing η must lie in [0, 1], got {eta}")
    pattern, two_theta, intensity = _check(pattern, two_theta, intensity, n_patterns)
    n = grid.n_points
    out = np.zeros(n_patterns * n)
    if len(pattern):
        fwhm = caglioti_fwhm(two_theta, *uvw)
        half = n if cutoff is None else int(math.ceil(cutoff * fwhm.max() / grid.step))
        half = min(half, n)
        centre = grid.index(two_theta)
        offsets = np.arange(-half, half + 1)
        # peaks in chunks so that one (chunk, window) block stays a few MB
        chunk = max(1, 400_000 // len(offsets))
        for start in range(0, len(pattern), chunk):
            sl = slice(start, start + chunk)
            idx = centre[sl, None] + offsets[None, :]
            ok = (idx >= 0) & (idx < n)
            x = grid.two_theta_min + idx * grid.step - two_theta[sl, None]
            if cutoff is not None:
                ok &= np.abs(x) <= cutoff * fwhm[sl, None]
            values = intensity[sl, None] * pseudo_voigt(x, fwhm[sl, None], eta)
            flat = (pattern[sl, None] * n + idx)[ok]
            out += np.bincount(flat, weights=values[ok], minlength=n_patterns * n)
    out = out.reshape(n_patterns, n)
    return smooth_normalise(out, 0.0) if scale else out
