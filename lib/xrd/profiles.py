"""Peak profiles of many powder patterns at once, on a fixed 2θ grid (:class:`~.patterns.Grid`).

The peaks of many patterns are one ragged list: peak i belongs to pattern ``pattern[i]``
(0 ≤ pattern < ``n_patterns``), lies at ``two_theta[i]`` degrees and has ``intensity[i]``
(e.g. pymatgen's scale, max 100 per pattern).  Two profiles:

- :func:`gaussian_patterns` — today's patterns of report 2, row for row identical to
  :func:`lib.xrd.patterns.render`: peaks on the nearest grid point, ``gaussian_filter1d`` with σ
  in grid points, each pattern scaled to [0, 1];
- :func:`pseudo_voigt_patterns` — a pseudo-Voigt per peak, η·L + (1 − η)·G with unit-area
  Lorentzian L and Gaussian G sharing one full width at half maximum that follows 2θ as Caglioti,
  Paoletti & Ricci (1958) give it: FWHM² = U tan²θ + V tanθ + W (degrees² of 2θ).  The profile
  is evaluated at the grid's exact 2θ (not at a rounded peak position), so the area of a peak
  equals its intensity × 1 degree (up to the tails beyond the grid's ends), the Lorentzian
  tails reaching over the whole grid.  Scaled to [0, 1] unless ``scale=False``.

To give peaks just outside the grid their tails inside it, pass a peak list computed on a
slightly wider 2θ range than the grid.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .patterns import Grid, smooth_normalise

#: Default Caglioti parameters (degrees² of 2θ): FWHM ≈ 0.22–0.25° over 0–90°, the width of
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
                          cutoff: float | None = 6.0, scale: bool = True,
                          fwhm: np.ndarray | None = None) -> np.ndarray:
    """Pseudo-Voigt patterns of many peak lists, (n_patterns, n_points).

    Each peak: ``intensity`` × :func:`pseudo_voigt` with the Caglioti FWHM at its 2θ (or the
    per-peak ``fwhm`` in degrees, e.g. Caglioti combined with Scherrer size broadening) and
    mixing ``eta`` (0 Gaussian … 1 Lorentzian).  Within ``cutoff`` × the largest FWHM of the
    peak list (the *near* window, in grid points) the profile is evaluated directly (float32).
    Beyond it the Gaussian is below e⁻⁹⁹ and only the Lorentzian tail η·I·(γ/π)/(x² + γ²)
    (γ = FWHM/2) remains; it is added over the **whole grid** by three FFT convolutions of the
    peaks, placed on their nearest grid point, with the fixed kernels 1/x², 1/x³, 1/x⁴ — the
    expansion (γ/π)[1/(js)² + 2δ/(js)³ + (3δ² − γ²)/(js)⁴] of the tail at js − δ (j grid
    points of size s from the nearest point, δ the peak's offset from it); against a float64
    sum of every peak over the whole grid the result is within 10⁻⁵ of the strongest point
    (tests; ~2·10⁻⁶ measured).  ``cutoff=None``: every peak evaluated on the whole grid (slow).
    ``scale``: each pattern scaled to [0, 1] (else the intensity density per degree 2θ, so a
    peak's area is its intensity × 1°).
    """
    if not 0 <= eta <= 1:
        raise ValueError(f"pseudo-Voigt mixing η must lie in [0, 1], got {eta}")
    if cutoff is not None and cutoff < 6:
        raise ValueError(f"pseudo-Voigt cutoff must be at least 6 FWHM (or None), got {cutoff}")
    pattern, two_theta, intensity = _check(pattern, two_theta, intensity, n_patterns)
    n = grid.n_points
    out = np.zeros((n_patterns, n))
    if len(pattern):
        if fwhm is None:
            fwhm = caglioti_fwhm(two_theta, *uvw)
        else:
            fwhm = np.broadcast_to(np.asarray(fwhm, float), two_theta.shape)
            if not np.all(fwhm > 0):
                raise ValueError("pseudo-Voigt FWHM must be positive for every peak")
        half = n if cutoff is None else int(math.ceil(cutoff * fwhm.max() / grid.step))
        centre = grid.index(two_theta)
        out += _near(pattern, two_theta, intensity, fwhm, eta, centre, half, n_patterns, grid)
        if cutoff is not None and eta > 0:
            out += _lorentz_tails(pattern, two_theta, intensity * eta, fwhm / 2, centre, half,
                                  n_patterns, grid)
    return smooth_normalise(out, 0.0) if scale else out


def _near(pattern: np.ndarray, two_theta: np.ndarray, intensity: np.ndarray, fwhm: np.ndarray,
          eta: float, centre: np.ndarray, half: int, n_patterns: int, grid: Grid) -> np.ndarray:
    """Pseudo-Voigts on the grid points within ``half`` points of each peak's nearest point,
    (n_patterns, n_points).  Evaluated in float32 (relative error ~10⁻⁷), accumulated in
    float64."""
    n = grid.n_points
    pad = 2 * half                                         # padded rows: no index falls outside
    width = n + 2 * pad
    keep = (centre >= -half) & (centre < n + half)
    pattern, two_theta, intensity = pattern[keep], two_theta[keep], intensity[keep]
    fwhm, centre = fwhm[keep], centre[keep]
    offsets = np.arange(-half, half + 1)
    # per peak: v(x) = a/(1 + 4z) + b·exp(−4 ln2 z), z = (x/FWHM)²
    inv = (1 / fwhm).astype(np.float32)
    a = (intensity * eta * 2 / (math.pi * fwhm)).astype(np.float32)
    b = (intensity * (1 - eta) * 2 * math.sqrt(math.log(2) / math.pi) / fwhm).astype(np.float32)
    shift = (grid.two_theta_min + centre * grid.step - two_theta).astype(np.float32)
    steps = (offsets * grid.step).astype(np.float32)
    base = pattern * width + centre + pad
    acc = np.zeros(n_patterns * width)
    chunk = max(1, 400_000 // len(offsets))                # a few MB per block
    for start in range(0, len(pattern), chunk):
        sl = slice(start, start + chunk)
        u = (steps[None, :] + shift[sl, None]) * inv[sl, None]
        u *= u
        values = a[sl, None] / (1 + 4 * u)
        if eta < 1:
            values += b[sl, None] * np.exp(np.float32(-4 * math.log(2)) * u)
        flat = base[sl, None] + offsets[None, :]
        acc += np.bincount(flat.ravel(), weights=values.ravel(), minlength=len(acc))
    return acc.reshape(n_patterns, width)[:, pad:pad + n]


@lru_cache(maxsize=32)
def _tail_kernels(length: int, half: int, step: float, size: int) -> np.ndarray:
    """Spectra (3, size // 2 + 1) of the kernels 1/x², 1/x³, 1/x⁴ (x = j·step, |j| > half,
    j from −(length − 1) to length − 1; zero elsewhere), for FFTs of ``size`` points."""
    from scipy import fft

    j = np.arange(-(length - 1), length).astype(float)
    far = np.abs(j) > half
    x = np.where(far, j * step, 1.0)
    kernels = np.stack([far / x ** 2, far / x ** 3, far / x ** 4])
    spectra = fft.rfft(kernels, size, axis=-1)
    spectra.setflags(write=False)
    return spectra


def _lorentz_tails(pattern: np.ndarray, two_theta: np.ndarray, weight: np.ndarray,
                   gamma: np.ndarray, centre: np.ndarray, half: int, n_patterns: int,
                   grid: Grid) -> np.ndarray:
    """Σ over peaks of weight·(γ/π)/(x² + γ²) at the grid points more than ``half`` points from
    each peak's nearest point, by FFT convolution (see :func:`pseudo_voigt_patterns`)."""
    from scipy import fft

    n, step = grid.n_points, grid.step
    c0 = min(0, int(centre.min()))                         # sticks cover the grid and every peak
    length = max(n, int(centre.max()) + 1) - c0
    delta = two_theta - (grid.two_theta_min + centre * step)
    w = weight * gamma / math.pi
    sticks = np.zeros((3, n_patterns, length))
    where = (pattern, centre - c0)
    np.add.at(sticks[0], where, w)
    np.add.at(sticks[1], where, 2 * w * delta)
    np.add.at(sticks[2], where, w * (3 * delta ** 2 - gamma ** 2))
    size = fft.next_fast_len(3 * length - 2, real=True)
    spectrum = fft.rfft(sticks, size, axis=-1) * _tail_kernels(length, half, step, size)[:, None]
    conv = fft.irfft(spectrum.sum(axis=0), size, axis=-1)
    first = length - 1 - c0
    return conv[:, first:first + n]
