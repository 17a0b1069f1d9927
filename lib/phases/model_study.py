"""Sign models trained on the stream of never-seen structures, and judged like classical phasing.

Notebook ``08_phasing_models`` asks report 1's question again with the corrections of issue 8
(|E| inputs on the resolution sphere, the origin handled): can a network read the signs from
the intensities, and what does it take?  This module does its computing; the verdicts are in
:mod:`lib.phases.verdicts`, the figures in :mod:`lib.phases.plots`.

* :func:`build_model` / :func:`model_stream`: the three designs of
  :mod:`lib.phases.phase_models` (``mlp``, ``phai``, ``triplet``) and the
  :class:`lib.phases.sphere.SphereStream` each one reads (training stream
  :data:`lib.phases.sphere.STREAM_SPHERE`, held-out curve stream
  :data:`lib.phases.sphere.STREAM_SPHERE_TEST`).
* :func:`train_on_stream`: ``train_on_batch`` over the stream, every batch new structures; at
  each checkpoint (structures seen) the held-out accuracy (:func:`lib.phases.phase_models.
  evaluate_sphere_model`) and the accuracy on the first structures it was trained on — the
  **learning curve**, whose x-axis is structures seen.
* :func:`power_law_extrapolation`: 1 − accuracy = a · n^(−b) fitted to the curve's last
  points, and the n at which it would reach a target (None when the curve does not rise).
* :func:`structure_arrays` and :func:`score_predictions`: the model's signs on *given* cctbx
  structures (notebook 07's generated test structures and the COD P-1 structures), scored
  per structure with exactly the metrics of :func:`lib.phases.classical.
  phase_known_structure` (so the rows summarise with :func:`lib.phases.baselines.
  summarise_sweep` into the same table as 07's).
* :func:`seeded_jobs`: jobs for :func:`lib.phases.baselines.phase_jobs` that start charge
  flipping or Σ2 from a model's signs of the strongest reflections (AI-PhaSeed), beside the
  same methods started at random.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .engine import batch_from_cctbx
from .phase_models import (build_phai_model, build_sphere_mlp, build_triplet_model,
                           evaluate_sphere_model, model_inputs, predict_logits)
from .phasing_metrics import (atoms_found, chance_sign_accuracy, map_correlation, sign_accuracy,
                              solved, strongest_mask)
from .sphere import (STREAM_SPHERE, STREAM_SPHERE_TEST, SphereStream, sphere_arrays,
                     sphere_sign_loss)
from .structures import GeneratorParameters

#: The model designs by name.
MODEL_KINDS: tuple[str, ...] = ("mlp", "phai", "triplet")


# ---------------------------------------------------------------------------------------------
# Models and their streams
# ---------------------------------------------------------------------------------------------


def model_stream(generator: GeneratorParameters, seed: int, kind: str, d_min: float,
                 origin: str = "fixed", batch_size: int = 16, n_strong: int = 400,
                 max_edges: int = 8192, n_symbols: int = 4, patterson: bool = False,
                 held_out: bool = False, steps: int = 10 ** 6) -> SphereStream:
    """The :class:`SphereStream` a model of ``kind`` reads at resolution ``d_min`` (Å):
    training structures (stream :data:`STREAM_SPHERE`) or, ``held_out``, never-trained ones
    (:data:`STREAM_SPHERE_TEST`); the triplet model's streams carry the ``n_strong``
    strongest reflections, their Σ2 triplets and ``n_symbols`` starting symbols."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(MODEL_KINDS)}")
    triplet = kind == "triplet"
    return SphereStream(generator, seed, batch_size, steps, d_min=d_min, origin=origin,
                        n_strong=n_strong if triplet else None, max_edges=max_edges,
                        n_symbols=n_symbols, patterson=patterson,
                        stream=STREAM_SPHERE_TEST if held_out else STREAM_SPHERE)


def build_model(kind: str, grid_hkl: np.ndarray, n_strong: int = 400, n_symbols: int = 4,
                **options: Any) -> Any:
    """A sign model of ``kind`` (``mlp``: :func:`build_sphere_mlp` with ``options`` such as
    width, depth, dropout, batch_norm, inputs; ``phai``: :func:`build_phai_model`;
    ``triplet``: :func:`build_triplet_model` with ``n_strong`` and ``n_symbols``)."""
    if kind == "mlp":
        return build_sphere_mlp(grid_hkl, **options)
    if kind == "phai":
        return build_phai_model(grid_hkl, **options)
    if kind == "triplet":
        return build_triplet_model(grid_hkl, n_strong, n_symbols, **options)
    raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(MODEL_KINDS)}")


def compile_model(model: Any, grid_hkl: np.ndarray, origin: str,
                  learning_rate: float = 1e-3) -> Any:
    """Compile with Adam and the sphere loss: plain |E|-weighted BCE for origin-fixed targets
    (``origin="fixed"``), the minimum over the 8 origins for raw signs (``"raw"``)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=sphere_sign_loss(grid_hkl, origin_invariant=origin == "raw"))
    return model


def checkpoints(n_structures: int, batch_size: int, n_points: int) -> list[int]:
    """Structures seen at which the learning curve is measured: 0 and ``n_points`` values
    spaced evenly in log between one batch and ``n_structures`` (multiples of the batch),
    the last always the full count."""
    steps = int(n_structures) // int(batch_size)
    if steps < 1:
        return [0]
    marks = np.unique(np.round(np.geomspace(1, steps, max(2, n_points))).astype(int))
    marks = marks[-max(1, n_points):]
    return [0] + [int(m) * int(batch_size) for m in marks]


def train_on_stream(model: Any, train: SphereStream, held_out: SphereStream,
                    n_structures: int, n_points: int = 5, curve_batches: int = 1,
                    tester: Any = None, seen_stream: SphereStream | None = None
                    ) -> list[dict[str, Any]]:
    """Train ``model`` on ``n_structures`` never-seen structures of ``train`` (one
    ``train_on_batch`` per batch, each structure seen once) and return its learning curve:
    at each of :func:`checkpoints` the accuracies on ``curve_batches`` batches of ``held_out``
    (and their chance levels), and at the last ``seen_accuracy_strongest``, the same metric
    on the first training batch (structures already trained on: the gap to the held-out accuracy is
    what memorising would show), with structures seen and seconds.  ``tester``: a model of
    the same weights to evaluate with (the triplet model with more symbols), ``seen_stream``:
    the training structures with the tester's input settings (default ``train``)."""
    marks = checkpoints(n_structures, train.batch_size, n_points)
    curve: list[dict[str, Any]] = []
    started = time.perf_counter()
    evaluator = model if tester is None else tester

    def record(seen: int, last: bool) -> None:
        if tester is not None:
            tester.set_weights(model.get_weights())
        row = evaluate_sphere_model(evaluator, held_out, curve_batches, chance_draws=5)
        if last:   # the structures trained on, once, at the end (what memorising would show)
            on = train if seen_stream is None else seen_stream
            row["seen_accuracy_strongest"] = evaluate_sphere_model(
                evaluator, on, 1, chance_draws=1)["accuracy_strongest"]
        row.update(structures_seen=int(seen), seconds=time.perf_counter() - started)
        curve.append(row)

    seen, step = 0, 0
    for i, mark in enumerate(marks):
        while seen < mark:
            x, y = train[step]
            model.train_on_batch(model_inputs(model, x), y)
            step += 1
            seen += train.batch_size
        record(seen, i == len(marks) - 1)
    return curve


def power_law_extrapolation(seen: Sequence[float], accuracy: Sequence[float], target: float,
                            n_last: int = 4) -> dict[str, Any]:
    """Fit 1 − accuracy = a · n^(−b) (a straight line in log–log) to the last ``n_last``
    points of a learning curve with n > 0 structures seen, and solve for the n at which
    accuracy would reach ``target``.  ``n_needed`` is None when the fitted exponent b ≤ 0
    (the error does not fall with more data), when it exceeds e^40 ≈ 2·10^17 structures
    (``log10_n_needed`` still says how far), or there are fewer than 2 points; ``reached``
    when the last point already meets the target."""
    n = np.asarray(seen, dtype=np.float64)
    acc = np.asarray(accuracy, dtype=np.float64)
    keep = (n > 0) & np.isfinite(acc) & (acc < 1)
    n, acc = n[keep][-n_last:], acc[keep][-n_last:]
    out: dict[str, Any] = {"target": float(target), "a": None, "b": None, "n_needed": None,
                           "reached": bool(len(acc) and acc[-1] >= target),
                           "n_points": int(len(n))}
    if len(n) < 2 or np.ptp(np.log(n)) == 0:
        return out
    slope, intercept = np.polyfit(np.log(n), np.log(1 - acc), 1)
    out["a"], out["b"] = float(math.exp(intercept)), float(-slope)
    if out["reached"]:
        out["n_needed"] = float(n[-1])
    elif out["b"] > 1e-3:
        log_n = (intercept - math.log(1 - target)) / out["b"]
        out["log10_n_needed"] = log_n / math.log(10)
        out["n_needed"] = float(math.exp(log_n)) if log_n < 40 else None    # e^40 ≈ 2e17
    return out


@dataclass
class TrainedModel:
    """A trained sign model: ``name``, ``kind``, resolution ``d_min`` (Å) and ``origin``
    handling it was trained with; ``model`` (for the triplet model: a copy with
    ``n_symbols_test`` symbols, the same weights), the held-out ``stream`` it is evaluated
    with, its learning ``curve`` (:func:`train_on_stream`), training seconds and the
    builder's ``options``."""

    name: str
    kind: str
    d_min: float
    origin: str
    model: Any
    stream: SphereStream
    curve: list[dict[str, Any]]
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, Any]:
        """The last point of the learning curve (held-out accuracies after training)."""
        return self.curve[-1]

    def record(self) -> dict[str, Any]:
        """JSON-ready summary: name, kind, d_min, origin, parameters, seconds, curve."""
        return {"name": self.name, "kind": self.kind, "d_min": self.d_min,
                "origin": self.origin, "n_parameters": int(self.model.count_params()),
                "options": {k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in self.options.items()},
                "seconds": self.seconds, "curve": self.curve}


def train_sign_model(name: str, kind: str, generator: GeneratorParameters, seed: int,
                     d_min: float, n_structures: int, origin: str = "fixed",
                     batch_size: int = 16, n_points: int = 5, curve_batches: int = 1,
                     learning_rate: float = 1e-3, n_strong: int = 400, max_edges: int = 8192,
                     n_symbols: int = 4, n_symbols_test: int | None = None,
                     **options: Any) -> TrainedModel:
    """Build (seeded by ``seed``), compile and train one sign model on ``n_structures``
    never-seen structures at ``d_min`` (Å), with its learning curve on ``curve_batches``
    held-out batches; ``n_structures`` = 0 gives the untrained model's single point.  The
    triplet model trains with ``n_symbols`` symbols and is evaluated with
    ``n_symbols_test``; an MLP with ``"patterson"`` in ``inputs`` reads Patterson maps."""
    import keras

    keras.utils.set_random_seed(int(seed))
    patterson = "patterson" in options.get("inputs", ())
    settings = dict(origin=origin, batch_size=batch_size, n_strong=n_strong,
                    max_edges=max_edges, patterson=patterson)
    train = model_stream(generator, seed, kind, d_min, n_symbols=n_symbols, **settings)
    n_test_symbols = int(n_symbols_test or n_symbols)
    held_out = model_stream(generator, seed, kind, d_min, n_symbols=n_test_symbols,
                            held_out=True, **settings)
    model = compile_model(build_model(kind, train.hkl, n_strong, n_symbols, **options),
                          train.hkl, origin, learning_rate)
    tester, seen_stream = None, None
    if kind == "triplet" and n_test_symbols != n_symbols:
        tester = build_model(kind, train.hkl, n_strong, n_test_symbols, **options)
        seen_stream = model_stream(generator, seed, kind, d_min, n_symbols=n_test_symbols,
                                   **settings)
    started = time.perf_counter()
    curve = train_on_stream(model, train, held_out, n_structures, n_points, curve_batches,
                            tester, seen_stream)
    return TrainedModel(name, kind, float(d_min), origin, tester or model, held_out, curve,
                        time.perf_counter() - started, dict(options))


def on_grid(trained: TrainedModel, d_min: float, cell_edge_max: float) -> TrainedModel:
    """The triplet model (whose weights do not depend on the grid) rebuilt on the grid of
    another ``d_min`` (Å) or ``cell_edge_max`` (Å), with the same weights and settings."""
    if trained.kind != "triplet":
        raise ValueError(f"only the triplet model moves between grids, not {trained.kind!r}")
    old = trained.stream
    generator = GeneratorParameters(**{**old.generator.as_dict(),
                                       "cell_edge_max": float(cell_edge_max)})
    stream = SphereStream(generator, old.seed, old.batch_size, old.steps_per_epoch,
                          d_min=d_min, origin=old.origin, n_strong=old.n_strong,
                          max_edges=old.max_edges, n_symbols=old.n_symbols,
                          stream=STREAM_SPHERE_TEST)
    model = build_model("triplet", stream.hkl, old.n_strong, old.n_symbols, **trained.options)
    model.set_weights(trained.model.get_weights())
    return TrainedModel(trained.name, "triplet", float(d_min), trained.origin, model, stream,
                        trained.curve, trained.seconds, trained.options)


# ---------------------------------------------------------------------------------------------
# Given structures: the model's signs and their phasing metrics
# ---------------------------------------------------------------------------------------------


def structure_arrays(structures: Sequence[tuple[str, Any]], d_min: float,
                     cell_edge_max: float) -> dict[str, np.ndarray]:
    """:func:`lib.phases.sphere.sphere_arrays` of given cctbx structures ((id, xs) pairs) on
    the grid of ``d_min`` (Å) and ``cell_edge_max`` (Å): |F|, true signs, |E|, mask."""
    batch = batch_from_cctbx([xs for _, xs in structures])
    return sphere_arrays(batch, d_min, cell_edge_max)


def fits_grid(structures: Sequence[tuple[str, Any]], cell_edge_max: float
              ) -> tuple[list[tuple[str, Any]], list[str]]:
    """The structures whose cell edges are ≤ ``cell_edge_max`` (Å), and the ids of the others
    (whose resolution sphere does not fit a grid-bound model's input)."""
    inside, outside = [], []
    for source_id, xs in structures:
        if max(xs.unit_cell().parameters()[:3]) <= cell_edge_max + 1e-9:
            inside.append((source_id, xs))
        else:
            outside.append(source_id)
    return inside, outside


def model_signs(model: Any, stream: SphereStream, arrays: dict[str, np.ndarray]
                ) -> np.ndarray:
    """Signs (B, n) int8 predicted by ``model`` for ``arrays`` with ``stream``'s input
    settings: +1 / −1 by the sign of the logit, 0 where the logit is exactly 0 (no opinion:
    the triplet model's reflections outside its K strongest) or outside the sphere."""
    x, _ = stream.inputs(arrays)
    logits = predict_logits(model, x)
    return (np.sign(logits) * arrays["mask"]).astype(np.int8)


def score_predictions(structures: Sequence[tuple[str, Any]], arrays: dict[str, np.ndarray],
                      signs: np.ndarray, source: str, method: str, d_min: float,
                      seconds: float = float("nan"), strongest_fraction: float = 0.2,
                      seed: int = 0) -> list[dict[str, Any]]:
    """One row per structure with the columns of :func:`lib.phases.classical.
    phase_known_structure` for predicted ``signs`` (B, n) on ``arrays``' grid: map
    correlation at the best origin (reflections without an opinion left out of the map),
    solved, atoms found, |E|-weighted origin-aware accuracy on all and on the strongest
    ``strongest_fraction`` (no opinion counts as −), each with its chance level."""
    rows = []
    hkl = arrays["hkl"]
    for i, (source_id, xs) in enumerate(structures):
        m = arrays["mask"][i]
        h, e, amplitude, true = hkl[m], arrays["e"][i][m], arrays["amplitude"][i][m], \
            arrays["sign"][i][m]
        predicted = signs[i][m]
        vote = np.where(predicted > 0, 1, -1).astype(np.int8)
        strong = strongest_mask(e, strongest_fraction)
        mc = map_correlation(amplitude, predicted, true, h)
        rows.append({
            "source": source, "structure": source_id, "method": method, "d_min": float(d_min),
            "n_atoms": int(xs.scatterers().size()), "n_reflections": int(m.sum()),
            "seconds": float(seconds), "converged": float("nan"),
            "fom": float("nan"), "map_correlation": float(mc.value),
            "solved": bool(solved(mc.value)),
            "atoms_found": atoms_found(xs, amplitude, predicted, h, mc.parity),
            "accuracy": float(sign_accuracy(vote, true, h, e)),
            "accuracy_strongest": float(sign_accuracy(vote, true, h, e, strong)),
            "chance": chance_sign_accuracy(true, h, e, n_draws=10, seed=seed + i),
            "chance_strongest": chance_sign_accuracy(true, h, e, strong, n_draws=10,
                                                     seed=seed + i),
            "error": ""})
    return rows


def evaluate_on_structures(trained: TrainedModel, structures: Sequence[tuple[str, Any]],
                           source: str, seed: int = 0) -> dict[str, Any]:
    """A trained model's signs and per-structure scores (:func:`score_predictions`) on given
    structures at its ``d_min``.  The triplet model reads every structure (rebuilt on a grid
    large enough for the largest cell, :func:`on_grid`); the grid-bound models (MLP,
    PhAI-style) only those whose cell fits their grid (:func:`fits_grid`), the others are
    listed in ``skipped``.  Returns rows, arrays, signs, the structures used and skipped."""
    edge = float(trained.stream.cell_edge_max)
    largest = max((max(xs.unit_cell().parameters()[:3]) for _, xs in structures), default=0.0)
    used, skipped = list(structures), []
    if trained.kind == "triplet" and largest > edge:
        trained = on_grid(trained, trained.d_min, math.ceil(largest))
        edge = float(trained.stream.cell_edge_max)
    elif trained.kind != "triplet":
        used, skipped = fits_grid(structures, edge)
    if not used:
        return {"rows": [], "arrays": None, "signs": None, "structures": [],
                "skipped": skipped}
    arrays = structure_arrays(used, trained.d_min, edge)
    started = time.perf_counter()
    signs = model_signs(trained.model, trained.stream, arrays)
    seconds = (time.perf_counter() - started) / len(used)
    rows = score_predictions(used, arrays, signs, source, trained.name, trained.d_min,
                             seconds, seed=seed)
    return {"rows": rows, "arrays": arrays, "signs": signs, "structures": used,
            "skipped": skipped}


def seeded_jobs(structures: Sequence[tuple[str, Any]], arrays: dict[str, np.ndarray],
                signs: np.ndarray, source: str, d_min: float, methods: Sequence[str],
                seed: int, seed_fraction: float = 0.2, label: str = "seeded",
                unseeded: bool = True) -> list[tuple]:
    """Jobs for :func:`lib.phases.baselines.phase_jobs`: each structure phased at ``d_min``
    by each of ``methods`` from random starts (method name as label; with ``unseeded``) and
    from ``signs``
    (B, n) on ``arrays``' grid, the strongest ``seed_fraction`` of its reflections seeded
    (label ``<method>_<label>``); structure i is seeded by ``seed + i`` in both."""
    jobs = []
    hkl = arrays["hkl"]
    for i, (source_id, xs) in enumerate(structures):
        m = arrays["mask"][i]
        seeds = (hkl[m], signs[i][m])
        for method in methods:
            if unseeded:
                jobs.append((source, source_id, xs, float(d_min), method, int(seed) + i))
            jobs.append((source, source_id, xs, float(d_min), method, int(seed) + i,
                         f"{method}_{label}", {"seeds": seeds, "seed_fraction": seed_fraction}))
    return jobs
