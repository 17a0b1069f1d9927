"""Losses and metrics on the sign of the structure factor (report 1, §3.2–3.4), origin-aware.

The sign model predicts, for every reflection h of a P-1 structure, the probability that the
structure factor F(h) is positive (phase 0) rather than negative (phase π).  It outputs one
*logit* z per reflection; P(sign = +1) = sigmoid(z) and the predicted sign is +1 where z > 0.

Weights (report §3.4)
---------------------
The binary cross-entropy of each reflection is weighted by ``w(h)``, computed from the
structure's own intensities normalised per structure to a maximum of 1 (``I/I_max``):

``"none"``
    w = 1 for every reflection.
``"intensity"``
    w = I/I_max ∈ [0, 1]: strong reflections count most, absent ones not at all.
``"exp_intensity"``
    w = exp(I/I_max) ∈ [1, e].  With raw intensities (|F|² reaches 10⁴–10⁶ electrons²) the
    exponential overflows float32 above 88, so the weight is only meaningful on normalised
    intensities; after the per-structure max normalisation the strongest reflection weighs at most
    e ≈ 2.72 times an absent one — a mild emphasis, between "none" and "intensity".

The loss of a structure is the weighted mean Σ w·BCE / Σ w over its reflections; the weighted
accuracy is Σ w·[sign correct] / Σ w.

Origin awareness
----------------
P-1 has 8 equivalent origins (p/2 with p ∈ {0,1}³).  Moving the origin multiplies the sign of
F(h) by (−1)^(h·p) (:func:`lib.phases.reflections.origin_shift_signs`), so the same crystal has 8
equally valid sign sets.  The *origin-aware* accuracy of a prediction is its best accuracy over
the 8 shifted versions of the true signs; the *origin-invariant* loss is the minimum over the 8
shifts of the weighted loss (as PhAI does for P2₁/c).  A random prediction scores 0.5 in plain
accuracy but more than 0.5 in origin-aware accuracy (the best of 8 guesses), so every metric is
reported next to its chance level, measured by :func:`chance_levels` on random predictions.

Two implementations of the same definitions live here: NumPy functions (evaluation, chance
levels, tests) and backend-agnostic Keras 3 objects written with ``keras.ops`` only
(:class:`SignLoss` and :func:`keras_metrics`), so TensorFlow, JAX and PyTorch backends all work.
The Keras objects take the targets *packed*: ``y_true = concat([target, weight], axis=-1)`` of
shape (batch, 2·n_reflections), where ``target`` is 1 for a positive sign and 0 for a negative
one (see :func:`pack_targets`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .reflections import origin_shift_signs

WEIGHT_TYPES: tuple[str, ...] = ("none", "intensity", "exp_intensity")
#: Cross-entropy (nats) of the uninformative prediction P(+) = 1/2, under any weights and shifts.
UNINFORMATIVE_LOSS: float = math.log(2.0)


def check_weight_type(weight_type: str) -> str:
    """Return ``weight_type`` if it is one of :data:`WEIGHT_TYPES`, else raise ``ValueError``."""
    if weight_type not in WEIGHT_TYPES:
        raise ValueError(f"unknown weight type {weight_type!r}: choose one of "
                         f"{', '.join(WEIGHT_TYPES)}")
    return weight_type


def reflection_weights(intensity: np.ndarray, weight_type: str) -> np.ndarray:
    """Loss weight of each reflection from its intensity, shape as ``intensity`` (float32).

    ``intensity`` (n_structures, n_reflections) should already be normalised per structure to a
    maximum of 1 (:func:`lib.phases.normalisation.normalise` with ``"max"``); unmeasured reflections
    (NaN) get weight 0 under ``"intensity"`` and 1 under the others.  Values above 1 (another
    normalisation) are accepted, but ``"exp_intensity"`` refuses values above 80 because
    exp(I) would overflow float32: normalise first.
    """
    check_weight_type(weight_type)
    intensity = np.asarray(intensity, dtype=np.float32)
    if weight_type == "none":
        return np.ones_like(intensity, dtype=np.float32)
    clean = np.nan_to_num(intensity, nan=0.0)
    if weight_type == "intensity":
        return np.clip(clean, 0.0, None).astype(np.float32)
    if np.nanmax(clean, initial=0.0) > 80.0:
        raise ValueError("exp(intensity) weights need normalised intensities (max ≤ 80 to stay "
                         "finite in float32); normalise per structure by the maximum first")
    return np.exp(np.clip(clean, 0.0, None)).astype(np.float32)


def sign_to_target(sign: np.ndarray) -> np.ndarray:
    """Binary target of the sign: 1.0 for F > 0 (phase 0), 0.0 for F < 0 (phase π)."""
    return (np.asarray(sign) > 0).astype(np.float32)


def pack_targets(sign: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The Keras ``y_true``: ``concat([target, weight], -1)``, shape (n, 2·n_reflections)."""
    sign = np.asarray(sign)
    weights = np.asarray(weights, dtype=np.float32)
    if sign.shape != weights.shape:
        raise ValueError(f"sign {sign.shape} and weights {weights.shape} differ in shape")
    return np.concatenate([sign_to_target(sign), weights], axis=-1)


# ---------------------------------------------------------------------------------------------
# NumPy definitions (per structure)
# ---------------------------------------------------------------------------------------------

def _shifted_signs(sign: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """True signs under the 8 origin shifts: (n_structures, 8, n_reflections), ±1."""
    shifts = origin_shift_signs(hkl).astype(np.int8)          # (8, m)
    sign = np.where(np.asarray(sign) > 0, 1, -1).astype(np.int8)
    return sign[:, None, :] * shifts[None, :, :]


def _weights_or_ones(weights: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    if weights is None:
        return np.ones(like.shape, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != like.shape:
        raise ValueError(f"weights {weights.shape} and signs {like.shape} differ in shape")
    return weights


def sign_accuracy(pred_sign: np.ndarray, true_sign: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Fraction of reflections whose sign is right, per structure (weighted when given)."""
    pred = np.asarray(pred_sign) > 0
    true = np.asarray(true_sign) > 0
    w = _weights_or_ones(weights, true)
    return ((pred == true) * w).sum(axis=-1) / w.sum(axis=-1)


def origin_aware_accuracy(pred_sign: np.ndarray, true_sign: np.ndarray, hkl: np.ndarray,
                          weights: np.ndarray | None = None) -> np.ndarray:
    """Best sign accuracy over the 8 P-1 origin shifts of the true signs, per structure."""
    pred = np.asarray(pred_sign) > 0
    shifted = _shifted_signs(np.atleast_2d(true_sign), hkl) > 0        # (n, 8, m)
    w = _weights_or_ones(weights, np.atleast_2d(true_sign))[:, None, :]
    acc = ((np.atleast_2d(pred)[:, None, :] == shifted) * w).sum(-1) / w.sum(-1)
    best = acc.max(axis=1)
    return best if np.ndim(true_sign) > 1 else best[0]


def binary_cross_entropy(prob_positive: np.ndarray, true_sign: np.ndarray,
                         weights: np.ndarray | None = None, eps: float = 1e-7) -> np.ndarray:
    """Weighted mean binary cross-entropy (nats) of P(sign = +1) per structure."""
    p = np.clip(np.asarray(prob_positive, dtype=np.float64), eps, 1 - eps)
    y = sign_to_target(true_sign)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    w = _weights_or_ones(weights, y)
    return (bce * w).sum(axis=-1) / w.sum(axis=-1)


def origin_invariant_cross_entropy(prob_positive: np.ndarray, true_sign: np.ndarray,
                                   hkl: np.ndarray, weights: np.ndarray | None = None,
                                   eps: float = 1e-7) -> np.ndarray:
    """Minimum over the 8 origin shifts of the weighted cross-entropy, per structure."""
    true_sign = np.atleast_2d(true_sign)
    shifted = _shifted_signs(true_sign, hkl)                              # (n, 8, m)
    p = np.atleast_2d(prob_positive)[:, None, :]
    w = None if weights is None else np.broadcast_to(
        np.atleast_2d(weights)[:, None, :], shifted.shape)
    losses = binary_cross_entropy(np.broadcast_to(p, shifted.shape), shifted, w, eps)
    return losses.min(axis=1)


def chance_levels(true_sign: np.ndarray, hkl: np.ndarray, weights: np.ndarray | None = None,
                  n_trials: int = 10, seed: int = 0) -> dict[str, float]:
    """Scores of random sign predictions (each sign ±1 with probability ½) on ``true_sign``.

    Returns the mean over ``n_trials`` random predictions of the plain, weighted, origin-aware
    and weighted origin-aware accuracy, the accuracy of always predicting +1 (on all reflections
    and on the seminvariants, h, k, l all even), the accuracy of one random guess on the
    seminvariants, and the loss of the uninformative prediction P(+) = ½ (ln 2, the same for
    every weight and shift).
    """
    true_sign = np.atleast_2d(true_sign)
    rng = np.random.default_rng(seed)
    scores: dict[str, list[float]] = {"accuracy": [], "origin_accuracy": [],
                                      "weighted_accuracy": [], "weighted_origin_accuracy": []}
    for _ in range(n_trials):
        guess = np.where(rng.random(true_sign.shape) < 0.5, 1, -1)
        scores["accuracy"].append(sign_accuracy(guess, true_sign).mean())
        scores["origin_accuracy"].append(origin_aware_accuracy(guess, true_sign, hkl).mean())
        if weights is not None:
            scores["weighted_accuracy"].append(sign_accuracy(guess, true_sign, weights).mean())
            scores["weighted_origin_accuracy"].append(
                origin_aware_accuracy(guess, true_sign, hkl, weights).mean())
    out = {k: float(np.mean(v)) for k, v in scores.items() if v}
    if weights is None:
        out["weighted_accuracy"] = out["accuracy"]
        out["weighted_origin_accuracy"] = out["origin_accuracy"]
    out["always_positive_accuracy"] = float(sign_accuracy(np.ones_like(true_sign),
                                                          true_sign).mean())
    semi = seminvariant_mask(hkl)
    if semi.any():
        guess = np.where(rng.random(true_sign[:, semi].shape) < 0.5, 1, -1)
        out["seminvariant_accuracy"] = float(sign_accuracy(guess, true_sign[:, semi]).mean())
        out["always_positive_seminvariant_accuracy"] = float(
            sign_accuracy(np.ones_like(true_sign[:, semi]), true_sign[:, semi]).mean())
    out["loss"] = UNINFORMATIVE_LOSS
    out["n_trials"] = n_trials
    return out


def seminvariant_mask(hkl: np.ndarray) -> np.ndarray:
    """Reflections whose sign no origin shift of P-1 changes: h, k, l all even.

    These are the structure seminvariants of P-1 (about 1/8 of the reflections); every other
    reflection's sign depends on which of the 8 inversion centres is the origin.
    """
    return np.all(np.asarray(hkl) % 2 == 0, axis=1)


def best_constant_sign(train_sign: np.ndarray) -> int:
    """The constant sign (+1 or −1) right most often on the training signs (+1 on a tie).

    The best constant predictor of a set of reflections' signs: the baseline any model must
    beat on that set.  On the seminvariants of the generated structures it is −1 (their signs
    are ≈ 0.487 positive: atoms keep away from the inversion centres).
    """
    train_sign = np.asarray(train_sign)
    if train_sign.size == 0:
        raise ValueError("no training signs to choose the best constant from")
    return 1 if float(np.mean(train_sign > 0)) >= 0.5 else -1


def constant_accuracy(constant: int, true_sign: np.ndarray) -> float:
    """Sign accuracy of always answering ``constant`` (±1): the fraction of signs equal to it."""
    true_sign = np.asarray(true_sign)
    if true_sign.size == 0:
        return float("nan")
    return float(np.mean((true_sign > 0) == (constant > 0)))


def plain_accuracy_ceiling(seminvariant_accuracy: float, n_seminvariant: int,
                           n_reflections: int) -> float:
    """Highest expected plain sign accuracy of a model trained without knowing the origin.

    The 8 origins of P-1 are equally likely and give identical intensities, so for every
    reflection that is not a seminvariant P(sign = + | intensities) = ½ exactly: any predictor
    scores ½ on them in expectation.  Only the ``n_seminvariant`` seminvariants (h, k, l all
    even) can be learned, so the plain accuracy over ``n_reflections`` is at most
    ½ + (n_seminvariant / n_reflections)·(a_semi − ½), with a_semi the seminvariant accuracy
    (a_semi = 1 gives the ceiling of a perfect seminvariant predictor: 0.563 for the 709 set).
    """
    if not 0 <= n_seminvariant <= n_reflections or n_reflections <= 0:
        raise ValueError(f"need 0 ≤ n_seminvariant ≤ n_reflections and n_reflections > 0, got "
                         f"{n_seminvariant} and {n_reflections}")
    return 0.5 + (n_seminvariant / n_reflections) * (float(seminvariant_accuracy) - 0.5)


def standard_error_from_moments(mean: float, mean_square: float, n: int) -> float:
    """Standard error of a mean over ``n`` values from their mean and mean square.

    Uses the sample variance (n − 1 in the denominator); 0 for fewer than two values.
    """
    if n < 2:
        return 0.0
    variance = max(float(mean_square) - float(mean) ** 2, 0.0) * n / (n - 1)
    return float(np.sqrt(variance / n))


def evaluate_predictions(logits: np.ndarray, true_sign: np.ndarray, hkl: np.ndarray,
                         weights: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of a sign model's logits on a set of structures (means over structures).

    ``seminvariant_accuracy`` is the plain accuracy on the reflections with h, k, l all even
    (:func:`seminvariant_mask`), the only ones whose sign a plain loss can learn without knowing
    the origin; ``non_seminvariant_accuracy`` the plain accuracy on all the others, whose sign
    is + with probability ½ exactly whatever the intensities (the 8 origins are equally
    likely), and ``non_seminvariant_accuracy_mean_square`` the mean over structures of its
    square, from which its standard error over structures follows
    (:func:`standard_error_from_moments`) when the means are accumulated batch by batch.
    """
    logits = np.asarray(logits, dtype=np.float64)
    prob = 1.0 / (1.0 + np.exp(-logits))
    pred = np.where(logits > 0, 1, -1)
    semi = seminvariant_mask(hkl)
    true_sign = np.asarray(true_sign)
    semi_acc = (float(sign_accuracy(pred[..., semi], true_sign[..., semi]).mean())
                if semi.any() else float("nan"))
    other = (sign_accuracy(pred[..., ~semi], true_sign[..., ~semi]) if (~semi).any()
             else np.array([np.nan]))
    return {
        "seminvariant_accuracy": semi_acc,
        "non_seminvariant_accuracy": float(np.mean(other)),
        "non_seminvariant_accuracy_mean_square": float(np.mean(np.square(other))),
        "loss": float(binary_cross_entropy(prob, true_sign, weights).mean()),
        "origin_invariant_loss": float(
            origin_invariant_cross_entropy(prob, true_sign, hkl, weights).mean()),
        "accuracy": float(sign_accuracy(pred, true_sign).mean()),
        "origin_accuracy": float(origin_aware_accuracy(pred, true_sign, hkl).mean()),
        "weighted_accuracy": float(sign_accuracy(pred, true_sign, weights).mean()),
        "weighted_origin_accuracy": float(
            origin_aware_accuracy(pred, true_sign, hkl, weights).mean()),
    }


# ---------------------------------------------------------------------------------------------
# Keras 3 (backend-agnostic) loss and metrics on packed targets
# ---------------------------------------------------------------------------------------------

def _keras():
    import keras

    return keras


def _unpack(y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
    """Split packed ``y_true`` into target and weight; return them with the logits."""
    ops = _keras().ops
    n = ops.shape(y_pred)[-1]
    y_true = ops.cast(y_true, y_pred.dtype)
    return y_true[..., :n], y_true[..., n:], y_pred


def _shift_constants(hkl: np.ndarray) -> np.ndarray:
    """(8, m) float32 ±1 sign changes (−1)^(h·p) of the 8 origin shifts."""
    return origin_shift_signs(np.asarray(hkl)).astype(np.float32)


def _shifted_targets(target: Any, shifts: Any) -> Any:
    """Targets (batch, 8, m) under the 8 origin shifts: t for shift +1, 1 − t for shift −1."""
    ops = _keras().ops
    s = ops.convert_to_tensor(shifts, dtype=target.dtype)[None, :, :]
    return (1.0 - s) / 2.0 + s * target[:, None, :]


def _weighted_bce_per_shift(target: Any, weight: Any, logits: Any, shifts: Any | None) -> Any:
    """Weighted mean BCE with logits; (batch,) without shifts, (batch, 8) with them."""
    ops = _keras().ops
    # BCE with logits z and target t: softplus(z) − t·z (numerically stable form).
    if shifts is None:
        bce = ops.softplus(logits) - target * logits
        return ops.sum(bce * weight, axis=-1) / ops.maximum(ops.sum(weight, axis=-1), 1e-12)
    t8 = _shifted_targets(target, shifts)
    bce8 = ops.softplus(logits)[:, None, :] - t8 * logits[:, None, :]
    w = weight[:, None, :]
    return ops.sum(bce8 * w, axis=-1) / ops.maximum(ops.sum(w, axis=-1), 1e-12)


def _accuracy_per_shift(target: Any, weight: Any, logits: Any, shifts: Any | None) -> Any:
    ops = _keras().ops
    pred = ops.cast(logits > 0, logits.dtype)
    if shifts is None:
        correct = ops.cast(ops.equal(pred, target), logits.dtype)
        return ops.sum(correct * weight, axis=-1) / ops.maximum(ops.sum(weight, axis=-1), 1e-12)
    t8 = _shifted_targets(target, shifts)
    correct = ops.cast(ops.equal(pred[:, None, :], t8), logits.dtype)
    w = weight[:, None, :]
    return ops.sum(correct * w, axis=-1) / ops.maximum(ops.sum(w, axis=-1), 1e-12)


def make_sign_loss(hkl: np.ndarray | None = None, origin_invariant: bool = False,
                   name: str | None = None) -> Any:
    """A Keras loss on packed targets: weighted BCE, or its minimum over the 8 origin shifts.

    ``hkl`` (the model's reflections, report order) is needed when ``origin_invariant``.
    """
    keras = _keras()
    if origin_invariant and hkl is None:
        raise ValueError("the origin-invariant loss needs the reflections' hkl")
    shifts = _shift_constants(hkl) if origin_invariant else None

    class SignLoss(keras.losses.Loss):
        """Weighted binary cross-entropy on the sign (min over origin shifts if invariant)."""

        def call(self, y_true: Any, y_pred: Any) -> Any:
            target, weight, logits = _unpack(y_true, y_pred)
            per = _weighted_bce_per_shift(target, weight, logits, shifts)
            return keras.ops.min(per, axis=-1) if shifts is not None else per

    return SignLoss(name=name or ("origin_invariant_bce" if origin_invariant else "weighted_bce"))


def keras_metrics(hkl: np.ndarray) -> list[Any]:
    """Keras metrics on packed targets, named as in the history CSV.

    ``accuracy`` and ``origin_accuracy`` are unweighted; ``weighted_accuracy`` and
    ``weighted_origin_accuracy`` use the run's weights; ``bce`` and ``origin_invariant_bce``
    are both losses (whichever one the run trains on), so plain and invariant runs compare.
    """
    keras = _keras()
    shifts = _shift_constants(hkl)

    def accuracy(y_true, y_pred):
        target, weight, logits = _unpack(y_true, y_pred)
        return _accuracy_per_shift(target, keras.ops.ones_like(weight), logits, None)

    def origin_accuracy(y_true, y_pred):
        target, weight, logits = _unpack(y_true, y_pred)
        per = _accuracy_per_shift(target, keras.ops.ones_like(weight), logits, shifts)
        return keras.ops.max(per, axis=-1)

    def weighted_accuracy(y_true, y_pred):
        target, weight, logits = _unpack(y_true, y_pred)
        return _accuracy_per_shift(target, weight, logits, None)

    def weighted_origin_accuracy(y_true, y_pred):
        target, weight, logits = _unpack(y_true, y_pred)
        return keras.ops.max(_accuracy_per_shift(target, weight, logits, shifts), axis=-1)

    def bce(y_true, y_pred):
        target, weight, logits = _unpack(y_true, y_pred)
        return _weighted_bce_per_shift(target, weight, logits, None)

    def origin_invariant_bce(y_true, y_pred):
        target, weight, logits = _unpack(y_true, y_pred)
        return keras.ops.min(_weighted_bce_per_shift(target, weight, logits, shifts), axis=-1)

    fns = (accuracy, origin_accuracy, weighted_accuracy, weighted_origin_accuracy, bce,
           origin_invariant_bce)
    return [keras.metrics.MeanMetricWrapper(fn, name=fn.__name__) for fn in fns]
