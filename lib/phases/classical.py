"""Classical phasing of P-1 from |E| alone (plus the cell): the bar for every sign model.

Charge flipping
---------------
:func:`charge_flipping_signs` runs smtbx's charge flipping (Oszlányi & Sütő; the
weak-reflection-improved variant, ``weak_reflection_improved_iterator``) under smtbx's
``solving_iterator`` on the |E| of the reflections given (d ≥ d_min), in P1 from random phases;
after a phase transition the map is polished and the inversion centre is located by smtbx's
correlation-map symmetrisation, which moves the solution to an origin of P-1 (real F).  The
sign of each reflection is the sign of that F.  Two fixes to smtbx (2025.11):
``solving_iterator`` multiplies ``max_solving_iterations`` by 1.5 from its third attempt and
then fails in ``itertools.islice`` with a float (Python 3) — :class:`SolvingIterator` keeps it
an integer; and it evaluates every correlation peak above ``min_cc_peak_height`` (hundreds, a
few seconds) where only the highest is used — :class:`SolvingIterator` keeps the highest.
With |E| (not |F|) the height of the best symmetrisation peak is ≈ 0.8–0.9, below smtbx's
default threshold 0.9, so the threshold here is 0.5.

Σ2 / tangent multisolution
--------------------------
In P-1, for strong reflections h, k and h − k (any of h ± k = ±l), s(h) s(k) s(h−k) ≈ +1 with
probability ½ + ½ tanh(A/2) (Cochran & Woolfson 1955, centrosymmetric), with Cochran's
A = 2 σ₃ σ₂^(−3/2) |E_h E_k E_{h−k}| (equal atoms: A = 2 |E E E| / √N, N atoms in the cell).  :func:`sigma2_signs` finds the triplets among the
strongest |E|, draws random sign sets for them, refines each with the Σ2 (tangent) formula
s(h) ← sign Σ_k A s(k) s(h−k) plus a ψ₀ penalty (the Σ2 sums of the *weakest* reflections
pushed towards 0; without it most starts fall into the "single atom at an inversion centre"
solutions s(h) = (−1)^(h·p), whose triplet consistency is perfect), ranks the trials by a
combined figure of merit (triplet consistency minus ψ₀), and
extends the best set to every reflection by E-Fourier recycling: E-map → the strongest N peaks
(cctbx peak search) → signs of equal point atoms at the peaks → map from every |E| → ... .
N is estimated from the cell: N = V / ``volume_per_atom`` (18 Å³ by default).

:func:`cochran_check` measures, on known structures, P(s(h)s(k)s(h+k) = +1) of the strongest
triplets against ½ + ½ tanh(A/2) (and, for comparison, the non-centrosymmetric form's
½ + ½ tanh A, which over-predicts in P-1).
"""

from __future__ import annotations

import io
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import phasing_metrics as pm
from .evalues import amplitude_array, e_values, reflections_by_resolution
from .phasing_metrics import sign_map
from .structure_factors import calculate
from .structures import cell_volume

#: Volume per non-H atom (Å³) used to estimate the number of atoms in the cell.
VOLUME_PER_ATOM: float = 18.0


# ---------------------------------------------------------------------------------------------
# Charge flipping (smtbx)
# ---------------------------------------------------------------------------------------------


def _solving_iterator_class():
    from smtbx.ab_initio import charge_flipping

    class SolvingIterator(charge_flipping.solving_iterator):
        """smtbx's ``solving_iterator`` with an integer iteration limit on every attempt and
        only the highest correlation-map peak evaluated (see the module docstring)."""

        def _solving(self):
            while True:
                i_attempt = 0
                while i_attempt < self.max_attempts_to_get_phase_transition:
                    i_attempt += 1
                    if i_attempt > 2:
                        self.max_solving_iterations = int(self.max_solving_iterations * 1.5)
                    self.skewness_evolution = charge_flipping.observable_evolution()
                    for n, flipping in enumerate(itertools.islice(
                            self.flipping_iterator, 0, int(self.max_solving_iterations))):
                        self.iteration_index = n
                        if n % self.yield_solving_interval == 0:
                            yield self.solving
                        self.skewness_evolution.append(flipping.rho_map.skewness())
                        if self.skewness_evolution.had_phase_transition():
                            self.attempts.append(n)
                            yield self.polishing
                            break
                    else:
                        if i_attempt != self.max_attempts_to_get_phase_transition:
                            yield self.starting
                self.max_attempts_exceeded = True
                yield self.finished

        def _evaluating(self, original_f_obs):
            while True:
                attempts = 0
                while attempts < self.max_attempts_to_get_sharp_correlation_map:
                    attempts += 1
                    self.f_calc_solutions = list(itertools.islice(
                        charge_flipping.f_calc_symmetrisations(
                            original_f_obs, self.flipping_iterator.f_calc,
                            self.min_cc_peak_height), 1))
                    self.f_calc_solutions = [s for s in self.f_calc_solutions
                                             if s[2] >= self.min_cc_peak_height]
                    if self.f_calc_solutions:
                        yield self.finished
                    else:
                        yield self.starting
                self.max_attempts_exceeded = True

    return SolvingIterator


@dataclass
class PhasingResult:
    """Signs (±1 int8, one per reflection given; +1 where |E| is missing) found by a
    classical method, with ``converged`` (charge flipping: a phase transition and a sharp
    symmetrisation peak; Σ2: always True), a method-specific figure of merit ``fom``
    (charge flipping: height of the symmetrisation peak; Σ2: combined FOM of the best
    trial), and the wall time in seconds."""

    signs: np.ndarray
    converged: bool
    fom: float
    seconds: float
    details: dict = field(default_factory=dict)


def _lookup_signs(hkl: np.ndarray, indices, values: np.ndarray) -> np.ndarray:
    """Sign of Re F for each reflection of ``hkl`` from a cctbx array (indices, values) that
    holds h or its Friedel mate −h (F(−h) = F(h)* has the same real part); +1 if absent."""
    table: dict[tuple[int, int, int], float] = {}
    for h, v in zip(indices, values):
        table[tuple(h)] = v
        table[tuple(-x for x in h)] = v
    out = np.ones(len(hkl), dtype=np.int8)
    for i, h in enumerate(np.asarray(hkl).tolist()):
        v = table.get(tuple(h))
        if v is not None and v < 0:
            out[i] = -1
    return out


def start_phases(f_obs_indices, hkl: np.ndarray, start_signs: np.ndarray,
                 random_phases: np.ndarray) -> np.ndarray:
    """Starting phases (radians) of charge flipping for the P1 reflections ``f_obs_indices``:
    0 or π where ``start_signs`` (±1 per reflection of ``hkl``, 0 = no seed) gives a sign for
    the reflection or its Friedel mate, else the ``random_phases`` given (one per P1
    reflection).  The seeded start of AI-PhaSeed (a model's signs of the strongest reflections
    instead of random ones)."""
    signs = np.asarray(start_signs)
    seeded = np.flatnonzero(signs != 0)
    out = np.asarray(random_phases, dtype=np.float64).copy()
    query = np.asarray(list(f_obs_indices), dtype=np.int64).reshape(-1, 3)
    if seeded.size and query.size:
        at = _lookup(np.asarray(hkl, dtype=np.int64)[seeded], query)
        hit = at >= 0
        out[hit] = np.where(signs[seeded][at[hit]] < 0, math.pi, 0.0)
    return out


def seed_signs(e_abs: np.ndarray, signs: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """Seeds for charge flipping: ``signs`` (±1; 0 = no opinion) kept on the strongest
    ``fraction`` of the reflections by |E| among those with a sign, 0 elsewhere."""
    e = np.asarray(e_abs, dtype=np.float64)
    s = np.asarray(signs)
    usable = np.flatnonzero(np.isfinite(e) & (s != 0))
    out = np.zeros(len(e), np.int8)
    if usable.size:
        k = max(1, int(round(fraction * np.isfinite(e).sum())))
        top = usable[np.lexsort((usable, -e[usable]))][:k]
        out[top] = np.sign(s[top])
    return out


def charge_flipping_signs(e_abs: np.ndarray, hkl: np.ndarray, cell, seed: int = 0,
                          max_attempts: int = 3, max_iterations: int = 500,
                          min_cc_peak_height: float = 0.5,
                          start_signs: np.ndarray | None = None) -> PhasingResult:
    """Signs of the reflections ``hkl`` of one P-1 structure by smtbx charge flipping on |E|.

    ``e_abs``: |E| (NaN = not measured, left out and given sign +1); ``cell``: a, b, c (Å),
    α, β, γ (degrees).  Up to ``max_attempts`` random starts of ≤ ``max_iterations`` cycles
    (seeded by ``seed`` via cctbx's flex random generator).  With ``start_signs`` (±1 per
    reflection of ``hkl``, 0 = unknown) every start puts phase 0 / π on the seeded
    reflections and random phases on the others (:func:`start_phases`).  When no start
    converges, the last map is still symmetrised and its signs returned (``converged`` False).
    """
    from cctbx.array_family import flex
    from smtbx.ab_initio import charge_flipping

    started = time.perf_counter()
    e = np.asarray(e_abs, dtype=np.float64)
    hkl = np.asarray(hkl)
    present = np.isfinite(e)
    if present.sum() < 10:
        raise ValueError(f"charge flipping needs |E| of at least 10 reflections, got "
                         f"{int(present.sum())}")
    f_obs = amplitude_array(e[present], hkl[present], cell)
    flex.set_random_seed(int(seed) % (2 ** 31))
    flipping = charge_flipping.weak_reflection_improved_iterator(delta=None)
    solving = _solving_iterator_class()(
        flipping, f_obs, max_attempts_to_get_phase_transition=int(max_attempts),
        max_attempts_to_get_sharp_correlation_map=1, max_solving_iterations=int(max_iterations),
        min_cc_peak_height=float(min_cc_peak_height))
    if start_signs is not None:
        present_hkl, present_signs = hkl[present], np.asarray(start_signs)[present]
        solving.initial_phases_for = lambda f: flex.double(start_phases(
            f.indices(), present_hkl, present_signs,
            (2 * math.pi) * flex.random_double(f.size()).as_numpy_array()))
    charge_flipping.loop(solving, verbose=False, out=io.StringIO())
    converged = bool(solving.f_calc_solutions) and solving.had_phase_transition
    if solving.f_calc_solutions:
        f_calc, shift, peak = solving.f_calc_solutions[0]
    else:
        best = list(itertools.islice(charge_flipping.f_calc_symmetrisations(
            f_obs, solving.flipping_iterator.f_calc, -1.0), 1))
        if best:
            f_calc, shift, peak = best[0]
        else:                                     # no peak at all: P1 phases as they are
            f_calc, shift, peak = solving.flipping_iterator.f_calc, (0, 0, 0), float("nan")
    real = flex.real(f_calc.data()).as_numpy_array()
    signs = _lookup_signs(hkl, list(f_calc.indices()), real)
    signs[~present] = 1
    return PhasingResult(signs=signs, converged=converged, fom=float(peak),
                         seconds=time.perf_counter() - started,
                         details={"shift": tuple(float(v) for v in shift),
                                  "attempts": len(solving.attempts)})


# ---------------------------------------------------------------------------------------------
# Triplets, Cochran
# ---------------------------------------------------------------------------------------------


def _keys(hkl: np.ndarray, offset: int) -> np.ndarray:
    h = np.asarray(hkl, dtype=np.int64) + offset
    base = 2 * offset + 1
    return (h[..., 0] * base + h[..., 1]) * base + h[..., 2]


def _lookup(table_hkl: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Position in ``table_hkl`` of each query reflection or of its Friedel mate; −1 if
    neither is there."""
    offset = int(2 * max(np.abs(table_hkl).max(initial=0), np.abs(query).max(initial=0)) + 1)
    keys = np.concatenate([_keys(table_hkl, offset), _keys(-np.asarray(table_hkl), offset)])
    position = np.concatenate([np.arange(len(table_hkl))] * 2)
    order = np.argsort(keys)
    keys, position = keys[order], position[order]
    q = _keys(query, offset)
    at = np.clip(np.searchsorted(keys, q), 0, len(keys) - 1)
    return np.where(keys[at] == q, position[at], -1)


def triplets(hkl: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """All sign triplets (a, b, c) among reflections ``hkl``: h_a ± h_b = ±h_c, a < b, c ≠ a, b
    (each unordered triplet once).  With ``targets`` given, c indexes ``targets`` instead (pairs
    of ``hkl`` whose sum or difference is a target reflection, used by ψ₀).  Shape (m, 3)."""
    hkl = np.asarray(hkl, dtype=np.int64)
    a, b = np.triu_indices(len(hkl), k=1)
    found = []
    for combined in (hkl[a] + hkl[b], hkl[a] - hkl[b]):
        c = _lookup(hkl if targets is None else np.asarray(targets), combined)
        keep = c >= 0
        if targets is None:
            keep &= (c != a) & (c != b)
        found.append(np.stack([a[keep], b[keep], c[keep]], axis=1))
    out = np.concatenate(found)
    if targets is None and len(out):
        out = np.unique(np.sort(out, axis=1), axis=0)
    elif len(out):
        out = np.unique(out, axis=0)
    return out


def sigma_ratio(xs) -> float:
    """σ₃ σ₂^(−3/2) of a structure, σ_n = Σ_j Z_j^n over the atoms of the unit cell (atomic
    numbers Z; 1/√N for N equal atoms)."""
    from cctbx.eltbx import tiny_pse

    z = []
    for scatterer in xs.scatterers():
        symbol = scatterer.element_symbol() or scatterer.scattering_type
        z += [tiny_pse.table(symbol).atomic_number()] * int(scatterer.multiplicity())
    z = np.asarray(z, dtype=np.float64)
    return float((z ** 3).sum() / (z ** 2).sum() ** 1.5)


@dataclass
class CochranCheck:
    """Strongest triplets of structures: ``a`` (Cochran's A) and ``product`` s(h)s(k)s(h+k)
    of each, pooled; ``observed`` P(+), ``predicted`` mean ½ + ½ tanh(A/2) (the centrosymmetric
    Cochran–Woolfson probability) and ``predicted_tanh_a`` mean ½ + ½ tanh A (for comparison)."""

    a: np.ndarray
    product: np.ndarray

    @property
    def observed(self) -> float:
        return float(np.mean(self.product > 0))

    @property
    def predicted(self) -> float:
        return float(np.mean(0.5 + 0.5 * np.tanh(self.a / 2)))

    @property
    def predicted_tanh_a(self) -> float:
        return float(np.mean(0.5 + 0.5 * np.tanh(self.a)))

    def calibration(self, edges: np.ndarray | None = None) -> list[tuple[float, float, float, int]]:
        """(mean A, observed P(+), predicted P(+), count) per bin of A."""
        edges = np.array([0, 0.5, 1, 1.5, 2, 3, 5, np.inf]) if edges is None else edges
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (self.a >= lo) & (self.a < hi)
            if sel.any():
                rows.append((float(self.a[sel].mean()), float(np.mean(self.product[sel] > 0)),
                             float(np.mean(0.5 + 0.5 * np.tanh(self.a[sel] / 2))),
                             int(sel.sum())))
        return rows


def strongest_triplets(e_abs: np.ndarray, signs: np.ndarray, hkl: np.ndarray, ratio: float,
                       n_triplets: int = 50, n_strong: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Cochran's A = 2 ``ratio`` |E_a E_b E_c| and the sign product of the ``n_triplets``
    triplets of largest A among the ``n_strong`` strongest reflections of one structure."""
    e = np.asarray(e_abs, dtype=np.float64)
    present = np.flatnonzero(np.isfinite(e))
    strong = present[np.argsort(-e[present], kind="stable")[:n_strong]]
    t = triplets(np.asarray(hkl)[strong])
    if len(t) == 0:
        return np.empty(0), np.empty(0)
    idx = strong[t]
    a = 2 * ratio * np.prod(e[idx], axis=1)
    top = np.argsort(-a, kind="stable")[:n_triplets]
    product = np.prod(np.asarray(signs)[idx[top]].astype(np.int64), axis=1)
    return a[top], product


def cochran_check(structures: list, e_abs: list, signs: list, hkl: list,
                  n_triplets: int = 50) -> CochranCheck:
    """Cochran's check on known structures: for each structure (cctbx ``xs``, its |E|, true
    signs and reflections) the ``n_triplets`` strongest triplets, pooled."""
    a_all, p_all = [], []
    for xs, e, s, h in zip(structures, e_abs, signs, hkl):
        a, p = strongest_triplets(e, s, h, sigma_ratio(xs), n_triplets)
        a_all.append(a)
        p_all.append(p)
    return CochranCheck(a=np.concatenate(a_all), product=np.concatenate(p_all))


# ---------------------------------------------------------------------------------------------
# Σ2 / tangent multisolution
# ---------------------------------------------------------------------------------------------


def _onehot(positions: np.ndarray, n: int):
    """Sparse (len(positions), n) matrix with a 1 at (i, positions[i])."""
    import scipy.sparse as sp

    m = len(positions)
    return sp.csr_matrix((np.ones(m), (np.arange(m), positions)), shape=(m, n))


def _scatter(matrix, values: np.ndarray) -> np.ndarray:
    """Σ over rows of a one-hot ``matrix`` (m, n) of ``values`` (T, m): shape (T, n)."""
    return np.asarray(matrix.T.dot(values.T)).T


def _triplet_sums(signs: np.ndarray, trip: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """Σ2 sums Σ_t A_t s_b s_c for every reflection (all three roles), per trial (T, n)."""
    a, b, c = trip.T
    total = np.zeros((signs.shape[0], n))
    for x, y, z in ((a, b, c), (b, a, c), (c, a, b)):
        total += _scatter(_onehot(x, n), weight[None, :] * signs[:, y] * signs[:, z])
    return total


def _peak_signs(e_abs: np.ndarray, signs: np.ndarray, hkl: np.ndarray, cell,
                n_peaks: int) -> np.ndarray:
    """Signs of equal point atoms at the ``n_peaks`` highest peaks (and their inversion
    mates) of the E-map from (|E|, signs): one cycle of E-Fourier recycling."""
    from cctbx import maptbx

    fft = sign_map(e_abs, signs, hkl, cell)
    parameters = maptbx.peak_search_parameters(peak_search_level=1, interpolate=True,
                                               min_distance_sym_equiv=0.5,
                                               max_clusters=max(1, n_peaks))
    sites = np.array(fft.peak_search(parameters).all().sites())
    if len(sites) == 0:
        return np.ones(len(hkl), dtype=np.int8)
    f = np.cos(2 * np.pi * np.asarray(hkl, dtype=np.float64) @ sites[:n_peaks].T).sum(axis=1)
    return np.where(f < 0, -1, 1).astype(np.int8)


def sigma2_signs(e_abs: np.ndarray, hkl: np.ndarray, cell, seed: int = 0,
                 n_strong: int | None = None, n_trials: int = 128, n_cycles: int = 40,
                 n_weak: int = 300, psi0_weight: float = 1.0, n_recycles: int = 3,
                 volume_per_atom: float = VOLUME_PER_ATOM,
                 start_signs: np.ndarray | None = None) -> PhasingResult:
    """Signs of the reflections ``hkl`` of one P-1 structure by Σ2/tangent multisolution.

    The ``n_strong`` strongest |E| (by default max(300, 15 % of the present reflections): at
    high resolution the triplets among 300 reflections are too sparse; at most 40 % of the
    present reflections) are phased from
    ``n_trials`` random starts (seeded).  Each trial is refined by ``n_cycles`` cycles of
    s ← sign(Σ2 sum − ``psi0_weight`` · ∂ψ₀-penalty): the Σ2 (tangent) sum Σ_k A s(k) s(h−k)
    over the triplets, minus the gradient of Σ_weak (Σ_k E_k E_{h−k} s s)², which pushes
    the weakest reflections' Σ2 sums towards 0 (without it nearly every start falls into the
    "single atom at an inversion centre" solutions s(h) = (−1)^(h·p), whose triplet consistency
    is perfect); both terms are scaled to unit size per reflection; half of the reflections,
    drawn at random, are updated per cycle so the iteration does not oscillate.  The trial with
    the best figure of merit FOM = consistency − ψ₀ is kept (consistency = Σ A s s s / Σ A over
    the triplets; ψ₀ = Σ_weak |Σ_k E_k E_{h−k} s s| / Σ_weak Σ_k |E_k E_{h−k}| over the
    ``n_weak`` weakest reflections), and extended to every reflection by ``n_recycles`` cycles
    of E-Fourier recycling with N = V/``volume_per_atom`` atoms in the cell.  ``psi0_weight`` = 0
    gives the plain Σ2 routine.  NaN |E| are left out (sign +1).  With ``start_signs`` (±1
    per reflection, 0 = unknown; a model's signs) every trial starts from them on the strong
    reflections they cover (random signs on the others) instead of from random signs.
    """
    started = time.perf_counter()
    e = np.asarray(e_abs, dtype=np.float64)
    hkl = np.asarray(hkl)
    present = np.flatnonzero(np.isfinite(e))
    if present.size < 10:
        raise ValueError(f"Σ2 needs |E| of at least 10 reflections, got {present.size}")
    cell = tuple(float(v) for v in (cell.parameters() if hasattr(cell, "parameters") else cell))
    n_atoms = max(2, int(round(cell_volume(cell) / volume_per_atom)))
    rng = np.random.default_rng(seed)
    order = present[np.argsort(-e[present], kind="stable")]
    if n_strong is None:
        n_strong = max(300, int(0.15 * present.size))
    strong = order[:min(n_strong, int(0.4 * present.size))]
    weak = order[::-1][:min(n_weak, present.size - strong.size)]
    n = len(strong)
    trip = triplets(hkl[strong])
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_trials, n))
    if start_signs is not None:
        given = np.asarray(start_signs)[strong].astype(np.float64)
        signs = np.where(given[None, :] != 0, given[None, :], signs)
    fom = np.zeros(n_trials)
    if len(trip):
        weight = 2 * np.prod(e[strong][trip], axis=1) / math.sqrt(n_atoms)
        pairs = triplets(hkl[strong], targets=hkl[weak])
        if len(pairs):
            pair_weight = e[strong][pairs[:, 0]] * e[strong][pairs[:, 1]]
            to_weak = _onehot(pairs[:, 2], len(weak))
            to_first, to_second = _onehot(pairs[:, 0], n), _onehot(pairs[:, 1], n)
            pair_total = float(pair_weight.sum())

        def weak_sums(s: np.ndarray) -> np.ndarray:
            return _scatter(to_weak, s[:, pairs[:, 0]] * s[:, pairs[:, 1]] * pair_weight)

        for _ in range(n_cycles):
            drive = _triplet_sums(signs, trip, weight, n) / (3 * weight.sum() / n)
            if psi0_weight > 0 and len(pairs):
                g = weak_sums(signs)[:, pairs[:, 2]] * pair_weight
                gradient = _scatter(to_first, g * signs[:, pairs[:, 1]]) + \
                    _scatter(to_second, g * signs[:, pairs[:, 0]])
                drive = drive - psi0_weight * gradient / (2 * pair_total ** 2 / len(weak) / n)
            new = np.where(drive < 0, -1.0, 1.0)
            update = rng.random(signs.shape) < 0.5
            signs = np.where(update, new, signs)
        consistency = (signs[:, trip[:, 0]] * signs[:, trip[:, 1]] * signs[:, trip[:, 2]]
                       ) @ weight / weight.sum()
        psi0 = (np.abs(weak_sums(signs)).sum(axis=1) / pair_total if len(pairs)
                else np.zeros(n_trials))
        fom = consistency - psi0
    best = int(np.argmax(fom))
    all_signs = np.ones(len(hkl), dtype=np.int8)
    all_signs[strong] = signs[best].astype(np.int8)
    partial = np.full(len(hkl), np.nan)
    partial[strong] = e[strong]
    current = _peak_signs(partial, all_signs, hkl, cell, n_atoms // 2)
    for _ in range(max(0, n_recycles - 1)):
        current = _peak_signs(e, current, hkl, cell, n_atoms // 2)
    current[~np.isfinite(e)] = 1
    return PhasingResult(signs=current, converged=True, fom=float(fom[best]),
                         seconds=time.perf_counter() - started,
                         details={"n_triplets": int(len(trip)), "strong": strong,
                                  "strong_signs": signs[best].astype(np.int8)})


# ---------------------------------------------------------------------------------------------
# Scoring a method on known structures
# ---------------------------------------------------------------------------------------------

#: The classical methods by name.
METHODS = {"charge_flipping": charge_flipping_signs, "sigma2": sigma2_signs}


def phase_known_structure(xs, d_min: float, method: str = "charge_flipping", seed: int = 0,
                          strongest_fraction: float = 0.2, cell_edge_max: float | None = None,
                          seeds: tuple[np.ndarray, np.ndarray] | None = None,
                          seed_fraction: float = 0.2, **options) -> dict:
    """Phase a known P-1 structure (cctbx ``xs``, inversion centre at the origin) from its
    |E| at resolution ``d_min`` (Å) with ``method`` and score the signs.

    Reflections: every unique reflection with d ≥ d_min (on the fixed grid when
    ``cell_edge_max`` is given, else on the structure's own sphere); F from
    :func:`lib.phases.structure_factors.calculate`; |E| by :func:`lib.phases.evalues.e_values`.
    Returns a dict: n_atoms, n_reflections, seconds, converged, fom, map_correlation (best of
    8 origins), solved (≥ 0.5), atoms_found (peaks within 0.5 Å), accuracy (|E|-weighted,
    origin-aware), accuracy_strongest (the same on the strongest ``strongest_fraction``),
    chance and chance_strongest (the same metrics for random signs).

    ``seeds`` = (reflections (m, 3), signs ±1 / 0) from elsewhere (a model's prediction, or
    the true signs): charge flipping then starts from those signs on the strongest
    ``seed_fraction`` of the reflections (:func:`seed_signs`); ``n_seeded`` and
    ``seed_accuracy`` (|E|-weighted, origin-aware, on the seeded reflections) are added.
    """
    from cctbx import miller

    if method not in METHODS:
        raise ValueError(f"unknown phasing method {method!r}: choose one of {', '.join(METHODS)}")
    cell = xs.unit_cell().parameters()
    if cell_edge_max is None:
        ms = miller.build_set(crystal_symmetry=xs, anomalous_flag=False, d_min=d_min)
        hkl = np.array(ms.indices(), dtype=np.int32).reshape(-1, 3)
    else:
        sphere = reflections_by_resolution(cell, d_min, cell_edge_max)
        hkl = sphere.hkl[sphere.mask]
    sf = calculate(xs, hkl)
    e = e_values(sf.amplitude, hkl, cell)
    extra = {}
    if seeds is not None:
        seed_hkl, seed_values = (np.asarray(v) for v in seeds)
        at = _lookup(np.asarray(seed_hkl, dtype=np.int64), np.asarray(hkl, dtype=np.int64))
        given = np.where(at >= 0, seed_values[np.maximum(at, 0)], 0).astype(np.int8)
        start = seed_signs(e, given, seed_fraction)
        options = {**options, "start_signs": start}
        on = start != 0
        extra = {"n_seeded": int(on.sum()),
                 "seed_accuracy": float(pm.sign_accuracy(start, sf.sign, hkl, e, on))
                 if on.any() else float("nan")}
    result = METHODS[method](e, hkl, cell, seed=seed, **options)
    mc = pm.map_correlation(sf.amplitude, result.signs, sf.sign, hkl)
    strong = pm.strongest_mask(e, strongest_fraction)
    return {
        "method": method, "d_min": float(d_min), "n_atoms": int(xs.scatterers().size()),
        "n_reflections": int(len(hkl)), "seconds": result.seconds,
        "converged": result.converged, "fom": result.fom,
        "map_correlation": float(mc.value), "solved": bool(pm.solved(mc.value)),
        "atoms_found": pm.atoms_found(xs, sf.amplitude, result.signs, hkl, mc.parity),
        "accuracy": float(pm.sign_accuracy(result.signs, sf.sign, hkl, e)),
        "accuracy_strongest": float(pm.sign_accuracy(result.signs, sf.sign, hkl, e, strong)),
        "chance": pm.chance_sign_accuracy(sf.sign, hkl, e, n_draws=10, seed=seed),
        "chance_strongest": pm.chance_sign_accuracy(sf.sign, hkl, e, strong, n_draws=10,
                                                    seed=seed),
        **extra,
    }
