"""Keras 3 sign models on the resolution sphere (issue 10): PhAI-style, triplet (Σ2), MLP.

Every model reads the inputs of :class:`lib.phases.sphere.SphereStream` — ``e`` |E| (B, n) on
the fixed Friedel-unique index grid (0 outside the sphere), ``mask`` (B, n), ``origin`` (B, n)
(1 on the three origin-fixing reflections), ``cell`` (B, 6), and for the triplet model
``strong`` (B, K) and ``edges`` (B, T, 3) — and returns one sign logit per grid reflection
(B, n): P(F(h) > 0) = sigmoid(logit).  Train with :func:`lib.phases.sphere.sphere_sign_loss`
(origin-invariant on raw signs, or plain on origin-fixed signs).  Written with ``keras`` and
``keras.ops`` only (no ``tf.*``).

* :func:`build_phai_model` — PhAI-style: |E| scattered onto the 3D reciprocal-index grid
  (h, k, l ∈ [−I, I]; P-1: F(−h) = F(h), so both halves are filled) → 3D convolutions →
  two strided 3D convolutions → an MLP-mixer block over the flattened coarse grid (token and
  channel mixing; the cell enters here) → upsampling with a skip connection → one logit per
  voxel, read back at h and −h and averaged (so the output keeps the symmetry).  The whole
  network runs ``recycles`` times with shared weights; from the second pass on the previous
  pass's signs, tanh(logit)·|E|, are an extra input channel (gradient stopped, as in PhAI and
  AlphaFold).
* :func:`build_triplet_model` — Σ2 message passing: nodes are the K strongest reflections,
  edges the triplets h = ±k ± k' among them with weight |E_h E_k E_k'|.  Starting from the
  origin-fixing reflections (state +a, a learned) *and* S symbols (the reflections of largest
  Σ2 weight, state ±a in all 2^S combinations: a multisolution start, because three seeds
  alone do not propagate — measured: the tangent formula from the origin reflections alone
  determines ≈ 1 % of the strong signs at 1.0 Å), each of ``iterations`` rounds does what the
  tangent formula does, m_h = Σ w_hk tanh(s_k) tanh(s_h−k), s_h ← s_h + g·m_h + MLP(s_h, m_h,
  Σ w |tanh tanh|, their ratio, |E_h|, pinned_h) (g and the MLP learned; the MLP starts at 0,
  so the untrained model is the soft tangent formula).  The number of symbols only sets the
  number of starts: weights trained with S symbols load into a model built with more.  A
  figure of merit of each start, β (consistency − ψ₀) + a learned correction (consistency = Σ w t t t / Σ w over the
  triplets, t = tanh s; ψ₀ = Σ_weak |Σ E_k E_k' t_k t_k'| / Σ |E_k E_k'| over the pairs whose
  sum is one of the 200 weakest reflections, as the classical Σ2 routine; also mean t and
  mean |t|), weighs the starts (softmax), and the logits are c × the weighted mean of the
  starts' states (β, c learned).  Logits of the reflections outside the K strongest are 0
  (no opinion).  Measured (held-out generated structures, d_min 1.0 Å, K = 400 strong
  reflections, ≤ 8192 triplets, 6 iterations; |E|-weighted origin-aware accuracy on the
  strongest 20 %, chance 0.54): untrained (the soft tangent formula with the ψ₀ figure of
  merit) 0.75 with 5 symbols (32 starts) and 0.86 with 7 (128 starts); after 1,136
  structures of training (5 min on a shared CPU core, 4 symbols, origin-fixed BCE) 0.73 and
  0.87.  The learned parts add nothing yet at this budget: the multisolution prior does the
  work; consistency alone as the figure of merit picks the all-+ solution (0.53).
* :func:`build_sphere_mlp` — the report's MLP (:func:`lib.phases.models.build_sign_mlp`) on
  the same inputs: [|E|·mask, origin, cell] → depth × width → n logits.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .models import build_sign_mlp
from .phasing_metrics import chance_sign_accuracy, sign_accuracy, strongest_mask
from .sphere import SphereStream, grid_index_max_of, patterson_size


def _keras():
    import keras

    return keras


def _inputs(n: int, triplets: bool = False, n_strong: int = 0,
            n_symbols: int = 0) -> dict[str, Any]:
    keras = _keras()
    x = {"e": keras.Input(shape=(n,), name="e"),
         "mask": keras.Input(shape=(n,), name="mask"),
         "origin": keras.Input(shape=(n,), name="origin"),
         "cell": keras.Input(shape=(6,), name="cell")}
    if triplets:
        x["strong"] = keras.Input(shape=(n_strong,), dtype="int32", name="strong")
        x["edges"] = keras.Input(shape=(None, 3), dtype="int32", name="edges")
        x["symbols"] = keras.Input(shape=(n_symbols,), dtype="int32", name="symbols")
        x["weak_pairs"] = keras.Input(shape=(None, 3), dtype="int32", name="weak_pairs")
    return x


# ---------------------------------------------------------------------------------------------
# The report's MLP on the sphere
# ---------------------------------------------------------------------------------------------


#: Inputs the sphere MLP can read (:func:`build_sphere_mlp`).
MLP_INPUTS: tuple[str, ...] = ("e", "patterson", "origin", "cell")


def build_sphere_mlp(grid_hkl: np.ndarray, depth: int = 2, width: int = 256,
                     dropout: float = 0.0, batch_norm: bool = False,
                     inputs: tuple[str, ...] = ("e", "origin", "cell"),
                     name: str = "sphere_mlp") -> Any:
    """The report's MLP on sphere inputs: the concatenation of ``inputs`` — ``e`` |E|·mask
    (n), ``patterson`` the Patterson map (:func:`lib.phases.sphere.patterson_maps`),
    ``origin`` the origin-fixing markers (n), ``cell`` (6) — → ``depth`` hidden layers of
    ``width`` → n sign logits (wraps :func:`lib.phases.models.build_sign_mlp`)."""
    keras = _keras()
    unknown = [i for i in inputs if i not in MLP_INPUTS]
    if unknown or not inputs:
        raise ValueError(f"inputs must be some of {MLP_INPUTS}, got {inputs!r}")
    n = len(grid_hkl)
    every = _inputs(n)
    x = {k: v for k, v in every.items() if k in inputs or (k == "mask" and "e" in inputs)}
    parts = []
    for item in inputs:
        if item == "e":
            parts.append(keras.layers.Multiply(name="masked_e")([x["e"], x["mask"]]))
        elif item == "patterson":
            size = int(np.prod(patterson_size(grid_index_max_of(grid_hkl))))
            x["patterson"] = keras.Input(shape=(size,), name="patterson")
            parts.append(x["patterson"])
        else:
            parts.append(x[item])
    width_in = sum(int(p.shape[-1]) for p in parts)
    mlp = build_sign_mlp(width_in, depth=depth, width=width, dropout=dropout,
                         batch_norm=batch_norm, n_outputs=n, name=f"{name}_core")
    flat = keras.layers.Concatenate(name="mlp_input")(parts) if len(parts) > 1 else parts[0]
    return keras.Model(x, mlp(flat), name=name)


# ---------------------------------------------------------------------------------------------
# PhAI-style 3D model
# ---------------------------------------------------------------------------------------------


def voxel_positions(grid_hkl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Maps between the Friedel-unique grid (n reflections) and the (2I+1)³ voxel cube.

    Returns ``voxel_source`` (V,): for each voxel (h, k, l) (C order, h slowest) the position
    of h or −h in the grid, n for (0, 0, 0) (a zero); ``plus``, ``minus`` (n,): the voxels of h
    and −h of each grid reflection; and the cube edge D = 2I + 1."""
    hkl = np.asarray(grid_hkl, dtype=np.int64)
    index_max = int(np.abs(hkl).max())
    size = 2 * index_max + 1

    def voxel(h: np.ndarray) -> np.ndarray:
        h = h + index_max
        return (h[:, 0] * size + h[:, 1]) * size + h[:, 2]

    plus, minus = voxel(hkl), voxel(-hkl)
    source = np.full(size ** 3, len(hkl), np.int64)
    source[plus] = np.arange(len(hkl))
    source[minus] = np.arange(len(hkl))
    return source.astype(np.int32), plus.astype(np.int32), minus.astype(np.int32), size


def _phai_core_class() -> type:
    keras = _keras()
    layers, ops = keras.layers, keras.ops

    class PhaiRecycling(layers.Layer):
        """The PhAI-style network and its recycling passes (shared weights)."""

        def __init__(self, source: np.ndarray, plus: np.ndarray, minus: np.ndarray,
                     size: int, channels: tuple[int, int, int], recycles: int,
                     mixer_hidden: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            c1, c2, c3 = channels
            self.size, self.recycles, self.c3 = int(size), int(recycles), int(c3)
            self.half = (self.size + 1) // 2
            self.quarter = (self.half + 1) // 2
            self.tokens = self.quarter ** 3
            self.source = np.asarray(source)
            self.plus, self.minus = np.asarray(plus), np.asarray(minus)
            self.conv_a = layers.Conv3D(c1, 3, padding="same", activation="gelu")
            self.conv_b = layers.Conv3D(c1, 3, padding="same", activation="gelu")
            self.down_1 = layers.Conv3D(c2, 3, strides=2, padding="same", activation="gelu")
            self.down_2 = layers.Conv3D(c3, 3, strides=2, padding="same", activation="gelu")
            self.cell_proj = layers.Dense(c3)
            self.norm_1 = layers.LayerNormalization()
            self.token_1 = layers.Dense(mixer_hidden, activation="gelu")
            self.token_2 = layers.Dense(self.tokens)
            self.norm_2 = layers.LayerNormalization()
            self.chan_1 = layers.Dense(mixer_hidden, activation="gelu")
            self.chan_2 = layers.Dense(c3)
            self.up_1 = layers.Conv3DTranspose(c2, 3, strides=2, padding="same",
                                               activation="gelu")
            self.up_2 = layers.Conv3DTranspose(c1, 3, strides=2, padding="same",
                                               activation="gelu")
            self.fuse = layers.Conv3D(c1, 3, padding="same", activation="gelu")
            self.head = layers.Conv3D(1, 1)

        def _to_cube(self, grid_values: Any) -> Any:
            """(B, n, C) grid values → (B, D, D, D, C) voxels (h and −h both filled)."""
            padded = ops.pad(grid_values, [[0, 0], [0, 1], [0, 0]])
            cube = ops.take(padded, ops.convert_to_tensor(self.source), axis=1)
            d = self.size
            return ops.reshape(cube, (-1, d, d, d, grid_values.shape[-1]))

        def _network(self, features: Any, cell: Any) -> Any:
            d, h, q = self.size, self.half, self.quarter
            f1 = self.conv_b(self.conv_a(self._to_cube(features)))
            f2 = self.down_1(f1)
            f3 = self.down_2(f2)                                             # (B, q, q, q, c3)
            t = ops.reshape(f3, (-1, self.tokens, self.c3)) + self.cell_proj(cell)[:, None, :]
            u = ops.transpose(self.norm_1(t), (0, 2, 1))                      # (B, c3, tokens)
            t = t + ops.transpose(self.token_2(self.token_1(u)), (0, 2, 1))
            t = t + self.chan_2(self.chan_1(self.norm_2(t)))
            g = ops.reshape(t, (-1, q, q, q, self.c3))
            g = self.up_1(g)[:, :h, :h, :h, :] + f2
            g = self.up_2(g)[:, :d, :d, :d, :]
            g = self.fuse(ops.concatenate([g, f1], axis=-1))
            voxels = ops.reshape(self.head(g), (-1, d * d * d))
            return 0.5 * (ops.take(voxels, ops.convert_to_tensor(self.plus), axis=1)
                          + ops.take(voxels, ops.convert_to_tensor(self.minus), axis=1))

        def call(self, e: Any, mask: Any, origin: Any, cell: Any) -> Any:
            recycled = ops.zeros_like(e)
            logits = e
            for _ in range(max(1, self.recycles)):
                features = ops.stack([e, mask, origin, recycled], axis=-1)
                logits = self._network(features, cell) * mask
                recycled = ops.stop_gradient(ops.tanh(logits) * e)
            return logits

        def compute_output_shape(self, e_shape: Any, *args: Any) -> Any:
            return e_shape

    return PhaiRecycling


def build_phai_model(grid_hkl: np.ndarray, channels: tuple[int, int, int] = (16, 32, 48),
                     recycles: int = 3, mixer_hidden: int = 128,
                     name: str = "phai_like") -> Any:
    """PhAI-style model (see the module doc) on the grid ``grid_hkl`` (n, 3).

    ``channels``: filters at full, half and quarter grid resolution; ``recycles``: passes of
    the shared network (1 = no recycling); ``mixer_hidden``: width of the mixer's MLPs.
    """
    keras = _keras()
    source, plus, minus, size = voxel_positions(grid_hkl)
    x = _inputs(len(grid_hkl))
    core = _phai_core_class()(source, plus, minus, size, tuple(channels), recycles,
                              mixer_hidden, name="phai_recycling")
    logits = core(x["e"], x["mask"], x["origin"], x["cell"])
    return keras.Model(x, logits, name=name)


# ---------------------------------------------------------------------------------------------
# Triplet (Σ2) message passing
# ---------------------------------------------------------------------------------------------


def _triplet_class() -> type:
    keras = _keras()
    layers, ops = keras.layers, keras.ops

    class TripletPassing(layers.Layer):
        """Multisolution tangent-formula-like message passing over the Σ2 triplets."""

        def __init__(self, n_grid: int, n_symbols: int, iterations: int, hidden: int,
                     n_weak: int, start: float = 3.0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.n_grid, self.iterations = int(n_grid), int(iterations)
            self.n_weak = int(n_weak)
            self.n_symbols = int(n_symbols)
            combos = np.array(list(itertools.product((-1.0, 1.0), repeat=self.n_symbols)),
                              np.float32).reshape(-1, self.n_symbols)
            self.combos = combos                                              # (R, S)
            self.start_value = float(start)
            self.update_1 = layers.Dense(hidden, activation="gelu")
            self.update_2 = layers.Dense(hidden, activation="gelu")
            self.update_3 = layers.Dense(1, kernel_initializer="zeros")
            self.fom_1 = layers.Dense(hidden, activation="gelu")
            self.fom_2 = layers.Dense(1, kernel_initializer="zeros")

        def build(self, *shapes: Any) -> None:
            hidden = self.update_1.units
            for layer, width in ((self.update_1, 6), (self.update_2, hidden),
                                 (self.update_3, hidden), (self.fom_1, 4),
                                 (self.fom_2, hidden)):
                layer.build((None, width))
            self.start = self.add_weight(shape=(), name="start",
                                         initializer=keras.initializers.Constant(
                                             self.start_value))
            self.scale = self.add_weight(shape=(), name="message_scale",
                                         initializer=keras.initializers.Constant(0.1))
            self.gain = self.add_weight(shape=(), name="tangent_gain",
                                        initializer=keras.initializers.Constant(0.5))
            self.sharpness = self.add_weight(shape=(), name="fom_sharpness",
                                             initializer=keras.initializers.Constant(30.0))
            self.out_scale = self.add_weight(shape=(), name="logit_scale",
                                             initializer=keras.initializers.Constant(0.2))

        def call(self, e: Any, origin: Any, strong: Any, edges: Any, symbols: Any,
                 weak_pairs: Any) -> Any:
            n_batch = ops.shape(e)[0]
            n_strong = strong.shape[1]
            n_starts = self.combos.shape[0]
            valid = ops.cast(strong >= 0, e.dtype)
            at = ops.maximum(strong, 0)
            es = ops.take_along_axis(e, at, axis=1) * valid                  # (B, K)
            os = ops.take_along_axis(origin, at, axis=1) * valid
            edge_ok = ops.cast(edges[..., 0] >= 0, e.dtype)                 # (B, T)
            ed = ops.maximum(edges, 0)
            i, j, l = ed[..., 0], ed[..., 1], ed[..., 2]
            w = (ops.take_along_axis(es, i, axis=1) * ops.take_along_axis(es, j, axis=1)
                 * ops.take_along_axis(es, l, axis=1) * edge_ok) * self.scale
            w_total = ops.maximum(ops.sum(w, axis=1, keepdims=True), 1e-6)
            # every start r of every structure b is a row b·R + r
            rows = n_batch * n_starts

            def per_start(t: Any) -> Any:
                return ops.reshape(ops.repeat(t[:, None], n_starts, axis=1),
                                   (rows,) + tuple(t.shape[1:]))

            i_r, j_r, l_r, w_r = per_start(i), per_start(j), per_start(l), per_start(w)
            segments = ops.reshape(i_r + n_strong * ops.arange(rows, dtype=i.dtype)[:, None],
                                   (-1,))

            def gather_sum(values: Any) -> Any:
                total = ops.segment_sum(ops.reshape(values, (-1,)), segments,
                                        num_segments=rows * n_strong)
                return ops.reshape(total, (rows, n_strong))

            # starts: origin-fixing reflections +, symbols ± in every combination
            sym = ops.one_hot(symbols, n_strong, dtype=e.dtype)              # (B, S, K)
            signs = ops.einsum("rs,bsk->brk", ops.convert_to_tensor(self.combos, e.dtype), sym)
            pinned = ops.minimum(os + ops.sum(sym, axis=1), 1.0)              # (B, K)
            s = ops.reshape(self.start * (os[:, None, :] + signs), (rows, n_strong))
            es_r, pin_r, valid_r = per_start(es), per_start(pinned), per_start(valid)
            for _ in range(self.iterations):
                t = ops.tanh(s)
                pair = ops.take_along_axis(t, j_r, axis=1) * ops.take_along_axis(t, l_r, axis=1)
                m = gather_sum(w_r * pair)
                c = gather_sum(w_r * ops.abs(pair))
                features = ops.stack([s, m, c, m / (c + 1e-3), es_r, pin_r], axis=-1)
                delta = self.update_3(self.update_2(self.update_1(features)))[..., 0]
                s = (s + self.gain * m + delta) * valid_r
            # figure of merit of each start → weights of the starts
            t = ops.tanh(s)
            triple = (ops.take_along_axis(t, i_r, axis=1) * ops.take_along_axis(t, j_r, axis=1)
                      * ops.take_along_axis(t, l_r, axis=1))
            consistency = ops.sum(triple * w_r, axis=1) / ops.reshape(per_start(w_total),
                                                                       (rows,))
            n_valid = ops.maximum(ops.sum(valid_r, axis=1), 1.0)
            mean_t = ops.sum(t * valid_r, axis=1) / n_valid
            mean_abs = ops.sum(ops.abs(t) * valid_r, axis=1) / n_valid
            # ψ₀: the Σ2 sums of the weakest reflections should vanish
            pair_ok = ops.cast(weak_pairs[..., 0] >= 0, e.dtype)
            wp = ops.maximum(weak_pairs, 0)
            pw = (ops.take_along_axis(es, wp[..., 1], axis=1)
                  * ops.take_along_axis(es, wp[..., 2], axis=1) * pair_ok)     # (B, P)
            pw_total = ops.reshape(per_start(ops.maximum(ops.sum(pw, axis=1, keepdims=True),
                                                         1e-6)), (rows,))
            w_seg = ops.reshape(per_start(wp[..., 0]) + self.n_weak * ops.arange(
                rows, dtype=wp.dtype)[:, None], (-1,))
            weak_sum = ops.segment_sum(
                ops.reshape(per_start(pw) * ops.take_along_axis(t, per_start(wp[..., 1]), axis=1)
                            * ops.take_along_axis(t, per_start(wp[..., 2]), axis=1), (-1,)),
                w_seg, num_segments=rows * self.n_weak)
            psi0 = ops.sum(ops.abs(ops.reshape(weak_sum, (rows, self.n_weak))), axis=1) / pw_total
            features = ops.stack([consistency, psi0, mean_t, mean_abs], axis=-1)
            fom = self.sharpness * (consistency - psi0) + self.fom_2(self.fom_1(features))[..., 0]
            p = ops.softmax(ops.reshape(fom, (-1, n_starts)), axis=-1)          # (B, R)
            final = self.out_scale * ops.sum(
                p[:, :, None] * ops.reshape(s, (-1, n_starts, n_strong)), axis=1)
            # logits onto the grid: strong reflections get theirs, the rest 0
            where = ops.where(strong >= 0, strong, self.n_grid)
            flat = ops.reshape(where + (self.n_grid + 1) * ops.arange(
                n_batch, dtype=where.dtype)[:, None], (-1,))
            grid = ops.segment_sum(ops.reshape(final, (-1,)), flat,
                                   num_segments=n_batch * (self.n_grid + 1))
            return ops.reshape(grid, (-1, self.n_grid + 1))[:, : self.n_grid]

        def compute_output_shape(self, e_shape: Any, *args: Any) -> Any:
            return e_shape

    return TripletPassing


def build_triplet_model(grid_hkl: np.ndarray, n_strong: int, n_symbols: int = 4,
                        iterations: int = 6, hidden: int = 32, n_weak: int = 200,
                        name: str = "triplet_sigma2") -> Any:
    """Triplet (Σ2) message-passing model (see the module doc) on the grid ``grid_hkl``; its
    stream must be made with the same ``n_strong`` and ``n_symbols``
    (:class:`lib.phases.sphere.SphereStream`)."""
    keras = _keras()
    n = len(grid_hkl)
    x = _inputs(n, triplets=True, n_strong=n_strong, n_symbols=n_symbols)
    layer = _triplet_class()(n, n_symbols, iterations, hidden, n_weak, name="triplet_passing")
    logits = layer(x["e"], x["origin"], x["strong"], x["edges"], x["symbols"],
                   x["weak_pairs"])
    return keras.Model(x, logits, name=name)


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def model_inputs(model: Any, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The entries of a stream's input dict ``x`` that ``model`` declares as inputs (a model
    that reads only some of them, e.g. the MLP without the cell, must get only those)."""
    names = [t.name for t in getattr(model, "inputs", None) or []]
    return {k: x[k] for k in names if k in x} or x


def predict_logits(model: Any, x: dict[str, np.ndarray], batch_size: int = 16) -> np.ndarray:
    """Sign logits (B, n) of ``model`` for inputs ``x`` (dict of (B, ...) arrays), in batches
    of ``batch_size`` structures; only the inputs the model declares are passed."""
    x = model_inputs(model, x)
    total = len(next(iter(x.values())))
    out = []
    for start in range(0, total, batch_size):
        part = {k: v[start:start + batch_size] for k, v in x.items()}
        out.append(np.asarray(model.predict_on_batch(part)))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate_sphere_model(model: Any, stream: SphereStream, n_batches: int,
                          strongest: float = 0.2, chance_draws: int = 10) -> dict[str, float]:
    """|E|-weighted origin-aware sign accuracy of ``model`` on ``n_batches`` of ``stream``
    (held-out structures: use a stream with :data:`lib.phases.sphere.STREAM_SPHERE_TEST`),
    on all reflections of the sphere and on the strongest ``strongest`` fraction, each with
    its standard error over structures and next to its measured chance level
    (:mod:`lib.phases.phasing_metrics`)."""
    pred, true, e, mask = [], [], [], []
    for b in range(n_batches):
        arrays = stream.arrays(b)
        x, _ = stream.inputs(arrays)
        logits = predict_logits(model, x, len(arrays["e"]))
        pred.append(np.where(logits > 0, 1, -1))
        true.append(arrays["sign"])
        e.append(arrays["e"])
        mask.append(arrays["mask"])
    pred, true, e, mask = (np.concatenate(v) for v in (pred, true, e, mask))
    hkl = stream.hkl
    top = strongest_mask(np.where(mask, e, np.nan), strongest, mask)
    every = sign_accuracy(pred, true, hkl, e, mask)
    strong = sign_accuracy(pred, true, hkl, e, top)

    def se(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")

    return {
        "accuracy_all": float(np.nanmean(every)), "accuracy_all_se": se(every),
        "chance_all": chance_sign_accuracy(true, hkl, e, mask, n_draws=chance_draws),
        "accuracy_strongest": float(np.nanmean(strong)), "accuracy_strongest_se": se(strong),
        "chance_strongest": chance_sign_accuracy(true, hkl, e, top, n_draws=chance_draws),
        "n_structures": int(len(true)),
    }
