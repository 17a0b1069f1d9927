"""Checks of the reflection data sets that can fail: an independent sum of F, the index set,
and the balance of signs per parity class.

Independent structure factors
-----------------------------
:func:`numpy_structure_factors` sums F(h) = Σ_j occ_j f_j(s) T_j(h) exp(2πi h·x_j) over all
atoms of the unit cell of a P-1 structure in plain NumPy, with nothing of cctbx's structure
factor code: the asymmetric unit is expanded by the inversion (x and −x; an atom *on* an
inversion centre, where −x ≡ x, counts once), the form factors f_j(s) = Σ_i a_i exp(−b_i s²) + c
(s = sin θ/λ in Å⁻¹) come from the IT 1992 coefficients (a, b, c) of
``cctbx.eltbx.xray_scattering.it1992(label).fetch()`` plus f′ + i f″, the displacement factor
is T = exp(−8π² U_iso s²) (and exp(−2π² hᵀU*h) for anisotropic atoms), and
s² = (sin θ/λ)² = hᵀG*h / 4 with G* the inverse of the cell's metric tensor.  Only the atoms'
parameters are read from the cctbx structure (:func:`atom_table`).  For the origin at an
inversion centre F is real: its sign is the phase (0 → +1, π → −1).

:func:`compare_stored_structure_factors` regenerates a sample of a data set's structures from
their ``source_id`` (``engine:<seed>:<stream>:<row>`` of the batched generator, with the
data set's recorded ``generator_block``; ``gen:<seed>:<stream>:<index>`` of the cctbx
generator; or a CIF file name) and compares that sum with the stored amplitude, sign and
intensity.

Stored |E| and d
----------------
:func:`compare_stored_e_values` recomputes, for a sample of rows, |E| with cctbx's shell
normalisation (:func:`lib.phases.evalues.e_values`: cctbx's counting-sorted shells for the
index cube, ``miller.array.normalize`` for the resolution sphere) from the stored
intensities (the resolution-sphere set: from the amplitudes inside the sphere) and d with
cctbx's ``unit_cell.d``, and compares them with the stored ``e_value`` and ``d_spacing`` (which
the builder computes with the vectorised NumPy twins).

Sign balance per parity class
-----------------------------
The 8 parity classes of (h, k, l) mod 2 behave differently.  Moving the origin to another
inversion centre (by p/2) flips the signs of the reflections with odd h·p; the generator
makes the 8 origins equally likely, so every class but (0, 0, 0) is positive with
probability ½ exactly.  The class (0, 0, 0) — the *seminvariants*, h, k, l all even — is not
touched by origin shifts; in generated structures it leans negative (≈ 0.485 positive: no atom
sits within half the minimum distance of an inversion centre, where cos(2π h·x) = +1 for
all-even h).  :func:`sign_balance_by_parity` measures the fraction of positive signs per class,
with a standard error over structures (signs of one structure are not independent).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import generator as batch_generator
from . import reflections
from .evalues import d_spacings, e_values
from .store import open_dataset, read_provenance
from .structures import (GeneratorParameters, generate_structure, min_interatomic_distance,
                         read_cif_file)

#: Largest |ΔF| accepted between the stored and the independent F, as a fraction of max |F|.
F_TOLERANCE: float = 1e-4
#: Largest |ΔE| accepted between the stored |E| and cctbx's (float32 storage, |E| ≤ 5).
E_TOLERANCE: float = 1e-4
#: Largest relative |Δd| accepted between the stored d and cctbx's.
D_TOLERANCE: float = 1e-5
#: Signs are compared where |F| exceeds this fraction of max |F| (elsewhere rounding decides).
STRONG_FRACTION: float = 1e-3
#: The 8 parity classes (h, k, l) mod 2; the first, (0, 0, 0), holds the seminvariants.
PARITY_CLASSES: tuple[tuple[int, int, int], ...] = tuple(
    (h, k, l) for h in (0, 1) for k in (0, 1) for l in (0, 1))


# ---------------------------------------------------------------------------------------------
# Geometry and form factors (NumPy)
# ---------------------------------------------------------------------------------------------


def metric_tensor(cell: Sequence[float]) -> np.ndarray:
    """Metric tensor G (Å²) of a cell (a, b, c in Å; α, β, γ in degrees)."""
    a, b, c = (float(v) for v in cell[:3])
    ca, cb, cg = (math.cos(math.radians(float(v))) for v in cell[3:6])
    return np.array([[a * a, a * b * cg, a * c * cb],
                     [a * b * cg, b * b, b * c * ca],
                     [a * c * cb, b * c * ca, c * c]])


def stol2_numpy(cell: Sequence[float], hkl: np.ndarray) -> np.ndarray:
    """(sin θ/λ)² = hᵀG*h / 4 in Å⁻² of reflections ``hkl`` (n, 3), G* = G⁻¹ the reciprocal
    metric tensor of ``cell``."""
    g_star = np.linalg.inv(metric_tensor(cell))
    h = np.asarray(hkl, dtype=float)
    return np.einsum("ni,ij,nj->n", h, g_star, h) / 4.0


@lru_cache(maxsize=128)
def form_factor_coefficients(label: str) -> tuple[np.ndarray, np.ndarray, float]:
    """IT 1992 Gaussian coefficients (a_i, b_i (Å²), c) of the X-ray form factor of the
    scattering type ``label`` (``"C"``, ``"O1-"``, ``"Fe3+"``), from cctbx's eltbx tables."""
    from cctbx.eltbx import xray_scattering

    try:
        gaussian = xray_scattering.it1992(str(label)).fetch()
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"no IT 1992 form factor for scattering type {label!r}: "
                         f"{error}") from None
    return (np.array(gaussian.array_of_a(), dtype=float),
            np.array(gaussian.array_of_b(), dtype=float), float(gaussian.c()))


def form_factor(label: str, s2: np.ndarray) -> np.ndarray:
    """X-ray form factor f₀(s) = Σ_i a_i exp(−b_i s²) + c (electrons) at s² = (sin θ/λ)²
    (Å⁻²), IT 1992 coefficients."""
    a, b, c = form_factor_coefficients(label)
    s2 = np.asarray(s2, dtype=float)
    return np.exp(-np.multiply.outer(s2, b)) @ a + c


# ---------------------------------------------------------------------------------------------
# Atoms and the independent sum
# ---------------------------------------------------------------------------------------------


@dataclass
class AtomTable:
    """The atoms of an asymmetric unit as plain arrays.

    ``sites``: fractional coordinates (n, 3); ``occupancy`` (n,); ``u_iso`` (n,) in Å² (0
    where not used); ``u_star`` (n, 6) U*₁₁, U*₂₂, U*₃₃, U*₁₂, U*₁₃, U*₂₃ (dimensionless,
    T = exp(−2π² hᵀU*h); 0 where not used); ``scattering_type`` (n,) labels; ``fp``, ``fdp``
    (n,) anomalous f′, f″ (electrons).
    """

    sites: np.ndarray
    occupancy: np.ndarray
    u_iso: np.ndarray
    u_star: np.ndarray
    scattering_type: list[str]
    fp: np.ndarray
    fdp: np.ndarray


def atom_table(xs) -> AtomTable:
    """The atoms' parameters of a cctbx ``xray.structure`` (nothing of its F code is used)."""
    scatterers = list(xs.scatterers())
    n = len(scatterers)
    u_iso = np.array([sc.u_iso if sc.flags.use_u_iso() else 0.0 for sc in scatterers])
    u_star = np.array([sc.u_star if sc.flags.use_u_aniso() else (0.0,) * 6
                       for sc in scatterers], dtype=float).reshape(n, 6)
    return AtomTable(sites=np.array([sc.site for sc in scatterers], dtype=float).reshape(n, 3),
                     occupancy=np.array([sc.occupancy for sc in scatterers], dtype=float),
                     u_iso=u_iso, u_star=u_star,
                     scattering_type=[sc.scattering_type for sc in scatterers],
                     fp=np.array([sc.fp for sc in scatterers], dtype=float),
                     fdp=np.array([sc.fdp for sc in scatterers], dtype=float))


def on_inversion_centre(sites: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """True for fractional sites x with −x ≡ x (mod 1): 2x integer, an inversion centre of
    P-1 (the atom is its own image and counts once in the unit cell)."""
    twice = 2.0 * np.asarray(sites, dtype=float)
    return np.all(np.abs(twice - np.round(twice)) < tolerance, axis=-1)


def numpy_structure_factors(cell: Sequence[float], atoms: AtomTable,
                            hkl: np.ndarray) -> np.ndarray:
    """Complex F(h) (electrons) of a P-1 structure (origin at an inversion centre), summed
    in NumPy over all atoms of the unit cell: each atom at x and at −x (once when on an
    inversion centre), occ · (f₀(s) + f′ + i f″) · T(h) · exp(2πi h·x), IT 1992 f₀,
    T = exp(−8π² U_iso s²) · exp(−2π² hᵀU*h)."""
    hkl = np.asarray(hkl, dtype=float)
    if hkl.ndim != 2 or hkl.shape[1] != 3:
        raise ValueError(f"hkl must have shape (n, 3), got {hkl.shape}")
    s2 = stol2_numpy(cell, hkl)
    h, k, l = hkl.T
    f = np.zeros(len(hkl), dtype=complex)
    single = on_inversion_centre(atoms.sites)
    for j, label in enumerate(atoms.scattering_type):
        u11, u22, u33, u12, u13, u23 = atoms.u_star[j]
        aniso = (h * h * u11 + k * k * u22 + l * l * u33
                 + 2 * (h * k * u12 + h * l * u13 + k * l * u23))
        weight = (atoms.occupancy[j] * (form_factor(label, s2) + atoms.fp[j] + 1j * atoms.fdp[j])
                  * np.exp(-8 * np.pi ** 2 * atoms.u_iso[j] * s2 - 2 * np.pi ** 2 * aniso))
        phase = 2 * np.pi * (hkl @ atoms.sites[j])
        images = np.exp(1j * phase) if single[j] else np.exp(1j * phase) + np.exp(-1j * phase)
        f += weight * images
    return f


def p1bar_structure_factors(xs, hkl: np.ndarray) -> np.ndarray:
    """:func:`numpy_structure_factors` of a cctbx structure in P-1 with its inversion centre
    at the origin (the reference setting ``-P 1``); raises ``ValueError`` otherwise."""
    group = xs.space_group()
    if group.order_z() != 2 or not group.is_origin_centric():
        raise ValueError(f"the NumPy sum expands P-1 with the inversion at the origin; this "
                         f"structure is in {xs.space_group_info()}")
    return numpy_structure_factors(xs.unit_cell().parameters(), atom_table(xs), hkl)


# ---------------------------------------------------------------------------------------------
# Stored data sets against the independent sum
# ---------------------------------------------------------------------------------------------


def parse_generated_source_id(source_id: str) -> tuple[int, int, int] | None:
    """(seed, stream, index) of ``gen:<seed>:<stream>:<index>``, or None for other ids."""
    parts = str(source_id).split(":")
    if len(parts) != 4 or parts[0] != "gen":
        return None
    try:
        return int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None


def structure_for_source(source_id: str, generator: GeneratorParameters | None = None,
                         cif_dir: str | os.PathLike[str] | None = None,
                         generator_block: int = batch_generator.GENERATOR_BLOCK):
    """The cctbx structure a data-set row was computed from: regenerated for
    ``engine:<seed>:<stream>:<row>`` (the batched generator, in blocks of
    ``generator_block``) and ``gen:<seed>:<stream>:<index>`` (the cctbx generator), both with
    ``generator``; else read from the CIF ``cif_dir/<file>`` (``<file>#<block>`` picks a
    block).  Raises ``ValueError`` naming the id when it cannot be found."""
    generated = parse_generated_source_id(source_id)
    batched = batch_generator.parse_engine_source_id(source_id)
    if (generated or batched) and generator is None:
        raise ValueError(f"{source_id}: generated structure, but no generator parameters")
    if batched is not None:
        seed, stream, row = batched
        one = batch_generator.structure_at(generator, seed, stream, row, generator_block)
        return batch_generator.to_cctbx(one, 0)
    if generated is not None:
        seed, stream, index = generated
        return generate_structure(generator, seed, index, stream)
    if cif_dir is None:
        raise ValueError(f"{source_id!r} is not a generated id and no CIF folder was given")
    name, _, block = str(source_id).partition("#")
    result = read_cif_file(Path(cif_dir) / name)
    for s in result.structures:
        if not block or s.block == block:
            return s.structure
    reasons = "; ".join(str(s) for s in result.skipped) or "no such block"
    raise ValueError(f"{source_id}: structure not found in {cif_dir} ({reasons})")


def sources_of(path: str | os.PathLike[str]) -> tuple[GeneratorParameters | None, str | None]:
    """Generator parameters and CIF folder a data set was built with (its provenance)."""
    parameters = read_provenance(path).get("parameters", {})
    generator = parameters.get("generator")
    return (GeneratorParameters(**generator) if generator else None,
            parameters.get("cif_dir"))


def generator_block_of(path: str | os.PathLike[str]) -> int:
    """Structures per block of the batched generator a data set was built with (its
    provenance; :data:`lib.phases.generator.GENERATOR_BLOCK` when not recorded)."""
    block = read_provenance(path).get("parameters", {}).get("generator_block")
    return int(block) if block else batch_generator.GENERATOR_BLOCK


def sample_rows(n_structures: int, n_sample: int) -> np.ndarray:
    """``n_sample`` row numbers spread evenly over 0 .. n_structures − 1 (first and last
    included)."""
    return np.unique(np.linspace(0, n_structures - 1, min(n_sample, n_structures)).round()
                     .astype(int))


def stored_row(path: str | os.PathLike[str], row: int) -> dict[str, Any]:
    """One structure of a data set: its ``source_id``, the file's ``hkl``, and its stored
    ``amplitude`` |F_calc|, ``sign`` (float ±1) and ``intensity_calc`` |F_calc|² (one row
    read, however large the file)."""
    with open_dataset(path) as f:
        n = int(f.attrs["n_structures"])
        if not 0 <= row < n:
            raise IndexError(f"{path}: row {row} asked for, the file holds {n} structures")
        return {"source_id": str(f["source_id"].asstr()[row]), "hkl": f["hkl"][:],
                "amplitude": f["amplitude"][row].astype(float),
                "sign": f["sign"][row].astype(float),
                "intensity_calc": f["intensity_calc"][row].astype(float)}


def compare_stored_structure_factors(path: str | os.PathLike[str], rows: Sequence[int],
                                     generator: GeneratorParameters | None = None,
                                     cif_dir: str | os.PathLike[str] | None = None,
                                     tolerance: float = F_TOLERANCE,
                                     strong: float = STRONG_FRACTION) -> list[dict[str, Any]]:
    """Compare rows ``rows`` of data set ``path`` with :func:`numpy_structure_factors` of the
    structure named by their ``source_id``.

    ``generator`` and ``cif_dir`` default to the file's provenance.  Per structure: max |F|,
    max |ΔF| / max |F| between sign·amplitude stored and the NumPy F (and for |F| alone, and
    for the intensity |F_calc|² as max |ΔI| / max I), max |Im F| / max |F|, the number of
    strong reflections (|F| > ``strong``·max |F|) and of sign mismatches among them, the
    shortest interatomic distance (Å, cctbx pair tables, symmetry equivalents included), and
    ``ok``: |ΔF| ≤ ``tolerance``·max |F|, |ΔI| ≤ 2·``tolerance``·max I, no mismatch.
    """
    stored_generator, stored_cif_dir = sources_of(path)
    generator = generator or stored_generator
    cif_dir = cif_dir or stored_cif_dir
    block = generator_block_of(path)
    out = []
    for row in (int(r) for r in rows):
        stored = stored_row(path, row)
        source_id = stored["source_id"]
        xs = structure_for_source(source_id, generator, cif_dir, block)
        f = p1bar_structure_factors(xs, stored["hkl"])
        f_max = float(np.max(np.abs(f)))
        d_f = float(np.max(np.abs(stored["sign"] * stored["amplitude"] - f.real))) / f_max
        d_amplitude = float(np.max(np.abs(stored["amplitude"] - np.abs(f)))) / f_max
        d_intensity = float(np.max(np.abs(stored["intensity_calc"] - np.abs(f) ** 2))) \
            / f_max ** 2
        sel = np.abs(f) > strong * f_max
        mismatches = int(np.sum(np.sign(f.real[sel]) != stored["sign"][sel]))
        out.append({
            "row": row, "source_id": source_id, "n_atoms": int(xs.scatterers().size()),
            "max_abs_f": f_max, "max_delta_f_rel": d_f, "max_delta_amplitude_rel": d_amplitude,
            "max_delta_intensity_rel": d_intensity,
            "max_imag_f_rel": float(np.max(np.abs(f.imag))) / f_max,
            "n_strong": int(sel.sum()), "sign_mismatches_strong": mismatches,
            "min_distance": min_interatomic_distance(xs),
            "ok": bool(d_f <= tolerance and d_amplitude <= tolerance
                       and d_intensity <= 2 * tolerance and mismatches == 0),
        })
    return out


# ---------------------------------------------------------------------------------------------
# The index set
# ---------------------------------------------------------------------------------------------


def compare_stored_e_values(path: str | os.PathLike[str], rows: Sequence[int]
                            ) -> list[dict[str, Any]]:
    """Stored |E| and d of ``rows`` of a data set (index-cube or resolution-sphere layout)
    against cctbx: per row the largest |ΔE| (dimensionless), the largest relative |Δd|, the
    reflections present (measured, or inside the sphere) and whether both are within
    :data:`E_TOLERANCE` / :data:`D_TOLERANCE`.  A missing field fails loudly (``KeyError``
    naming the file)."""
    out = []
    with open_dataset(path) as f:
        for name in ("e_value", "d_spacing", "cell", "hkl"):
            if name not in f:
                raise KeyError(f"{path}: no field {name!r} (a data set written before |E| and "
                               f"d were stored: rerun 00_data)")
        sphere = f.attrs.get("kind") == "sphere"
        hkl = f["hkl"][()]
        for row in rows:
            cell = f["cell"][row]
            if sphere:
                present = f["mask"][row]
                amplitude = np.where(present, f["amplitude"][row].astype(np.float64), np.nan)
            else:
                intensity = f["intensity"][row].astype(np.float64)
                present = np.isfinite(intensity)
                amplitude = np.where(present, np.sqrt(np.clip(intensity, 0.0, None)), np.nan)
            reference_e = e_values(amplitude, hkl, cell,
                                   shells="volume" if sphere else "count")
            stored_e = f["e_value"][row].astype(np.float64)
            # cctbx leaves |E| undefined (NaN) for a zero amplitude alone in its shell (e.g. a
            # negative measured intensity at the highest resolution); |E| = 0 is right there
            compared = present & np.isfinite(reference_e)
            undefined = present & ~np.isfinite(reference_e)
            delta_e = float(np.max(np.abs(stored_e[compared] - reference_e[compared]))) \
                if compared.any() else 0.0
            if np.any(amplitude[undefined] != 0) or np.any(stored_e[undefined] != 0):
                delta_e = float("inf")
            reference_d = d_spacings(cell, hkl)
            delta_d = float(np.max(np.abs(f["d_spacing"][row] - reference_d) / reference_d))
            out.append({"row": int(row), "n_present": int(present.sum()),
                        "n_undefined_in_cctbx": int(undefined.sum()),
                        "max_delta_e": delta_e, "max_delta_d_rel": delta_d,
                        "ok": delta_e <= E_TOLERANCE and delta_d <= D_TOLERANCE})
    return out


def index_set_problems(hkl: np.ndarray, index_max: int = reflections.INDEX_MAX) -> list[str]:
    """What keeps ``hkl`` from being the report's index set, checked in NumPy: every (h, k, l)
    of the cube [−index_max, index_max]³ but (0, 0, 0) exactly once up to Friedel (h ≡ −h),
    sorted by h² + k² + l² (non-decreasing, so the report's small set, h² + k² + l² < 50,
    comes first).  An empty list means it is."""
    hkl = np.asarray(hkl, dtype=np.int64)
    problems = []
    if hkl.ndim != 2 or hkl.shape[1] != 3:
        return [f"hkl has shape {hkl.shape}, not (n, 3)"]
    span = 2 * index_max + 1
    expected = (span ** 3 - 1) // 2
    if len(hkl) != expected:
        problems.append(f"{len(hkl)} reflections, the cube's unique half has {expected}")
    if np.any(np.abs(hkl) > index_max):
        problems.append(f"indices beyond ±{index_max}")
    else:
        def flat(v: np.ndarray) -> np.ndarray:
            return ((v[:, 0] + index_max) * span + v[:, 1] + index_max) * span \
                + v[:, 2] + index_max

        count = np.zeros(span ** 3, dtype=int)     # times h or its Friedel mate −h is in
        np.add.at(count, flat(hkl), 1)
        np.add.at(count, flat(-hkl), 1)
        centre = flat(np.zeros((1, 3), dtype=np.int64))[0]
        if count[centre]:
            problems.append("(0, 0, 0) is in the set")
        count[centre] = 1
        if np.any(count > 1):
            problems.append(f"{int(np.sum(count > 1)) // 2} reflections appear twice (or with "
                            f"their Friedel mate)")
        if np.any(count == 0):
            problems.append(f"{int(np.sum(count == 0)) // 2} reflections of the cube missing")
    r2 = (hkl ** 2).sum(axis=1)
    if np.any(np.diff(r2) < 0):
        problems.append("not sorted by h² + k² + l²")
    return problems


# ---------------------------------------------------------------------------------------------
# Sign balance per parity class
# ---------------------------------------------------------------------------------------------


def parity_label(parity: Sequence[int]) -> str:
    """``"(0,1,1)"``: the label of a parity class (h, k, l) mod 2."""
    return "(" + ",".join(str(int(v)) for v in parity) + ")"


def parity_classes(hkl: np.ndarray) -> np.ndarray:
    """Index 0..7 into :data:`PARITY_CLASSES` of each reflection's (h, k, l) mod 2."""
    p = np.mod(np.asarray(hkl, dtype=np.int64), 2)
    return p[:, 0] * 4 + p[:, 1] * 2 + p[:, 2]


def sign_balance_by_parity(sign: np.ndarray, hkl: np.ndarray) -> list[dict[str, Any]]:
    """Fraction of positive signs per parity class of (h, k, l) mod 2.

    ``sign``: (n_structures, n_reflections) ±1; ``hkl``: (n_reflections, 3).  One row per
    class with reflections: ``parity`` label, ``seminvariant`` (h, k, l all even),
    ``n_reflections``, ``n_structures``, ``fraction_positive`` p, ``standard_error`` (the
    standard deviation of the per-structure fractions / √n_structures: signs of one
    structure are correlated, so structures are the independent units; NaN for one
    structure), ``z`` = (p − ½) / SE, and ``best_constant_accuracy`` max(p, 1 − p): the
    accuracy of always predicting the commoner sign.
    """
    sign = np.asarray(sign)
    if sign.ndim != 2 or sign.shape[1] != len(hkl):
        raise ValueError(f"sign must be (n_structures, {len(hkl)}), got {sign.shape}")
    classes = parity_classes(hkl)
    n_structures = sign.shape[0]
    out = []
    for code, parity in enumerate(PARITY_CLASSES):
        sel = classes == code
        if not sel.any():
            continue
        per_structure = (sign[:, sel] > 0).mean(axis=1)
        p = float(per_structure.mean()) if n_structures else float("nan")
        se = float(per_structure.std(ddof=1) / math.sqrt(n_structures)) \
            if n_structures > 1 else float("nan")
        out.append({"parity": parity_label(parity), "seminvariant": code == 0,
                    "n_reflections": int(sel.sum()), "n_structures": int(n_structures),
                    "fraction_positive": p, "standard_error": se,
                    "z": (p - 0.5) / se if se > 0 else float("nan"),
                    "best_constant_accuracy": max(p, 1.0 - p)})
    return out


def origin_classes_balanced(table: Sequence[dict[str, Any]], n_se: float = 3.0) -> bool:
    """True when every non-seminvariant class of a :func:`sign_balance_by_parity` table is
    within ``n_se`` standard errors of ½ (what origin symmetry demands)."""
    rows = [r for r in table if not r["seminvariant"]]
    return bool(rows) and all(abs(r["fraction_positive"] - 0.5) <= n_se * r["standard_error"]
                              for r in rows)
