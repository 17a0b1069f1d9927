"""Analysis of the intensity autoencoders (report 1, §3.5): PCA reference, saturation, errors.

- :func:`fit_pca` / :func:`pca_reconstructor` — principal component analysis (scikit-learn)
  of the normalised intensities, the linear reference for an autoencoder of the same
  bottleneck width: PCA with k components is the best *linear* k-dimensional code in mean
  squared error.
- :func:`pca_reference` — that PCA fitted on a run's training structures and scored on its test
  structures, for every bottleneck width.
- :func:`smoothed_relative_error` — per-reflection error relative to the reflections' mean
  squared intensity over a moving window (the fraction of their signal that is not
  reconstructed); :func:`smoothed_errors` gives it with the absolute error for Fig 21.
- :func:`mean_intensity_mse` — the error of predicting every reflection by its mean intensity.

(Where the error saturates is judged in :mod:`lib.phases.verdicts`.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .inputs import ReflectionBatches
from .training import DataSpec, reconstruction_errors


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


def smoothed_errors(per_reflection_mse: np.ndarray, mean_square_intensity: np.ndarray,
                    window: int) -> dict[str, np.ndarray]:
    """Per-reflection error smoothed over ``window`` reflections: ``absolute`` (MSE) and
    ``relative`` (:func:`smoothed_relative_error`), report order."""
    return {"absolute": moving_average(per_reflection_mse, window),
            "relative": smoothed_relative_error(per_reflection_mse, mean_square_intensity,
                                                window)}


def mean_intensity_mse(errors: dict[str, Any]) -> float:
    """MSE of predicting each reflection by its mean normalised intensity over the structures.

    ``errors`` as returned by :func:`lib.phases.training.reconstruction_errors`: the mean over
    reflections of mean(I²) − mean(I)², the per-reflection variance of the normalised intensity.
    """
    return float((errors["mean_square_intensity"] - errors["mean_intensity"] ** 2).mean())


@dataclass
class PCAReference:
    """PCA of the training structures scored on the test structures, per bottleneck width.

    ``errors[w]``: :func:`lib.phases.training.reconstruction_errors` of the first
    ``components[w]`` (= min(w, fitted components)) principal components.
    """

    n_train: int
    n_reflections: int
    n_components: int
    seconds: float
    errors: dict[int, dict[str, Any]]
    components: dict[int, int]

    def describe(self) -> str:
        """One line: what was fitted and how long it took."""
        return (f"PCA of {self.n_train} × {self.n_reflections} in {self.seconds:.1f} s, "
                f"{self.n_components} components")


def pca_reference(data: DataSpec, widths: Sequence[int], n_reflections: int, batch_size: int,
                  normalisation: str, seed: int = 0, max_structures: int = 20_000,
                  model_input: str = "intensity_max") -> PCAReference:
    """PCA fitted on (at most ``max_structures`` of) the training split of ``data`` with
    max(``widths``) components, and its test-split reconstruction errors for every width."""
    def batches(split: str) -> ReflectionBatches:
        return ReflectionBatches(data.path, data.splits[split], n_reflections, batch_size,
                                 target="intensity", normalisation=normalisation,
                                 in_memory=data.in_memory, model_input=model_input)

    x_train = collect_inputs(batches("train"), max_structures=max_structures)
    start = time.perf_counter()
    pca = fit_pca(x_train, max(widths), seed=seed)
    seconds = time.perf_counter() - start
    test = batches("test")
    errors = {w: reconstruction_errors(pca_reconstructor(pca, w), test) for w in widths}
    test.close()
    return PCAReference(n_train=x_train.shape[0], n_reflections=x_train.shape[1],
                        n_components=int(pca.n_components_), seconds=seconds, errors=errors,
                        components={w: int(min(w, pca.n_components_)) for w in widths})
