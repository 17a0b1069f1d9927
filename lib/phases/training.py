"""Seeded training runs of the phase-learning notebooks (02–05), with their records on disk.

One *run* trains one model on one data set and leaves, under ``<models dir>/<run name>/``:

- ``history.csv`` — one row per epoch (rewritten atomically after every epoch): the loss, the
  plain, origin-aware and weighted accuracies and both losses, on training (``…``) and
  validation (``val_…``) batches, the seconds the epoch took and the training structures seen
  so far (``structures_seen``);
- ``model.keras`` — the trained model (written atomically, :mod:`lib.atomic`);
- ``config.json`` — the run's parameters, data (file and row ranges), model layers, the final
  metrics on the training, validation and test splits (evaluated after training, in inference
  mode), the chance levels, timing, the training source (data set or stream), the devices
  (``distribution``: strategy, replicas, devices), Keras backend and package versions.

Reproducibility: :func:`seed_everything` seeds Python, NumPy and the backend
(``keras.utils.set_random_seed``) and, under TensorFlow, turns on op determinism; the batch
order depends on (seed, epoch) only (:mod:`lib.phases.inputs`): ``model.fit`` runs with
``shuffle=False``, since Keras's own shuffle of a ``PyDataset``'s batch order draws from
Python's global ``random``, which a distribution strategy's first pass also draws from.
Rerunning a run with the same seed on the same machine gives the same history and metrics.

Training data (``train_source`` of a run)
-----------------------------------------
``"dataset"``: the training split of the HDF5 set.  ``"stream"``: never-seen random P-1
structures made on the fly (:class:`lib.phases.stream.StructureStream`, seeded by the run's
seed, with the generator parameters of the data set's own provenance), ``steps_per_epoch``
batches per epoch.  Validation and test always stay on the held-out HDF5 splits.  The history
records ``structures_seen`` after each epoch (epochs × structures per epoch; for the stream
epochs × steps × batch), the x-axis that compares a stream run with a data-set run.

Several devices (``distribution`` of a run)
-------------------------------------------
``"none"`` (default): the backend's default device; any Keras backend, TensorFlow is not
imported for it.  ``"mirrored"``: ``tf.distribute.MirroredStrategy()`` over every visible GPU
(the CPU as its one device when there is none; TensorFlow backend only).  ``"auto"``: mirrored
when more than one GPU is visible, else none.  The model, loss, metrics and optimiser are built
and compiled inside the strategy's scope (Keras 3's guide to multi-GPU training with
TensorFlow); ``model.fit`` then takes the same ``PyDataset`` batches, which Keras turns into a
``tf.data.Dataset.from_generator`` and distributes.  **Batch size**: ``batch_size`` is the
*global* batch, the structures of one training step over all replicas; each of the N replicas
gets ``batch_size / N`` of them, the gradients are summed over replicas of a loss scaled by
1/N, so one step is the same mean-loss step as on one device.  ``batch_size`` must be a
multiple of N; to keep the per-device batch when adding devices, multiply ``batch_size`` by N
(and usually the learning rate too).  With N > 1 the last, partial training and validation
batch of an epoch is cut to a multiple of N (``batch_multiple`` of
:class:`lib.phases.inputs.ReflectionBatches`: at most N − 1 structures left out of the
per-epoch history, none of the final metrics), since Keras 3 (keras-team/keras#19246) fails on
a batch that splits into unequal shares.  Distributed runs train in graph mode (a strategy
run eagerly costs more than it saves).  Under a strategy Keras takes one batch from a first
pass over the training (and, every epoch, validation) batches to build the optimiser and
metrics (its prefetch reads a few batches more); those batches are not trained on and do not
count as structures seen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .. import atomic
from ..metrics import package_versions
from . import losses, models
from .inputs import (ReflectionBatches, RowRange, available_structures, dataset_summary,
                     split_rows)
from .reflections import index_set
from .store import dataset_path, open_dataset, read_provenance
from .stream import StructureStream
from .structures import GeneratorParameters

SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Runs of at most this many training steps in all run eagerly: for them, tracing the
#: training graph (seconds) costs more than it saves (the smoke profile's runs).
EAGER_MAX_STEPS: int = 120
#: Values of a run's ``distribution`` (see the module docstring).
DISTRIBUTIONS: tuple[str, ...] = ("none", "mirrored", "auto")
#: Values of a run's ``train_source``.
TRAIN_SOURCES: tuple[str, ...] = ("dataset", "stream")


# ---------------------------------------------------------------------------------------------
# Seeds and backend
# ---------------------------------------------------------------------------------------------

def backend_name() -> str:
    """The Keras backend in use (``tensorflow``, ``jax``, ``torch``)."""
    import keras

    return keras.backend.backend()


def seed_everything(seed: int, deterministic: bool = True) -> bool:
    """Seed Python, NumPy and the Keras backend; make TensorFlow ops deterministic if asked.

    Returns whether deterministic ops are on (``False`` under other backends, where only
    the seeds are set).
    """
    import keras

    keras.utils.set_random_seed(int(seed))
    if deterministic and backend_name() == "tensorflow":
        try:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
            return True
        except Exception:  # pragma: no cover - older TensorFlow
            return False
    return False


def check_distribution(distribution: str) -> None:
    """Raise ``ValueError`` unless ``distribution`` is one of :data:`DISTRIBUTIONS`."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")


def distribution_strategy(distribution: str) -> Any | None:
    """The ``tf.distribute`` strategy of a run's ``distribution``, or ``None`` for one device.

    ``"none"`` → ``None`` (TensorFlow is not imported).  ``"mirrored"`` →
    ``tf.distribute.MirroredStrategy()`` over all visible GPUs, or the CPU when there is none
    (``ValueError`` under another Keras backend).  ``"auto"`` → mirrored when TensorFlow is the
    backend and sees more than one GPU, else ``None``.
    """
    check_distribution(distribution)
    if distribution == "none":
        return None
    if backend_name() != "tensorflow":
        if distribution == "auto":
            return None
        raise ValueError(f"distribution='mirrored' needs the TensorFlow backend (Keras runs on "
                         f"{backend_name()!r}); set KERAS_BACKEND=tensorflow or "
                         "distribution='none'")
    import tensorflow as tf

    if distribution == "auto" and len(tf.config.list_physical_devices("GPU")) < 2:
        return None
    return tf.distribute.MirroredStrategy()


def describe_strategy(strategy: Any | None) -> dict[str, Any]:
    """Replicas and devices of a strategy (``None``: one replica, the backend's default)."""
    if strategy is None:
        return {"strategy": "none", "replicas": 1, "devices": []}
    return {"strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync),
            "devices": [str(d) for d in strategy.extended.worker_devices]}


def _scope(strategy: Any | None) -> Any:
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def replicas_of(strategy: Any | None, batch_size: int) -> int:
    """Replicas of ``strategy`` (1 without one); ``ValueError`` unless they divide the global
    ``batch_size`` (structures per training step over all replicas)."""
    replicas = describe_strategy(strategy)["replicas"]
    if batch_size % replicas:
        raise ValueError(f"batch_size {batch_size} is the global batch of {replicas} replicas: "
                         f"make it a multiple of {replicas} (each replica takes "
                         f"batch_size / {replicas} structures per step)")
    return replicas


# ---------------------------------------------------------------------------------------------
# Run descriptions
# ---------------------------------------------------------------------------------------------

@dataclass
class DataSpec:
    """Which file and which rows a run reads (see :func:`lib.phases.inputs.split_rows`)."""

    path: Path
    splits: dict[str, RowRange]
    in_memory: bool | str = "auto"
    label: str = ""
    #: Random structures of a ``train_source="stream"`` run; ``None`` = the generator
    #: parameters in the file's provenance (:func:`stream_generator`).
    generator: GeneratorParameters | None = None

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "label": self.label, "in_memory": self.in_memory,
                "splits": {k: [v.start, v.stop] for k, v in self.splits.items()},
                "sizes": {k: len(v) for k, v in self.splits.items()}}


def stream_generator(data: DataSpec) -> tuple[GeneratorParameters, str]:
    """Generator parameters of the training stream of ``data``, and where they come from.

    ``data.generator`` when set; else the parameters the file was generated with (its
    provenance), so that the stream's structures follow the validation and test structures'
    distribution; else (a set of real structures) the defaults.  An experimental set raises
    ``ValueError``: the stream makes calculated intensities |F_calc|², no simulated measurement.
    """
    with open_dataset(data.path) as f:
        kind = str(f.attrs.get("kind", "calculated"))
    if kind == "experimental":
        raise ValueError(f"{data.path}: train_source='stream' makes calculated intensities "
                         "(|F_calc|², no simulated measurement); validate it on a calculated "
                         "set, not an experimental one")
    if data.generator is not None:
        return data.generator, "data spec"
    try:
        params = read_provenance(data.path).get("parameters") or {}
    except (KeyError, ValueError, TypeError):
        params = {}
    if params.get("source") == "generated" and isinstance(params.get("generator"), dict):
        return GeneratorParameters.from_mapping(params["generator"]), f"provenance of {data.path}"
    return GeneratorParameters(), "defaults (the file holds no generator parameters)"


def data_spec(info: dict[str, Any], n_structures: int | None, validation_fraction: float,
              test_fraction: float, label: str = "") -> DataSpec:
    """The first ``n_structures`` (training + validation) and the test block of a data set.

    ``info`` is its :func:`lib.phases.inputs.dataset_summary`; see
    :func:`lib.phases.inputs.split_rows` for the splits.
    """
    return DataSpec(Path(info["path"]), split_rows(info["n_structures"], n_structures,
                                                   validation_fraction, test_fraction),
                    label=label)


def profile_data(profile: str, kind: str, n_structures: int | None, validation_fraction: float,
                 test_fraction: float) -> tuple[DataSpec, dict[str, Any]]:
    """The ``kind`` data set of ``profile`` split for a notebook, and what it is.

    ``n_structures`` (training + validation) is clipped to what the file holds before its test
    block; the returned summary (:func:`lib.phases.inputs.dataset_summary`) adds
    ``n_structures_used``, ``sizes`` and ``notes`` (a line per clipped request).
    """

    path = dataset_path(profile, kind)
    info = dataset_summary(path)
    available = available_structures(info["n_structures"], test_fraction)
    n_use = available if n_structures is None else min(int(n_structures), available)
    notes = [] if n_structures is None or n_use == n_structures else [
        f"n_structures {n_structures:,} asked, {available:,} available (clipped)"]
    data = data_spec(info, n_use, validation_fraction, test_fraction,
                     label=f"{kind} ({info['tag']})")
    info.update(n_structures_used=n_use, sizes=data.describe()["sizes"], notes=notes)
    return data, info


def describe_data(info: dict[str, Any]) -> str:
    """One line (plus notes) saying which data a notebook trains on."""
    s = info["sizes"]
    lines = [f"{info['kind']} set ({info['tag']}): {info['n_structures']:,} structures; using "
             f"{info['n_structures_used']:,} (train {s['train']:,}, validation "
             f"{s['validation']:,}, test {s['test']:,})"]
    lines += [f"note: {n}" for n in info.get("notes", [])]
    return "\n".join(lines)


@dataclass
class SignRun:
    """A sign-prediction run: MLP shape, loss, optimiser and seed."""

    name: str
    n_reflections: int = 709
    depth: int = 1
    width: int | None = None          # None = as wide as the input
    dropout: float = 0.0
    batch_norm: bool = False
    weight_type: str = "none"
    origin_invariant: bool = False
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    normalisation: str = "max"
    model_input: str = "intensity_max"  # "intensity_max" (report) | "e_values" (|E|)
    distribution: str = "none"        # "none" | "mirrored" | "auto" (module docstring)
    train_source: str = "dataset"     # "dataset" | "stream" (module docstring)
    steps_per_epoch: int | None = None  # stream only; None = as many as the training split


@dataclass
class AutoencoderRun:
    """An autoencoder run on the normalised intensities (MSE loss)."""

    name: str
    bottleneck: int
    n_reflections: int = 4630
    hidden: tuple[int, ...] = ()
    activation: str = "relu"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    normalisation: str = "max"
    model_input: str = "intensity_max"  # "intensity_max" (report) | "e_values" (|E|)
    distribution: str = "none"        # "none" | "mirrored" | "auto" (module docstring)
    train_source: str = "dataset"     # "dataset" | "stream" (module docstring)
    steps_per_epoch: int | None = None  # stream only; None = as many as the training split


@dataclass
class RunResult:
    """What a run produced: its history, final metrics per split, chance levels and files."""

    name: str
    spec: dict[str, Any]
    history: pd.DataFrame
    metrics: dict[str, dict[str, float]]
    chance: dict[str, float]
    seconds: float
    n_parameters: int
    out_dir: Path
    data: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    model: Any = None

    def record(self) -> dict[str, Any]:
        """The JSON-ready summary stored in ``config.json`` and the notebooks' metrics."""
        return {"name": self.name, "run": self.spec, "data": self.data,
                "n_parameters": self.n_parameters, "seconds": round(self.seconds, 2),
                "epochs_run": int(len(self.history)), "metrics": self.metrics,
                "chance": self.chance}

    def summary(self) -> str:
        """One line: time, parameters and final accuracies (or MSE) per split."""
        m = self.metrics
        line = f"{self.name:<34} {self.seconds:6.1f} s, {self.n_parameters:>9,} parameters, "
        if "mse" in m["train"]:
            return line + (f"MSE train/val/test {m['train']['mse']:.3e}/"
                           f"{m['validation']['mse']:.3e}/{m['test']['mse']:.3e}")
        return line + (f"acc train/val/test {m['train']['accuracy']:.3f}/"
                       f"{m['validation']['accuracy']:.3f}/{m['test']['accuracy']:.3f}, "
                       f"origin-aware val {m['validation']['origin_accuracy']:.3f} (chance "
                       f"{self.chance['accuracy']:.3f} / {self.chance['origin_accuracy']:.3f})")


# ---------------------------------------------------------------------------------------------
# History on disk
# ---------------------------------------------------------------------------------------------

def _history_callback(path: Path, structures_per_epoch: int) -> Any:
    import keras

    class HistoryCSV(keras.callbacks.Callback):
        """Rewrite ``history.csv`` atomically after every epoch (loss, metrics, seconds,
        training structures seen so far)."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict[str, float]] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            row = {"epoch": epoch + 1}
            row.update({k: float(v) for k, v in (logs or {}).items()})
            row["seconds"] = time.perf_counter() - self._start
            row["structures_seen"] = (epoch + 1) * structures_per_epoch
            self.rows.append(row)
            atomic.write_text(path, pd.DataFrame(self.rows).to_csv(index=False))

    return HistoryCSV()


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------

def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)


def evaluate_sign_model(model: Any, batches: ReflectionBatches,
                        hkl: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics of ``model`` on a split (inference mode), with the split's signs and weights.

    Returns (means over structures of :func:`lib.losses.evaluate_predictions`'s
    metrics plus the standard errors ``accuracy_se``, ``origin_accuracy_se`` and
    ``seminvariant_accuracy_se`` and ``n_structures``; true signs (n, m) int8; weights (n, m) float32).
    """
    n = batches.n_reflections
    sums: dict[str, float] = {}
    signs, weights, per_plain, per_origin, per_semi = [], [], [], [], []
    semi = losses.seminvariant_mask(hkl)
    count = 0
    for x, y in batches.iter_unshuffled():
        logits = _predict(model, x)
        sign = np.where(y[:, :n] > 0.5, 1, -1).astype(np.int8)
        w = y[:, n:]
        scores = losses.evaluate_predictions(logits, sign, hkl, w)
        for k, v in scores.items():
            sums[k] = sums.get(k, 0.0) + v * len(x)
        pred = np.where(logits > 0, 1, -1)
        per_plain.append(losses.sign_accuracy(pred, sign))
        per_origin.append(losses.origin_aware_accuracy(pred, sign, hkl))
        if semi.any():
            per_semi.append(losses.sign_accuracy(pred[:, semi], sign[:, semi]))
        count += len(x)
        signs.append(sign)
        weights.append(w)
    out = {k: v / count for k, v in sums.items()}
    # Standard errors of the mean accuracies over structures (the spread between structures).
    for key, per in (("accuracy_se", per_plain), ("origin_accuracy_se", per_origin),
                     ("seminvariant_accuracy_se", per_semi)):
        if not per:
            continue
        values = np.concatenate(per)
        out[key] = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    out["n_structures"] = count
    return out, np.concatenate(signs), np.concatenate(weights)


def _batches(data: DataSpec, split: str, n_reflections: int, batch_size: int, target: str,
             weight_type: str, normalisation: str, shuffle: bool, seed: int,
             batch_multiple: int = 1, model_input: str = "intensity_max") -> ReflectionBatches:
    return ReflectionBatches(data.path, data.splits[split], n_reflections, batch_size,
                             target=target, weight_type=weight_type,
                             normalisation=normalisation, shuffle=shuffle, seed=seed,
                             in_memory=data.in_memory, batch_multiple=batch_multiple,
                             model_input=model_input)


def _save(model: Any, out_dir: Path, record: dict[str, Any], extra: dict[str, Any]) -> None:
    import keras

    # Save a weights-only copy: the architecture and trained weights, without the optimizer's
    # state (twice the weights again) and without the custom loss (described in config.json).
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    with atomic.atomic_path(out_dir / "model.keras") as tmp:
        clone.save(tmp)
    config = dict(record)
    config.update(extra)
    config["model"] = {"layers": models.layer_table(model)}
    config["backend"] = keras.backend.backend()
    config["packages"] = package_versions()
    atomic.write_json(out_dir / "config.json", config)


def _training_batches(run: SignRun | AutoencoderRun, data: DataSpec, common: dict[str, Any]
                      ) -> tuple[ReflectionBatches | StructureStream, int, dict[str, Any]]:
    """The training batches of a run, structures per epoch, and what they are (for the record).

    ``train_source="dataset"``: the shuffled training split.  ``"stream"``: a
    :class:`StructureStream` seeded by the run's seed, ``steps_per_epoch`` batches per epoch
    (as many as the training split would give when ``None``).
    """
    if run.train_source not in TRAIN_SOURCES:
        raise ValueError(f"train_source must be one of {TRAIN_SOURCES}, got "
                         f"{run.train_source!r}")
    if run.train_source == "dataset":
        train = _batches(data, "train", shuffle=True, **common)
        seen = sum(b - a for a, b in (train.block(i) for i in range(len(train))))
        return train, seen, {"source": "dataset"}
    generator, origin = stream_generator(data)
    steps = run.steps_per_epoch or math.ceil(len(data.splits["train"]) / run.batch_size)
    stream = StructureStream(generator, seed=run.seed, batch_size=run.batch_size,
                             steps_per_epoch=int(steps), n_reflections=common["n_reflections"],
                             target=common["target"], weight_type=common["weight_type"],
                             normalisation=common["normalisation"],
                             model_input=common["model_input"])
    info = {"source": "stream", "seed": run.seed, "stream": stream.stream,
            "steps_per_epoch": stream.steps_per_epoch, "batch_size": stream.batch_size,
            "structures_per_epoch": stream.structures_per_epoch,
            "structures_seen": stream.structures_per_epoch * run.epochs,
            "generator": generator.as_dict(), "generator_from": origin,
            "train_metrics_on": "the last epoch's stream structures"}
    return stream, stream.structures_per_epoch, info


def _compile_and_fit(build: Callable[[], tuple[Any, Any, list[Any]]],
                     train: ReflectionBatches | StructureStream, val: ReflectionBatches,
                     epochs: int, learning_rate: float, out_dir: Path, verbose: int,
                     strategy: Any | None = None, structures_per_epoch: int = 0
                     ) -> tuple[Any, pd.DataFrame]:
    """Build (``build()`` → model, loss, metrics) and compile inside ``strategy``'s scope, fit.

    Returns the model and its history (one row per epoch, also in ``history.csv``).
    """
    import keras

    eager = strategy is None and epochs * len(train) <= EAGER_MAX_STEPS
    with _scope(strategy):
        model, loss, metrics = build()
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                      metrics=metrics, run_eagerly=eager)
    history = _history_callback(out_dir / "history.csv", structures_per_epoch)
    model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, callbacks=[history],
              shuffle=False)   # the batches shuffle themselves from (seed, epoch)
    return model, pd.DataFrame(history.rows)


def _train_split_for_metrics(train: ReflectionBatches | StructureStream
                             ) -> ReflectionBatches | StructureStream:
    """The training batches to evaluate after ``fit``: the split itself, or the structures of
    the stream's last trained epoch (the one before ``fit``'s last ``on_epoch_end``)."""
    if isinstance(train, StructureStream):
        train.set_epoch(max(train.epoch - 1, 0))
    return train


def _record_data(data: DataSpec, train_info: dict[str, Any]) -> dict[str, Any]:
    out = data.describe()
    out["train_source"] = train_info
    return out


def _run_extra(fit_seconds: float, deterministic: bool, strategy: Any | None,
               distribution: str) -> dict[str, Any]:
    return {"fit_seconds": round(fit_seconds, 2), "deterministic_ops": deterministic,
            "distribution": {"asked": distribution, **describe_strategy(strategy)}}


# ---------------------------------------------------------------------------------------------
# Sign runs (notebooks 02–04)
# ---------------------------------------------------------------------------------------------

def train_sign_model(run: SignRun, data: DataSpec, out_root: str | Path, verbose: int = 0,
                     chance_trials: int = 10, keep_model: bool = True) -> RunResult:
    """Train the sign MLP of ``run`` on ``data``; save history, model and config; evaluate.

    The final metrics are evaluated after training in inference mode on every split; the chance
    levels are measured on the test split with ``chance_trials`` random predictions.
    """
    losses.check_weight_type(run.weight_type)
    check_distribution(run.distribution)
    out_dir = Path(out_root) / run.name
    out_dir.mkdir(parents=True, exist_ok=True)
    hkl = index_set(4630)[: run.n_reflections]
    deterministic = seed_everything(run.seed)
    strategy = distribution_strategy(run.distribution)
    replicas = replicas_of(strategy, run.batch_size)
    start = time.perf_counter()
    common = dict(n_reflections=run.n_reflections, batch_size=run.batch_size, target="sign",
                  weight_type=run.weight_type, normalisation=run.normalisation,
                  model_input=run.model_input, seed=run.seed,
                  batch_multiple=replicas)
    train, per_epoch, train_info = _training_batches(run, data, common)
    val = _batches(data, "validation", shuffle=False, **common)

    def build() -> tuple[Any, Any, list[Any]]:
        model = models.build_sign_mlp(run.n_reflections, depth=run.depth, width=run.width,
                                      dropout=run.dropout, batch_norm=run.batch_norm,
                                      name=run.name)
        return (model, losses.make_sign_loss(hkl, origin_invariant=run.origin_invariant),
                losses.keras_metrics(hkl))

    model, history = _compile_and_fit(build, train, val, run.epochs, run.learning_rate,
                                      out_dir, verbose, strategy, per_epoch)
    fit_seconds = time.perf_counter() - start
    metrics: dict[str, dict[str, float]] = {}
    chance: dict[str, float] = {}
    for split in SPLITS:
        batches = _train_split_for_metrics(train) if split == "train" else \
            val if split == "validation" else _batches(data, "test", shuffle=False, **common)
        metrics[split], signs, weights = evaluate_sign_model(model, batches, hkl)
        if split == "test":
            chance = losses.chance_levels(
                signs, hkl, None if run.weight_type == "none" else weights,
                n_trials=chance_trials, seed=run.seed)
        batches.close()
    spec = dataclasses.asdict(run)
    result = RunResult(name=run.name, spec=spec, history=history, metrics=metrics,
                       chance=chance, seconds=time.perf_counter() - start,
                       n_parameters=models.count_parameters(model), out_dir=out_dir,
                       data=_record_data(data, train_info),
                       extra=_run_extra(fit_seconds, deterministic, strategy, run.distribution),
                       model=model if keep_model else None)
    _save(model, out_dir, result.record(), result.extra)
    return result


def intensity_weighted_scores(models: Mapping[str, Any], data: DataSpec, n_reflections: int,
                              batch_size: int, normalisation: str, seed: int = 0,
                              model_input: str = "intensity_max"
                              ) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Every model on one scale: its test metrics under intensity weights (w = I/I_max).

    Returns (metrics per model name, :func:`lib.phases.losses.chance_levels` of random signs
    under the same weights).  The crystallographically relevant score of a sign model,
    whatever weighting it was trained with (notebook 03).
    """
    hkl = index_set(4630)[:n_reflections]
    test = _batches(data, "test", n_reflections, batch_size, target="sign",
                    weight_type="intensity", normalisation=normalisation, shuffle=False, seed=0,
                    model_input=model_input)
    scores: dict[str, dict[str, float]] = {}
    chance: dict[str, float] | None = None
    for name, model in models.items():
        scores[name], signs, weights = evaluate_sign_model(model, test, hkl)
        if chance is None:
            chance = losses.chance_levels(signs, hkl, weights, seed=seed)
    test.close()
    return scores, chance or {}


# ---------------------------------------------------------------------------------------------
# Autoencoder runs (notebook 05)
# ---------------------------------------------------------------------------------------------

def reconstruction_errors(model_or_fn: Any, batches: ReflectionBatches) -> dict[str, Any]:
    """Squared reconstruction error of the normalised intensities on a split.

    ``model_or_fn`` is a Keras model or a function x → reconstruction (e.g. PCA).  Returns the
    mean squared error over all structures and reflections (``mse``), and per reflection (report
    order): mean squared error (``per_reflection_mse``), mean intensity (``mean_intensity``)
    and mean squared intensity (``mean_square_intensity``), all of normalised intensities.
    """
    n = batches.n_reflections
    sq = np.zeros(n)
    mean_i = np.zeros(n)
    mean_i2 = np.zeros(n)
    count = 0
    for x, _ in batches.iter_unshuffled():
        recon = _predict(model_or_fn, x) if hasattr(model_or_fn, "layers") else \
            np.asarray(model_or_fn(x), dtype=np.float64)
        x64 = x.astype(np.float64)
        sq += ((recon - x64) ** 2).sum(axis=0)
        mean_i += x64.sum(axis=0)
        mean_i2 += (x64**2).sum(axis=0)
        count += len(x)
    per = sq / count
    return {"mse": float(per.mean()), "per_reflection_mse": per,
            "mean_intensity": mean_i / count, "mean_square_intensity": mean_i2 / count}


def train_autoencoder(run: AutoencoderRun, data: DataSpec, out_root: str | Path,
                      verbose: int = 0, keep_model: bool = False) -> RunResult:
    """Train the autoencoder of ``run``; save history, model and config; reconstruction errors.

    ``RunResult.metrics[split]["mse"]`` is the final MSE per split; ``RunResult.extra`` holds
    the test split's per-reflection errors (arrays, not written to the config JSON).
    """
    check_distribution(run.distribution)
    out_dir = Path(out_root) / run.name
    out_dir.mkdir(parents=True, exist_ok=True)
    deterministic = seed_everything(run.seed)
    strategy = distribution_strategy(run.distribution)
    replicas = replicas_of(strategy, run.batch_size)
    start = time.perf_counter()
    common = dict(n_reflections=run.n_reflections, batch_size=run.batch_size,
                  target="intensity", weight_type="none", normalisation=run.normalisation,
                  model_input=run.model_input,
                  seed=run.seed, batch_multiple=replicas)
    train, per_epoch, train_info = _training_batches(run, data, common)
    val = _batches(data, "validation", shuffle=False, **common)

    def build() -> tuple[Any, Any, list[Any]]:
        model = models.build_autoencoder(run.n_reflections, run.bottleneck, hidden=run.hidden,
                                         activation=run.activation, name=run.name)
        return model, "mse", []

    model, history = _compile_and_fit(build, train, val, run.epochs, run.learning_rate,
                                      out_dir, verbose, strategy, per_epoch)
    fit_seconds = time.perf_counter() - start
    metrics, errors = {}, {}
    for split in SPLITS:
        batches = _train_split_for_metrics(train) if split == "train" else \
            val if split == "validation" else _batches(data, "test", shuffle=False, **common)
        errors[split] = reconstruction_errors(model, batches)
        metrics[split] = {"mse": errors[split]["mse"]}
        batches.close()
    result = RunResult(name=run.name, spec=dataclasses.asdict(run), history=history,
                       metrics=metrics, chance={}, seconds=time.perf_counter() - start,
                       n_parameters=models.count_parameters(model), out_dir=out_dir,
                       data=_record_data(data, train_info),
                       extra=_run_extra(fit_seconds, deterministic, strategy, run.distribution),
                       model=model if keep_model else None)
    _save(model, out_dir, result.record(), result.extra)
    result.extra["test_errors"] = errors["test"]
    return result
