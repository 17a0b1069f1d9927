"""Powder patterns that look like a measurement, drawn anew from stored peak lists.

The peak lists (2θ in degrees for pymatgen's Cu Kα = 1.54184 Å, intensity with max 100; e.g.
:func:`lib.xrd.variants.batch_peaks`) of many structures are held in one ragged
:class:`PeakSet`.  A batch of measurement-like patterns is made in two steps, so that tests can
set every effect by hand:

1. :func:`draw_conditions` draws, per pattern, the conditions of one measurement from the
   ranges of a :class:`MeasurementModel` (a frozen dataclass; each range below is a field);
2. :func:`measure` renders the peaks of the chosen rows under those conditions on a
   :class:`~lib.xrd.patterns.Grid`, vectorised over the batch.

Effects, in the order they are applied (units and default ranges in :class:`MeasurementModel`):

- **Kα1/Kα2 doublet**: each peak's d-spacing, d = λ(CuKa)/(2 sin θ), is put back through
  Bragg's law at λ(Kα1) = 1.54056 Å and λ(Kα2) = 1.54439 Å (pymatgen's ``WAVELENGTHS``);
  the Kα2 line has ``ka2_ratio`` (0.5) of the Kα1 intensity.  With probability
  1 − ``ka2_probability`` a pattern has Kα1 only (a primary monochromator);
- **preferred orientation** (March–Dollase): intensity × (1/Σw) Σ_j w_j (r² cos²α_j +
  sin²α_j / r)^(−3/2) over the reflections j merged into the peak (w_j = |F_j|²), α_j the
  angle between the reflection's normal (its reciprocal vector g_j) and the preferred axis.
  The axis is the normal of a random reflection among the pattern's five lowest-angle peaks
  (a low-index direction: the platelet or needle axis of real textures).  The hkl of each
  peak are not kept by :class:`~lib.xrd.variants.PeakBatch`; :func:`reflection_table`
  recomputes them from the variants' lattices (the same hkl, |F|² and 10⁻⁵ ° merging as
  :func:`~lib.xrd.variants.batch_peaks`).  Rows without a reflection table get no texture;
- **peak shape**: pseudo-Voigt (mixing η per pattern) whose FWHM combines the instrument
  (Caglioti, FWHM² = U tan²θ + V tanθ + W, degrees²) and crystallite size (Scherrer,
  β = Kλ/(L cos θ) radians of 2θ, K = 0.9) in quadrature: FWHM = √(FWHM_C² + β²);
- **zero shift and sample displacement**: 2θ + Δ₀ − (2 s cos θ / R) (radians → degrees; s the
  displacement of the sample surface in mm, R the goniometer radius in mm).  Both move a
  peak by less than its distance to the next one in practice, so the peaks keep their order;
- **impurity phase** (probability ``impurity_probability``): the peaks of another row of the
  set (another structure), their intensities scaled to ``impurity_fraction`` (1–5 %) of the
  main phase's, measured under the same conditions (no texture); impurity peaks below 10⁻³
  of the main phase's strongest are left out;
- **background**: a cubic Chebyshev polynomial over the grid (shifted to ≥ 0) and, with
  probability ``hump_probability``, an amorphous hump (a Gaussian in 2θ, centre 15–35°, FWHM
  6–20°), together up to ``background`` × the strongest peak;
- **counting noise**: the pattern scaled so that the strongest peak has N counts (N
  log-uniform in ``counts``), background added, then Poisson counts; returned divided by N;
- **scan range**: zero outside [start, end] (start 5–15°, end 60–90°), as ``classify``
  treats a short scan; with ``subtract_minimum`` the minimum inside the scan is removed, as
  :func:`lib.xrd.classify.to_model_input` does for a measured scan.

Everything is seeded: :func:`simulate` with the same generator state gives the same batch.
Background shapes were not validated against ``pybaselines`` (not installed).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from .patterns import CU_KA, Grid
from .profiles import pseudo_voigt_patterns
from .variants import (PeakBatch, VariantBatch, laue_representatives, reciprocal_sphere,
                       structure_factors_squared)

#: pymatgen's Cu Kα1 and Kα2 wavelengths in Å (``WAVELENGTHS["CuKa1"]``, ``["CuKa2"]``).
CU_KA1: float = 1.54056
CU_KA2: float = 1.54439
#: Impurity peaks weaker than this fraction of the main phase's strongest peak are left out
#: (the cut pymatgen applies to one phase's own peaks, 10⁻³; saves half the profile work).
IMPURITY_CUT: float = 1e-3
#: Patterns whose profiles are rendered together (:func:`measure`): the direct window around
#: every peak is sized by the broadest peak of the call, so one call for a large batch is
#: slower per pattern.  Measured on notebook 06's training peaks, one core, with preprocessing,
#: per pattern: all of a call's patterns together 6.8 ms in calls of 2048, 2.6 ms in calls of
#: 512, 1.4 ms in calls of 64–128; 32 at a time 2.2 ms in calls of 2048, 1.2 ms in calls of 64.
PROFILE_CHUNK: int = 32
#: Scherrer constant for spherical crystallites (FWHM, dimensionless).
SCHERRER_K: float = 0.9


def _check_range(name: str, bounds: tuple[float, float], low: float, high: float) -> None:
    lo, hi = bounds
    if not (low <= lo <= hi <= high):
        raise ValueError(f"MeasurementModel.{name} must be a range (lo, hi) with "
                         f"{low} ≤ lo ≤ hi ≤ {high}, got {bounds}")


@dataclass(frozen=True)
class MeasurementModel:
    """Ranges of the measurement conditions, each drawn uniformly per pattern (log-uniformly
    where marked).  A range (x, x) fixes the effect; a probability 0 switches it off.

    ``ka2_probability``: chance of a Kα1/Kα2 doublet (else Kα1 only); ``ka2_ratio``: I(Kα2) /
    I(Kα1); ``caglioti_u``, ``caglioti_v``, ``caglioti_w``: instrument FWHM² = U tan²θ +
    V tanθ + W in degrees² of 2θ (clipped at ``min_fwhm`` degrees); ``crystallite_nm``: size L
    for Scherrer broadening, nm (log-uniform); ``eta``: pseudo-Voigt Lorentzian fraction;
    ``texture_probability`` and ``march_dollase_r``: March–Dollase r (log-uniform; r < 1
    platelets, r > 1 needles); ``zero_shift``: Δ₀ in degrees 2θ; ``displacement_mm``:
    sample-surface displacement s in mm, ``goniometer_radius_mm`` R; ``impurity_probability``
    and ``impurity_fraction``: intensity of the impurity phase relative to the main phase;
    ``background``: maximum background height / strongest peak; ``hump_probability``: chance
    of an amorphous hump; ``counts``: counts at the strongest peak (log-uniform);
    ``scan_start`` / ``scan_end``: the scanned 2θ range in degrees; ``subtract_minimum``:
    remove the minimum inside the scan (as ``classify`` does); ``source_wavelength``: the Å
    the peak lists were computed for (pymatgen's CuKa).

    The default widths, background and count ranges were chosen so that simple statistics of
    the simulated patterns (on the 0–90° grid of 4500 points, minimum removed) match those
    of the measured ``rruff_dev`` scans read as ``classify`` reads them (quantiles 10/25/50/
    75/90 %): noise σ (from successive differences) / strongest peak 0.0015–0.018 (RRUFF
    0.0020–0.018), median level / maximum 0.007–0.037 (RRUFF 0.004–0.035), FWHM of the
    strongest peak 0.08–0.20° (RRUFF 0.08–0.18°).  Only these statistics were used; no
    pattern of that validation set enters training.
    """

    ka2_probability: float = 0.9
    ka2_ratio: float = 0.5
    caglioti_u: tuple[float, float] = (0.0, 0.01)
    caglioti_v: tuple[float, float] = (-0.005, 0.0)
    caglioti_w: tuple[float, float] = (0.001, 0.01)
    min_fwhm: float = 0.03
    crystallite_nm: tuple[float, float] = (50.0, 1000.0)
    eta: tuple[float, float] = (0.1, 0.9)
    texture_probability: float = 0.5
    march_dollase_r: tuple[float, float] = (0.6, 1.5)
    zero_shift: tuple[float, float] = (-0.1, 0.1)
    displacement_mm: tuple[float, float] = (-0.15, 0.15)
    goniometer_radius_mm: float = 217.5
    impurity_probability: float = 0.3
    impurity_fraction: tuple[float, float] = (0.01, 0.05)
    background: tuple[float, float] = (0.005, 0.06)
    hump_probability: float = 0.3
    counts: tuple[float, float] = (30.0, 5000.0)
    scan_start: tuple[float, float] = (5.0, 15.0)
    scan_end: tuple[float, float] = (60.0, 90.0)
    subtract_minimum: bool = True
    source_wavelength: float = CU_KA

    def __post_init__(self) -> None:
        for name in ("ka2_probability", "texture_probability", "impurity_probability",
                     "hump_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"MeasurementModel.{name} is a probability, got "
                                 f"{getattr(self, name)}")
        if not 0 <= self.ka2_ratio <= 1:
            raise ValueError(f"MeasurementModel.ka2_ratio must lie in [0, 1], got {self.ka2_ratio}")
        _check_range("caglioti_u", self.caglioti_u, 0.0, 1.0)
        _check_range("caglioti_v", self.caglioti_v, -1.0, 1.0)
        _check_range("caglioti_w", self.caglioti_w, 0.0, 1.0)
        _check_range("crystallite_nm", self.crystallite_nm, 1.0, 1e5)
        _check_range("eta", self.eta, 0.0, 1.0)
        _check_range("march_dollase_r", self.march_dollase_r, 0.1, 10.0)
        _check_range("zero_shift", self.zero_shift, -2.0, 2.0)
        _check_range("displacement_mm", self.displacement_mm, -2.0, 2.0)
        _check_range("impurity_fraction", self.impurity_fraction, 0.0, 1.0)
        _check_range("background", self.background, 0.0, 10.0)
        _check_range("counts", self.counts, 1.0, 1e9)
        _check_range("scan_start", self.scan_start, 0.0, 180.0)
        _check_range("scan_end", self.scan_end, 0.0, 180.0)
        if self.scan_start[1] >= self.scan_end[0]:
            raise ValueError("MeasurementModel: every scan start must lie below every scan end")
        if self.min_fwhm <= 0 or self.goniometer_radius_mm <= 0 or self.source_wavelength <= 0:
            raise ValueError("MeasurementModel: min_fwhm, goniometer_radius_mm and "
                             "source_wavelength must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def ideal(cls) -> "MeasurementModel":
        """No effect: Kα1 only, fixed narrow Gaussian peaks, full scan, no shift, texture,
        impurity, background or noise worth the name (10⁹ counts)."""
        return cls(ka2_probability=0.0, caglioti_u=(0.0, 0.0), caglioti_v=(0.0, 0.0),
                   caglioti_w=(0.01, 0.01), crystallite_nm=(1e5, 1e5), eta=(0.0, 0.0),
                   texture_probability=0.0, zero_shift=(0.0, 0.0), displacement_mm=(0.0, 0.0),
                   impurity_probability=0.0, background=(0.0, 0.0), hump_probability=0.0,
                   counts=(1e9, 1e9), scan_start=(0.0, 0.0), scan_end=(180.0, 180.0),
                   subtract_minimum=False)


# ---------------------------------------------------------------------------------------------
# Peak lists of many rows, with their reflections
# ---------------------------------------------------------------------------------------------

@dataclass
class Reflections:
    """The reflections merged into the peaks of one :class:`~lib.xrd.variants.PeakBatch`:
    reflection j belongs to peak ``peak[j]`` (index into the batch's arrays), has the unit
    normal ``direction[j]`` (Cartesian, the direction of g = h a* + k b* + l c*) and weight
    ``weight[j]`` = |F_j|² (the Lorentz–polarisation factor is common to a merged peak).
    Sorted by peak."""

    peak: np.ndarray
    direction: np.ndarray
    weight: np.ndarray


def reflection_table(batch: VariantBatch, peaks: PeakBatch,
                     two_theta_range: tuple[float, float] = (0.0, 90.0),
                     wavelength: float = CU_KA) -> Reflections:
    """The reflections (hkl normals and |F|²) behind each peak of ``peaks`` =
    ``batch_peaks(batch, two_theta_range, wavelength)``, recomputed from the variants'
    lattices with the same hkl enumeration and 2θ merging bins (10⁻⁵ °).  Reflections of
    peaks that ``batch_peaks`` dropped (below 10⁻³ of the strongest) are left out."""
    from pymatgen.analysis.diffraction.core import AbstractDiffractionPatternCalculator as Core

    lam = float(wavelength)
    hkl, gvec, g, min_r, max_r = reciprocal_sphere(batch.lattices, two_theta_range, lam)
    inside = (g <= max_r) & (g >= min_r) & (g > 0)
    if batch.rotations is not None:
        reps, expand = laue_representatives(hkl.astype(np.int64), batch.rotations)
        f2 = structure_factors_squared(batch, hkl[reps], g[:, reps])[:, expand]
    else:
        f2 = structure_factors_squared(batch, hkl, g)
    two_theta = np.degrees(2 * np.arcsin(np.clip(lam * g / 2, -1, 1)))
    var, refl = np.nonzero(inside)
    tol = Core.TWO_THETA_TOL
    big = np.int64(10 ** 12)
    code = var * big + np.rint(two_theta[var, refl] / tol).astype(np.int64)
    peak_code = (peaks.pattern.astype(np.int64) * big
                 + np.rint(peaks.two_theta / tol).astype(np.int64))
    pos = np.searchsorted(peak_code, code)
    pos_c = np.minimum(pos, max(len(peak_code) - 1, 0))
    found = (pos < len(peak_code)) & (peak_code[pos_c] == code) if len(peak_code) else \
        np.zeros(len(code), bool)
    peak = pos[found]
    direction = gvec[var[found], refl[found]] / g[var[found], refl[found], None]
    weight = f2[var[found], refl[found]]
    order = np.argsort(peak, kind="stable")
    return Reflections(peak[order], direction[order].astype(np.float32), weight[order])


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _gather(starts: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the items of ``rows`` in a ragged array with offsets ``starts``, and the
    position in ``rows`` each belongs to."""
    first = starts[rows]
    counts = starts[rows + 1] - first
    owner = np.repeat(np.arange(len(rows)), counts)
    local = np.arange(counts.sum()) - np.repeat(_offsets(counts)[:-1], counts)
    return np.repeat(first, counts) + local, owner


@dataclass
class PeakSet:
    """Peak lists of many rows (patterns) in one ragged array: row r's peaks are
    ``two_theta[starts[r]:starts[r + 1]]`` (degrees, increasing) and ``intensity`` (max 100).
    Optionally the reflections of each peak: those of peak i are
    ``refl_direction[refl_starts[i]:refl_starts[i + 1]]`` (unit normals) with
    ``refl_weight`` (|F|²); rows without reflections have none (no texture)."""

    two_theta: np.ndarray
    intensity: np.ndarray
    starts: np.ndarray
    refl_starts: np.ndarray | None = None
    refl_direction: np.ndarray | None = None
    refl_weight: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.starts) - 1

    def __len__(self) -> int:
        return self.n_rows

    def peaks(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The peak list (2θ degrees, intensity) of ``row``."""
        sl = slice(self.starts[row], self.starts[row + 1])
        return self.two_theta[sl], self.intensity[sl]

    @classmethod
    def from_lists(cls, two_theta: Sequence[np.ndarray],
                   intensity: Sequence[np.ndarray]) -> "PeakSet":
        """From one peak list per row (each sorted by 2θ here)."""
        tt, inten, counts = [], [], []
        for t, i in zip(two_theta, intensity):
            t, i = np.asarray(t, float), np.asarray(i, float)
            order = np.argsort(t, kind="stable")
            tt.append(t[order])
            inten.append(i[order])
            counts.append(len(t))
        return cls(np.concatenate(tt) if tt else np.zeros(0),
                   np.concatenate(inten) if inten else np.zeros(0), _offsets(np.array(counts)))

    @classmethod
    def from_batches(cls, batches: Sequence[PeakBatch],
                     reflections: Sequence[Reflections | None] | None = None) -> "PeakSet":
        """The rows of several :class:`~lib.xrd.variants.PeakBatch` (one per structure and its
        variants), in order; ``reflections`` (one per batch, or None) from
        :func:`reflection_table` enable preferred orientation."""
        if reflections is not None and len(reflections) != len(batches):
            raise ValueError(f"{len(reflections)} reflection tables for {len(batches)} peak "
                             "batches")
        tt, inten, counts, r_counts, r_dir, r_w = [], [], [], [], [], []
        for b, batch in enumerate(batches):
            tt.append(np.asarray(batch.two_theta, float))
            inten.append(np.asarray(batch.intensity, float))
            counts.append(np.bincount(np.asarray(batch.pattern, np.int64),
                                      minlength=batch.n_patterns))
            refl = reflections[b] if reflections is not None else None
            if refl is None:
                r_counts.append(np.zeros(len(batch.two_theta), np.int64))
            else:
                r_counts.append(np.bincount(refl.peak, minlength=len(batch.two_theta)))
                r_dir.append(np.asarray(refl.direction, np.float32))
                r_w.append(np.asarray(refl.weight, float))
        starts = _offsets(np.concatenate(counts)) if counts else np.zeros(1, np.int64)
        out = cls(np.concatenate(tt) if tt else np.zeros(0),
                  np.concatenate(inten) if inten else np.zeros(0), starts)
        if reflections is not None and r_dir:
            out.refl_starts = _offsets(np.concatenate(r_counts))
            out.refl_direction = np.concatenate(r_dir)
            out.refl_weight = np.concatenate(r_w)
        return out


# ---------------------------------------------------------------------------------------------
# Conditions of a batch of measurements
# ---------------------------------------------------------------------------------------------

@dataclass
class Conditions:
    """The measurement conditions of n patterns, one value per pattern (units as in
    :class:`MeasurementModel`); ``impurity_fraction`` 0 means no impurity, ``march_dollase_r``
    1 no texture, ``hump_height`` 0 no hump, ``ka2_ratio`` 0 Kα1 only."""

    ka2_ratio: np.ndarray
    caglioti: np.ndarray          # (n, 3) U, V, W in degrees²
    crystallite_nm: np.ndarray
    eta: np.ndarray
    march_dollase_r: np.ndarray
    axis_pick: np.ndarray         # uniform [0, 1): which low-angle reflection is the axis
    zero_shift: np.ndarray
    displacement_mm: np.ndarray
    impurity_fraction: np.ndarray
    background: np.ndarray
    poly: np.ndarray              # (n, 4) Chebyshev coefficients
    hump_height: np.ndarray       # fraction of the background
    hump_centre: np.ndarray       # degrees 2θ
    hump_fwhm: np.ndarray         # degrees 2θ
    counts: np.ndarray
    scan_start: np.ndarray
    scan_end: np.ndarray

    def __len__(self) -> int:
        return len(self.eta)

    @classmethod
    def ideal(cls, n: int) -> "Conditions":
        """n patterns with every effect off (see :meth:`MeasurementModel.ideal`)."""
        return draw_conditions(MeasurementModel.ideal(), n, np.random.default_rng(0))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], n)


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]), n))


def draw_conditions(model: MeasurementModel, n: int, rng: np.random.Generator) -> Conditions:
    """Conditions of ``n`` measurements drawn from the ranges of ``model``."""
    on = lambda p: rng.random(n) < p                                  # noqa: E731
    caglioti = np.stack([_uniform(rng, model.caglioti_u, n), _uniform(rng, model.caglioti_v, n),
                         _uniform(rng, model.caglioti_w, n)], axis=1)
    return Conditions(
        ka2_ratio=np.where(on(model.ka2_probability), model.ka2_ratio, 0.0),
        caglioti=caglioti,
        crystallite_nm=_log_uniform(rng, model.crystallite_nm, n),
        eta=_uniform(rng, model.eta, n),
        march_dollase_r=np.where(on(model.texture_probability),
                                 _log_uniform(rng, model.march_dollase_r, n), 1.0),
        axis_pick=rng.random(n),
        zero_shift=_uniform(rng, model.zero_shift, n),
        displacement_mm=_uniform(rng, model.displacement_mm, n),
        impurity_fraction=np.where(on(model.impurity_probability),
                                   _uniform(rng, model.impurity_fraction, n), 0.0),
        background=_uniform(rng, model.background, n),
        poly=rng.normal(0.0, 1.0, (n, 4)) / np.arange(1, 5),
        hump_height=np.where(on(model.hump_probability), rng.uniform(0.3, 1.0, n), 0.0),
        hump_centre=rng.uniform(15.0, 35.0, n),
        hump_fwhm=rng.uniform(6.0, 20.0, n),
        counts=_log_uniform(rng, model.counts, n),
        scan_start=_uniform(rng, model.scan_start, n),
        scan_end=_uniform(rng, model.scan_end, n),
    )


# ---------------------------------------------------------------------------------------------
# The effects, each on arrays of peaks (tested one by one)
# ---------------------------------------------------------------------------------------------

def bragg_two_theta(two_theta: np.ndarray, wavelength_from: float,
                    wavelength_to: float) -> np.ndarray:
    """2θ (degrees) of the same d-spacing at another wavelength: sin θ' = sin θ · λ'/λ
    (Bragg's law λ = 2d sin θ).  NaN where sin θ' > 1 (no reflection)."""
    s = np.sin(np.radians(np.asarray(two_theta, float)) / 2) * (wavelength_to / wavelength_from)
    with np.errstate(invalid="ignore"):
        return np.degrees(2 * np.arcsin(np.where(s <= 1, s, np.nan)))


def shift_two_theta(two_theta: np.ndarray, zero_shift: np.ndarray | float,
                    displacement_mm: np.ndarray | float, radius_mm: float) -> np.ndarray:
    """Observed 2θ (degrees) of a peak at ``two_theta`` with a zero shift Δ₀ (degrees) and a
    sample displacement s (mm) on a goniometer of radius R (mm):
    2θ + Δ₀ − (180/π) · 2 s cos θ / R."""
    tt = np.asarray(two_theta, float)
    theta = np.radians(tt) / 2
    return tt + zero_shift - np.degrees(2 * np.asarray(displacement_mm) * np.cos(theta) / radius_mm)


def peak_fwhm(two_theta: np.ndarray, caglioti: np.ndarray, crystallite_nm: np.ndarray,
              wavelength: float = CU_KA1, min_fwhm: float = 0.03) -> np.ndarray:
    """FWHM (degrees 2θ) of peaks at ``two_theta`` (degrees): Caglioti (U, V, W per peak,
    degrees², rows of ``caglioti``) and Scherrer β = Kλ/(L cos θ) (L in nm, λ in Å) in
    quadrature, at least ``min_fwhm``."""
    theta = np.radians(np.asarray(two_theta, float)) / 2
    t = np.tan(theta)
    u, v, w = caglioti[:, 0], caglioti[:, 1], caglioti[:, 2]
    instrument = np.clip(u * t * t + v * t + w, 0.0, None)
    scherrer = np.degrees(SCHERRER_K * (wavelength / 10.0) / (crystallite_nm * np.cos(theta)))
    return np.maximum(np.sqrt(instrument + scherrer ** 2), min_fwhm)


def march_dollase(cos_alpha: np.ndarray, r: np.ndarray) -> np.ndarray:
    """March–Dollase factor (r² cos²α + sin²α / r)^(−3/2) of a reflection whose normal makes
    the angle α with the preferred axis (r = 1: no texture).  Its mean over a sphere of
    normals is 1."""
    c2 = np.clip(np.asarray(cos_alpha, float) ** 2, 0.0, 1.0)
    return (r * r * c2 + (1 - c2) / r) ** -1.5


def texture_factors(peaks: PeakSet, peak_index: np.ndarray, peak_owner: np.ndarray,
                    first_peak: np.ndarray, r: np.ndarray, axis_pick: np.ndarray,
                    low_peaks: int = 5) -> np.ndarray:
    """March–Dollase intensity factor of each gathered peak (``peaks`` rows ``peak_index``;
    ``peak_owner`` its pattern, ``first_peak`` (n + 1) the offsets of each pattern's peaks in
    the gathered arrays): the |F|²-weighted mean over the peak's reflections, with the axis
    the normal of reflection ⌊pick · m⌋ among the m reflections of the pattern's
    ``low_peaks`` lowest-angle peaks.  1 where a peak has no reflections or r = 1."""
    factors = np.ones(len(peak_index))
    if peaks.refl_starts is None or not np.any(r != 1.0) or len(peak_index) == 0:
        return factors
    refl, refl_peak = _gather(peaks.refl_starts, peak_index)        # refl_peak: gathered peak
    if len(refl) == 0:
        return factors
    refl_first = _offsets(np.bincount(refl_peak, minlength=len(peak_index)))   # per peak
    n_low = np.minimum(first_peak[1:] - first_peak[:-1], low_peaks)
    lo = refl_first[first_peak[:-1]]
    hi = refl_first[first_peak[:-1] + n_low]
    has_axis = hi > lo
    pick = np.where(has_axis, lo + np.floor(axis_pick * (hi - lo)).astype(np.int64), 0)
    pick = np.minimum(pick, len(refl) - 1)
    direction = peaks.refl_direction[refl].astype(float)
    axis = direction[pick]                                            # (n, 3)
    owner = peak_owner[refl_peak]
    cos_alpha = np.einsum("ij,ij->i", direction, axis[owner])
    w = peaks.refl_weight[refl]
    md = march_dollase(cos_alpha, r[owner])
    num = np.bincount(refl_peak, weights=w * md, minlength=len(peak_index))
    den = np.bincount(refl_peak, weights=w, minlength=len(peak_index))
    ok = (den > 0) & has_axis[peak_owner] & (r[peak_owner] != 1.0)
    factors[ok] = num[ok] / den[ok]
    return factors


def background_shapes(grid: Grid, cond: Conditions) -> np.ndarray:
    """Background of each pattern (n, n_points), max = ``cond.background`` (× the strongest
    peak): a cubic Chebyshev polynomial in x ∈ [−1, 1] over the grid shifted to a minimum of
    0, plus a Gaussian amorphous hump (height ``hump_height`` × the polynomial's range)."""
    x = np.linspace(-1.0, 1.0, grid.n_points)
    cheb = np.polynomial.chebyshev.chebvander(x, 3).T                 # (4, n_points)
    poly = cond.poly @ cheb
    poly -= poly.min(axis=1, keepdims=True)
    top = poly.max(axis=1, keepdims=True)
    poly = np.divide(poly, top, out=np.zeros_like(poly), where=top > 0)
    sigma = cond.hump_fwhm / (2 * math.sqrt(2 * math.log(2)))
    hump = np.exp(-0.5 * ((grid.two_theta[None, :] - cond.hump_centre[:, None])
                          / sigma[:, None]) ** 2)
    shape = poly + cond.hump_height[:, None] * hump
    top = shape.max(axis=1, keepdims=True)
    shape = np.divide(shape, top, out=np.zeros_like(shape), where=top > 0)
    return shape * cond.background[:, None]


def scan_mask(grid: Grid, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(n, n_points) True on the grid points inside each scan [start, end] (degrees 2θ)."""
    tt = grid.two_theta[None, :]
    return (tt >= np.asarray(start)[:, None]) & (tt <= np.asarray(end)[:, None])


# ---------------------------------------------------------------------------------------------
# A batch of measurements
# ---------------------------------------------------------------------------------------------

def measured_peaks(peaks: PeakSet, rows: np.ndarray, cond: Conditions, model: MeasurementModel,
                   impurity_rows: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The peaks as the diffractometer sees them, before profiles: (pattern, 2θ degrees,
    intensity, FWHM degrees) of the Kα1 and Kα2 lines of the main phase (textured) and of the
    impurity phase (``impurity_rows``, used where ``cond.impurity_fraction`` > 0)."""
    rows = np.asarray(rows, np.int64)
    n = len(rows)
    idx, owner = _gather(peaks.starts, rows)
    first_peak = _offsets(peaks.starts[rows + 1] - peaks.starts[rows])
    inten = peaks.intensity[idx] * texture_factors(peaks, idx, owner, first_peak,
                                                   cond.march_dollase_r, cond.axis_pick)
    tt, pat = peaks.two_theta[idx], owner
    if impurity_rows is not None and np.any(cond.impurity_fraction > 0):
        with_imp = np.flatnonzero(cond.impurity_fraction > 0)
        imp_idx, imp_owner = _gather(peaks.starts, np.asarray(impurity_rows, np.int64)[with_imp])
        imp_pat = with_imp[imp_owner]
        main_top = np.zeros(n)
        np.maximum.at(main_top, pat, inten)
        imp_inten = (peaks.intensity[imp_idx] / 100.0 * main_top[imp_pat]
                     * cond.impurity_fraction[imp_pat])
        visible = imp_inten > IMPURITY_CUT * main_top[imp_pat]
        tt = np.concatenate([tt, peaks.two_theta[imp_idx][visible]])
        inten = np.concatenate([inten, imp_inten[visible]])
        pat = np.concatenate([pat, imp_pat[visible]])
    lines = [(bragg_two_theta(tt, model.source_wavelength, CU_KA1), inten, pat)]
    doublet = cond.ka2_ratio[pat] > 0
    if np.any(doublet):
        lines.append((bragg_two_theta(tt[doublet], model.source_wavelength, CU_KA2),
                      inten[doublet] * cond.ka2_ratio[pat[doublet]], pat[doublet]))
    tt = np.concatenate([x[0] for x in lines])
    inten = np.concatenate([x[1] for x in lines])
    pat = np.concatenate([x[2] for x in lines])
    ok = np.isfinite(tt)
    tt, inten, pat = tt[ok], inten[ok], pat[ok]
    fwhm = peak_fwhm(tt, cond.caglioti[pat], cond.crystallite_nm[pat], CU_KA1, model.min_fwhm)
    tt = shift_two_theta(tt, cond.zero_shift[pat], cond.displacement_mm[pat],
                         model.goniometer_radius_mm)
    return pat, tt, inten, fwhm


def _profiles(pat: np.ndarray, tt: np.ndarray, inten: np.ndarray, fwhm: np.ndarray,
              eta: np.ndarray, n: int, grid: Grid) -> np.ndarray:
    """The pseudo-Voigt profiles (n, n_points) of peaks (pattern index, 2θ degrees, intensity,
    FWHM degrees) with a per-peak mixing η: η·L + (1 − η)·G, each part with its own
    intensity."""
    signal = pseudo_voigt_patterns(pat, tt, inten * (1 - eta), n, grid, eta=0.0, scale=False,
                                   fwhm=fwhm)
    if np.any(eta > 0):
        signal += pseudo_voigt_patterns(pat, tt, inten * eta, n, grid, eta=1.0, scale=False,
                                        fwhm=fwhm)
    return signal


def measure(peaks: PeakSet, rows: np.ndarray, cond: Conditions, grid: Grid,
            model: MeasurementModel, rng: np.random.Generator,
            impurity_rows: np.ndarray | None = None) -> np.ndarray:
    """Measurement-like patterns (len(rows), n_points) float32 of ``peaks`` rows ``rows`` under
    ``cond``: profiles, background, Poisson counts (``rng``), scan range; in units of the
    counts at the strongest peak (see the module docstring)."""
    n = len(rows)
    pat, tt, inten, fwhm = measured_peaks(peaks, rows, cond, model, impurity_rows)
    signal = np.empty((n, grid.n_points))
    by_pattern = np.argsort(pat, kind="stable")            # each pattern's peaks in their order
    starts = np.searchsorted(pat[by_pattern], np.arange(0, n + PROFILE_CHUNK, PROFILE_CHUNK))
    for lo, a, b in zip(range(0, n, PROFILE_CHUNK), starts[:-1], starts[1:]):
        sel = by_pattern[a:b]
        signal[lo:lo + PROFILE_CHUNK] = _profiles(pat[sel] - lo, tt[sel], inten[sel], fwhm[sel],
                                                  cond.eta[pat[sel]], min(PROFILE_CHUNK, n - lo),
                                                  grid)
    top = signal.max(axis=1, keepdims=True)
    signal = np.divide(signal, top, out=np.zeros_like(signal), where=top > 0)
    signal += background_shapes(grid, cond)
    counts = cond.counts[:, None]
    noisy = rng.poisson(signal * counts) / counts
    inside = scan_mask(grid, cond.scan_start, cond.scan_end)
    if model.subtract_minimum:
        low = np.where(inside, noisy, np.inf).min(axis=1, keepdims=True)
        noisy = noisy - np.where(np.isfinite(low), low, 0.0)
    return np.where(inside, noisy, 0.0).astype(np.float32)


def simulate(peaks: PeakSet, rows: np.ndarray, model: MeasurementModel, grid: Grid,
             rng: np.random.Generator, impurity_pool: np.ndarray | None = None) -> np.ndarray:
    """Measurement-like patterns of ``peaks`` rows ``rows``, conditions drawn from ``model``
    with ``rng``; impurity phases drawn from ``impurity_pool`` rows (default: all rows; a row
    is never its own impurity unless it is the only one — a variant of the same structure
    may be, with probability ≈ variants per structure / rows)."""
    rows = np.asarray(rows, np.int64)
    cond = draw_conditions(model, len(rows), rng)
    pool = (np.arange(peaks.n_rows) if impurity_pool is None
            else np.asarray(impurity_pool, np.int64))
    if len(pool) == 0:
        raise ValueError("simulate: the impurity pool is empty")
    pick = rng.integers(0, len(pool), len(rows))
    clash = pool[pick] == rows
    if len(pool) > 1:
        pick[clash] = (pick[clash] + 1) % len(pool)
    impurity = pool[pick]
    return measure(peaks, rows, cond, grid, model, rng, impurity)
