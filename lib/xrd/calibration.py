"""Calibrated class probabilities: temperature scaling, reliability and accuracy vs coverage.

- :func:`fit_temperature` — temperature scaling (Guo et al. 2017): one T > 0 for all classes,
  p = softmax(z / T), chosen to minimise the negative log-likelihood of the validation labels
  (``scipy.optimize.minimize_scalar`` on log T, so T stays positive).  T > 1 softens an
  over-confident model; T = 1 changes nothing; the arg-max (so the accuracy) never changes.
  Models that end in a softmax give probabilities: their logarithm serves as logits
  (:func:`logits_from_probabilities`), softmax(log p) = p.
- :func:`expected_calibration_error` — ECE with equal-width bins of the top probability
  (15 by default): Σ_b (n_b / n) |accuracy_b − confidence_b|; :func:`reliability_diagram`
  gives the per-bin data for the figure.
- :func:`coverage_curve` — answer only when the top probability ≥ a threshold: the fraction
  answered (coverage) and the accuracy on those, per threshold (:func:`score_coverage` for any
  confidence score, e.g. de Wolff's M of an indexing); :func:`threshold_for_accuracy` the
  lowest threshold whose answered patterns reach a target accuracy (:func:`threshold_on_curve`
  on any curve).
- :func:`class_frequencies` and :func:`prior_corrected` — label shift (Saerens et al. 2002,
  Neural Comput. 14, 21): a model trained on balanced classes estimates p(class | pattern)
  under a uniform prior; where the classes occur with frequencies π, p'(c) ∝ p(c) · π_c /
  π_train,c.  π must come from a training-side source (e.g. the crystal systems of a
  structure database), never from the labels of the set it is scored on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities softmax(z / T) along the last axis (float64, stable)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = np.asarray(logits, float) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def logits_from_probabilities(probabilities: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """log p (clipped at ``floor``): logits of a softmax output up to a constant per row."""
    return np.log(np.clip(np.asarray(probabilities, float), floor, None))


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, float)
    labels = np.asarray(labels, np.int64)
    if logits.ndim != 2 or labels.shape != (len(logits),):
        raise ValueError(f"need logits (n, classes) and labels (n,), got {logits.shape} and "
                         f"{labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in 0..{logits.shape[1] - 1}")
    return logits, labels


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood −(1/n) Σ log softmax(z_i / T)[y_i] (nats)."""
    logits, labels = _check(logits, labels)
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray,
                    bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature T in ``bounds`` minimising the validation NLL of softmax(z / T)."""
    from scipy.optimize import minimize_scalar

    logits, labels = _check(logits, labels)
    if len(labels) == 0:
        raise ValueError("fit_temperature: no validation patterns")
    res = minimize_scalar(lambda log_t: nll(logits, labels, math.exp(log_t)),
                          bounds=(math.log(bounds[0]), math.log(bounds[1])), method="bounded",
                          options={"xatol": 1e-6})
    return float(math.exp(res.x))


@dataclass
class Reliability:
    """Per-bin data of a reliability diagram: bin ``edges`` (bins + 1) of the top probability,
    and per bin the number of patterns, their mean top probability (confidence) and their
    accuracy (NaN for an empty bin)."""

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error Σ_b (n_b / n) |accuracy_b − confidence_b|."""
        n = self.count.sum()
        if n == 0:
            return float("nan")
        used = self.count > 0
        return float(np.sum(self.count[used] / n
                            * np.abs(self.accuracy[used] - self.confidence[used])))


def reliability_diagram(probabilities: np.ndarray, labels: np.ndarray,
                        bins: int = 15) -> Reliability:
    """Reliability-diagram data of class probabilities (n, classes) against the true labels,
    with ``bins`` equal-width bins of the top probability on [0, 1] (right-closed, as in
    Guo et al.; a top probability of exactly 0 goes to the first bin)."""
    probs, labels = _check(probabilities, labels)
    top = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, top, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=top, minlength=bins) / count
        accuracy = np.bincount(which, weights=correct.astype(float), minlength=bins) / count
    return Reliability(edges, count, confidence, accuracy)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = 15) -> float:
    """ECE with ``bins`` equal-width bins (see :class:`Reliability`)."""
    return reliability_diagram(probabilities, labels, bins).ece


@dataclass
class Coverage:
    """Accuracy against coverage: for each ``threshold`` (increasing), the fraction of
    patterns whose top probability is ≥ it (``coverage``, non-increasing) and the accuracy on
    those (``accuracy``; NaN where none is answered)."""

    threshold: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray


def coverage_curve(probabilities: np.ndarray, labels: np.ndarray,
                   thresholds: np.ndarray | None = None) -> Coverage:
    """Answer only when the top probability ≥ threshold; default thresholds: 0 and every
    distinct top probability (so each step of the curve is shown)."""
    probs, labels = _check(probabilities, labels)
    return score_coverage(probs.max(axis=1), probs.argmax(axis=1) == labels, thresholds)


def score_coverage(score: np.ndarray, correct: np.ndarray,
                   thresholds: np.ndarray | None = None) -> Coverage:
    """Accuracy against coverage for any confidence ``score`` per pattern (a top probability,
    de Wolff's M of an indexing) and whether its answer is ``correct``: answer only when the
    score ≥ threshold; default thresholds: 0 and every distinct score."""
    top = np.asarray(score, float)
    correct = np.asarray(correct, bool).astype(float)
    if top.shape != correct.shape or top.ndim != 1:
        raise ValueError(f"score_coverage: {top.shape} scores for {correct.shape} answers")
    if thresholds is None:
        thresholds = np.unique(np.concatenate([[0.0], top]))
    thresholds = np.sort(np.asarray(thresholds, float))
    order = np.argsort(top)
    top_sorted = top[order]
    correct_after = np.concatenate([np.cumsum(correct[order][::-1])[::-1], [0.0]])
    first = np.searchsorted(top_sorted, thresholds, side="left")   # first answered pattern
    answered = len(top) - first
    n = max(len(top), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(answered > 0, correct_after[first] / answered, np.nan)
    return Coverage(thresholds, answered / n, accuracy)


def threshold_for_accuracy(probabilities: np.ndarray, labels: np.ndarray,
                           target: float, min_answered: int = 20) -> tuple[float, float, float]:
    """The lowest threshold on the top probability at which the answered patterns reach
    ``target`` accuracy, counting only thresholds that still answer at least ``min_answered``
    patterns (an accuracy measured on a handful of answers says nothing): (threshold,
    coverage, accuracy).  (1.0 + tiny, 0, NaN) — answer nothing — when none reaches it."""
    threshold, coverage, accuracy = threshold_on_curve(
        coverage_curve(probabilities, labels), len(np.asarray(labels)), target, min_answered)
    return (float(np.nextafter(1.0, 2.0)) if coverage == 0 else threshold), coverage, accuracy


def threshold_on_curve(curve: Coverage, n: int, target: float, min_answered: int = 20,
                       ) -> tuple[float, float, float]:
    """The lowest threshold of ``curve`` (over ``n`` patterns) whose answered patterns reach
    ``target`` accuracy while still answering at least ``min_answered``: (threshold,
    coverage, accuracy); (inf, 0, NaN) — answer nothing — when none does."""
    enough = np.asarray(curve.coverage) * n >= min(min_answered, n) - 1e-9
    ok = np.flatnonzero((np.nan_to_num(curve.accuracy, nan=-1.0) >= target) & enough)
    if len(ok) == 0:
        return float("inf"), 0.0, float("nan")
    i = int(ok[0])
    return float(curve.threshold[i]), float(curve.coverage[i]), float(curve.accuracy[i])


def class_frequencies(labels: np.ndarray, n_classes: int, pseudo_count: float = 1.0,
                      ) -> np.ndarray:
    """Frequencies of the classes 0..n_classes−1 among ``labels`` with ``pseudo_count`` added to
    every count (Laplace smoothing: a class absent from a small sample keeps a non-zero
    prior); sums to 1."""
    labels = np.asarray(labels, int)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"class labels must lie in 0..{n_classes - 1}")
    if pseudo_count < 0 or (pseudo_count == 0 and labels.size == 0):
        raise ValueError("class_frequencies needs labels or a positive pseudo_count")
    counts = np.bincount(labels, minlength=n_classes).astype(float) + pseudo_count
    return counts / counts.sum()


def prior_corrected(probabilities: np.ndarray, prior: np.ndarray,
                    train_prior: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities p'(c) ∝ p(c) · prior_c / train_prior_c (rows sum to 1): the
    posterior under the class frequencies ``prior`` of a model whose training classes had
    frequencies ``train_prior`` (default uniform: balanced class weights).  A uniform
    ``prior`` (= ``train_prior``) changes nothing."""
    p = np.asarray(probabilities, float)
    prior = np.asarray(prior, float)
    train = np.full(p.shape[-1], 1.0 / p.shape[-1]) if train_prior is None else \
        np.asarray(train_prior, float)
    if prior.shape != (p.shape[-1],) or train.shape != prior.shape:
        raise ValueError(f"prior needs {p.shape[-1]} class frequencies, got {prior.shape}")
    if np.any(prior <= 0) or np.any(train <= 0):
        raise ValueError("class frequencies must be positive")
    q = p * (prior / train)
    total = q.sum(axis=-1, keepdims=True)
    return np.divide(q, total, out=np.full_like(q, 1.0 / q.shape[-1]), where=total > 0)
