"""The one simulator of measurement: calculated intensities → "measured" ones.

When no real data is given, :func:`simulate_measurement` turns calculated intensities
I_calc = |F_calc|² into simulated measured ones: a per-file scale, an overall isotropic B factor
(Å²), counting noise and incompleteness (see its docstring).  Its defaults live in one place,
:class:`MeasurementParameters`, and its random numbers come from one seeding scheme,
:func:`measurement_rng` (stream :data:`STREAM_MEASUREMENT` of the run's seed, one child per
structure), whether a data set is built by :mod:`lib.phases.build` or simulated here for
notebook 01.  Every figure made from it says "simulated".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from . import structures
from .measured import MeasuredData
from .reflections import index_set
from .structure_factors import calculate

#: Random stream of the simulated measurement (distinct from the structures' streams).
STREAM_MEASUREMENT: int = 2


@dataclass(frozen=True)
class MeasurementParameters:
    """Parameters of the simulated measurement, with the study's defaults.

    ``scale_min``, ``scale_max``: range of the per-file scale k (dimensionless, log-uniform);
    ``b_max``: overall B factor drawn from U(0, b_max) (Å²); ``noise``: relative counting noise
    of a reflection of the file's mean intensity; ``completeness``: fraction measured.
    """

    scale_min: float = 0.5
    scale_max: float = 50.0
    b_max: float = 3.0
    noise: float = 0.03
    completeness: float = 0.95

    def __post_init__(self) -> None:
        if not 0.0 < self.scale_min <= self.scale_max:
            raise ValueError(f"scale range must satisfy 0 < scale_min <= scale_max, got "
                             f"({self.scale_min}, {self.scale_max})")
        if self.b_max < 0:
            raise ValueError(f"b_max must be >= 0 Å², got {self.b_max}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if not 0.0 < self.completeness <= 1.0:
            raise ValueError(f"completeness must be in (0, 1], got {self.completeness}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "MeasurementParameters":
        """From a provenance record (``scale_range`` = [min, max]) or keyword names."""
        values = dict(values or {})
        if "scale_range" in values:
            values["scale_min"], values["scale_max"] = values.pop("scale_range")
        return cls(**{k: float(v) for k, v in values.items()})

    def as_dict(self) -> dict[str, Any]:
        """The record stored in a data set's provenance."""
        return {"scale_range": [float(self.scale_min), float(self.scale_max)],
                "b_max": float(self.b_max), "noise": float(self.noise),
                "completeness": float(self.completeness)}

    def keywords(self) -> dict[str, Any]:
        """Keyword arguments of :func:`simulate_measurement`."""
        return {"scale_range": (self.scale_min, self.scale_max), "b_max": self.b_max,
                "noise": self.noise, "completeness": self.completeness}

_DEFAULTS = MeasurementParameters()


def measurement_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of the simulated measurement of structure ``index`` of run ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(
        int(seed), spawn_key=(STREAM_MEASUREMENT, int(index))))


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
                                 scale_range: tuple[float, float] = (
                                     _DEFAULTS.scale_min, _DEFAULTS.scale_max),
                                 b_max: float = _DEFAULTS.b_max, noise: float = _DEFAULTS.noise,
                                 completeness: float = _DEFAULTS.completeness
                                 ) -> SimulatedMeasurement:
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
                         scale_range: tuple[float, float] = (
                             _DEFAULTS.scale_min, _DEFAULTS.scale_max),
                         b_max: float = _DEFAULTS.b_max, noise: float = _DEFAULTS.noise,
                         completeness: float = _DEFAULTS.completeness) -> np.ndarray:
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


def simulate_data_sets(n_files: int, seed: int, generator: Any = None,
                       measurement: dict[str, Any] | None = None,
                       n_reflections: int = 4630) -> list[MeasuredData]:
    """``n_files`` simulated data sets: random P-1 structures, simulated measurement.

    Structures from :func:`lib.phases.structures.generate_structure` (``generator``: a
    ``GeneratorParameters``; default parameters when None; the experimental random stream),
    |F_calc|² on the report's index set, then :func:`simulate_measurement` with
    ``measurement`` (keys ``scale_range``, ``b_max``, ``noise``, ``completeness``).
    Unmeasured reflections are dropped, as in a real file.  ``radiation`` is "simulated".
    """
    params = generator if generator is not None else structures.GeneratorParameters()
    meas = MeasurementParameters.from_dict(measurement)
    hkl = index_set(n_reflections)
    out = []
    for i in range(n_files):
        xs = structures.generate_structure(params, seed, i, stream=structures.STREAM_EXPERIMENTAL)
        sf = calculate(xs, hkl)
        i_meas = simulate_measurement(sf.intensity, sf.stol2, measurement_rng(seed, i),
                                      **meas.keywords())
        ok = np.isfinite(i_meas)
        out.append(MeasuredData(
            source_id=f"simulated_{i:05d}", space_group="P -1",
            unit_cell=tuple(float(v) for v in xs.unit_cell().parameters()),
            hkl=hkl[ok].astype(np.int32), i_meas=i_meas[ok],
            sigma=np.full(int(ok.sum()), np.nan), i_calc=sf.intensity[ok], f_calc=sf.f[ok],
            stol2=sf.stol2[ok], d_spacing=1.0 / (2.0 * np.sqrt(sf.stol2[ok])),
            radiation="simulated", reflection_format="simulated (lib.phases.simulate."
            "simulate_measurement)", n_records=int(ok.sum())))
    return out
