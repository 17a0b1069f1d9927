"""Input pipeline of the phase-learning notebooks (02–05): splits and batches from the HDF5 sets.

The data sets of ``00_data`` (:mod:`lib.phases.build`) hold, per structure, the intensities of the
report's 4630 reflections and the signs of their structure factors.  This module turns a row
range of such a file into Keras batches, either streamed from disk (h5py reads one contiguous
block of rows per batch, so the ``full`` profile's 150,000 × 4630 set never sits in memory) or
read once into memory (the smaller profiles).  Both modes yield *identical* batches.

Model input
-----------
``model_input`` (:data:`MODEL_INPUTS`; the notebooks' ``input`` parameter):

``"intensity_max"`` (the report's)
    The intensities of the first ``n_reflections`` reflections (report order), normalised **per
    structure by their maximum** (:func:`lib.phases.normalisation.normalise` with
    ``normalisation="max"``), so every structure's strongest reflection is 1 whatever the
    file's scale; unmeasured reflections (NaN in the experimental set) become 0.
``"e_values"`` (what a crystallographer phases from)
    The normalised structure factors |E| the data set stores (``e_value``: shell normalisation
    by resolution in each structure's cell, clipped at 5; :func:`lib.phases.evalues.
    e_values_and_d`); unmeasured reflections become 0.  ``normalisation`` is not used.  The per-structure maximum needs no statistics from the training
set (no leakage between splits) and it is the normalisation that makes ``exp(intensity)``
weights finite (see :mod:`lib.phases.losses`).

Targets
-------
``target="sign"``: packed ``concat([sign target, weight])`` (:func:`lib.losses.pack_targets`),
the weights computed from ``intensity_calc`` normalised the same way (the model's |F_calc|², known
for every reflection, also in the experimental set).  ``target="intensity"``: the normalised
input itself (autoencoders).

Splits and shuffling
--------------------
:func:`split_rows` gives contiguous row ranges: the test block is the last ``test_fraction`` of
the file, shared by every run that reads the file; the first ``n_structures`` rows are split
into training and validation (the last ``validation_fraction`` of them).  The generator of
``00_data`` writes structures in random order, so contiguous ranges are random samples.
Training batches are contiguous blocks of ``batch_size`` rows visited in an order reshuffled
every epoch from (seed, epoch) — a block shuffle, as usual for chunked HDF5 streams, that is
deterministic and the same on disk and in memory.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import losses
from .normalisation import normalise
from .store import open_dataset

# Quiet TensorFlow's C++ start-up chatter (info lines) unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

#: In-memory threshold of the ``"auto"`` mode: bytes of the arrays one split needs.
MEMORY_LIMIT_BYTES: int = 2 * 1024**3
TARGETS: tuple[str, ...] = ("sign", "intensity")
#: What the network sees: the report's I/I_max, or |E| (module docstring).
MODEL_INPUTS: tuple[str, ...] = ("intensity_max", "e_values")
#: The data-set field each model input is read from.
INPUT_FIELDS: dict[str, str] = {"intensity_max": "intensity", "e_values": "e_value"}


def check_model_input(model_input: str) -> str:
    """``model_input`` if it is one of :data:`MODEL_INPUTS`, else ``ValueError``."""
    if model_input not in MODEL_INPUTS:
        raise ValueError(f"input must be one of {', '.join(MODEL_INPUTS)}, got {model_input!r}")
    return model_input


@dataclass(frozen=True)
class RowRange:
    """Contiguous rows ``[start, stop)`` of a data set (one split)."""

    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def split_rows(n_total: int, n_structures: int | None, validation_fraction: float,
               test_fraction: float) -> dict[str, RowRange]:
    """Training, validation and test row ranges of a file of ``n_total`` structures.

    The test block is the last ``round(test_fraction · n_total)`` rows; training and validation
    are the first ``n_structures`` rows (all rows before the test block when ``None``), the last
    ``round(validation_fraction · n_structures)`` of them for validation.  Asking for more
    structures than there are before the test block raises ``ValueError`` (use
    :func:`available_structures` to clip first).
    """
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1):
        raise ValueError("validation_fraction and test_fraction must be in (0, 1), got "
                         f"{validation_fraction}, {test_fraction}")
    n_test = max(1, round(test_fraction * n_total))
    n_avail = n_total - n_test
    n_use = n_avail if n_structures is None else int(n_structures)
    if n_use > n_avail:
        raise ValueError(f"asked for {n_use} training+validation structures but the file has "
                         f"{n_total} of which {n_test} are the test block: at most {n_avail}")
    n_val = max(1, round(validation_fraction * n_use))
    if n_use - n_val < 1:
        raise ValueError(f"{n_use} structures leave none for training after {n_val} "
                         "for validation")
    return {"train": RowRange(0, n_use - n_val), "validation": RowRange(n_use - n_val, n_use),
            "test": RowRange(n_total - n_test, n_total)}


def available_structures(n_total: int, test_fraction: float) -> int:
    """Structures available for training + validation once the test block is held out."""
    return n_total - max(1, round(test_fraction * n_total))


def clip_sizes(requested: list[int], available: int) -> tuple[list[int], list[str]]:
    """Data-set sizes that fit in ``available`` structures, and a note for each one clipped.

    Sizes above ``available`` become ``available``; duplicates are dropped; order is kept.
    """
    used: list[int] = []
    notes: list[str] = []
    for size in requested:
        size = int(size)
        if size > available:
            notes.append(f"size {size:,} asked, {available:,} available (clipped)")
            size = available
        if size not in used:
            used.append(size)
    return used, notes


def dataset_summary(path: str | Path) -> dict[str, Any]:
    """What a data set is, for titles and metrics: size, kind, and whether it is simulated.

    ``tag`` names the data in the figures: a calculated set of generated random structures is
    "simulated: random P-1 structures", one computed from real CIFs "real structures"; an
    experimental set is "simulated measurements" or "real measurements".
    """
    import json


    with open_dataset(path) as f:
        n = int(f["sign"].shape[0])
        kind = str(f.attrs.get("kind", "calculated"))
        simulated_measurement = bool(f.attrs.get("simulated", False))
        try:
            provenance = json.loads(f.attrs.get("provenance", "{}"))
        except (TypeError, ValueError):
            provenance = {}
    source = (provenance.get("parameters") or {}).get("source", "unknown")
    generated = source == "generated"
    if kind == "experimental":
        simulated = simulated_measurement
        tag = "simulated measurements" if simulated else "real measurements"
        if generated:
            tag += " of random P-1 structures"
    else:
        simulated = generated or simulated_measurement
        tag = "simulated: random P-1 structures" if generated else "real structures"
    return {"path": str(path), "kind": kind, "n_structures": n, "source": source,
            "simulated": simulated, "tag": tag}


def normalised_intensity(intensity: np.ndarray, normalisation: str = "max") -> np.ndarray:
    """Model input: intensities normalised per structure (NaN → 0), float32."""

    out = normalise(np.asarray(intensity, dtype=np.float64), normalisation)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def model_input_array(arrays: dict[str, np.ndarray], model_input: str = "intensity_max",
                      normalisation: str = "max") -> np.ndarray:
    """The network's input for a block of structures: I/I_max (``"intensity_max"``, with
    ``normalisation``) or |E| (``"e_values"``), NaN → 0, float32 (module docstring)."""
    if check_model_input(model_input) == "e_values":
        e = np.asarray(arrays["e_value"], dtype=np.float32)
        return np.nan_to_num(e, nan=0.0, posinf=0.0, neginf=0.0)
    return normalised_intensity(arrays["intensity"], normalisation)


def prepare_batch(arrays: dict[str, np.ndarray], target: str, weight_type: str,
                  normalisation: str, model_input: str = "intensity_max"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a block of structures read from a data set (see the module docstring)."""
    x = model_input_array(arrays, model_input, normalisation)
    if target == "intensity":
        return x, x
    if weight_type == "none":
        weights = np.ones(arrays["sign"].shape, dtype=np.float32)
    else:
        weights = losses.reflection_weights(
            normalised_intensity(arrays["intensity_calc"], normalisation), weight_type)
    return x, losses.pack_targets(arrays["sign"], weights)


def _fields(target: str, weight_type: str, model_input: str = "intensity_max"
            ) -> tuple[str, ...]:
    first = INPUT_FIELDS[check_model_input(model_input)]
    if target == "intensity":
        return (first,)
    if weight_type == "none":
        return (first, "sign")
    return (first, "sign", "intensity_calc")


def _keras_pydataset() -> type:
    import keras

    return keras.utils.PyDataset


class ReflectionBatches(_keras_pydataset()):  # type: ignore[misc]
    """Keras batches of one split of a data set, streamed from HDF5 or held in memory.

    Parameters
    ----------
    path : the data set (``calculated.h5`` / ``experimental.h5``).
    rows : the split (:class:`RowRange`).
    n_reflections : first columns used (709 or 4630).
    batch_size : structures per batch.
    target : ``"sign"`` (packed sign targets and weights) or ``"intensity"`` (autoencoder).
    weight_type : loss weights of the sign (:data:`lib.losses.WEIGHT_TYPES`).
    normalisation : per-structure intensity normalisation (``"max"``).
    model_input : ``"intensity_max"`` or ``"e_values"`` (:data:`MODEL_INPUTS`).
    shuffle, seed : block-shuffle the batch order every epoch, from (seed, epoch).
    in_memory : ``True`` read the split once; ``False`` stream; ``"auto"`` in memory when the
        split needs less than :data:`MEMORY_LIMIT_BYTES`.
    batch_multiple : every Keras batch holds a multiple of this many structures: the last,
        partial batch loses its last ``< batch_multiple`` structures (and is gone if it held
        fewer).  The number of replicas of a distributed run, so that every batch splits into
        equal shares (:mod:`lib.phases.training`); ``iter_unshuffled`` keeps every structure.
    """

    def __init__(self, path: str | Path, rows: RowRange, n_reflections: int, batch_size: int,
                 target: str = "sign", weight_type: str = "none", normalisation: str = "max",
                 shuffle: bool = False, seed: int = 0, in_memory: bool | str = "auto",
                 batch_multiple: int = 1, model_input: str = "intensity_max",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_model_input(model_input)
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        losses.check_weight_type(weight_type)
        if batch_size <= 0 or len(rows) <= 0:
            raise ValueError(f"batch_size and the split must be non-empty, got {batch_size}, "
                             f"{rows}")
        if batch_multiple <= 0 or batch_size % batch_multiple:
            raise ValueError(f"batch_size {batch_size} must be a multiple of batch_multiple "
                             f"{batch_multiple}")
        if len(rows) < batch_multiple:
            raise ValueError(f"{path}: a split of {len(rows)} structures cannot make batches of "
                             f"a multiple of {batch_multiple}")
        self.path = Path(path)
        self.rows = rows
        self.n_reflections = int(n_reflections)
        self.batch_size = int(batch_size)
        self.target = target
        self.weight_type = weight_type
        self.normalisation = normalisation
        self.model_input = model_input
        self.shuffle = shuffle
        self.seed = int(seed)
        self.batch_multiple = int(batch_multiple)
        self.fields = _fields(target, weight_type, model_input)
        self._epoch = 0
        self._h5 = None
        self._check_file()
        if in_memory == "auto":
            in_memory = self.bytes_needed() <= MEMORY_LIMIT_BYTES
        self.in_memory = bool(in_memory)
        self._x = self._y = None
        if self.in_memory:
            self._x, self._y = self._read(rows.start, rows.stop)
            self.close()                       # nothing more to read from the file
        self._order = self._batch_order()

    # -- description -----------------------------------------------------------------------
    def bytes_needed(self) -> int:
        """Bytes of the arrays this split would occupy in memory."""
        per = {"intensity": 4, "e_value": 4, "intensity_calc": 4, "sign": 1}
        return len(self.rows) * self.n_reflections * sum(per[f] for f in self.fields)

    def __len__(self) -> int:
        full, rest = divmod(len(self.rows), self.batch_size)
        return int(full + (rest >= self.batch_multiple))

    def __repr__(self) -> str:
        mode = "in memory" if self.in_memory else "streamed"
        return (f"ReflectionBatches({self.path.name}, rows {self.rows.start}:{self.rows.stop}, "
                f"{self.n_reflections} reflections, {len(self)} batches of {self.batch_size}, "
                f"{self.target}, weights {self.weight_type}, input {self.model_input}, {mode})")

    # -- reading ---------------------------------------------------------------------------
    def _check_file(self) -> None:
    
        with open_dataset(self.path) as f:
            n_rows, n_cols = f["sign"].shape
            missing = [name for name in self.fields if name not in f]
        if missing:
            raise ValueError(f"{self.path}: no field {', '.join(missing)} for input "
                             f"{self.model_input!r} (a data set written before |E| was stored: "
                             f"rerun notebook 00_data to rebuild it)")
        if self.rows.stop > n_rows or self.rows.start < 0:
            raise ValueError(f"{self.path}: rows {self.rows.start}:{self.rows.stop} outside the "
                             f"file's {n_rows} structures")
        if self.n_reflections > n_cols:
            raise ValueError(f"{self.path}: {self.n_reflections} reflections asked, the file has "
                             f"{n_cols}")

    def _read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        if self._h5 is None:
        
            self._h5 = open_dataset(self.path)
        arrays = {f: self._h5[f][start:stop, : self.n_reflections] for f in self.fields}
        return prepare_batch(arrays, self.target, self.weight_type, self.normalisation,
                             self.model_input)

    def close(self) -> None:
        """Close the HDF5 file (reopened on the next read)."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # -- batches ---------------------------------------------------------------------------
    def _batch_order(self) -> np.ndarray:
        order = np.arange(len(self))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self._epoch]).permutation(order)
        return order

    def block(self, index: int) -> tuple[int, int]:
        """Rows (absolute in the file) of batch ``index`` of the current epoch."""
        b = int(self._order[index])
        start = self.rows.start + b * self.batch_size
        stop = min(start + self.batch_size, self.rows.stop)
        return start, stop - (stop - start) % self.batch_multiple

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index < 0 or index >= len(self):
            raise IndexError(index)
        start, stop = self.block(index)
        if self.in_memory:
            a, b = start - self.rows.start, stop - self.rows.start
            return self._x[a:b], self._y[a:b]
        return self._read(start, stop)

    def on_epoch_end(self) -> None:
        self._epoch += 1
        self._order = self._batch_order()

    def iter_unshuffled(self):
        """Yield (x, y) over the whole split in file order, whatever ``shuffle`` and
        ``batch_multiple`` say."""
        for b in range(math.ceil(len(self.rows) / self.batch_size)):
            start = self.rows.start + b * self.batch_size
            stop = min(start + self.batch_size, self.rows.stop)
            if self.in_memory:
                a, z = start - self.rows.start, stop - self.rows.start
                yield self._x[a:z], self._y[a:z]
            else:
                yield self._read(start, stop)
