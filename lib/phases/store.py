"""Reading the reflection data sets (HDF5) that :mod:`lib.phases.build` writes.

Layout (the team's data-set contract; one file per kind, ``runs/<profile>/data/<kind>.h5``)
----------------------------------------------------------------------------------------
``hkl``             (4630, 3) int32   :func:`lib.phases.reflections.index_set` (report order)
``intensity``       (n, 4630) float32 the model input.  calculated.h5: |F_calc|²;
                                      experimental.h5: measured intensity on the same index
                                      set (NaN where not measured), on the file's own scale
``intensity_calc``  (n, 4630) float32 |F_calc|² of the model (in calculated.h5 an HDF5 soft
                                      link to ``intensity``: same data, stored once)
``amplitude``       (n, 4630) float32 |F_calc|
``sign``            (n, 4630) int8    ±1, sign of F_calc (phase 0 → +1, π → −1)
``e_value``         (n, 4630) float32 |E| of ``intensity`` (dimensionless, clipped at 5): shell
                                      normalisation over the file's reflections in the
                                      structure's cell, shells of ≈ 100 distinct resolutions
                                      (:func:`lib.phases.evalues.e_values_and_d`, = cctbx's
                                      counting-sorted binner); NaN where not measured
``d_spacing``       (n, 4630) float32 d (Å) of every reflection in the structure's cell
``cell``            (n, 6)    float64 a, b, c (Å), α, β, γ (degrees)
``source_id``       (n,)      str     ``engine:<seed>:<stream>:<row>`` (batched
                                      generator), ``gen:<seed>:<stream>:<index>``
                                      (cctbx generator) or the CIF file name
``n_atoms``         (n,)      int32   atoms in the asymmetric unit (extra, beyond the contract)
root attributes: ``kind``, ``simulated``, ``n_structures``, ``provenance`` (JSON: the
requested parameters, seed, package versions, build time, skipped files), ``complete``.

The resolution-sphere set (``runs/<profile>/data/calculated_sphere.h5``, :func:`sphere_path`)
holds the first structures of ``calculated.h5`` with every unique reflection of d ≥ d_min
instead of the report's index cube, on the fixed grid of :func:`lib.phases.evalues.
resolution_grid` (all Friedel-unique (h, k, l) with |h|,|k|,|l| ≤ ceil(cell_edge_max/d_min)):
``hkl`` (g, 3) int32; ``mask`` (n, g) bool, True where d ≥ d_min in the structure's cell
(the entries outside are *missing*: amplitude 0, |E| 0, sign +1); ``d_spacing`` (n, g)
float32, d (Å) of every entry, inside the sphere or not; ``amplitude`` |F_calc| and
``e_value`` |E| (shell normalisation over the sphere, cctbx ``normalize``, clipped at 5) (n, g) float32; ``sign``
(n, g) int8; ``cell``, ``source_id``, ``n_atoms`` as above; root attributes ``kind =
"sphere"``, ``d_min`` (Å), ``cell_edge_max`` (Å), ``n_structures``, ``provenance``,
``complete``.

The 2-D data sets are chunked by (``chunk_size`` rows, 709 columns), so reading the first 709
reflections (the report's small set) touches only the first column of chunks.  Readers
(:func:`open_dataset`, :func:`load_arrays`) refuse files without ``complete = True``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import config
from . import reflections

KINDS: tuple[str, ...] = ("calculated", "experimental")
#: Per-reflection fields (n_structures, n_reflections).
REFLECTION_FIELDS: tuple[str, ...] = ("intensity", "intensity_calc", "amplitude", "sign",
                                      "e_value", "d_spacing")
#: Per-structure fields.
STRUCTURE_FIELDS: tuple[str, ...] = ("cell", "source_id", "n_atoms")
#: Version of the file layout (part of the provenance: a change forces a rebuild).
FORMAT_VERSION: int = 2    # 2: e_value and d_spacing of every entry
#: Columns per HDF5 chunk: the report's small set (709 reflections) is the first column chunk.
COLUMN_CHUNK: int = reflections.N_SMALL


class DatasetError(RuntimeError):
    """A data-set file is missing, incomplete or does not hold what was asked for."""


# ---------------------------------------------------------------------------------------------
# Reader API
# ---------------------------------------------------------------------------------------------


def dataset_path(profile: str, kind: str) -> Path:
    """Path of the data set ``kind`` ("calculated" or "experimental") of ``profile``:
    ``runs/<profile>/data/<kind>.h5``."""
    if kind not in KINDS:
        raise ValueError(f"unknown data-set kind {kind!r}: choose one of {', '.join(KINDS)}")
    return config.data_dir(profile) / f"{kind}.h5"


def sphere_path(profile: str) -> Path:
    """Path of the resolution-sphere set of ``profile``: ``runs/<profile>/data/
    calculated_sphere.h5``."""
    return config.data_dir(profile) / "calculated_sphere.h5"


def load_sphere(path: str | os.PathLike[str], n_structures: int | None = None
                ) -> dict[str, Any]:
    """Every field of a resolution-sphere set (module docstring) for its first
    ``n_structures`` structures (all when ``None``), with ``d_min`` and ``cell_edge_max`` (Å).
    Raises :class:`DatasetError` naming the file when it is missing, incomplete or not a
    sphere set."""
    out: dict[str, Any] = {}
    with open_dataset(path) as f:
        if f.attrs.get("kind") != "sphere":
            raise DatasetError(f"{path}: not a resolution-sphere set (kind "
                               f"{f.attrs.get('kind')!r})")
        n_total = int(f.attrs["n_structures"])
        rows = n_total if n_structures is None else int(n_structures)
        if not 0 <= rows <= n_total:
            raise DatasetError(f"{path}: holds {n_total} structures, {rows} were asked for")
        out["hkl"] = f["hkl"][()]
        for name in ("mask", "d_spacing", "amplitude", "e_value", "sign", "cell", "n_atoms"):
            out[name] = f[name][:rows]
        out["source_id"] = np.asarray(f["source_id"].asstr()[:rows], dtype=object)
        out["d_min"] = float(f.attrs["d_min"])
        out["cell_edge_max"] = float(f.attrs["cell_edge_max"])
    return out


def is_complete(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a readable HDF5 data set with ``complete = True``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", False))
    except (OSError, ValueError):
        return False


def open_dataset(path: str | os.PathLike[str]):
    """Open a data set read-only (an ``h5py.File``); raise :class:`DatasetError` naming the
    file when it is missing, not HDF5, or not marked ``complete`` (an interrupted build)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"data set {str(path)!r} does not exist: run notebook 00_data "
                           f"(./run_all.sh --only 00) for this profile first")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise DatasetError(f"data set {str(path)!r} is not a readable HDF5 file "
                           f"({error}); delete it and rerun 00_data") from None
    if not bool(f.attrs.get("complete", False)):
        f.close()
        raise DatasetError(f"data set {str(path)!r} is incomplete (no complete=True "
                           f"attribute: an interrupted build); rerun 00_data")
    return f


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record (parameters, seed, package versions, ...) of a data set."""
    with open_dataset(path) as f:
        return json.loads(f.attrs["provenance"])


def load_arrays(path: str | os.PathLike[str], fields: Sequence[str] = ("intensity", "sign"),
                n_reflections: int = reflections.N_FULL,
                n_structures: int | None = None) -> dict[str, np.ndarray]:
    """Read ``fields`` of a data set into memory.

    Per-reflection fields (:data:`REFLECTION_FIELDS`) keep
    their first ``n_reflections`` columns (709 = the report's small set, 4630 = all); every
    field keeps its first ``n_structures`` rows (all when ``None``).  ``hkl`` gives the first
    ``n_reflections`` reflections; ``cell`` (n, 6) and ``source_id`` (str) are per structure.
    Raises :class:`DatasetError` naming the file when it is missing or incomplete, or when
    a field or more rows/columns than it holds are asked for.
    """
    if isinstance(fields, str):
        fields = (fields,)
    out: dict[str, np.ndarray] = {}
    with open_dataset(path) as f:
        n_total = int(f.attrs["n_structures"])
        n_refl_total = int(f["hkl"].shape[0])
        if not 0 < n_reflections <= n_refl_total:
            raise DatasetError(f"{path}: n_reflections must be in 1..{n_refl_total}, "
                               f"got {n_reflections}")
        rows = n_total if n_structures is None else int(n_structures)
        if not 0 <= rows <= n_total:
            raise DatasetError(f"{path}: holds {n_total} structures, {rows} were asked for")
        for name in fields:
            if name not in f:
                raise DatasetError(f"{path}: no field {name!r}; fields are "
                                   f"{', '.join(sorted(f.keys()))}")
            ds = f[name]
            if name == "hkl":
                out[name] = ds[:n_reflections]
            elif name in REFLECTION_FIELDS:
                out[name] = ds[:rows, :n_reflections]
            elif name == "source_id":
                out[name] = np.asarray(ds.asstr()[:rows], dtype=object)
            else:
                out[name] = ds[:rows]
    return out


def stored_parameters(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The requested parameters recorded in a complete data set, or None."""
    if not is_complete(path):
        return None
    try:
        return read_provenance(path).get("parameters")
    except (DatasetError, ValueError, KeyError):
        return None
