"""Augmentation that mimics a powder measurement, applied to a peak list before it is rendered.

Options (each 0 = off), drawn independently per pattern:

- ``zero_shift`` — zero-point error: every peak moves by the same Δ2θ ~ U(−z, z) degrees;
  peaks pushed outside the grid are dropped (a diffractometer would not record them), so no
  peak ever wraps round to the other end of the grid;
- ``broadening`` — extra Gaussian peak width, σ ~ U(0, b) degrees 2θ on top of the σ of the
  smoothing (instrument + crystallite-size broadening);
- ``texture`` — preferred orientation / intensity perturbation: each peak's intensity is
  multiplied by exp(N(0, t²)) (log-normal, median 1);
- ``background`` — a smooth background: a decaying exponential (air scatter at low angle) plus a
  constant and a linear term, together up to ``background`` × the strongest peak;
- ``noise`` — counting noise: Gaussian with standard deviation ``noise`` × √(signal) (signal on
  the [0, 1] scale), the Poisson law at large counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .patterns import Grid, peaks_to_grid, smooth_normalise


@dataclass(frozen=True)
class Augmentation:
    """Measurement-like perturbations (units in the module docstring); 0 switches one off."""

    zero_shift: float = 0.15      # degrees 2θ, max |Δ2θ|
    broadening: float = 0.15      # degrees 2θ, max extra Gaussian σ
    texture: float = 0.3          # log-normal σ of the per-peak intensity factor
    background: float = 0.1       # max background height / strongest peak
    noise: float = 0.02           # noise σ / √signal

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def none(cls) -> "Augmentation":
        return cls(0.0, 0.0, 0.0, 0.0, 0.0)


def perturb_peaks(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid,
                  aug: Augmentation, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Zero-point shift and texture applied to a peak list (2θ degrees, intensity).

    Peaks that the shift pushes outside the grid are dropped; the result lies inside
    ``[grid.two_theta_min, grid.two_theta_max]``.
    """
    tt = np.asarray(two_theta, float).copy()
    inten = np.asarray(intensity, float).copy()
    if aug.texture > 0 and len(inten):
        inten *= np.exp(rng.normal(0.0, aug.texture, size=len(inten)))
    if aug.zero_shift > 0:
        tt += rng.uniform(-aug.zero_shift, aug.zero_shift)
    inside = (tt >= grid.two_theta_min) & (tt <= grid.two_theta_max)
    return tt[inside], inten[inside]


def augment_pattern(two_theta: np.ndarray, intensity: np.ndarray, grid: Grid, sigma: float,
                    aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """One augmented model input (n_points,) in [0, 1] from a peak list."""
    tt, inten = perturb_peaks(two_theta, intensity, grid, aug, rng)
    vec = peaks_to_grid(tt, inten, grid)
    width = float(sigma)
    if aug.broadening > 0:
        extra = rng.uniform(0.0, aug.broadening) / grid.step
        width = float(np.hypot(width, extra))
    if width > 0:
        vec = gaussian_filter1d(vec, width, mode="constant")
    top = vec.max()
    if top <= 0:
        return np.zeros(grid.n_points)
    vec = vec / top
    if aug.background > 0:
        x = (grid.two_theta - grid.two_theta_min) / (grid.two_theta_max - grid.two_theta_min)
        decay = rng.uniform(0.02, 0.3)
        shape = (rng.uniform() * np.exp(-x / decay) + rng.uniform() * 0.5
                 + rng.uniform(-0.3, 0.3) * x)
        shape = np.clip(shape, 0, None)
        if shape.max() > 0:
            vec = vec + rng.uniform(0, aug.background) * shape / shape.max()
    if aug.noise > 0:
        vec = vec + rng.normal(0.0, 1.0, size=vec.shape) * aug.noise * np.sqrt(np.clip(vec, 0, None))
    return smooth_normalise(vec, sigma=0.0)


def augmented_set(peak_two_theta: list[np.ndarray], peak_intensity: list[np.ndarray],
                  grid: Grid, sigma: float, aug: Augmentation, copies: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` augmented patterns of every peak list: (patterns (n·copies, n_points) float32,
    source row of each)."""
    rng = np.random.default_rng(seed)
    n = len(peak_two_theta)
    out = np.empty((n * copies, grid.n_points), np.float32)
    rows = np.repeat(np.arange(n), copies)
    for j, i in enumerate(rows):
        out[j] = augment_pattern(peak_two_theta[i], peak_intensity[i], grid, sigma, aug, rng)
    return out, rows


def describe(aug: Augmentation) -> dict[str, Any]:
    """The augmentation's settings with their units, for metrics and provenance."""
    return {"zero_shift_deg": aug.zero_shift, "broadening_sigma_deg": aug.broadening,
            "texture_lognormal_sigma": aug.texture, "background_max": aug.background,
            "noise_sigma_per_sqrt_signal": aug.noise}


def scan_range(patterns: np.ndarray, grid: Grid, start: tuple[float, float],
               rng: np.random.Generator, end: tuple[float, float] | None = None) -> np.ndarray:
    """Patterns (n, n_points) on ``grid`` as if each scan had started at 2θ ~ U(``start``)
    degrees (and ended at U(``end``) when given): intensity outside the scanned range set to 0,
    as a measured scan read onto the grid (:func:`lib.xrd.classify.resample_profile`).  A new
    array; the patterns of a simulation from 0° learn no peaks that a diffractometer starting
    at 5–15° never records."""
    arr = np.array(patterns, dtype=np.float32, copy=True)
    lo, hi = float(start[0]), float(start[1])
    if not 0 <= lo <= hi:
        raise ValueError(f"scan start range must satisfy 0 <= a <= b, got {start}")
    first = rng.uniform(lo, hi, len(arr))
    arr[grid.two_theta[None, :] < first[:, None]] = 0.0
    if end is not None:
        last = rng.uniform(float(end[0]), float(end[1]), len(arr))
        if np.any(last <= first):
            raise ValueError(f"scan end range {end} must lie above the start range {start}")
        arr[grid.two_theta[None, :] > last[:, None]] = 0.0
    return arr


def degree_range(text: str | Sequence[float], name: str = "range") -> tuple[float, float]:
    """``"a,b"`` (or a pair) as a range (a, b) of 2θ in degrees, 0 <= a <= b <= 180; a clear
    ``ValueError`` naming ``name`` otherwise."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers 'a,b' (degrees 2θ), got {text!r}") from None
    if not 0 <= lo <= hi <= 180:
        raise ValueError(f"{name} must satisfy 0 <= a <= b <= 180 degrees, got {text!r}")
    return lo, hi
