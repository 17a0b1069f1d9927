"""Measured intensities: real reflection files, and a simulator of measurement.

Real data
---------
:func:`read_measured` reads one single-crystal data set — a model (the structure CIF) and its
measured reflections — and returns a :class:`MeasuredData`: the measured intensities
I_meas = F²_meas merged to the unique set of the structure's space group, matched to the
intensities I_calc = |F_calc|² that cctbx computes from the model in the CIF.  Three
formats are read (all through iotbx):

* COD-style reflection CIFs (``.hkl``/``.fcf`` in CIF syntax) with ``_refln_F_squared_meas``
  (never the calculated column ``_refln_F_squared_calc``), or ``_refln_F_meas`` converted to
  F² (e.g. the neutron data set ``cod_2100301``);
* SHELX HKLF 4 files (``h k l F² σ(F²)`` in fixed columns);
* CIFs with the reflections embedded in ``_shelx_hkl_file`` (HKLF 4), as Acta Cryst E / IUCr
  journals and SHELXL ≥ 2014 write them.

:func:`read_measured_folder` reads every data set of a folder and goes on past bad ones,
listing each skipped path with its reason.

Simulated data
--------------
When no real data is given, :func:`simulate_measurement` turns calculated intensities into
"measured" ones: a per-file scale, an overall isotropic B factor, counting noise and
incompleteness (see its docstring).  Every figure made from it says "simulated".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------------------------
# Simulator of measurement
# ---------------------------------------------------------------------------------------------


@dataclass
class SimulatedMeasurement:
    """A simulated measurement and the parameters drawn for it (one value per file/row).

    ``intensity``: simulated measured intensity, same shape as the input (NaN = unmeasured);
    ``scale``: per-file scale k (dimensionless); ``b_factor``: overall B (Å²);
    ``measured``: boolean mask of the measured reflections.
    """

    intensity: np.ndarray
    scale: np.ndarray
    b_factor: np.ndarray
    measured: np.ndarray


def simulate_measurement_details(intensity_calc: np.ndarray, stol2: np.ndarray,
                                 rng: np.random.Generator,
                                 scale_range: tuple[float, float] = (0.5, 50.0),
                                 b_max: float = 3.0, noise: float = 0.03,
                                 completeness: float = 0.95) -> SimulatedMeasurement:
    """Like :func:`simulate_measurement`, also returning the drawn scale, B and mask."""
    i_calc = np.asarray(intensity_calc, dtype=np.float64)
    s2 = np.broadcast_to(np.asarray(stol2, dtype=np.float64), i_calc.shape)
    lo, hi = (float(v) for v in scale_range)
    if not (0.0 < lo <= hi):
        raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range!r}")
    if b_max < 0:
        raise ValueError(f"b_max must be >= 0 Å², got {b_max}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not 0.0 < completeness <= 1.0:
        raise ValueError(f"completeness must be in (0, 1], got {completeness}")
    if np.any(s2 < 0):
        raise ValueError("stol2 = (sin θ/λ)² must be >= 0")
    if np.any(i_calc < 0):
        raise ValueError("intensity_calc = |F_calc|² must be >= 0")

    file_shape = i_calc.shape[:-1] if i_calc.ndim > 1 else ()
    # per-file scale: log-uniform over scale_range (scales are multiplicative)
    scale = np.exp(rng.uniform(np.log(lo), np.log(hi), size=file_shape))
    b_factor = rng.uniform(0.0, b_max, size=file_shape)
    k = np.asarray(scale)[..., None] if i_calc.ndim > 1 else scale
    b = np.asarray(b_factor)[..., None] if i_calc.ndim > 1 else b_factor

    # overall isotropic displacement: F is damped by exp(-B s²), I by exp(-2 B s²)
    i_true = i_calc * np.exp(-2.0 * b * s2)
    # counting (Poisson-like) noise: variance ∝ intensity; a reflection of the file's mean
    # intensity gets relative error `noise`, weak ones relatively more, strong ones less.
    mean_i = np.mean(i_true, axis=-1, keepdims=True) if i_calc.ndim > 0 else i_true
    mean_i = np.where(mean_i > 0, mean_i, 1.0)
    sigma = noise * np.sqrt(np.maximum(i_true, 0.0) * mean_i)
    i_obs = i_true + sigma * rng.standard_normal(i_true.shape)
    # incompleteness: each reflection measured with probability `completeness`
    measured = rng.random(i_true.shape) < completeness
    i_meas = np.where(measured, k * i_obs, np.nan)
    return SimulatedMeasurement(intensity=i_meas, scale=np.asarray(scale),
                                b_factor=np.asarray(b_factor), measured=measured)


def simulate_measurement(intensity_calc: np.ndarray, stol2: np.ndarray,
                         rng: np.random.Generator,
                         scale_range: tuple[float, float] = (0.5, 50.0),
                         b_max: float = 3.0, noise: float = 0.03,
                         completeness: float = 0.95) -> np.ndarray:
    """Simulate measured intensities I_meas from calculated ones I_calc = |F_calc|².

    ``intensity_calc`` has the reflections on its last axis; each leading index (row) is one
    file (one crystal's data set).  ``stol2`` is (sin θ/λ)² in Å⁻² = 1/(4 d²), broadcastable
    to ``intensity_calc``.  Per file:

    1. an overall B factor B ~ U(0, ``b_max``) Å² damps the intensities by exp(−2 B s²);
    2. counting noise: I_obs = I_true + σ·N(0, 1) with σ = ``noise``·sqrt(I_true·⟨I_true⟩)
       (variance proportional to the intensity, as for Poisson counts; a reflection of the
       file's mean intensity has relative error ``noise``). Weak reflections can come out
       negative, as real measured F² do;
    3. a scale k, log-uniform in ``scale_range``, multiplies the file (arbitrary scale of a
       real data set);
    4. each reflection is measured with probability ``completeness``; unmeasured → NaN.

    Returns float64 of ``intensity_calc``'s shape.  Deterministic for a given ``rng`` state.
    """
    return simulate_measurement_details(intensity_calc, stol2, rng, scale_range=scale_range,
                                        b_max=b_max, noise=noise,
                                        completeness=completeness).intensity
