"""Keras 3 models of report 2 and beyond, their training, and the bundles ``classify`` loads.

- :func:`build_mobilenet` — the report's model: ``keras.applications.MobileNetV2`` on square
  images of the pattern (:func:`lib.xrd.patterns.pattern_to_image`), all layers trained;
  ImageNet weights when they can be had, else from scratch (``weights_source`` says which).
- :func:`build_cnn1d` — a 1D CNN on the pattern vector in the style of Park et al. (2017):
  three wide strided convolutions with average pooling and dropout, two dense layers, one
  softmax head per task (crystal system, 7 classes; space group, 230 classes).

A *bundle* is a folder ``<models_dir>/<name>/`` with ``model.keras`` and ``bundle.json``: the
model kind, input representation (2θ grid, σ, image size), the class labels of each head, and
how the model was trained.  :func:`load_bundle` checks it and names the file when it is wrong.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from .networks import custom_layers
from .patterns import CRYSTAL_SYSTEMS, CU_KA, SPACE_GROUPS, Grid, pattern_to_image

MODEL_KINDS = ("cnn1d", "mobilenetv2", "convnext1d")
BUNDLE_FORMAT = "phases-and-patterns/xrd-model/1"
#: Image sizes for which Keras publishes ImageNet weights of MobileNetV2.
IMAGENET_SIZES = (96, 128, 160, 192, 224)


def head_labels(head: str) -> list[str]:
    """Class labels of a head: crystal-system names, or space-group numbers as strings."""
    if head == "crystal_system":
        return list(CRYSTAL_SYSTEMS)
    if head == "space_group":
        return [str(n) for n in SPACE_GROUPS]
    raise ValueError(f"unknown head {head!r}; heads are crystal_system, space_group")


def _heads(x: Any, heads: tuple[str, ...], dropout: float) -> dict[str, Any]:
    import keras

    out = {}
    for head in heads:
        h = keras.layers.Dropout(dropout, name=f"{head}_dropout")(x) if dropout else x
        out[head] = keras.layers.Dense(len(head_labels(head)), activation="softmax",
                                       name=head)(h)
    return out


def build_cnn1d(n_points: int, heads: tuple[str, ...] = ("crystal_system", "space_group"),
                filters: int = 80, dense: tuple[int, ...] = (2300, 1150),
                dropout: float = 0.3) -> Any:
    """1D CNN in the style of Park et al. (2017) on a (n_points,) pattern vector.

    Conv1D(filters, 100, stride 5) → AvgPool(3, 2) → Dropout → Conv1D(filters, 50, stride 5) →
    AvgPool(3, 2) → Dropout → Conv1D(filters, 25, stride 2) → AvgPool(3, 2) → Dropout →
    Flatten → Dense(dense[0]) → Dropout → Dense(dense[1]) → Dropout → one softmax per head.
    Park et al. used 2θ 10–110° on 10,001 points and dense layers of 2300 and 1150 units.
    """
    import keras

    inp = keras.Input((n_points,), name="pattern")
    x = keras.layers.Reshape((n_points, 1))(inp)
    for i, (k, s) in enumerate(((100, 5), (50, 5), (25, 2))):
        if x.shape[1] < k:          # short grids (smoke runs): keep the layer valid
            k = max(3, int(x.shape[1]) // 2)
        x = keras.layers.Conv1D(filters, k, strides=s, padding="same", activation="relu",
                                name=f"conv{i + 1}")(x)
        if x.shape[1] >= 3:
            x = keras.layers.AveragePooling1D(3, strides=2, padding="same")(x)
        x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Flatten()(x)
    for j, units in enumerate(dense):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{j + 1}")(x)
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inp, _heads(x, heads, 0.0), name="cnn1d_park2017")


def imagenet_reachable(timeout: float = 3.0) -> bool:
    """Whether Keras's weight store answers within ``timeout`` seconds (False offline)."""
    try:
        with socket.create_connection(("storage.googleapis.com", 443), timeout=timeout):
            return True
    except OSError:
        return False


def build_mobilenet(image_size: int, heads: tuple[str, ...] = ("crystal_system",),
                    alpha: float = 1.0, dropout: float = 0.2, try_imagenet: bool = True,
                    bn_momentum: float | None = 0.9) -> tuple[Any, str]:
    """The report's MobileNetV2 (``keras.applications``) on (image_size, image_size, 3) images,
    all layers trainable, global average pooling and one softmax per head.

    ``bn_momentum``: momentum of the batch-normalisation moving averages.  Keras's MobileNetV2
    uses 0.999, which after a few hundred training steps still remembers the initial
    statistics, so a network trained from scratch on a few thousand images predicts one class
    at inference although it fits the training set; 0.9 lets the averages follow.  ``None``
    keeps Keras's value.

    Returns ``(model, weights_source)``: ``"imagenet"`` when the ImageNet weights could be
    loaded (from Keras's cache or downloaded), else ``"scratch: <reason>"`` (random
    initialisation).  Offline, the failure is detected in a few seconds.
    """
    import keras

    shape = (image_size, image_size, 3)
    base = None
    source = "scratch"
    if try_imagenet:
        if image_size not in IMAGENET_SIZES:
            source = f"scratch: no ImageNet weights for {image_size}px (have {IMAGENET_SIZES})"
        else:
            cached = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
            have_cache = any(cached.glob(f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
                                         f"{float(alpha)}_{image_size}_no_top.h5"))
            if have_cache or imagenet_reachable():
                old = socket.getdefaulttimeout()
                socket.setdefaulttimeout(10)
                try:
                    base = keras.applications.MobileNetV2(input_shape=shape, alpha=alpha,
                                                          include_top=False, weights="imagenet",
                                                          pooling="avg")
                    source = "imagenet"
                except Exception as exc:  # download or file error
                    source = f"scratch: ImageNet weights failed ({type(exc).__name__})"
                finally:
                    socket.setdefaulttimeout(old)
            else:
                source = "scratch: ImageNet weights unreachable (no network)"
    if base is None:
        base = keras.applications.MobileNetV2(input_shape=shape, alpha=alpha, include_top=False,
                                              weights=None, pooling="avg")
    base.trainable = True
    if bn_momentum is not None:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(bn_momentum)
    inp = keras.Input(shape, name="image")
    x = base(inp)
    return keras.Model(inp, _heads(x, heads, dropout), name="mobilenetv2"), source


def balanced_weights(labels: np.ndarray, n_classes: int, clip: float = 10.0) -> np.ndarray:
    """Per-class weights n / (k · count) (scikit-learn's "balanced"), for the classes present,
    clipped to ``clip``; absent classes get 0."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return np.minimum(w, clip)


#: Which epoch's weights training keeps: the best on validation, or the last.
KEEP_EPOCHS = ("best", "last")


@dataclass
class TrainResult:
    model: Any
    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    best_epoch: int
    extra: dict[str, Any] = field(default_factory=dict)


def model_inputs(kind: str, patterns: np.ndarray, image_size: int | None = None) -> np.ndarray:
    """The model's input array from pattern vectors (images for MobileNetV2)."""
    if kind in ("cnn1d", "convnext1d"):
        return np.asarray(patterns, np.float32)
    if kind == "mobilenetv2":
        if not image_size:
            raise ValueError("mobilenetv2 needs image_size")
        return pattern_to_image(patterns, image_size)
    raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(MODEL_KINDS)}")


def train(model: Any, x_train: np.ndarray, y_train: dict[str, np.ndarray],
          x_val: np.ndarray, y_val: dict[str, np.ndarray], epochs: int, batch_size: int,
          learning_rate: float = 1e-3, class_weights: bool = True, seed: int = 0,
          verbose: int = 2, keep: str = "best") -> TrainResult:
    """Train with Adam and sparse cross-entropy per head; class weights (balanced, per head)
    enter as sample weights (Keras has no class_weight for several outputs).  ``keep``:
    ``"best"`` keeps the weights of the epoch with the best validation crystal-system
    accuracy, ``"last"`` those of the last epoch."""
    import keras

    keras.utils.set_random_seed(seed)
    heads = list(model.output_names) if hasattr(model, "output_names") else list(y_train)
    heads = [h for h in heads if h in y_train]
    sample_weight = None
    if class_weights:
        sample_weight = {}
        for h in heads:
            w = balanced_weights(y_train[h], len(head_labels(h)))
            sample_weight[h] = w[y_train[h]].astype(np.float32)
    return _compile_and_fit(model, heads, epochs, learning_rate, verbose, keep,
                            x=x_train, y={h: y_train[h] for h in heads},
                            sample_weight=sample_weight,
                            validation_data=(x_val, {h: y_val[h] for h in heads}),
                            batch_size=batch_size, shuffle=True)


def _compile_and_fit(model: Any, heads: list[str], epochs: int, learning_rate: float,
                     verbose: int, keep: str = "best", **fit_arguments: Any) -> TrainResult:
    """Adam, sparse cross-entropy per head (space group weighted ½), accuracy per head; fit
    with ``fit_arguments`` keeping the weights of the epoch with the best validation
    crystal-system accuracy (``keep="best"``) or of the last epoch (``"last"``).  The one
    training loop of :func:`train` and :func:`train_stream`."""
    import keras

    if keep not in KEEP_EPOCHS:
        raise ValueError(f"keep must be one of {', '.join(KEEP_EPOCHS)}, got {keep!r}")

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={h: "sparse_categorical_crossentropy" for h in heads},
                  loss_weights={h: (1.0 if h == "crystal_system" else 0.5) for h in heads},
                  metrics={h: ["accuracy"] for h in heads})
    monitor = "val_crystal_system_accuracy" if len(heads) > 1 else "val_accuracy"
    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=epochs,
                                         restore_best_weights=True, verbose=0)
    start = time.perf_counter()
    hist = model.fit(epochs=epochs, verbose=verbose, callbacks=[stop] if keep == "best" else [],
                     **fit_arguments)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    key = monitor if monitor in history else next((k for k in history if k.startswith("val_")
                                                   and k.endswith("accuracy")), None)
    n_run = len(next(iter(history.values())))
    best = int(np.argmax(history[key])) + 1 if key and keep == "best" else n_run
    return TrainResult(model, history, seconds, n_run, best)


def train_stream(model: Any, stream: Any, x_val: np.ndarray, y_val: dict[str, np.ndarray],
                 epochs: int, learning_rate: float = 1e-3, seed: int = 0,
                 verbose: int = 2, keep: str = "best") -> TrainResult:
    """Train from a Keras ``PyDataset`` (e.g. ``lib.xrd.stream.PatternStream``: new patterns
    every epoch) that yields ``(x, y)`` or ``(x, y, sample_weight)`` with ``y`` a dict head →
    labels; Adam, sparse cross-entropy per head (space group weighted ½), and the weights of
    the epoch with the best validation crystal-system accuracy kept, or the last one
    (``keep``, as :func:`train`)."""
    import keras

    keras.utils.set_random_seed(seed)
    heads = [h for h in model.output_names if h in y_val]
    return _compile_and_fit(model, heads, epochs, learning_rate, verbose, keep, x=stream,
                            validation_data=(x_val, {h: y_val[h] for h in heads}))


def predict(model: Any, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Class probabilities of each head: {head: (n, n_classes)}."""
    out = model.predict(x, batch_size=batch_size, verbose=0)
    names = list(model.output_names)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return {n: np.asarray(v) for n, v in zip(names, out)}
    return {names[0]: np.asarray(out)}


def predict_patterns(model: Any, kind: str, patterns: np.ndarray,
                     image_size: int | None = None) -> dict[str, np.ndarray]:
    """Class probabilities of each head for pattern vectors (n, n_points) on the model's grid,
    turned into the model's input first (images for MobileNetV2)."""
    return predict(model, model_inputs(kind, patterns, image_size))


# ---------------------------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------------------------

@dataclass
class Bundle:
    """A trained model with what ``classify`` needs to feed it."""

    model: Any
    kind: str
    grid: Grid
    sigma: float
    image_size: int | None
    heads: dict[str, list[str]]
    meta: dict[str, Any]
    path: Path
    #: X-ray wavelength (Å) the model was trained for (Cu Kα for bundles that do not say).
    wavelength: float = CU_KA
    #: Background treatment of its inputs (``lib.xrd.classify.BACKGROUNDS``).
    background: str = "none"
    #: Top crystal-system probability below which an answer is "not confident".
    confidence_threshold: float = 0.0


def save_bundle(model: Any, folder: str | Path, kind: str, grid: Grid, sigma: float,
                image_size: int | None, meta: dict[str, Any] | None = None,
                background: str = "none", wavelength: float = CU_KA,
                confidence_threshold: float = 0.0) -> Path:
    """Save ``model`` and its ``bundle.json`` into ``folder`` (each file written atomically).

    ``background``: how its inputs were treated (``"none"`` or ``"snip"``); ``wavelength``:
    the X-ray wavelength (Å) of its training patterns; ``confidence_threshold``: the top
    crystal-system probability below which ``classify`` answers "not confident"."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(folder / "model.keras") as tmp:
        model.save(tmp)
    heads = {h: head_labels(h) for h in model.output_names}
    info = {"format": BUNDLE_FORMAT, "kind": kind, "grid": grid.to_dict(), "sigma": sigma,
            "image_size": image_size, "radiation": f"{wavelength:g} Å"
            + (" (Cu Kα)" if wavelength == CU_KA else ""), "wavelength_angstrom": wavelength,
            "background": background, "confidence_threshold": float(confidence_threshold),
            "heads": heads,
            "input": ("pattern vector on the grid, smoothed (sigma grid points), scaled to [0,1]"
                      if kind in ("cnn1d", "convnext1d") else
                      "square image from the pattern vector (lib.xrd.patterns.pattern_to_image)"),
            "meta": meta or {}}
    atomic.write_json(folder / "bundle.json", info)
    return folder


REQUIRED_KEYS = ("kind", "grid", "sigma", "heads")


def read_bundle_info(info_path: Path) -> dict[str, Any]:
    """The checked contents of a ``bundle.json``: format, model kind, 2θ grid, σ and heads.

    Raises ``ValueError`` naming the file and what is wrong or missing."""
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"model {info_path}: bundle.json is not valid JSON ({exc})") from None
    except OSError as exc:
        raise ValueError(f"model {info_path}: bundle.json cannot be read "
                         f"({type(exc).__name__}: {exc.strerror or exc})") from None
    if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"model {info_path}: not a {BUNDLE_FORMAT} bundle")
    missing = [k for k in REQUIRED_KEYS if k not in info]
    if missing:
        raise ValueError(f"model {info_path}: bundle.json lacks {', '.join(missing)} "
                         f"(a bundle needs {', '.join(REQUIRED_KEYS)})")
    if info["kind"] not in MODEL_KINDS:
        raise ValueError(f"model {info_path}: unknown model kind {info['kind']!r}")
    try:
        Grid.from_dict(info["grid"])
        sigma = float(info["sigma"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"model {info_path}: bad grid or sigma in bundle.json "
                         f"({type(exc).__name__}: {exc})") from None
    if not sigma > 0:
        raise ValueError(f"model {info_path}: sigma must be positive, got {sigma}")
    heads = info["heads"]
    if (not isinstance(heads, dict) or not heads
            or not all(isinstance(v, list) for v in heads.values())):
        raise ValueError(f"model {info_path}: heads must map each output to its list of labels")
    if info["kind"] == "mobilenetv2" and not info.get("image_size"):
        raise ValueError(f"model {info_path}: a mobilenetv2 bundle needs image_size")
    if info.get("background", "none") not in ("none", "snip"):
        raise ValueError(f"model {info_path}: unknown background {info['background']!r} "
                         "(none, snip)")
    try:
        lam = float(info.get("wavelength_angstrom", CU_KA))
        threshold = float(info.get("confidence_threshold", 0.0))
    except (TypeError, ValueError):
        raise ValueError(f"model {info_path}: wavelength_angstrom and confidence_threshold "
                         "must be numbers") from None
    if not 0.1 <= lam <= 5 or not 0 <= threshold <= 1:
        raise ValueError(f"model {info_path}: wavelength {lam} Å or confidence threshold "
                         f"{threshold} out of range (0.1–5 Å, 0–1)")
    return info


def check_heads(model: Any, heads: dict[str, list[str]], info_path: Path) -> None:
    """Every model output has a head in ``bundle.json`` with one label per class."""
    names = list(getattr(model, "output_names", None) or [])
    outputs = dict(zip(names, model.outputs))
    for name, out in outputs.items():
        if name not in heads:
            raise ValueError(f"model {info_path}: no labels for the model's output {name!r} "
                             f"(heads: {', '.join(heads)})")
        n_classes = int(out.shape[-1])
        if len(heads[name]) != n_classes:
            raise ValueError(f"model {info_path}: head {name!r} has {len(heads[name])} labels "
                             f"but the model gives {n_classes} classes")
    extra = [h for h in heads if h not in outputs]
    if extra:
        raise ValueError(f"model {info_path}: heads {', '.join(extra)} are not outputs of the "
                         f"model ({', '.join(names)})")


def load_keras_file(model_path: Path) -> Any:
    """The Keras model in ``model.keras``; ``ValueError`` naming the file when it is damaged."""
    import zipfile

    try:
        with zipfile.ZipFile(model_path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, EOFError):
        raise ValueError(f"model {model_path}: damaged or truncated model file (not a complete "
                         f".keras zip archive; {model_path.stat().st_size} bytes)") from None
    except OSError as exc:
        raise ValueError(f"model {model_path}: cannot be read ({type(exc).__name__}: "
                         f"{exc.strerror or exc})") from None
    if broken is not None:
        raise ValueError(f"model {model_path}: damaged model file ({broken} fails its CRC "
                         "check)")
    import keras

    custom_layers()                 # registers the ConvNeXt's layers (lib.xrd.networks)
    try:
        return keras.saving.load_model(model_path, compile=False)
    except Exception as exc:
        raise ValueError(f"model {model_path}: cannot be loaded by Keras "
                         f"({type(exc).__name__}: {exc})"[:400]) from None


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle from its folder, its ``bundle.json`` or its ``model.keras``.

    Raises ``ValueError`` naming the file and the reason when it is not a usable bundle
    (missing or malformed ``bundle.json`` keys, labels that do not match the model's outputs,
    a damaged ``model.keras``).
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    info_path = folder / "bundle.json"
    model_path = folder / "model.keras"
    if not path.exists():
        raise ValueError(f"model {path}: no such file or folder")
    if path.is_file() and path.name not in ("bundle.json", "model.keras"):
        raise ValueError(f"model {path}: not a model bundle (give the folder holding "
                         f"bundle.json and model.keras)")
    if not info_path.is_file():
        raise ValueError(f"model {path}: no bundle.json beside it (not a model bundle)")
    info = read_bundle_info(info_path)
    if not model_path.is_file():
        raise ValueError(f"model {folder}: model.keras is missing")
    model = load_keras_file(model_path)
    check_heads(model, info["heads"], info_path)
    return Bundle(model=model, kind=info["kind"], grid=Grid.from_dict(info["grid"]),
                  sigma=float(info["sigma"]), image_size=info.get("image_size"),
                  heads=info["heads"], meta=info.get("meta", {}), path=folder,
                  wavelength=float(info.get("wavelength_angstrom", CU_KA)),
                  background=info.get("background", "none"),
                  confidence_threshold=float(info.get("confidence_threshold", 0.0)))
