"""A stream of never-seen structures: training batches made on the fly by the batched engine.

:class:`StructureStream` is a ``keras.utils.PyDataset``: batch ``i`` of epoch ``e`` is made of
the random P-1 structures of generator batch ``e · steps_per_epoch + i``
(:func:`lib.phases.generator.generate_batch`, seeded by ``(seed, stream, that number)``), their
structure factors on the report's reflections (:mod:`lib.phases.engine`), and the model's
inputs and targets exactly as :func:`lib.phases.inputs.prepare_batch` makes them from a data
set: inputs = intensities normalised per structure (``"max"``: by their maximum) or |E|
(``model_input="e_values"``: shell normalisation over all 4630 reflections of the report's
cube, as the data sets store it, then the first ``n_reflections``), targets =
the packed ``[target, weight]`` of :func:`lib.phases.losses.pack_targets` (sign), or the
normalised intensities themselves (``target="intensity"``, autoencoders).  Every epoch brings
new structures, so a training run is limited by time, not by disk; the same seed gives the
same batches, in any order and any process.

Under TensorFlow's ``MirroredStrategy`` (:func:`lib.phases.training.distribution_strategy`)
Keras 3 turns a ``PyDataset`` into a ``tf.data.Dataset.from_generator`` and splits each batch
across the replicas, so ``batch_size`` is the *global* batch: structures per training step
over all devices.  Since batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``, the
structures a run sees do not depend on the number of devices.  ``workers=N`` (a
``PyDataset`` argument) makes batches in N threads with the same result on one device; under
``MirroredStrategy`` Keras 3.15's first build pass leaves enqueued batches behind (a 2-epoch
test gave other weights), so :mod:`lib.phases.training` keeps one worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import losses
from .engine import StructureBatch, structure_factors_batch
from .generator import generate_batch
from .evalues import e_values_and_d
from .inputs import TARGETS, check_model_input, prepare_batch
from .reflections import N_FULL, index_set
from .structures import GeneratorParameters

#: Random stream of the training stream's structures (apart from the data sets' 0 and 1).
STREAM_TRAINING: int = 2


def _keras_pydataset() -> type:
    import keras

    return keras.utils.PyDataset


def stream_arrays(batch: StructureBatch, hkl: np.ndarray,
                  backend: str = "numpy", e_values: bool = False) -> dict[str, np.ndarray]:
    """The data-set fields of a structure batch: ``intensity`` (|F|², e²), ``intensity_calc``
    (the same: no measurement simulated), ``sign`` (±1 int8) on reflections ``hkl`` (the first
    n of the report's order); with ``e_values`` also ``e_value`` (|E|) as the data sets store
    it: normalised over all 4630 reflections of the cube (so F is computed on all of them)."""
    n = len(hkl)
    full = index_set(N_FULL) if e_values else hkl
    if e_values and not np.array_equal(full[:n], hkl):
        raise ValueError("e_values needs hkl to be the first reflections of the report's order")
    sf = structure_factors_batch(batch, full, backend=backend)
    out = {"intensity": sf.intensity[:, :n], "intensity_calc": sf.intensity[:, :n],
           "sign": sf.sign[:, :n]}
    if e_values:
        out["e_value"] = e_values_and_d(sf.intensity, batch.cells, full)[0][:, :n]
    return out


class GeneratedBatches(_keras_pydataset()):  # type: ignore[misc]
    """Keras batches of never-seen random P-1 structures: what every structure stream shares.

    Step ``i`` of epoch ``e`` is generator batch ``e · steps_per_epoch + i`` of ``stream``
    (:func:`lib.phases.generator.generate_batch`), so the same seed gives the same batches and
    every epoch brings new structures.  Subclasses turn :meth:`structures` into inputs and
    targets in ``__getitem__``.
    """

    def __init__(self, generator: GeneratorParameters, seed: int, batch_size: int,
                 steps_per_epoch: int, stream: int, backend: str = "numpy",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if batch_size <= 0 or steps_per_epoch <= 0:
            raise ValueError(f"batch_size and steps_per_epoch must be > 0, got {batch_size}, "
                             f"{steps_per_epoch}")
        self.generator = generator
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.steps_per_epoch = int(steps_per_epoch)
        self.stream = int(stream)
        self.backend = backend
        self._epoch = 0

    def __len__(self) -> int:
        return self.steps_per_epoch

    def batch_number(self, index: int) -> int:
        """Generator batch of step ``index`` in the current epoch."""
        return self._epoch * self.steps_per_epoch + int(index)

    def structures(self, index: int) -> StructureBatch:
        """The structures of step ``index`` of the current epoch."""
        return generate_batch(self.generator, self.seed, self.batch_number(index),
                              self.batch_size, stream=self.stream)

    @property
    def epoch(self) -> int:
        """The current epoch (0-based): batch ``i`` is generator batch ``epoch · steps + i``."""
        return self._epoch

    @property
    def structures_per_epoch(self) -> int:
        """Structures one epoch brings (``steps_per_epoch × batch_size``), all never seen."""
        return self.steps_per_epoch * self.batch_size

    def on_epoch_end(self) -> None:
        self._epoch += 1

    def set_epoch(self, epoch: int) -> None:
        """Put the stream at the start of ``epoch`` (0-based)."""
        self._epoch = int(epoch)


class StructureStream(GeneratedBatches):
    """Keras batches of never-seen random P-1 structures, made by the batched engine.

    Parameters
    ----------
    generator : parameters of the random structures (:class:`GeneratorParameters`).
    seed : seed of the stream (same seed → same batches).
    batch_size : structures per batch.
    steps_per_epoch : batches per epoch (the length Keras sees).
    n_reflections : reflections (4630 or 709, :func:`lib.phases.reflections.index_set`).
    target, weight_type, normalisation, model_input : as
        :class:`lib.phases.inputs.ReflectionBatches`.
    stream : random stream of the structures (default :data:`STREAM_TRAINING`).
    backend : the engine's (``"numpy"`` or ``"keras"``, :func:`lib.phases.engine.structure_factors_batch`).
    """

    def __init__(self, generator: GeneratorParameters, seed: int, batch_size: int,
                 steps_per_epoch: int, n_reflections: int = 4630, target: str = "sign",
                 weight_type: str = "none", normalisation: str = "max",
                 stream: int = STREAM_TRAINING, backend: str = "numpy",
                 model_input: str = "intensity_max", **kwargs: Any) -> None:
        check_model_input(model_input)
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        losses.check_weight_type(weight_type)
        super().__init__(generator, seed, batch_size, steps_per_epoch, stream, backend, **kwargs)
        self.hkl = index_set(n_reflections)
        self.n_reflections = int(n_reflections)
        self.target = target
        self.weight_type = weight_type
        self.normalisation = normalisation
        self.model_input = model_input

    def __repr__(self) -> str:
        return (f"StructureStream(seed {self.seed}, {self.steps_per_epoch} batches of "
                f"{self.batch_size} per epoch, {self.n_reflections} reflections, {self.target}, "
                f"weights {self.weight_type}, epoch {self._epoch})")

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index < 0 or index >= len(self):
            raise IndexError(index)
        arrays = stream_arrays(self.structures(index), self.hkl, self.backend,
                               e_values=self.model_input == "e_values")
        return prepare_batch(arrays, self.target, self.weight_type, self.normalisation,
                             self.model_input)

    def iter_unshuffled(self):
        """Yield (x, y) of every batch of the current epoch, in order (evaluation)."""
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        """Nothing to release (the interface of :class:`lib.phases.inputs.ReflectionBatches`)."""
