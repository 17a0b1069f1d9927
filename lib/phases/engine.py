"""Batched structure factors of P-1 structures: many structures at once, NumPy or ``keras.ops``.

For a structure in P-1 with its origin at an inversion centre every structure factor is real:

    F(h) = 2 Σ_j occ_j · f_j(s) · exp(−8π² U_j s²) · cos(2π h·x_j)

summed over the atoms j of the asymmetric unit (the inversion images give the factor 2), with
s = sin θ/λ (Å⁻¹), s² = h^T G* h / 4 (G* the reciprocal metric), f_j the atomic form factor of
the International Tables 1992 (cctbx's ``it1992`` Gaussians: f(s) = Σ_i a_i exp(−b_i s²) + c),
U_j the isotropic displacement parameter (Å²) and occ_j the occupancy (an atom on an inversion
centre counts with occupancy × ½, cctbx's ``scatterer.weight()``).  h·x is reduced modulo 1
before the cosine, so float32 keeps |ΔF| ≲ 1e-6 of the strongest |F|.

Inputs are padded arrays: fractional coordinates (B, N, 3), element indices (B, N) into a
:class:`FormFactorTable`, U (B, N) and occupancy (B, N) — structures with fewer atoms are padded
with occupancy 0 — and cells (B, 6) (a, b, c in Å; α, β, γ in degrees).  The reflections (R, 3)
are shared by the batch.  Work proceeds in chunks of reflections and atoms so that no
intermediate array exceeds ``max_elements`` numbers.

Two implementations of the same formula: ``backend="numpy"`` (the fastest on a CPU core) and
``backend="keras"`` (``keras.ops``: the same code on CPU or a GPU, through TensorFlow, JAX or
PyTorch).  Both are validated against cctbx's direct summation in ``tests/test_engine.py``.
The engine is isotropic: an anisotropic atom counts with its U_eq (compare with cctbx after
``convert_to_isotropic()``).

Speed (``benchmarks/bench_engines.py``, one core, 30-atom structures, 4630 reflections):
≈ 2,000 structures/s with NumPy, ≈ 13× cctbx's direct summation.  The NumPy loop is bound by
its ~10 passes over the (structure, atom, reflection) array (matmul, modulo, cosine, thermal
exponent and exp, product, per-element matmul; ≈ 0.3–0.6 ns per value each) and by the
20 Gaussians of the form factors per reflection (≈ 30 %); Python costs < 2 %.  Tried and
slower here: tables over index pairs on the half cube (no transcendental per atom and
reflection, but 5-D broadcasting), XLA-compiled TensorFlow on the CPU, and form factors
interpolated in a table (gathers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

#: Largest number of values of one intermediate (structures × atoms × reflections) of the
#: NumPy engine: 128 Ki float32 (512 KiB) keeps each pass in a CPU core's cache (measured
#: fastest on this machine among 2^14 … 2^22).
MAX_ELEMENTS: int = 1 << 17
#: The same for ``keras.ops`` (a GPU wants few, large kernels: 64 Mi float32 = 256 MiB).
KERAS_MAX_ELEMENTS: int = 1 << 26
#: Implementations of the engine.
BACKENDS: tuple[str, ...] = ("numpy", "keras")
#: Exponents are floored here before exp(): exp(−80) ≈ 1.8e−35 is still a normal float32,
#: while the subnormal results of exp(−150) make NumPy's SIMD exp about ten times slower (the
#: Gaussians of the form factors with b ≈ 50 Å² reach them at s² ≳ 1.7 Å⁻²).
EXP_FLOOR: float = -80.0
#: 8π², the factor between U (Å²) and B (Å²).
EIGHT_PI2: float = 8.0 * np.pi ** 2


# ---------------------------------------------------------------------------------------------
# Form factors and cells
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormFactorTable:
    """Gaussian coefficients of the atomic form factors of some scattering types.

    ``labels``: the scattering types (cctbx labels: ``"C"``, ``"O2-"``...); ``a``, ``b``
    (E, G): f(s) = Σ_i a_i exp(−b_i s²) + c in electrons with s² in Å⁻² (padded with a = 0);
    ``c`` (E,).  Row e is the form factor of element index e.
    """

    labels: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray

    def index(self, label: str) -> int:
        """Element index of scattering type ``label`` (``ValueError`` when absent)."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"scattering type {label!r} is not in the form-factor table "
                             f"{self.labels}") from None

    def at_stol2(self, stol2: np.ndarray) -> np.ndarray:
        """Form factors f_e(s) (E, ...) in electrons at s² = ``stol2`` (Å⁻², any shape)."""
        s2 = np.asarray(stol2, dtype=np.float64)[None]
        shape = (len(self.labels),) + (1,) * (s2.ndim - 1)
        out = np.broadcast_to(self.c.reshape(shape), (len(self.labels),) + s2.shape[1:]).copy()
        for i in range(self.a.shape[1]):
            out += self.a[:, i].reshape(shape) * np.exp(-self.b[:, i].reshape(shape) * s2)
        return out


@lru_cache(maxsize=256)
def _it1992(label: str) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    from cctbx.eltbx import xray_scattering

    try:
        gaussian = xray_scattering.it1992(label).fetch()
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"no it1992 form factor for scattering type {label!r}: {error}") \
            from None
    return tuple(gaussian.array_of_a()), tuple(gaussian.array_of_b()), float(gaussian.c())


def form_factor_table(labels: Sequence[str]) -> FormFactorTable:
    """The it1992 Gaussians (cctbx ``xray_scattering.it1992(label).fetch()``) of ``labels``,
    fetched once per scattering type."""
    labels = tuple(str(v) for v in labels)
    if not labels:
        raise ValueError("form_factor_table needs at least one scattering type")
    coefficients = [_it1992(label) for label in labels]
    n_gauss = max(len(a) for a, _, _ in coefficients)
    a = np.zeros((len(labels), n_gauss))
    b = np.zeros((len(labels), n_gauss))
    for e, (ae, be, _) in enumerate(coefficients):
        a[e, : len(ae)] = ae
        b[e, : len(be)] = be
    c = np.array([ce for _, _, ce in coefficients])
    return FormFactorTable(labels=labels, a=a, b=b, c=c)


def reciprocal_metric(cells: np.ndarray) -> np.ndarray:
    """Reciprocal metric G* (B, 3, 3) in Å⁻² of cells (B, 6): a, b, c (Å), α, β, γ (degrees).

    Raises ``ValueError`` naming the first cell that is not a valid cell."""
    cells = np.atleast_2d(np.asarray(cells, dtype=np.float64))
    if cells.ndim != 2 or cells.shape[1] != 6:
        raise ValueError(f"cells must have shape (B, 6), got {cells.shape}")
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    ca, cb, cg = (np.cos(np.radians(cells[:, i])) for i in (3, 4, 5))
    g = np.empty((len(cells), 3, 3))
    g[:, 0, 0], g[:, 1, 1], g[:, 2, 2] = a * a, b * b, c * c
    g[:, 0, 1] = g[:, 1, 0] = a * b * cg
    g[:, 0, 2] = g[:, 2, 0] = a * c * cb
    g[:, 1, 2] = g[:, 2, 1] = b * c * ca
    det = np.linalg.det(g)
    angles_ok = np.all((cells[:, 3:] > 0) & (cells[:, 3:] < 180), axis=1)
    bad = np.flatnonzero(~(det > 0) | ~np.all(cells[:, :3] > 0, axis=1) | ~angles_ok)
    if bad.size:
        raise ValueError(f"cell {bad[0]} {tuple(cells[bad[0]])} is not a valid unit cell")
    return np.linalg.inv(g)


def cell_volumes(cells: np.ndarray) -> np.ndarray:
    """Volumes (B,) in Å³ of cells (B, 6); NaN where the angles make no cell."""
    cells = np.atleast_2d(np.asarray(cells, dtype=np.float64))
    ca, cb, cg = (np.cos(np.radians(cells[:, i])) for i in (3, 4, 5))
    g = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    with np.errstate(invalid="ignore"):
        return np.where(g > 0, np.prod(cells[:, :3], axis=1) * np.sqrt(np.abs(g)), np.nan)


def orthogonalisation_matrices(cells: np.ndarray) -> np.ndarray:
    """Matrices M (B, 3, 3) with x_cart = M x_frac (Å), cctbx's convention (a along x,
    b in the xy plane)."""
    cells = np.atleast_2d(np.asarray(cells, dtype=np.float64))
    a, b, c = cells[:, 0], cells[:, 1], cells[:, 2]
    al, be, ga = (np.radians(cells[:, i]) for i in (3, 4, 5))
    ca, cb, cg, sg = np.cos(al), np.cos(be), np.cos(ga), np.sin(ga)
    volume = cell_volumes(cells)
    m = np.zeros((len(cells), 3, 3))
    m[:, 0, 0] = a
    m[:, 0, 1] = b * cg
    m[:, 0, 2] = c * cb
    m[:, 1, 1] = b * sg
    m[:, 1, 2] = c * (ca - cb * cg) / sg
    m[:, 2, 2] = volume / (a * b * sg)
    return m


def _metric_terms(hkl: np.ndarray) -> np.ndarray:
    """(R, 6) products h², k², l², 2hk, 2hl, 2kl divided by 4: s² = terms @ g6."""
    h = np.asarray(hkl, dtype=np.float64)
    return np.stack([h[:, 0] ** 2, h[:, 1] ** 2, h[:, 2] ** 2, 2 * h[:, 0] * h[:, 1],
                     2 * h[:, 0] * h[:, 2], 2 * h[:, 1] * h[:, 2]], axis=1) / 4.0


def _g6(cells: np.ndarray) -> np.ndarray:
    g = reciprocal_metric(cells)
    return np.stack([g[:, 0, 0], g[:, 1, 1], g[:, 2, 2], g[:, 0, 1], g[:, 0, 2], g[:, 1, 2]],
                    axis=1)


def stol2_batch(cells: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """(sin θ/λ)² = h^T G* h / 4 (B, R) in Å⁻² of reflections ``hkl`` in each cell (float64)."""
    return _g6(cells) @ _metric_terms(hkl).T


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass
class StructureBatch:
    """Padded arrays of B structures of up to N atoms in the asymmetric unit (P-1, inversion
    centre at the origin).

    ``sites`` (B, N, 3) fractional; ``element`` (B, N) int indices into ``table``; ``u_iso``
    (B, N) Å²; ``occupancy`` (B, N) (0 = padding); ``cells`` (B, 6) Å and degrees;
    ``n_atoms`` (B,) atoms actually present.
    """

    sites: np.ndarray
    element: np.ndarray
    u_iso: np.ndarray
    occupancy: np.ndarray
    cells: np.ndarray
    table: FormFactorTable
    n_atoms: np.ndarray

    def __len__(self) -> int:
        return int(self.sites.shape[0])

    def check(self) -> "StructureBatch":
        """Check shapes and values; raise ``ValueError`` naming the offending array."""
        b, n = self.sites.shape[:2]
        if self.sites.shape != (b, n, 3):
            raise ValueError(f"sites must have shape (B, N, 3), got {self.sites.shape}")
        for name in ("element", "u_iso", "occupancy"):
            if getattr(self, name).shape != (b, n):
                raise ValueError(f"{name} must have shape {(b, n)} like the sites, got "
                                 f"{getattr(self, name).shape}")
        if self.cells.shape != (b, 6):
            raise ValueError(f"cells must have shape {(b, 6)}, got {self.cells.shape}")
        if self.element.size and (self.element.min() < 0 or
                                  self.element.max() >= len(self.table.labels)):
            raise ValueError(f"element indices must lie in [0, {len(self.table.labels)}), got "
                             f"[{self.element.min()}, {self.element.max()}]")
        for name in ("sites", "u_iso", "occupancy", "cells"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"{name} holds NaN or infinite values")
        reciprocal_metric(self.cells)
        return self

    def take(self, rows: Any) -> "StructureBatch":
        """The structures ``rows`` (an index array or slice) as a new batch."""
        return StructureBatch(self.sites[rows], self.element[rows], self.u_iso[rows],
                              self.occupancy[rows], self.cells[rows], self.table,
                              self.n_atoms[rows])


def batch_from_cctbx(structures: Sequence[Any], table: FormFactorTable | None = None,
                     n_max: int | None = None) -> StructureBatch:
    """Padded arrays of cctbx ``xray.structure`` objects in P-1 with the origin at −1.

    Anisotropic atoms count with their U_eq (the engine is isotropic: compare with cctbx after
    ``convert_to_isotropic()``); the occupancy is cctbx's ``scatterer.weight()`` × 2 / order_z
    (occupancy × site multiplicity / 2: ½ for an atom on an inversion centre).  Raises
    ``ValueError`` for a structure in another space group or with its origin off −1.
    """
    if not structures:
        raise ValueError("batch_from_cctbx needs at least one structure")
    if table is None:
        labels = sorted({t for xs in structures for t in xs.scatterers().extract_scattering_types()})
        table = form_factor_table(labels)
    n_max = max(xs.scatterers().size() for xs in structures) if n_max is None else n_max
    b = len(structures)
    sites = np.zeros((b, n_max, 3))
    element = np.zeros((b, n_max), np.int32)
    u_iso = np.zeros((b, n_max))
    occupancy = np.zeros((b, n_max))
    cells = np.zeros((b, 6))
    n_atoms = np.zeros(b, np.int32)
    for i, xs in enumerate(structures):
        group = xs.space_group()
        if group.order_z() != 2 or not group.is_origin_centric():
            raise ValueError(f"structure {i}: space group {xs.space_group_info()} is not P-1 "
                             f"with its origin at an inversion centre")
        n = xs.scatterers().size()
        if n > n_max:
            raise ValueError(f"structure {i} has {n} atoms, more than n_max = {n_max}")
        sites[i, :n] = np.array(xs.sites_frac())
        u_iso[i, :n] = np.array(xs.extract_u_iso_or_u_equiv())
        occupancy[i, :n] = [sc.weight() * 2 / group.order_z() for sc in xs.scatterers()]
        element[i, :n] = [table.index(t) for t in xs.scatterers().extract_scattering_types()]
        cells[i] = xs.unit_cell().parameters()
        n_atoms[i] = n
    return StructureBatch(sites, element, u_iso, occupancy, cells, table, n_atoms).check()


# ---------------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------------


@dataclass
class EngineStructureFactors:
    """Structure factors of a batch: ``f`` (B, R) real F (electrons), ``amplitude`` |F|,
    ``sign`` ±1 int8 (+1 where F ≥ 0), ``intensity`` |F|² (e²), ``stol2`` (B, R) (sin θ/λ)²
    in Å⁻²."""

    f: np.ndarray
    amplitude: np.ndarray
    sign: np.ndarray
    intensity: np.ndarray
    stol2: np.ndarray


def _chunks(total: int, size: int) -> list[slice]:
    size = max(1, int(size))
    return [slice(i, min(i + size, total)) for i in range(0, total, size)]


def _gaussian_blocks(table: FormFactorTable, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """(−b flattened (E·G,), block matrix (E, E·G) with each element's a_i on its block)."""
    n_el, n_gauss = table.a.shape
    blocks = np.zeros((n_el, n_el * n_gauss), dtype)
    for e in range(n_el):
        blocks[e, e * n_gauss:(e + 1) * n_gauss] = table.a[e]
    return (-table.b.reshape(-1)).astype(dtype), blocks


def _form_factors_np(table: FormFactorTable, s2: np.ndarray, dtype: Any,
                     out: np.ndarray | None = None,
                     scratch: np.ndarray | None = None) -> np.ndarray:
    """f_e(s) (B, E, r) from s² (B, r), into ``out`` if given (``scratch``: B × E·G × r
    numbers): every Gaussian exp(−b s²) in one call, then Σ_i a_i · (that) as one matrix
    product, plus c."""
    minus_b, blocks = _gaussian_blocks(table, dtype)
    shape = (s2.shape[0], minus_b.size, s2.shape[1])
    gauss = np.empty(shape, dtype) if scratch is None else scratch[: np.prod(shape)].reshape(shape)
    np.einsum("br,g->bgr", s2, minus_b, out=gauss)
    if float(minus_b.min()) * float(s2.max(initial=0.0)) < EXP_FLOOR:
        np.maximum(gauss, EXP_FLOOR, out=gauss)                # no subnormal results
    np.exp(gauss, out=gauss)
    out = np.matmul(blocks, gauss, out=out)
    out += table.c.astype(dtype)[None, :, None]
    return out


def _f_numpy(batch: StructureBatch, hkl: np.ndarray, s2: np.ndarray, max_elements: int,
             dtype: Any) -> np.ndarray:
    """F (B, R) with NumPy, chunked over structures and reflections, in preallocated buffers
    of at most ``max_elements`` numbers (sized to stay in the CPU's cache)."""
    n_struct, n_atoms = batch.sites.shape[:2]
    n_refl = hkl.shape[0]
    n_el = len(batch.table.labels)
    hkl_t = np.ascontiguousarray(hkl.T.astype(dtype))               # (3, R)
    sites = (batch.sites - np.floor(batch.sites)).astype(dtype)     # x mod 1 ∈ [0, 1)
    minus_b = (-EIGHT_PI2 * batch.u_iso).astype(dtype)              # −8π²U (B, N)
    # one-hot × occupancy (B, E, N): sums the atoms of each element
    weight = np.zeros((n_struct, n_el, n_atoms), dtype)
    bi, ni = np.nonzero(batch.occupancy != 0)
    weight[bi, batch.element[bi, ni], ni] = batch.occupancy[bi, ni]
    f = np.zeros((n_struct, n_refl), dtype)
    # structures sorted by the atom columns they use (last occupied + 1), so that each chunk
    # skips the padding its structures share
    occupied = batch.occupancy != 0
    used = np.where(occupied.any(axis=1), n_atoms - np.argmax(occupied[:, ::-1], axis=1), 0)
    order = np.argsort(used, kind="stable")
    sites, minus_b, weight, s2, used = (a[order] for a in (sites, minus_b, weight, s2, used))
    rows = max(1, min(n_struct, max_elements // max(n_atoms * min(n_refl, 1024), 1)))
    rchunk = max(1, min(n_refl, max_elements // max(rows * n_atoms, 1)))
    phase_buf = np.empty(rows * n_atoms * rchunk, dtype)
    tmp_buf = np.empty_like(phase_buf)
    acc_buf = np.empty(rows * n_el * rchunk, dtype)
    ff_buf = np.empty_like(acc_buf)
    gauss_buf = np.empty(rows * batch.table.a.size * rchunk, dtype)
    two_pi = dtype(2 * np.pi)
    for sb in _chunks(n_struct, rows):
        nb = sb.stop - sb.start
        na = max(1, int(used[sb].max()))                           # atom columns of the chunk
        x_c = sites[sb, :na]
        b_c = np.ascontiguousarray(minus_b[sb, :na])
        w_c = np.ascontiguousarray(weight[sb, :, :na])
        for sr in _chunks(n_refl, rchunk):
            r = sr.stop - sr.start
            phase = phase_buf[: nb * na * r].reshape(nb, na, r)
            tmp = tmp_buf[: nb * na * r].reshape(nb, na, r)
            s2c = s2[sb, sr]
            np.matmul(x_c, hkl_t[:, sr], out=phase)                 # h·x (nb, N, r)
            np.rint(phase, out=tmp)
            np.subtract(phase, tmp, out=phase)                      # modulo 1 → [−½, ½]
            phase *= two_pi
            np.cos(phase, out=phase)
            np.einsum("bn,br->bnr", b_c, s2c, out=tmp)              # −8π²U s²
            if float(b_c.min()) * float(s2c.max(initial=0.0)) < EXP_FLOOR:
                np.maximum(tmp, EXP_FLOOR, out=tmp)                # no subnormal results
            np.exp(tmp, out=tmp)
            phase *= tmp
            acc = acc_buf[: nb * n_el * r].reshape(nb, n_el, r)
            np.matmul(w_c, phase, out=acc)                          # Σ per element (nb, E, r)
            acc *= _form_factors_np(batch.table, s2c, dtype,
                                    out=ff_buf[: nb * n_el * r].reshape(nb, n_el, r),
                                    scratch=gauss_buf)
            f_chunk = f[sb, sr]
            np.sum(acc, axis=1, out=f_chunk)
            f_chunk *= 2
    out = np.empty_like(f)
    out[order] = f
    return out


def _f_keras(batch: StructureBatch, hkl: np.ndarray, s2: np.ndarray, max_elements: int,
             dtype: Any) -> np.ndarray:
    """F (B, R) with ``keras.ops`` (CPU or GPU), chunked over structures and reflections."""
    from keras import ops

    n_struct, n_atoms = batch.sites.shape[:2]
    n_refl = hkl.shape[0]
    n_el = len(batch.table.labels)
    name = np.dtype(dtype).name
    sites = ops.convert_to_tensor((batch.sites - np.floor(batch.sites)).astype(dtype))
    minus_b = ops.convert_to_tensor((-EIGHT_PI2 * batch.u_iso).astype(dtype))
    onehot = ops.one_hot(ops.convert_to_tensor(batch.element.astype(np.int32)), n_el,
                         dtype=name)                                          # (B, N, E)
    weight = ops.transpose(onehot * ops.convert_to_tensor(batch.occupancy.astype(dtype))[..., None],
                           (0, 2, 1))                                         # (B, E, N)
    hkl_t = ops.convert_to_tensor(hkl.T.astype(dtype))
    s2_all = ops.convert_to_tensor(s2.astype(dtype))
    a = ops.convert_to_tensor(batch.table.a.astype(dtype))[None, :, :, None]  # (1, E, G, 1)
    b = ops.convert_to_tensor(batch.table.b.astype(dtype))[None, :, :, None]
    c = ops.convert_to_tensor(batch.table.c.astype(dtype))[None, :, None]
    two_pi = 2.0 * np.pi
    out = []
    rows = max(1, max_elements // max(n_atoms * min(n_refl, 1024), 1))
    for sb in _chunks(n_struct, rows):
        nb = sb.stop - sb.start
        rchunk = max(1, max_elements // max(nb * n_atoms, 1))
        parts = []
        for sr in _chunks(n_refl, rchunk):
            s2c = s2_all[sb, sr]                                              # (nb, r)
            phase = ops.matmul(sites[sb], hkl_t[:, sr])                       # (nb, N, r)
            phase = phase - ops.round(phase)
            term = ops.cos(two_pi * phase) * ops.exp(minus_b[sb][:, :, None] * s2c[:, None, :])
            acc = ops.matmul(weight[sb], term)                                # (nb, E, r)
            ff = ops.sum(a * ops.exp(-b * s2c[:, None, None, :]), axis=2) + c  # (nb, E, r)
            parts.append(2.0 * ops.sum(acc * ff, axis=1))
        out.append(ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0])
    f = ops.concatenate(out, axis=0) if len(out) > 1 else out[0]
    return np.asarray(ops.convert_to_numpy(f))


def structure_factors_batch(batch: StructureBatch, hkl: np.ndarray, backend: str = "numpy",
                            dtype: Any = np.float32,
                            max_elements: int | None = None) -> EngineStructureFactors:
    """F, |F|, sign, intensity and (sin θ/λ)² of every structure of ``batch`` on ``hkl`` (R, 3).

    ``backend``: ``"numpy"`` or ``"keras"`` (``keras.ops``: runs where Keras's backend puts
    it, a GPU when there is one); ``dtype``: float32 (default) or float64; ``max_elements``
    bounds the numbers of one intermediate array (memory; default :data:`MAX_ELEMENTS` for
    NumPy, :data:`KERAS_MAX_ELEMENTS` for Keras).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    dtype = np.dtype(dtype).type
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    hkl = np.asarray(hkl)
    if hkl.ndim != 2 or hkl.shape[1] != 3:
        raise ValueError(f"hkl must have shape (R, 3), got {hkl.shape}")
    batch.check()
    s2 = stol2_batch(batch.cells, hkl)
    if backend == "numpy":
        limit = MAX_ELEMENTS if max_elements is None else int(max_elements)
        f = _f_numpy(batch, hkl, s2.astype(dtype), limit, dtype)
    else:
        limit = KERAS_MAX_ELEMENTS if max_elements is None else int(max_elements)
        f = _f_keras(batch, hkl, s2.astype(dtype), limit, dtype)
    f = f.astype(dtype)
    amplitude = np.abs(f)
    sign = np.where(f < 0, -1, 1).astype(np.int8)
    return EngineStructureFactors(f=f, amplitude=amplitude, sign=sign,
                                  intensity=amplitude * amplitude, stol2=s2.astype(dtype))
