"""A Keras training data source that measures the training structures anew every epoch.

:class:`PatternStream` is a ``keras.utils.PyDataset``: batch ``i`` of epoch ``e`` holds the rows
``order_e[i·B:(i+1)·B]`` of a :class:`~lib.xrd.simulate.PeakSet` (the stored peak lists of the
training structures and their variants; ``order_e`` a permutation drawn from (seed, e)),
rendered by :func:`lib.xrd.simulate.simulate` under conditions drawn from the
:class:`~lib.xrd.simulate.MeasurementModel` with the generator seeded by (seed, e, i), then
passed through ``preprocess`` — the same function ``classify`` applies to a measured scan
(default: :func:`lib.xrd.patterns.smooth_normalise` with the report's σ = 5 points).  So the
same seed and epoch give the same batches, in any order of access, and every epoch sees new
measurements of every structure.  With ``epoch_first`` every batch of an epoch is drawn when
the epoch begins (``on_epoch_begin``, which Keras calls before it asks for the epoch's first
batch) and kept until the next: the same batches, at the cost of holding one epoch's patterns
(rows × grid points × 4 bytes), but drawn before the training steps instead of beside them —
with TensorFlow the batches are otherwise drawn on a ``tf.data`` thread that competes with the
training step for the same cores.  Labels are those of :func:`lib.xrd.models.train`: a dict
head → int array per row (crystal system: index into ``CRYSTAL_SYSTEMS``; space group:
number − 1).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .patterns import CRYSTAL_SYSTEMS, Grid, crystal_system_of, smooth_normalise
from .simulate import MeasurementModel, PeakSet, Reflections, reflection_table, simulate
from .variants import PeakBatch, VariantBatch, batch_peaks

#: The report's preprocessing: Gaussian smoothing σ = 5 grid points, each pattern scaled to [0, 1].
DEFAULT_PREPROCESS: Callable[[np.ndarray], np.ndarray] = partial(smooth_normalise, sigma=5.0)


def training_peaks(variant_batches: Sequence[VariantBatch],
                   two_theta_range: tuple[float, float] = (0.0, 90.0),
                   texture: bool = True) -> tuple[PeakSet, dict[str, np.ndarray]]:
    """The stored peak lists of training structures and their variants, and their labels.

    One :class:`~lib.xrd.variants.VariantBatch` per structure (``make_variants``); its peak
    lists from :func:`~lib.xrd.variants.batch_peaks` and, with ``texture``, the reflections
    of each peak (:func:`~lib.xrd.simulate.reflection_table`, for March–Dollase).  Labels:
    ``crystal_system`` (index into ``CRYSTAL_SYSTEMS``) and ``space_group`` (number − 1) of
    every row, as :func:`lib.xrd.models.train` takes them.
    """
    peak_batches, refls, systems, groups = [], [], [], []
    for vb in variant_batches:
        pb = batch_peaks(vb, two_theta_range)
        peak_batches.append(pb)
        refls.append(reflection_table(vb, pb, two_theta_range) if texture else None)
        systems += [CRYSTAL_SYSTEMS.index(crystal_system_of(vb.space_group))] * pb.n_patterns
        groups += [vb.space_group - 1] * pb.n_patterns
    peaks = PeakSet.from_batches(peak_batches, refls if texture else None)
    return peaks, {"crystal_system": np.asarray(systems, np.int64),
                   "space_group": np.asarray(groups, np.int64)}


def _keras_pydataset() -> type:
    import keras

    return keras.utils.PyDataset


class PatternStream(_keras_pydataset()):  # type: ignore[misc]
    """Measurement-like patterns drawn per epoch from stored peak lists (see module docstring).

    ``peak_batches``: a :class:`~lib.xrd.simulate.PeakSet`, or a sequence of
    :class:`~lib.xrd.variants.PeakBatch` (one per structure with its variants; rows in order)
    with optional ``reflections`` (one :class:`~lib.xrd.simulate.Reflections` per batch, for
    preferred orientation); ``labels``: head → int array of one label per row;
    ``sample_weights``: optional head → float array per row (e.g. balanced class weights);
    ``impurity_pool``: rows that may serve as impurity phases (default: all); ``epoch_first``:
    draw each epoch's batches when it begins (see the module docstring).
    Each item is ``(x, y)`` or ``(x, y, sample_weight)``, x float32 (batch, n_points).
    """

    def __init__(self, peak_batches: PeakSet | Sequence[PeakBatch],
                 labels: Mapping[str, np.ndarray], model: MeasurementModel = MeasurementModel(),
                 batch_size: int = 64, seed: int = 0,
                 preprocess: Callable[[np.ndarray], np.ndarray] | None = DEFAULT_PREPROCESS,
                 grid: Grid = Grid(), reflections: Sequence[Reflections | None] | None = None,
                 sample_weights: Mapping[str, np.ndarray] | None = None,
                 impurity_pool: np.ndarray | None = None, shuffle: bool = True,
                 epoch_first: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(peak_batches, PeakSet):
            self.peaks = peak_batches
        else:
            self.peaks = PeakSet.from_batches(list(peak_batches), reflections)
        n = self.peaks.n_rows
        if n == 0:
            raise ValueError("PatternStream: no peak lists to draw from")
        self.labels = {h: np.asarray(v, np.int64) for h, v in labels.items()}
        for head, values in self.labels.items():
            if values.shape != (n,):
                raise ValueError(f"PatternStream: labels of head {head!r} have shape "
                                 f"{values.shape}, the peak lists have {n} rows")
        self.sample_weights = (None if sample_weights is None else
                               {h: np.asarray(v, np.float32) for h, v in sample_weights.items()})
        if batch_size < 1:
            raise ValueError(f"PatternStream: batch_size must be positive, got {batch_size}")
        self.model = model
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.preprocess = preprocess
        self.grid = grid
        self.impurity_pool = impurity_pool
        self.shuffle = shuffle
        self.epoch_first = bool(epoch_first)
        self.epoch = 0
        self._epochs_begun = 0
        self._order: tuple[int, np.ndarray] | None = None
        self._drawn: tuple[int, np.ndarray] | None = None   # (epoch, its patterns) if drawn

    def __len__(self) -> int:
        return math.ceil(self.peaks.n_rows / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The rows in the order of ``epoch`` (a permutation seeded by (seed, epoch))."""
        n = self.peaks.n_rows
        if not self.shuffle:
            return np.arange(n)
        if self._order is None or self._order[0] != epoch:    # once per epoch, not per batch
            rng = np.random.default_rng([self.seed, epoch, 0x5EED])
            self._order = (epoch, rng.permutation(n))
        return self._order[1]

    def _span(self, epoch: int, index: int) -> tuple[slice, np.ndarray]:
        """The positions in the epoch's order and the rows of batch ``index`` of ``epoch``."""
        if not 0 <= index < len(self):
            raise IndexError(f"PatternStream: batch {index} of {len(self)}")
        span = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return span, self.order(epoch)[span]

    def batch(self, epoch: int, index: int) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                     np.ndarray]:
        """(patterns, labels, rows) of batch ``index`` of ``epoch``; deterministic."""
        _, rows = self._span(epoch, index)
        rng = np.random.default_rng([self.seed, epoch, index])
        x = simulate(self.peaks, rows, self.model, self.grid, rng, self.impurity_pool)
        if self.preprocess is not None:
            x = self.preprocess(x)
        return np.asarray(x, np.float32), {h: v[rows] for h, v in self.labels.items()}, rows

    def draw_epoch(self, epoch: int) -> np.ndarray:
        """Every pattern of ``epoch`` in its order (n_rows, n_points) float32: the batches of
        :meth:`batch` one after another, kept for :meth:`__getitem__`."""
        if self._drawn is None or self._drawn[0] != epoch:
            self._drawn = None                                  # free the last epoch first
            first = self.batch(epoch, 0)[0]
            out = np.empty((self.peaks.n_rows,) + first.shape[1:], np.float32)
            out[:len(first)] = first
            for i in range(1, len(self)):
                out[i * self.batch_size:(i + 1) * self.batch_size] = self.batch(epoch, i)[0]
            self._drawn = (epoch, out)
        return self._drawn[1]

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if self._drawn is not None and self._drawn[0] == self.epoch:
            span, rows = self._span(self.epoch, index)
            x, y = self._drawn[1][span], {h: v[rows] for h, v in self.labels.items()}
        else:
            x, y, rows = self.batch(self.epoch, index)
        if self.sample_weights is None:
            return x, y
        return x, y, {h: w[rows] for h, w in self.sample_weights.items()}

    def set_epoch(self, epoch: int) -> None:
        """Draw the batches of ``epoch`` from now on."""
        self.epoch = int(epoch)

    def on_epoch_begin(self) -> None:
        """Called by Keras at the start of every epoch of ``fit``: the k-th call (from 0)
        selects epoch k (new order, new measurement conditions).  Keras also calls
        ``on_epoch_end`` once when it builds its iterator, so the epochs are counted here.
        With ``steps_per_epoch`` below ``len(self)`` Keras runs on through the same pass across
        its epochs; use whole epochs so that each pass is one permutation."""
        self.epoch = self._epochs_begun
        self._epochs_begun += 1
        if self.epoch_first:
            self.draw_epoch(self.epoch)
