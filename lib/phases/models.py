"""Keras 3 models of report 1: the sign MLP (§3.2–3.4) and the intensity autoencoder (§3.5).

Written with ``keras`` only (no ``tf.*``), so the same code runs under ``KERAS_BACKEND``
``tensorflow`` (the default), ``jax`` or ``torch``, on CPU or GPU.

- :func:`build_sign_mlp` — normalised intensities of n reflections in, one sign *logit* per
  reflection out (P(F > 0) = sigmoid(logit)); ``depth`` hidden layers of ``width`` units, with
  optional dropout and batch normalisation.  The report's "3-layer MLP as wide as the input"
  is ``build_sign_mlp(n, depth=3, width=n)``.
- :func:`build_autoencoder` — normalised intensities in, the same intensities out through a
  bottleneck of ``bottleneck`` units (MSE loss).
- :func:`layer_table` describes a built model from its own layers (drawn as Fig 6 by
  :func:`lib.phases.plots.architecture_figure`, without pydot/graphviz).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _keras():
    import keras

    return keras


def build_sign_mlp(n_reflections: int, depth: int = 3, width: int | None = None,
                   dropout: float = 0.0, batch_norm: bool = False, activation: str = "relu",
                   n_outputs: int | None = None, name: str | None = None) -> Any:
    """MLP from normalised intensities to sign logits.

    Parameters
    ----------
    n_reflections : number of input intensities (reflections), e.g. 709 or 4630.
    depth : number of hidden layers (0 = logistic regression on the intensities).
    width : units per hidden layer; ``None`` = as wide as the input (the report's choice).
    dropout : dropout rate after each hidden layer (0 = none).
    batch_norm : batch normalisation before each hidden activation.
    n_outputs : reflections whose sign is predicted; ``None`` = the same as the input.
    """
    keras = _keras()
    layers = keras.layers
    if depth < 0 or n_reflections <= 0:
        raise ValueError(f"depth must be ≥ 0 and n_reflections > 0, got {depth}, {n_reflections}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    width = n_reflections if width is None else int(width)
    n_outputs = n_reflections if n_outputs is None else int(n_outputs)
    inputs = keras.Input(shape=(n_reflections,), name="intensity")
    x = inputs
    for i in range(1, depth + 1):
        x = layers.Dense(width, use_bias=not batch_norm, name=f"hidden_{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = layers.Activation(activation, name=f"{activation}_{i}")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = layers.Dense(n_outputs, name="sign_logit")(x)
    return keras.Model(inputs, outputs, name=name or f"sign_mlp_{depth}x{width}")


def build_autoencoder(n_reflections: int, bottleneck: int, hidden: Sequence[int] = (),
                      activation: str = "relu", name: str | None = None) -> Any:
    """Autoencoder of normalised intensities: n → hidden… → bottleneck → …hidden → n.

    ``hidden`` lists the widths of extra encoder layers (mirrored in the decoder); empty = the
    single-layer encoder and decoder.  The bottleneck uses ``activation``; the output is linear.
    """
    keras = _keras()
    layers = keras.layers
    if bottleneck <= 0:
        raise ValueError(f"bottleneck must be positive, got {bottleneck}")
    inputs = keras.Input(shape=(n_reflections,), name="intensity")
    x = inputs
    for i, w in enumerate(hidden, 1):
        x = layers.Dense(int(w), activation=activation, name=f"encoder_{i}")(x)
    x = layers.Dense(int(bottleneck), activation=activation, name="bottleneck")(x)
    for i, w in enumerate(reversed(list(hidden)), 1):
        x = layers.Dense(int(w), activation=activation, name=f"decoder_{i}")(x)
    outputs = layers.Dense(n_reflections, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name=name or f"autoencoder_{bottleneck}")


def count_parameters(model: Any) -> int:
    """Number of trainable parameters (weights and biases) of ``model``."""
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def layer_table(model: Any) -> list[dict[str, Any]]:
    """One row per layer of ``model``: name, type, output units, activation, parameters."""
    rows = []
    for layer in model.layers:
        shape = layer.output.shape if hasattr(layer, "output") else None
        units = int(shape[-1]) if shape is not None and shape[-1] is not None else None
        activation = getattr(layer, "activation", None)
        act_name = getattr(activation, "__name__", None) if activation is not None else None
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "units": units,
            "activation": act_name,
            "parameters": int(sum(int(np.prod(w.shape)) for w in layer.weights)),
        })
    return rows
