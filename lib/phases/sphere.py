"""A stream of never-seen structures on the resolution sphere, and its origin-aware sign loss.

:class:`SphereStream` is a ``keras.utils.PyDataset``: step ``i`` of epoch ``e`` is generator
batch ``e · steps_per_epoch + i`` of random P-1 structures (:func:`lib.phases.generator.
generate_batch`, seeded by ``(seed, stream, that number)``: same seed, same batches, in any
order and process).  For every structure it gives, on the fixed index grid of
:func:`lib.phases.evalues.resolution_grid` at ``d_min`` (Å):

* ``e``: |E| (dimensionless, clipped at 5) by a vectorised shell normalisation
  (:func:`lib.phases.evalues.shell_e_values`, the NumPy twin of cctbx's ``miller.array.normalize`` used by
  :func:`lib.phases.evalues.e_values`), 0 outside the structure's sphere;
* ``mask``: 1 for the reflections with d ≥ d_min in the structure's cell, else 0;
* ``origin``: 1 on the three origin-fixing reflections (:func:`lib.phases.origin.
  choose_origin_reflections`: strongest |E| with independent parity classes), else 0 — they
  depend on the intensities only, so they are the same for all 8 origins of a structure;
* ``cell``: a, b, c (Å) / 10 and cos α, cos β, cos γ (6 numbers);
* with ``n_strong=K``: the K strongest reflections of the sphere (``strong``, grid positions,
  −1 padding) and the triplets among them (``edges`` (T, 3) positions in that list:
  h = ±k ± k', the Σ2 relations, strongest |E_h E_k E_h−k| first, −1 padding) for
  :func:`lib.phases.phase_models.build_triplet_model`, and ``symbols`` (n_symbols positions in
  that list: the reflections of largest Σ2 weight besides the origin-fixing ones, whose signs
  the model enumerates as a multisolution start), and ``weak_pairs`` (max_edges/2, 3): pairs
  of strong reflections whose sum or difference is one of the 200 weakest (ψ₀ relations).

Targets are packed ``[target, mask, |E|]`` (B, 3n) over the grid: target 1 for sign +, the
signs raw (``origin="raw"``: train with the min-over-8 loss,
:func:`sphere_sign_loss` with ``origin_invariant=True``) or origin-fixed (``origin="fixed"``:
:func:`lib.phases.origin.fix_origin_batch` moves the origin so that the three origin-fixing
reflections are +; plain BCE then has one right answer).  The loss weighs each reflection
by mask·|E| (or mask): masked entries weigh 0 and are ignored.

Shell normalisation
-------------------
cctbx's ``normalize(reflections_per_bin)`` bins a structure's n reflections into
n_bins = int(n / reflections_per_bin + ½) shells of equal volume in reciprocal space (limits
equally spaced in d*³ between the smallest and largest d*² present, cctbx ``binning``) and
divides |F| by the rms |F| of its shell (ε = 1 for every reflection of P-1).

:func:`lib.phases.evalues.shell_e_values` does the same for a whole batch at once with ``np.bincount``;
``tests/test_sphere.py`` checks it against :func:`lib.phases.evalues.e_values` (equal to
≈ 1e-7).  Speed (one shared core, 16 structures of 8–40 atoms): 0.25 s for |F| and |E| on the
d ≥ 1 Å sphere (14,895 grid reflections); + 0.3 s for the Σ2 triplets of the 300 strongest.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .evalues import REFLECTIONS_PER_SHELL, grid_index_max, resolution_grid, sphere_arrays
from .origin import choose_origin_reflections, fix_origin_batch
from .reflections import cube_indices, friedel_unique, origin_shift_signs
from .stream import GeneratedBatches
from .structures import GeneratorParameters

#: Random stream of the sphere stream's training structures (the data sets use 0 and 1, the
#: report-mode stream 2).
STREAM_SPHERE: int = 3
#: Random stream of the held-out structures of the sphere (never trained on).
STREAM_SPHERE_TEST: int = 4
ORIGIN_MODES: tuple[str, ...] = ("raw", "fixed")


# ---------------------------------------------------------------------------------------------
# Grid helpers
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def grid_lookup(index_max: int) -> np.ndarray:
    """Position in the Friedel-unique grid (index_max) of every (h, k, l) with |indices| ≤
    2·index_max, or of its Friedel mate (P-1: F(−h) = F(h)); −1 where neither is on the grid.
    A (4·index_max + 1)³ int32 array indexed by h + 2·index_max (precomputed once per grid)."""
    hkl = friedel_unique(cube_indices(index_max)).astype(np.int64)    # = resolution_grid
    offset = 2 * index_max
    size = 2 * offset + 1
    table = np.full((size, size, size), -1, np.int32)
    positions = np.arange(len(hkl), dtype=np.int32)
    for sign in (1, -1):
        h = sign * hkl + offset
        table[h[:, 0], h[:, 1], h[:, 2]] = positions
    table.setflags(write=False)
    return table


def lookup_positions(hkl: np.ndarray, index_max: int) -> np.ndarray:
    """Grid positions of reflections ``hkl`` (..., 3) (or of their Friedel mates), −1 if off the
    grid of ``index_max``."""
    h = np.asarray(hkl, dtype=np.int64) + 2 * index_max
    size = 4 * index_max + 1
    inside = np.all((h >= 0) & (h < size), axis=-1)
    key = (h[..., 0] * size + h[..., 1]) * size + h[..., 2]
    out = grid_lookup(index_max).reshape(-1)[np.where(inside, key, 0)]
    return np.where(inside, out, -1)


def cell_features(cells: np.ndarray) -> np.ndarray:
    """Cell parameters as model inputs (B, 6): a, b, c in units of 10 Å, cos α, cos β, cos γ."""
    cells = np.asarray(cells, dtype=np.float64)
    return np.concatenate([cells[:, :3] / 10.0, np.cos(np.radians(cells[:, 3:]))],
                          axis=1).astype(np.float32)


def starting_symbols(e_strong: np.ndarray, edges: np.ndarray, exclude: np.ndarray,
                     n_symbols: int) -> np.ndarray:
    """Positions (n_symbols,) in the strong list of the reflections of largest Σ2 weight
    Σ |E_h E_k E_h−k| over their triplets, leaving out ``exclude`` (the origin-fixing
    reflections): the symbols of a multisolution start (their signs are enumerated)."""
    ok = edges[:, 0] >= 0
    i, j, l = edges[ok].T
    weight = e_strong[i] * e_strong[j] * e_strong[l]
    degree = np.bincount(i, weights=weight, minlength=len(e_strong)).astype(np.float64)
    degree[np.asarray(exclude, np.int64)] = -np.inf
    return np.argsort(-degree, kind="stable")[:n_symbols].astype(np.int32)


def _pairs_landing_in(hkl: np.ndarray, order: np.ndarray, targets: np.ndarray,
                      index_max: int) -> np.ndarray:
    """Rows (t, j, l), int64: every pair j < l of the reflections at grid positions ``order``
    whose sum or difference h_j ± h_l (or its Friedel mate) is the reflection at grid
    position ``targets[t]``.  No row twice: h_j + h_l and h_j − h_l are never ± the same
    reflection."""
    where = np.full(len(hkl) + 1, -1, np.int64)     # position in ``targets`` of a grid entry
    where[targets] = np.arange(targets.size)
    h = np.asarray(hkl, dtype=np.int64)[order]
    j, l = np.triu_indices(order.size, 1)
    found = []
    for combined in (h[j] + h[l], h[j] - h[l]):
        pos = lookup_positions(combined, index_max)
        t = where[np.where(pos >= 0, pos, len(hkl))]
        ok = t >= 0
        found.append(np.stack([t[ok], j[ok], l[ok]], axis=1))
    return np.concatenate(found)


def _fill_heaviest(out: np.ndarray, rows: np.ndarray, weight: np.ndarray) -> None:
    """Write the ``len(out)`` ``rows`` of largest ``weight`` into ``out``, heaviest first
    (ties in the order of ``rows``); ``out`` keeps its padding below them."""
    if len(rows) > len(out):
        top = np.argpartition(-weight, len(out) - 1)[:len(out)]
        rows, weight = rows[top], weight[top]
    best = np.argsort(-weight, kind="stable")
    out[: best.size] = rows[best]


def strong_triplets(e: np.ndarray, mask: np.ndarray, hkl: np.ndarray, index_max: int,
                    n_strong: int, max_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_strong`` strongest reflections of one structure and their Σ2 triplets.

    Returns ``strong`` (n_strong,) grid positions by decreasing |E| (−1 padding) and ``edges``
    (max_edges, 3) int32 rows (i, j, l) of positions in ``strong`` with h_i = ±h_j ± h_l
    (Friedel mates count: F(−h) = F(h)), i.e. each ordered pair (j, l) whose sum or difference
    is a strong reflection i, j < l (so each triplet {i, j, l} gives one edge into each of its
    three reflections); the ``max_edges`` of largest |E_i E_j E_l| are kept, −1 padding.
    """
    present = np.flatnonzero(mask)
    order = present[np.lexsort((present, -e[present]))][:n_strong]
    strong = np.full(n_strong, -1, np.int64)
    strong[: order.size] = order
    k = order.size
    edges = np.full((max_edges, 3), -1, np.int32)
    if k < 2:
        return strong, edges
    trip = _pairs_landing_in(hkl, order, order, index_max)
    trip = trip[(trip[:, 0] != trip[:, 1]) & (trip[:, 0] != trip[:, 2])]
    es = e[order]
    _fill_heaviest(edges, trip, es[trip[:, 0]] * es[trip[:, 1]] * es[trip[:, 2]])
    return strong, edges


def weak_pairs(e: np.ndarray, mask: np.ndarray, hkl: np.ndarray, index_max: int,
               strong: np.ndarray, n_weak: int, max_pairs: int) -> np.ndarray:
    """Pairs of strong reflections whose sum or difference is one of the ``n_weak`` weakest
    reflections of one structure (the ψ₀ relations: Σ_k E_k E_h−k s_k s_h−k ≈ 0 for a weak h).

    ``strong``: grid positions of the strong list (−1 padding).  Returns (max_pairs, 3) int32
    rows (w, j, l): w the position in the weak list (weakest first), j < l positions in the
    strong list; the ``max_pairs`` of largest |E_j E_l| are kept, −1 padding.
    """
    present = np.flatnonzero(mask)
    weak = present[np.lexsort((present, e[present]))][:n_weak]
    out = np.full((max_pairs, 3), -1, np.int32)
    order = strong[strong >= 0]
    k = order.size
    if k < 2 or weak.size == 0:
        return out
    pairs = _pairs_landing_in(hkl, order, weak, index_max)
    es = e[order]
    _fill_heaviest(out, pairs, es[pairs[:, 1]] * es[pairs[:, 2]])
    return out


# ---------------------------------------------------------------------------------------------
# Arrays of a batch
# ---------------------------------------------------------------------------------------------


def origin_markers(e: np.ndarray, mask: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """(B, n) float32: 1 on each structure's three origin-fixing reflections, else 0."""
    out = np.zeros(e.shape, np.float32)
    for i in range(e.shape[0]):
        out[i, choose_origin_reflections(e[i], hkl, mask[i])] = 1.0
    return out


def sphere_inputs_targets(arrays: dict[str, np.ndarray], origin: str = "fixed",
                          n_strong: int | None = None,
                          max_edges: int = 4096, index_max: int | None = None,
                          n_symbols: int = 4, n_weak: int = 200, patterson: bool = False
                          ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Model inputs and packed targets of :func:`sphere_arrays` output (see the module doc);
    with ``patterson`` also ``patterson`` (:func:`patterson_maps`)."""
    if origin not in ORIGIN_MODES:
        raise ValueError(f"origin must be one of {ORIGIN_MODES}, got {origin!r}")
    hkl, e, mask, sign = arrays["hkl"], arrays["e"], arrays["mask"], arrays["sign"]
    markers = origin_markers(e, mask, hkl)
    if origin == "fixed":
        sign, _, _ = fix_origin_batch(sign, hkl, e, mask)
    target = np.concatenate([(sign > 0).astype(np.float32), mask.astype(np.float32),
                             e.astype(np.float32)], axis=-1)
    x = {"e": e.astype(np.float32), "mask": mask.astype(np.float32), "origin": markers,
         "cell": cell_features(arrays["cells"])}
    if patterson:
        x["patterson"] = patterson_maps(e, mask, hkl)
    if n_strong:
        imax = grid_index_max_of(hkl) if index_max is None else index_max
        pairs = [strong_triplets(e[i], mask[i], hkl, imax, n_strong, max_edges)
                 for i in range(e.shape[0])]
        x["strong"] = np.stack([p[0] for p in pairs]).astype(np.int32)
        x["edges"] = np.stack([p[1] for p in pairs]).astype(np.int32)
        symbols = []
        for i, (strong, edges) in enumerate(pairs):
            e_strong = np.where(strong >= 0, e[i][np.maximum(strong, 0)], 0.0)
            exclude = np.flatnonzero(markers[i][np.maximum(strong, 0)] * (strong >= 0))
            symbols.append(starting_symbols(e_strong, edges, exclude, n_symbols))
        x["symbols"] = np.stack(symbols).astype(np.int32)
        x["weak_pairs"] = np.stack([
            weak_pairs(e[i], mask[i], hkl, imax, pairs[i][0], n_weak, max_edges // 2)
            for i in range(e.shape[0])]).astype(np.int32)
    return x, target


def patterson_size(index_max: int) -> tuple[int, int, int]:
    """Shape of :func:`patterson_maps` on a grid of ``index_max``: N = 2·index_max + 2 points
    per cell edge (N > 2·index_max: no aliasing), half a cell along a (P(u) = P(−u))."""
    n = 2 * int(index_max) + 2
    return n // 2 + 1, n, n


def patterson_maps(e: np.ndarray, mask: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """The origin-removed sharpened Patterson function of each structure (B, ∏ shape) float32.

    P(u) = Σ_h (|E_h|² − 1) cos 2πh·u over the reflections of the sphere (``mask``) and their
    Friedel mates, at u = (i, j, k)/N on the N³ grid of :func:`patterson_size` (an exact
    Fourier synthesis: N > 2·max |h|), the half-cell u_a ≤ ½, scaled to unit rms per
    structure.  The map of interatomic vectors that report 1's §4 proposes as an input
    instead of the intensities: it holds exactly the information of the |E|², rearranged
    in direct space."""
    index_max = grid_index_max_of(hkl)
    shape = patterson_size(index_max)
    n = shape[1]
    coefficient = np.where(mask, np.asarray(e, np.float64) ** 2 - 1.0, 0.0)        # (B, n)
    cube = np.zeros((coefficient.shape[0], n, n, n))
    h = np.asarray(hkl, dtype=np.int64) % n
    minus = (-np.asarray(hkl, dtype=np.int64)) % n
    cube[:, h[:, 0], h[:, 1], h[:, 2]] += coefficient
    cube[:, minus[:, 0], minus[:, 1], minus[:, 2]] += coefficient
    maps = np.fft.fftn(cube, axes=(1, 2, 3)).real[:, : shape[0]]
    maps = maps.reshape(len(maps), -1)
    rms = np.sqrt(np.mean(maps ** 2, axis=1, keepdims=True))
    return (maps / np.where(rms > 0, rms, 1.0)).astype(np.float32)


def grid_index_max_of(hkl: np.ndarray) -> int:
    """Largest |index| of a grid (its ``index_max``)."""
    return int(np.abs(np.asarray(hkl)).max())


# ---------------------------------------------------------------------------------------------
# Stream
# ---------------------------------------------------------------------------------------------


class SphereStream(GeneratedBatches):
    """Keras batches of never-seen random P-1 structures on the resolution sphere.

    Parameters
    ----------
    generator : parameters of the random structures (:class:`GeneratorParameters`).
    seed : seed of the stream (same seed → same batches).
    batch_size, steps_per_epoch : structures per batch, batches per epoch.
    d_min : resolution of the sphere (Å).
    origin : ``"fixed"`` (origin-fixed signs) or ``"raw"`` (for the min-over-8 loss).
    n_strong, max_edges, n_symbols : with ``n_strong``, the strongest reflections, their Σ2
        triplets and the starting symbols are added to the inputs (the triplet model's).
    stream : random stream (default :data:`STREAM_SPHERE`; held-out: :data:`STREAM_SPHERE_TEST`).
    patterson : add the Patterson maps (:func:`patterson_maps`) to the inputs.
    """

    def __init__(self, generator: GeneratorParameters, seed: int, batch_size: int,
                 steps_per_epoch: int, d_min: float = 1.0, origin: str = "fixed",
                 n_strong: int | None = None, max_edges: int = 4096, n_symbols: int = 4,
                 stream: int = STREAM_SPHERE, backend: str = "numpy",
                 reflections_per_shell: int = REFLECTIONS_PER_SHELL, patterson: bool = False,
                 **kwargs: Any) -> None:
        if origin not in ORIGIN_MODES:
            raise ValueError(f"origin must be one of {ORIGIN_MODES}, got {origin!r}")
        super().__init__(generator, seed, batch_size, steps_per_epoch, stream, backend, **kwargs)
        self.d_min = float(d_min)
        self.cell_edge_max = float(generator.cell_edge_max)
        self.hkl = resolution_grid(self.d_min, self.cell_edge_max)
        self.index_max = grid_index_max(self.d_min, self.cell_edge_max)
        self.origin = origin
        self.n_strong = None if not n_strong else int(n_strong)
        self.max_edges = int(max_edges)
        self.n_symbols = int(n_symbols)
        self.reflections_per_shell = int(reflections_per_shell)
        self.patterson = bool(patterson)

    def __repr__(self) -> str:
        return (f"SphereStream(seed {self.seed}, d_min {self.d_min} Å, {len(self.hkl)} grid "
                f"reflections, {self.steps_per_epoch} × {self.batch_size} per epoch, origin "
                f"{self.origin}, epoch {self._epoch})")

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """:func:`sphere_arrays` of step ``index`` (for evaluation: true signs, |F|, mask)."""
        return sphere_arrays(self.structures(index), self.d_min, self.cell_edge_max,
                             self.reflections_per_shell, self.backend)

    def inputs(self, arrays: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Model inputs and packed targets of ``arrays`` (:func:`sphere_arrays` of any
        structures, on this stream's grid or another) with this stream's settings."""
        same_grid = len(arrays["hkl"]) == len(self.hkl)
        return sphere_inputs_targets(arrays, self.origin, self.n_strong, self.max_edges,
                                     self.index_max if same_grid else None, self.n_symbols,
                                     patterson=self.patterson)

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        if index < 0 or index >= len(self):
            raise IndexError(index)
        return self.inputs(self.arrays(index))



# ---------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------


def sphere_sign_loss(grid_hkl: np.ndarray, origin_invariant: bool, e_weighted: bool = True,
                     name: str | None = None) -> Any:
    """Keras loss on the packed targets ``[target, mask, |E|]`` (B, 3n) of :class:`SphereStream`.

    Weighted binary cross-entropy of the sign logits (B, n) over the grid, Σ w·BCE / Σ w per
    structure, with w = mask·|E| (``e_weighted``) or w = mask: masked entries weigh 0 and are
    ignored.  With ``origin_invariant`` the loss is the minimum over the 8 origin shifts
    (−1)^(h·p) of the grid reflections ``grid_hkl`` (train on raw signs); without, plain BCE
    (train on origin-fixed signs).
    """
    import keras

    ops = keras.ops
    flips = ((1.0 - origin_shift_signs(np.asarray(grid_hkl)).astype(np.float32)) / 2.0
             if origin_invariant else None)                                     # (8, n) 0/1

    class SphereSignLoss(keras.losses.Loss):
        """Masked weighted BCE on sign logits (min over the 8 origins if invariant)."""

        def call(self, y_true: Any, y_pred: Any) -> Any:
            target, w = unpack_sphere_targets(y_true, y_pred, e_weighted)
            total = ops.maximum(ops.sum(w, axis=-1), 1e-12)
            base = ops.sum((ops.softplus(y_pred) - target * y_pred) * w, axis=-1)
            if flips is None:
                return base / total
            # BCE(z, 1 − t) − BCE(z, t) = (2t − 1) z: added for every reflection a shift flips
            delta = ops.matmul((2.0 * target - 1.0) * y_pred * w,
                               ops.transpose(ops.convert_to_tensor(flips, y_pred.dtype)))
            return ops.min(base[:, None] + delta, axis=-1) / total

    return SphereSignLoss(name=name or ("sphere_origin_invariant_bce" if origin_invariant
                                        else "sphere_bce"))


def unpack_sphere_targets(y_true: Any, y_pred: Any, e_weighted: bool = True) -> tuple[Any, Any]:
    """(target 0/1, weight) of packed sphere targets; weight = mask·|E| or mask."""
    import keras

    ops = keras.ops
    n = ops.shape(y_pred)[-1]
    y_true = ops.cast(y_true, y_pred.dtype)
    target, mask, e = y_true[..., :n], y_true[..., n:2 * n], y_true[..., 2 * n:]
    return target, (mask * e if e_weighted else mask)


def sphere_accuracy_metric(grid_hkl: np.ndarray, e_weighted: bool = True,
                           name: str = "weighted_origin_accuracy") -> Any:
    """Keras metric: (|E|-)weighted sign accuracy over the sphere at the best of 8 origins."""
    import keras

    ops = keras.ops
    shifts = origin_shift_signs(np.asarray(grid_hkl)).astype(np.float32)

    def accuracy(y_true: Any, y_pred: Any) -> Any:
        target, w = unpack_sphere_targets(y_true, y_pred, e_weighted)
        agree = (2.0 * ops.cast(ops.equal(ops.cast(y_pred > 0, y_pred.dtype), target),
                                y_pred.dtype) - 1.0) * w                        # ±w
        per = ops.matmul(agree, ops.transpose(ops.convert_to_tensor(shifts, y_pred.dtype)))
        total = ops.maximum(ops.sum(w, axis=-1), 1e-12)
        return 0.5 + 0.5 * ops.max(per, axis=-1) / total

    return keras.metrics.MeanMetricWrapper(accuracy, name=name)
