"""Analysis of the intensity autoencoders (report 1, §3.5): PCA reference, saturation, errors.

- :func:`fit_pca` / :func:`pca_reconstructor` — principal component analysis (scikit-learn)
  of the normalised intensities, the linear reference for an autoencoder of the same
  bottleneck width: PCA with k components is the best *linear* k-dimensional code in mean
  squared error.
- :func:`saturation_width` — the smallest bottleneck whose error is within a tolerance of the
  best error: where widening the code stops paying.
- :func:`smoothed_relative_error` — per-reflection error relative to the reflections' mean
  squared intensity over a moving window (the fraction of their signal that is not
  reconstructed).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .inputs import ReflectionBatches


def collect_inputs(batches: ReflectionBatches, max_structures: int | None = None) -> np.ndarray:
    """The normalised intensities of a split (file order), at most ``max_structures`` rows."""
    rows, count = [], 0
    for x, _ in batches.iter_unshuffled():
        rows.append(x)
        count += len(x)
        if max_structures is not None and count >= max_structures:
            break
    out = np.concatenate(rows)
    return out[:max_structures] if max_structures is not None else out


def fit_pca(x_train: np.ndarray, n_components: int, seed: int = 0) -> Any:
    """PCA of the normalised intensities with ``n_components`` (randomised SVD, seeded).

    ``n_components`` is clipped to min(n_structures, n_reflections).
    """
    from sklearn.decomposition import PCA

    k = int(min(n_components, x_train.shape[0], x_train.shape[1]))
    return PCA(n_components=k, svd_solver="randomized", random_state=seed).fit(x_train)


def pca_reconstructor(pca: Any, n_components: int) -> Callable[[np.ndarray], np.ndarray]:
    """x → reconstruction from the first ``n_components`` principal components of ``pca``."""
    k = int(min(n_components, pca.n_components_))
    basis = pca.components_[:k]
    mean = pca.mean_

    def reconstruct(x: np.ndarray) -> np.ndarray:
        centred = np.asarray(x, dtype=np.float64) - mean
        return (centred @ basis.T) @ basis + mean

    return reconstruct


def saturation_width(widths: Sequence[int], errors: Sequence[float],
                     tolerance: float = 0.05) -> int:
    """Smallest width whose error is at most (1 + ``tolerance``) × the smallest error."""
    widths = list(widths)
    errors = np.asarray(errors, dtype=np.float64)
    best = float(errors.min())
    for w, e in sorted(zip(widths, errors)):
        if e <= (1.0 + tolerance) * best:
            return int(w)
    return int(max(widths))  # pragma: no cover - the best width always qualifies


def smoothed_relative_error(per_reflection_mse: np.ndarray, mean_square_intensity: np.ndarray,
                            window: int, floor: float = 1e-30) -> np.ndarray:
    """Relative error over a moving window of reflections (report order).

    Σ_window MSE / Σ_window mean squared intensity: the fraction of the (normalised) intensity
    signal of the reflections in the window that the reconstruction loses.  Summing before
    dividing keeps the ratio finite where single reflections are almost extinct (high R).
    """
    mse = moving_average(per_reflection_mse, window)
    signal = moving_average(mean_square_intensity, window)
    return mse / np.maximum(signal, floor)


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Centred moving average over ``window`` points (shorter at the ends), same length."""
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(int(window), len(values)))
    kernel = np.ones(window)
    total = np.convolve(values, kernel, mode="same")
    counts = np.convolve(np.ones_like(values), kernel, mode="same")
    return total / counts
