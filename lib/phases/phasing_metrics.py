"""Metrics every sign (phase) model of report 1 reports, and their baselines.

Signs of P-1 are defined only up to the origin: the 8 origin shifts p/2 (p ∈ {0, 1}³) multiply
the sign of reflection h by (−1)^(h·p) and give the same intensities
(:mod:`lib.phases.reflections`).  Every metric here is therefore *origin-aware*: it compares
the predicted signs with the true signs moved to each of the 8 origins and keeps the best.

* :func:`sign_accuracy`: |E|-weighted fraction of right signs at the best origin (weights w,
  e.g. |E|; unweighted when w is None).  Taking the best of 8 lifts the score of random signs
  above ½; :func:`chance_sign_accuracy` measures that chance level with random signs.
* :func:`strongest_mask`: the strongest 20 % of a structure's reflections (by |E|).
* :func:`map_correlation`: correlation of the Fourier map from (|F|, predicted signs) with the
  true map, at the best origin.  For two maps with the same amplitudes and signs s₁, s₂ it is,
  by Parseval, Σ|F|² s₁ s₂ / Σ|F|² (F(000) left out, both maps of mean zero); the real-space
  version :func:`real_space_map_correlation` (cctbx FFT maps) validates it.
* :func:`atoms_found`: share of the atoms with a peak of the map from (|F|, predicted signs)
  within 0.5 Å (cctbx peak search, symmetry equivalents and lattice translations included),
  at the best origin.  A structure is **solved** when its map correlation is ≥ 0.5.
* :func:`best_constant_baseline`: the best constant sign for a subset of reflections, chosen on
  the training split, and its accuracy on the test split.
* :func:`plain_accuracy_ceiling`: the highest plain (origin-unaware) accuracy a model can reach
  when only the seminvariants (h, k, l all even; unchanged by every origin shift) are
  learnable: ½ + (n_semi / n)(a_semi − ½).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evalues import amplitude_array
from .reflections import origin_shift_parities, origin_shift_signs, shift_origin

#: Map correlation from which a structure counts as solved.
SOLVED_MAP_CORRELATION: float = 0.5
#: Distance (Å) within which a map peak finds an atom.
PEAK_DISTANCE: float = 0.5


def _rows(x: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(x)
    return (a[None, :], True) if a.ndim == 1 else (a, False)


def _weights(shape: tuple[int, ...], weights: np.ndarray | None,
             mask: np.ndarray | None) -> np.ndarray:
    w = np.ones(shape) if weights is None else np.broadcast_to(
        np.asarray(weights, dtype=np.float64), shape).copy()
    if mask is not None:
        w = np.where(np.broadcast_to(np.asarray(mask, bool), shape), w, 0.0)
    w = np.where(np.isfinite(w), w, 0.0)
    if np.any(w < 0):
        raise ValueError("weights must be ≥ 0")
    return w


def seminvariant_mask(hkl: np.ndarray) -> np.ndarray:
    """True for the structure seminvariants of P-1: reflections with h, k, l all even."""
    return np.all(np.asarray(hkl) % 2 == 0, axis=1)


def origin_agreements(predicted: np.ndarray, true: np.ndarray, hkl: np.ndarray,
                      weights: np.ndarray | None = None,
                      mask: np.ndarray | None = None) -> np.ndarray:
    """Weighted fraction of predicted signs equal to the true signs moved to each origin.

    ``predicted``, ``true``: ±1, shape (n,) or (n_structures, n); ``weights`` ≥ 0 (e.g. |E|,
    NaN counts as 0) and ``mask`` (True = present) broadcast to them.  Returns (8,) or
    (n_structures, 8); NaN for a structure with no weight.
    """
    p, single = _rows(predicted)
    t, _ = _rows(true)
    w = _weights(p.shape, weights, mask)
    agree = (np.sign(p) == np.sign(t)).astype(np.float64)            # (m, n)
    shifts = origin_shift_signs(hkl).astype(np.float64)              # (8, n)
    # agreement after a shift: agree where the shift is +1, disagree where it is −1
    right = np.einsum("mn,sn->ms", w * agree, (shifts > 0)) + \
        np.einsum("mn,sn->ms", w * (1 - agree), (shifts < 0))
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = right / total
    return out[0] if single else out


def sign_accuracy(predicted: np.ndarray, true: np.ndarray, hkl: np.ndarray,
                  weights: np.ndarray | None = None, mask: np.ndarray | None = None,
                  origin_aware: bool = True) -> np.ndarray:
    """Per-structure (weighted) sign accuracy, at the best of the 8 origins when
    ``origin_aware`` (else at the given origin).  Shape () or (n_structures,)."""
    agree = origin_agreements(predicted, true, hkl, weights, mask)
    return np.max(agree, axis=-1) if origin_aware else agree[..., 0]


def chance_sign_accuracy(true: np.ndarray, hkl: np.ndarray, weights: np.ndarray | None = None,
                         mask: np.ndarray | None = None, n_draws: int = 20,
                         seed: int = 0, origin_aware: bool = True) -> float:
    """Measured chance level of :func:`sign_accuracy`: its mean over all structures and
    ``n_draws`` draws of uniformly random signs (seeded)."""
    t, _ = _rows(true)
    rng = np.random.default_rng(seed)
    scores = [sign_accuracy(rng.choice(np.array([-1, 1], np.int8), size=t.shape), t, hkl,
                            weights, mask, origin_aware) for _ in range(int(n_draws))]
    return float(np.nanmean(scores))


def strongest_mask(e_abs: np.ndarray, fraction: float = 0.2,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """True for the strongest ``fraction`` (by |E|) of each structure's present reflections
    (at least one per structure with any present).  Same shape as ``e_abs``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    e, single = _rows(np.asarray(e_abs, dtype=np.float64))
    present = np.isfinite(e) if mask is None else (np.asarray(mask, bool).reshape(e.shape)
                                                   & np.isfinite(e))
    out = np.zeros(e.shape, bool)
    for i in range(e.shape[0]):
        idx = np.flatnonzero(present[i])
        if idx.size == 0:
            continue
        k = max(1, int(round(fraction * idx.size)))
        order = idx[np.lexsort((idx, -e[i, idx]))]
        out[i, order[:k]] = True
    return out[0] if single else out


@dataclass
class MapCorrelation:
    """Per-structure map correlation at the best origin (``value``) and that origin shift
    ``parity`` (p ∈ {0,1}³: the predicted map matches the true map moved by p/2)."""

    value: np.ndarray
    parity: np.ndarray


def map_correlation(amplitude: np.ndarray, predicted: np.ndarray, true: np.ndarray,
                    hkl: np.ndarray, mask: np.ndarray | None = None) -> MapCorrelation:
    """Correlation of the map from (|F|, predicted signs) with the true map, best of 8 origins:
    max_p Σ|F|² s_pred s_true (−1)^(h·p) / Σ|F|² (Parseval; F(000) left out).

    ``amplitude`` |F| (NaN = missing), signs ±1: (n,) or (n_structures, n)."""
    a, single = _rows(np.asarray(amplitude, dtype=np.float64))
    p, _ = _rows(predicted)
    t, _ = _rows(true)
    w = _weights(a.shape, a ** 2, mask)
    product = w * np.sign(p) * np.sign(t)
    cc = product @ origin_shift_signs(hkl).T.astype(np.float64)      # (m, 8)
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = cc / w.sum(axis=1, keepdims=True)
    best = np.argmax(np.where(np.isfinite(cc), cc, -np.inf), axis=1)
    value = cc[np.arange(cc.shape[0]), best]
    parity = origin_shift_parities()[best]
    return MapCorrelation(value=value[0] if single else value,
                          parity=parity[0] if single else parity)


def solved(map_cc: np.ndarray, threshold: float = SOLVED_MAP_CORRELATION) -> np.ndarray:
    """True where the map correlation reaches ``threshold`` (0.5): the structure is solved."""
    return np.asarray(map_cc) >= threshold


def sign_map(amplitude: np.ndarray, signs: np.ndarray, hkl: np.ndarray, cell,
             resolution_factor: float = 1 / 3):
    """cctbx ``fft_map`` (P-1, volume-scaled) of coefficients |F|·sign on reflections ``hkl``
    of ``cell`` (NaN amplitudes left out)."""
    from cctbx import maptbx
    from cctbx.array_family import flex

    a = np.asarray(amplitude, dtype=np.float64)
    keep = np.isfinite(a)
    fa = amplitude_array(a[keep], np.asarray(hkl)[keep], cell)
    coefficients = fa.customized_copy(
        data=flex.complex_double(flex.double(a[keep] * np.sign(np.asarray(signs)[keep])),
                                 flex.double(int(keep.sum()), 0.0)))
    coefficients.set_observation_type(None)
    fft = coefficients.fft_map(resolution_factor=resolution_factor,
                               symmetry_flags=maptbx.use_space_group_symmetry)
    fft.apply_volume_scaling()
    return fft


def real_space_map_correlation(amplitude: np.ndarray, signs_1: np.ndarray,
                               signs_2: np.ndarray, hkl: np.ndarray, cell) -> float:
    """Pearson correlation, over the grid points of the unit cell, of the cctbx FFT maps
    from (|F|, signs_1) and (|F|, signs_2), at the given origin (the validation of the
    reciprocal-space :func:`map_correlation`)."""
    m1 = sign_map(amplitude, signs_1, hkl, cell).real_map_unpadded().as_numpy_array().ravel()
    m2 = sign_map(amplitude, signs_2, hkl, cell).real_map_unpadded().as_numpy_array().ravel()
    return float(np.corrcoef(m1, m2)[0, 1])


def atoms_found(xs, amplitude: np.ndarray, predicted: np.ndarray, hkl: np.ndarray,
                parity: np.ndarray | tuple[int, int, int] = (0, 0, 0),
                distance: float = PEAK_DISTANCE, peaks_per_atom: float = 1.5) -> float:
    """Share of the atoms of structure ``xs`` (its asymmetric unit) with a peak of the map
    from (|F|, predicted signs) within ``distance`` Å, after moving the predicted map's origin
    by ``parity``/2 (the best origin of :func:`map_correlation`).  The strongest
    ``peaks_per_atom`` × (atoms in the unit cell) peaks of cctbx's peak search are used;
    distances include the symmetry equivalents and lattice translations (cctbx
    ``min_sym_equiv_distance_info``)."""
    from cctbx import maptbx, sgtbx

    signs = shift_origin(np.asarray(predicted), np.asarray(hkl), np.asarray(parity))
    fft = sign_map(amplitude, signs, hkl, xs.unit_cell())
    n_cell = xs.scatterers().size() * xs.space_group().order_z()
    parameters = maptbx.peak_search_parameters(
        peak_search_level=1, interpolate=True, min_distance_sym_equiv=0.5,
        max_clusters=max(1, int(round(peaks_per_atom * n_cell))))
    peaks = fft.peak_search(parameters).all().sites()
    if peaks.size() == 0:
        return 0.0
    found = 0
    for scatterer in xs.scatterers():
        equivalents = sgtbx.sym_equiv_sites(xs.site_symmetry(scatterer.site))
        nearest = min(sgtbx.min_sym_equiv_distance_info(equivalents, peak).dist()
                      for peak in peaks)
        found += nearest <= distance
    return found / xs.scatterers().size()


def best_constant_baseline(train_signs: np.ndarray, test_signs: np.ndarray,
                           train_mask: np.ndarray | None = None,
                           test_mask: np.ndarray | None = None) -> tuple[int, float, float]:
    """The best constant sign for a subset of reflections, measured on the training split.

    ``*_signs``: ±1 (n_structures, n); ``*_mask``: True for the reflections of the subset
    (e.g. the seminvariants, or the strongest 20 %).  Returns (constant sign, fraction of +
    in training, accuracy of the constant on the test subset).  E.g. seminvariant signs are
    ≈ 0.485 positive in the generated data, so the baseline is "always −" with ≈ 0.515.
    """
    tr = np.asarray(train_signs)
    te = np.asarray(test_signs)
    trm = np.ones(tr.shape, bool) if train_mask is None else np.broadcast_to(train_mask, tr.shape)
    tem = np.ones(te.shape, bool) if test_mask is None else np.broadcast_to(test_mask, te.shape)
    if not trm.any() or not tem.any():
        raise ValueError("the subset is empty in the training or the test split")
    positive = float(np.mean(tr[trm] > 0))
    constant = 1 if positive >= 0.5 else -1
    accuracy = float(np.mean(np.sign(te[tem]) == constant))
    return constant, positive, accuracy


def plain_accuracy_ceiling(n_seminvariant: int, n_reflections: int,
                           seminvariant_accuracy: float) -> float:
    """Highest plain accuracy when only the seminvariants are learnable (every other sign is
    + with probability ½ given the intensities): ½ + (n_semi / n)(a_semi − ½)."""
    if not 0 <= n_seminvariant <= n_reflections or n_reflections == 0:
        raise ValueError(f"need 0 <= n_semi <= n, n > 0; got {n_seminvariant}, {n_reflections}")
    return 0.5 + n_seminvariant / n_reflections * (seminvariant_accuracy - 0.5)
