"""Seeded training runs of the phase-learning notebooks (02–05), with their records on disk.

One *run* trains one model on one data set and leaves, under ``<models dir>/<run name>/``:

- ``history.csv`` — one row per epoch (rewritten atomically after every epoch): the loss, the
  plain, origin-aware and weighted accuracies and both losses, on training (``…``) and
  validation (``val_…``) batches, and the seconds the epoch took;
- ``model.keras`` — the trained model (written atomically, :mod:`lib.atomic`);
- ``config.json`` — the run's parameters, data (file and row ranges), model layers, the final
  metrics on the training, validation and test splits (evaluated after training, in inference
  mode), the chance levels, timing, Keras backend and package versions.

Reproducibility: :func:`seed_everything` seeds Python, NumPy and the backend
(``keras.utils.set_random_seed``) and, under TensorFlow, turns on op determinism; the batch
order depends on (seed, epoch) only (:mod:`lib.phases.inputs`).  Rerunning a run with the same
seed on the same machine gives the same history and metrics.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import atomic
from ..metrics import package_versions
from . import losses, models
from .inputs import (ReflectionBatches, RowRange, available_structures, dataset_summary,
                     split_rows)
from .reflections import index_set
from .store import dataset_path

SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Runs of at most this many training steps in all run eagerly: for them, tracing the
#: training graph (seconds) costs more than it saves (the smoke profile's runs).
EAGER_MAX_STEPS: int = 120


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

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "label": self.label, "in_memory": self.in_memory,
                "splits": {k: [v.start, v.stop] for k, v in self.splits.items()},
                "sizes": {k: len(v) for k, v in self.splits.items()}}


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

def _history_callback(path: Path) -> Any:
    import keras

    class HistoryCSV(keras.callbacks.Callback):
        """Rewrite ``history.csv`` atomically after every epoch (loss, metrics, seconds)."""

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
             weight_type: str, normalisation: str, shuffle: bool, seed: int) -> ReflectionBatches:
    return ReflectionBatches(data.path, data.splits[split], n_reflections, batch_size,
                             target=target, weight_type=weight_type,
                             normalisation=normalisation, shuffle=shuffle, seed=seed,
                             in_memory=data.in_memory)


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


def _compile_and_fit(model: Any, loss: Any, metrics: list[Any], train: ReflectionBatches,
                     val: ReflectionBatches, epochs: int, learning_rate: float, out_dir: Path,
                     verbose: int) -> pd.DataFrame:
    import keras

    eager = epochs * len(train) <= EAGER_MAX_STEPS
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  metrics=metrics, run_eagerly=eager)
    history = _history_callback(out_dir / "history.csv")
    model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, callbacks=[history])
    return pd.DataFrame(history.rows)


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
    out_dir = Path(out_root) / run.name
    out_dir.mkdir(parents=True, exist_ok=True)
    hkl = index_set(4630)[: run.n_reflections]
    deterministic = seed_everything(run.seed)
    start = time.perf_counter()
    common = dict(n_reflections=run.n_reflections, batch_size=run.batch_size, target="sign",
                  weight_type=run.weight_type, normalisation=run.normalisation, seed=run.seed)
    train = _batches(data, "train", shuffle=True, **common)
    val = _batches(data, "validation", shuffle=False, **common)
    model = models.build_sign_mlp(run.n_reflections, depth=run.depth, width=run.width,
                                        dropout=run.dropout, batch_norm=run.batch_norm,
                                        name=run.name)
    loss = losses.make_sign_loss(hkl, origin_invariant=run.origin_invariant)
    history = _compile_and_fit(model, loss, losses.keras_metrics(hkl), train, val,
                               run.epochs, run.learning_rate, out_dir, verbose)
    fit_seconds = time.perf_counter() - start
    metrics: dict[str, dict[str, float]] = {}
    chance: dict[str, float] = {}
    for split in SPLITS:
        batches = train if split == "train" else val if split == "validation" else \
            _batches(data, "test", shuffle=False, **common)
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
                       data=data.describe(),
                       extra={"fit_seconds": round(fit_seconds, 2),
                              "deterministic_ops": deterministic},
                       model=model if keep_model else None)
    _save(model, out_dir, result.record(), result.extra)
    return result


def intensity_weighted_scores(models: Mapping[str, Any], data: DataSpec, n_reflections: int,
                              batch_size: int, normalisation: str, seed: int = 0
                              ) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Every model on one scale: its test metrics under intensity weights (w = I/I_max).

    Returns (metrics per model name, :func:`lib.phases.losses.chance_levels` of random signs
    under the same weights).  The crystallographically relevant score of a sign model,
    whatever weighting it was trained with (notebook 03).
    """
    hkl = index_set(4630)[:n_reflections]
    test = _batches(data, "test", n_reflections, batch_size, target="sign",
                    weight_type="intensity", normalisation=normalisation, shuffle=False, seed=0)
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
    out_dir = Path(out_root) / run.name
    out_dir.mkdir(parents=True, exist_ok=True)
    deterministic = seed_everything(run.seed)
    start = time.perf_counter()
    common = dict(n_reflections=run.n_reflections, batch_size=run.batch_size,
                  target="intensity", weight_type="none", normalisation=run.normalisation,
                  seed=run.seed)
    train = _batches(data, "train", shuffle=True, **common)
    val = _batches(data, "validation", shuffle=False, **common)
    model = models.build_autoencoder(run.n_reflections, run.bottleneck,
                                           hidden=run.hidden, activation=run.activation,
                                           name=run.name)
    history = _compile_and_fit(model, "mse", [], train, val, run.epochs, run.learning_rate,
                               out_dir, verbose)
    fit_seconds = time.perf_counter() - start
    metrics, errors = {}, {}
    for split in SPLITS:
        batches = train if split == "train" else val if split == "validation" else \
            _batches(data, "test", shuffle=False, **common)
        errors[split] = reconstruction_errors(model, batches)
        metrics[split] = {"mse": errors[split]["mse"]}
        batches.close()
    result = RunResult(name=run.name, spec=dataclasses.asdict(run), history=history,
                       metrics=metrics, chance={}, seconds=time.perf_counter() - start,
                       n_parameters=models.count_parameters(model), out_dir=out_dir,
                       data=data.describe(),
                       extra={"fit_seconds": round(fit_seconds, 2),
                              "deterministic_ops": deterministic},
                       model=model if keep_model else None)
    _save(model, out_dir, result.record(), result.extra)
    result.extra["test_errors"] = errors["test"]
    return result
