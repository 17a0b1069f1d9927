"""Writing the reflection data sets: an HDF5 builder (parallel, resumable, atomic).

The file layout is documented in :mod:`lib.phases.store`, which reads what this module writes.

Generated structures
--------------------
:func:`build_generated` draws its structures with the batched generator
(:func:`lib.phases.generator.generate_batch`, in fixed blocks of
:data:`lib.phases.generator.GENERATOR_BLOCK` structures, so that row r of a set is the same
whatever the chunk size) and computes F with the batched NumPy engine
(:func:`lib.phases.engine.structure_factors_batch`); ``engine="cctbx"`` keeps the
per-structure cctbx generator and direct summation, the reference the tests compare with.

Building
--------
Work is split into chunks of ``chunk_size`` structures (or CIF files, which the workers
read).  Each chunk is computed by a task — in-process when ``n_workers == 1`` (no cluster),
otherwise on a Dask cluster (a ``LocalCluster`` of ``n_workers`` processes, or an existing
cluster at ``dask_address``, whose workers must have this project installed and, for CIF
folders, see the same file system) —
and its result is saved atomically to ``.<kind>.partial/chunk_NNNNNN.npz`` beside the
target.  When every chunk is there, the HDF5 file is assembled under a temporary name and
renamed onto ``<kind>.h5``; the partial folder is then removed.  After an interruption (even
``kill -9``) a rerun with the same parameters reuses the finished chunks; with other
parameters it starts afresh.  A complete file whose provenance matches the request is
reused as is.  Readers (:func:`open_dataset`, :func:`load_arrays`) refuse files without
``complete = True``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .. import atomic, metrics, parallel
from . import engine as batched
from . import generator as batch_generator
from . import reflections
from .evalues import e_values_and_d, resolution_grid, sphere_arrays
from . import structure_factors as sfm
from .measured import read_measured_folder
from .store import (COLUMN_CHUNK, FORMAT_VERSION, KINDS, REFLECTION_FIELDS, STRUCTURE_FIELDS,
                    DatasetError, dataset_path, is_complete, open_dataset, read_provenance,
                    stored_parameters)
from .simulate import MeasurementParameters, measurement_rng, simulate_measurement
from .structures import (STREAM_CALCULATED, STREAM_EXPERIMENTAL, GeneratorParameters,
                         SkippedFile, _space_group_type_number, cif_files, generate_structure,
                         generated_source_id, read_cif_file)

_PACKAGES = ("numpy", "h5py", "cctbx-base", "dask", "distributed", "tqdm")
#: How generated structures and their structure factors are computed: ``"batched"`` — the
#: vectorised generator (:mod:`lib.phases.generator`, blocks of
#: :data:`lib.phases.generator.GENERATOR_BLOCK` structures) and the NumPy engine
#: (:func:`lib.phases.engine.structure_factors_batch`); ``"cctbx"`` — one structure at a time
#: with cctbx's generator and direct summation (the reference, kept for comparison and tests).
ENGINES: tuple[str, ...] = ("batched", "cctbx")

log = logging.getLogger(__name__)



# ---------------------------------------------------------------------------------------------
# Chunk tasks (run in worker processes: module-level, picklable arguments)
# ---------------------------------------------------------------------------------------------


def _simulate(intensity_calc: np.ndarray, s2: np.ndarray, seed: int, index: int,
              measurement: dict[str, Any]) -> np.ndarray:
    params = MeasurementParameters.from_dict(measurement)
    return simulate_measurement(intensity_calc[None, :], s2[None, :],
                                measurement_rng(seed, index), **params.keywords())[0]


def _rows_from_structures(structures: Sequence[Any], ids: Sequence[str],
                          indices: Sequence[int], spec: dict[str, Any],
                          strict: bool) -> dict[str, Any]:
    """F (real), cell, source id and (optionally) simulated measured intensity per structure."""
    hkl = reflections.index_set(spec["n_reflections"])
    measurement = spec.get("measurement")
    f_rows, cells, kept_ids, meas, skipped, n_atoms = [], [], [], [], [], []
    for xs, sid, index in zip(structures, ids, indices):
        try:
            sf = sfm.calculate(xs, hkl, algorithm=spec["algorithm"], table=spec["table"])
        except Exception as error:
            if strict:
                raise
            skipped.append({"path": sid, "reason": f"structure factors failed: {error}"})
            continue
        f_rows.append(sf.f.real.astype(np.float32))
        cells.append(xs.unit_cell().parameters())
        kept_ids.append(sid)
        n_atoms.append(xs.scatterers().size())
        if measurement is not None:
            meas.append(_simulate(sf.intensity, sf.stol2, spec["seed"], index, measurement)
                        .astype(np.float32))
    n_refl = len(hkl)
    out = {
        "f": np.asarray(f_rows, dtype=np.float32).reshape(len(f_rows), n_refl),
        "cell": np.asarray(cells, dtype=np.float64).reshape(len(cells), 6),
        "source_id": np.asarray(kept_ids, dtype=str),
        "n_atoms": np.asarray(n_atoms, dtype=np.int32),
        "skipped": json.dumps(skipped),
    }
    if measurement is not None:
        out["intensity_meas"] = np.asarray(meas, dtype=np.float32).reshape(len(meas), n_refl)
    return out


def compute_generated_chunk(spec: dict[str, Any], chunk: int, start: int,
                            stop: int) -> tuple[int, dict[str, Any]]:
    """Task: generate the structures of rows ``start..stop-1`` and their structure factors,
    with ``spec["engine"]`` (:data:`ENGINES`; ``"cctbx"`` when absent)."""
    if spec.get("engine", "cctbx") == "batched":
        return chunk, _batched_rows(spec, start, stop)
    params = GeneratorParameters(**spec["generator"])
    indices = list(range(start, stop))
    structures = [generate_structure(params, spec["seed"], i, spec["stream"]) for i in indices]
    ids = [generated_source_id(spec["seed"], i, spec["stream"]) for i in indices]
    return chunk, _rows_from_structures(structures, ids, indices, spec, strict=True)


def _batched_rows(spec: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Rows ``start..stop-1`` with the batched generator and engine: F (real, electrons),
    cell, source id ``engine:<seed>:<stream>:<row>`` and (with ``spec["measurement"]``) the
    simulated measured intensity of each row, drawn from
    :func:`lib.phases.simulate.measurement_rng` (seed, row) with the engine's (sin θ/λ)²."""
    params = GeneratorParameters(**spec["generator"])
    seed, stream = int(spec["seed"]), int(spec["stream"])
    batch = batch_generator.structures_in_rows(params, seed, stream, start, stop,
                                               int(spec["generator_block"]))
    hkl = reflections.index_set(spec["n_reflections"])
    sf = batched.structure_factors_batch(batch, hkl, backend="numpy")
    indices = range(start, stop)
    out = {
        "f": sf.f.astype(np.float32),
        "cell": batch.cells.astype(np.float64),
        "source_id": np.asarray([batch_generator.engine_source_id(seed, stream, i)
                                 for i in indices], dtype=str),
        "n_atoms": batch.n_atoms.astype(np.int32),
        "skipped": json.dumps([]),
    }
    measurement = spec.get("measurement")
    if measurement is not None:
        intensity = sf.intensity.astype(np.float64)
        stol2 = sf.stol2.astype(np.float64)
        out["intensity_meas"] = np.stack(
            [_simulate(intensity[k], stol2[k], seed, i, measurement)
             for k, i in enumerate(indices)]).astype(np.float32)
    return out


def compute_structures_chunk(spec: dict[str, Any], chunk: int, start: int,
                             payload: list[tuple[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Task: structure factors of given (source_id, cctbx structure) pairs."""
    ids = [p[0] for p in payload]
    structures = [p[1] for p in payload]
    indices = list(range(start, start + len(payload)))
    return chunk, _rows_from_structures(structures, ids, indices, spec, strict=False)


def compute_cif_chunk(spec: dict[str, Any], chunk: int,
                      files: list[str]) -> tuple[int, dict[str, Any]]:
    """Task: read CIF files (iotbx), keep space-group type ``spec["space_group"]``, compute
    the structure factors; unusable files come back in ``skipped`` with their reasons."""
    structures, ids, skipped = [], [], []
    for name in files:
        one = read_cif_file(name, space_group=spec["space_group"], table=spec["table"])
        structures += [s.structure for s in one.structures]
        ids += [s.source_id for s in one.structures]
        skipped += [{"path": s.path, "reason": s.reason} for s in one.skipped]
    out = _rows_from_structures(structures, ids, list(range(len(ids))), spec, strict=False)
    out["skipped"] = json.dumps(skipped + json.loads(out["skipped"]))
    out["n_inputs"] = np.int64(len(files))
    return chunk, out


# ---------------------------------------------------------------------------------------------
# Partial results
# ---------------------------------------------------------------------------------------------


def partial_dir(path: str | os.PathLike[str]) -> Path:
    """Folder of the per-chunk partial results of the build of ``path``."""
    path = Path(path)
    return path.parent / f".{path.stem}.partial"


def _chunk_file(folder: Path, chunk: int) -> Path:
    return folder / f"chunk_{chunk:06d}.npz"


def _save_chunk(folder: Path, chunk: int, result: dict[str, Any]) -> Path:
    target = _chunk_file(folder, chunk)
    with atomic.atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **result)
            fh.flush()
            os.fsync(fh.fileno())
    return target


def _chunk_ok(folder: Path, chunk: int) -> bool:
    import zipfile

    target = _chunk_file(folder, chunk)
    if not target.exists():
        return False
    try:
        with zipfile.ZipFile(target) as z:
            return "f.npy" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        target.unlink(missing_ok=True)
        return False


def _prepare_partial(path: Path, key: str) -> Path:
    """The partial folder for ``key``; wiped when it belongs to another request."""
    folder = partial_dir(path)
    key_file = folder / "request.json"
    if folder.exists():
        try:
            old = json.loads(key_file.read_text(encoding="utf-8"))["key"]
        except (OSError, ValueError, KeyError):
            old = None
        if old != key:
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        atomic.write_json(key_file, {"key": key})
    return folder


def _remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove temporary files of earlier interrupted assemblies of ``path``."""
    removed = []
    for tmp in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------


@dataclass
class BuildResult:
    """What :func:`build_generated` / :func:`build_from_structures` did.

    ``reused``: an existing complete file matched the request; ``resumed_chunks``: chunks
    found finished from an interrupted build; ``seconds``: wall time of this call;
    ``skipped``: structures or files left out, with reasons.
    """

    path: Path
    kind: str
    n_structures: int
    seconds: float
    reused: bool = False
    computed_chunks: int = 0
    resumed_chunks: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    #: seconds spent computing structure factors (of the original build when reused),
    #: including ``startup_seconds`` spent starting or connecting to the Dask cluster
    compute_seconds: float = float("nan")
    startup_seconds: float = 0.0

    @property
    def file_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    @property
    def structures_per_second(self) -> float:
        return self.n_structures / self.seconds if self.seconds > 0 else float("nan")


def _canonical(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _n_inputs(result: dict[str, Any]) -> int:
    """Inputs (structures or files) a chunk result accounts for."""
    if "n_inputs" in result:
        return int(result["n_inputs"])
    return len(result["source_id"]) + len(json.loads(str(result["skipped"])))


def _run_tasks(tasks: list[tuple[Callable, tuple]], folder: Path, n_workers: int,
               dask_address: str, bar) -> float:
    """Run chunk tasks (:func:`lib.parallel.run_tasks`), saving each result atomically as
    soon as it arrives.

    Returns the seconds spent starting (or connecting to) the Dask cluster.
    """
    def save(_index: int, chunk_result: tuple[int, dict[str, Any]]) -> None:
        chunk, result = chunk_result
        _save_chunk(folder, chunk, result)
        bar.update(_n_inputs(result))

    return parallel.run_tasks(tasks, n_workers, dask_address, save)


def _assemble(path: Path, folder: Path, n_chunks: int, kind: str, simulated: bool,
              parameters: dict[str, Any], chunk_size: int, extra: dict[str, Any],
              skipped: list[SkippedFile], max_rows: int | None = None) -> int:
    """Write the HDF5 file from the partial chunks (temporary name, then rename); keep at
    most ``max_rows`` structures (the first ones)."""
    import h5py

    hkl = reflections.index_set(parameters["n_reflections"])
    n_refl = len(hkl)
    counts = []
    for chunk in range(n_chunks):
        with np.load(_chunk_file(folder, chunk), allow_pickle=False) as z:
            counts.append(int(z["f"].shape[0]))
            skipped.extend(SkippedFile(**s) for s in json.loads(str(z["skipped"])))
    n = int(sum(counts))
    if max_rows is not None:
        n = min(n, int(max_rows))
    if n == 0:
        raise DatasetError(f"{path}: no structure left to write (all {len(skipped)} inputs "
                           f"skipped: " + "; ".join(str(s) for s in skipped[:5]) + ")")
    rows = max(1, min(chunk_size, n))
    chunks_2d = (rows, min(COLUMN_CHUNK, n_refl))
    with atomic.atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("hkl", data=np.asarray(hkl, dtype=np.int32))
            d_int = f.create_dataset("intensity", (n, n_refl), dtype="f4", chunks=chunks_2d)
            if kind == "calculated":
                f["intensity_calc"] = h5py.SoftLink("/intensity")
                d_calc = None
            else:
                d_calc = f.create_dataset("intensity_calc", (n, n_refl), dtype="f4",
                                          chunks=chunks_2d)
            d_amp = f.create_dataset("amplitude", (n, n_refl), dtype="f4", chunks=chunks_2d)
            d_sign = f.create_dataset("sign", (n, n_refl), dtype="i1", chunks=chunks_2d)
            d_e = f.create_dataset("e_value", (n, n_refl), dtype="f4", chunks=chunks_2d)
            d_d = f.create_dataset("d_spacing", (n, n_refl), dtype="f4", chunks=chunks_2d)
            d_cell = f.create_dataset("cell", (n, 6), dtype="f8", chunks=(rows, 6))
            d_id = f.create_dataset("source_id", (n,), dtype=h5py.string_dtype(),
                                    chunks=(rows,))
            d_atoms = f.create_dataset("n_atoms", (n,), dtype="i4", chunks=(rows,))
            row = 0
            for chunk in range(n_chunks):
                if row >= n:
                    break
                with np.load(_chunk_file(folder, chunk), allow_pickle=False) as z:
                    m = min(int(z["f"].shape[0]), n - row)
                    if m == 0:
                        continue
                    fr = z["f"][:m]
                    sl = slice(row, row + m)
                    amp = np.abs(fr)
                    i_calc = np.square(fr, dtype=np.float32)
                    if kind == "calculated":
                        intensity = i_calc
                    else:
                        intensity = z["intensity_meas"][:m]
                        d_calc[sl] = i_calc
                    d_int[sl] = intensity
                    e_value, d_spacing = e_values_and_d(intensity, z["cell"][:m], hkl)
                    d_e[sl] = e_value
                    d_d[sl] = d_spacing
                    d_amp[sl] = amp
                    d_sign[sl] = np.where(fr < 0, -1, 1).astype(np.int8)
                    d_cell[sl] = z["cell"][:m]
                    d_id[sl] = [str(v) for v in z["source_id"][:m]]
                    d_atoms[sl] = z["n_atoms"][:m]
                    row += m
            provenance = {
                "kind": kind,
                "simulated": simulated,
                "parameters": parameters,
                "packages": metrics.package_versions(_PACKAGES),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "n_skipped": len(skipped),
                # the first 100 here (HDF5 attributes must stay small); all of them in the
                # data sets skipped_path / skipped_reason
                "skipped": [{"path": s.path, "reason": s.reason} for s in skipped[:100]],
                **extra,
            }
            text = h5py.string_dtype()
            f.create_dataset("skipped_path", data=[s.path for s in skipped], dtype=text)
            f.create_dataset("skipped_reason", data=[s.reason for s in skipped], dtype=text)
            f.attrs["kind"] = kind
            f.attrs["simulated"] = bool(simulated)
            f.attrs["n_structures"] = n
            f.attrs["provenance"] = json.dumps(provenance, default=str)
            f.attrs["complete"] = True
    return n


def _build(path: str | os.PathLike[str], kind: str, simulated: bool,
           parameters: dict[str, Any], tasks: list[tuple[Callable, tuple]], n_planned: int,
           chunk_size: int, n_workers: int, dask_address: str, progress: bool,
           skipped: list[SkippedFile], force: bool, extra: dict[str, Any],
           max_rows: int | None = None) -> BuildResult:
    if kind not in KINDS:
        raise ValueError(f"unknown data-set kind {kind!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(path):
        return _build_locked(path, kind, simulated, parameters, tasks, n_planned, chunk_size,
                             n_workers, dask_address, progress, skipped, force, extra,
                             max_rows)


@contextlib.contextmanager
def _build_lock(path: Path):
    """An exclusive lock on ``.<name>.lock`` beside ``path`` while a build runs: a second
    build of the same file waits, then finds it complete and reuses it.  The OS drops the
    lock when its process dies (even by kill -9)."""
    import fcntl

    lock_path = path.parent / f".{path.name}.lock"
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build_locked(path: Path, kind: str, simulated: bool, parameters: dict[str, Any],
                  tasks: list[tuple[Callable, tuple]], n_planned: int, chunk_size: int,
                  n_workers: int, dask_address: str, progress: bool,
                  skipped: list[SkippedFile], force: bool, extra: dict[str, Any],
                  max_rows: int | None = None) -> BuildResult:
    from tqdm.auto import tqdm

    parameters = _canonical(parameters)
    start = time.perf_counter()
    if not force and stored_parameters(path) == parameters:
        with open_dataset(path) as f:
            n = int(f.attrs["n_structures"])
            prov = json.loads(f.attrs["provenance"])
            old_skipped = [SkippedFile(p, r) for p, r in
                           zip(f["skipped_path"].asstr()[()], f["skipped_reason"].asstr()[()])] \
                if "skipped_path" in f else [SkippedFile(**s) for s in prov.get("skipped", [])]
        return BuildResult(path=path, kind=kind, n_structures=n,
                           seconds=time.perf_counter() - start, reused=True,
                           skipped=old_skipped,
                           compute_seconds=float(prov.get("compute_seconds", float("nan"))),
                           startup_seconds=float(prov.get("cluster_startup_seconds", 0.0)))
    key = hashlib.sha256(json.dumps({"parameters": parameters, "chunk_size": chunk_size,
                                     "format": FORMAT_VERSION}, sort_keys=True)
                         .encode()).hexdigest()
    _remove_stale_temporaries(path)
    folder = _prepare_partial(path, key)
    done = [i for i in range(len(tasks)) if _chunk_ok(folder, i)]
    todo = [t for i, t in enumerate(tasks) if i not in set(done)]
    done_rows = 0
    for i in done:
        with np.load(_chunk_file(folder, i), allow_pickle=False) as z:
            done_rows += _n_inputs({k: z[k] for k in ("source_id", "skipped", "n_inputs")
                                    if k in z.files})
    with tqdm(total=n_planned, initial=done_rows, desc=f"{kind} structures", unit="str",
              disable=not progress, mininterval=1.0) as bar:
        startup_seconds = _run_tasks(todo, folder, n_workers, dask_address, bar)
    compute_seconds = time.perf_counter() - start
    all_skipped = list(skipped)
    extra = {**extra, "compute_seconds": compute_seconds,
             "cluster_startup_seconds": startup_seconds, "n_workers": int(n_workers),
             "dask_address": dask_address, "computed_chunks": len(todo),
             "resumed_chunks": len(done)}
    n = _assemble(path, folder, len(tasks), kind, simulated, parameters, chunk_size,
                  extra, all_skipped, max_rows)
    shutil.rmtree(folder, ignore_errors=True)
    return BuildResult(path=path, kind=kind, n_structures=n,
                       seconds=time.perf_counter() - start, computed_chunks=len(todo),
                       resumed_chunks=len(done), skipped=all_skipped,
                       compute_seconds=compute_seconds, startup_seconds=startup_seconds)


def _chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]


def build_generated(path: str | os.PathLike[str], kind: str, n_structures: int, seed: int,
                    generator: GeneratorParameters | None = None,
                    measurement: dict[str, Any] | None = None, chunk_size: int = 256,
                    n_workers: int = 1, dask_address: str = "", progress: bool = True,
                    n_reflections: int = reflections.N_FULL,
                    table: str = "it1992", algorithm: str = "direct",
                    force: bool = False, engine: str = "batched",
                    generator_block: int = batch_generator.GENERATOR_BLOCK) -> BuildResult:
    """Build a data set of ``n_structures`` generated random P-1 structures.

    ``kind="calculated"``: intensity = |F_calc|² (stream 0 of ``seed``).
    ``kind="experimental"``: other structures (stream 1) whose intensity is *simulated*
    measurement of |F_calc|² by :func:`lib.phases.simulate.simulate_measurement` with
    ``measurement`` (:meth:`lib.phases.simulate.MeasurementParameters.as_dict`; required for this kind).
    Parallel over ``n_workers`` processes through Dask (in-process when 1), or on the Dask
    cluster at ``dask_address``.  Resumable and atomic (see the module docstring).

    ``engine`` (:data:`ENGINES`): ``"batched"`` draws row r as structure r mod
    ``generator_block`` of :func:`lib.phases.generator.generate_batch` (index r //
    ``generator_block``), source id ``engine:<seed>:<stream>:<r>``, with F from the NumPy
    engine (it1992 form factors only; ``algorithm`` is not used); ``"cctbx"`` generates each
    structure with cctbx (source id ``gen:<seed>:<stream>:<r>``) and sums F with cctbx
    (``algorithm``, ``table``).  Either way a row does not depend on ``chunk_size`` or
    ``n_workers``.  ``engine`` and ``generator_block`` are part of the provenance: a change
    rebuilds the file.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "batched":
        if table != "it1992":
            raise ValueError(f"the batched engine has the it1992 form factors only, got "
                             f"table={table!r} (use engine='cctbx')")
        if int(generator_block) <= 0:
            raise ValueError(f"generator_block must be positive, got {generator_block}")
    if n_structures <= 0:
        raise ValueError(f"n_structures must be positive, got {n_structures}")
    generator = generator or GeneratorParameters()
    if kind == "experimental" and measurement is None:
        raise ValueError("an experimental data set from generated structures needs the "
                         "simulated-measurement parameters (measurement=...)")
    if kind == "calculated" and measurement is not None:
        raise ValueError("a calculated data set takes no measurement parameters")
    stream = STREAM_CALCULATED if kind == "calculated" else STREAM_EXPERIMENTAL
    spec = {"generator": generator.as_dict(), "seed": int(seed), "stream": stream,
            "n_reflections": int(n_reflections), "table": table, "algorithm": algorithm,
            "measurement": measurement, "engine": engine,
            "generator_block": int(generator_block) if engine == "batched" else None}
    parameters = {"format_version": FORMAT_VERSION, "source": "generated",
                  "n_structures": int(n_structures), **spec}
    bounds = _chunk_bounds(int(n_structures), chunk_size)
    tasks = [(compute_generated_chunk, (spec, i, s, e)) for i, (s, e) in enumerate(bounds)]
    return _build(path, kind, kind == "experimental", parameters, tasks, int(n_structures),
                  chunk_size, n_workers, dask_address, progress, [], force, {})


@dataclass
class SphereBuild:
    """What :func:`build_sphere` did: the file, its structures and grid, whether an existing
    complete file was reused, and the seconds it took."""

    path: Path
    n_structures: int
    n_grid: int
    d_min: float
    seconds: float
    reused: bool


def build_sphere(path: str | os.PathLike[str], n_structures: int, seed: int, d_min: float,
                 generator: GeneratorParameters | None = None, chunk_size: int = 64,
                 generator_block: int = batch_generator.GENERATOR_BLOCK,
                 force: bool = False) -> SphereBuild:
    """The resolution-sphere set (layout in :mod:`lib.phases.store`): the first
    ``n_structures`` structures of the calculated set (same seed, stream and generator block,
    so row r is the same structure as row r of ``calculated.h5``) with every unique
    reflection of d ≥ ``d_min`` (Å) on the fixed grid for cells up to the generator's
    ``cell_edge_max``, d recorded for every entry, the entries outside a structure's sphere
    masked.  Written atomically (:func:`lib.atomic.hdf5_file`); a complete file with the same
    parameters is reused."""
    import h5py

    if n_structures <= 0:
        raise ValueError(f"n_structures must be positive, got {n_structures}")
    if not d_min > 0:
        raise ValueError(f"d_min must be a positive resolution in Å, got {d_min!r}")
    generator = generator or GeneratorParameters()
    path = Path(path)
    start = time.perf_counter()
    parameters = _canonical({"format_version": FORMAT_VERSION, "source": "generated",
                             "kind": "sphere", "n_structures": int(n_structures),
                             "seed": int(seed), "stream": STREAM_CALCULATED,
                             "d_min": float(d_min), "generator": generator.as_dict(),
                             "generator_block": int(generator_block)})
    hkl = resolution_grid(float(d_min), generator.cell_edge_max)
    if not force and stored_parameters(path) == parameters:
        return SphereBuild(path, int(n_structures), len(hkl), float(d_min),
                           time.perf_counter() - start, reused=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    n, g = int(n_structures), len(hkl)
    rows = max(1, min(int(chunk_size), n))
    with _build_lock(path), atomic.hdf5_file(path) as f:
        f.create_dataset("hkl", data=np.asarray(hkl, dtype=np.int32))
        out = {name: f.create_dataset(name, (n, g), dtype=dtype, chunks=(rows, g),
                                      compression="gzip", compression_opts=1, shuffle=True)
               for name, dtype in (("mask", "bool"), ("d_spacing", "f4"), ("amplitude", "f4"),
                                   ("e_value", "f4"), ("sign", "i1"))}
        d_cell = f.create_dataset("cell", (n, 6), dtype="f8")
        d_id = f.create_dataset("source_id", (n,), dtype=h5py.string_dtype())
        d_atoms = f.create_dataset("n_atoms", (n,), dtype="i4")
        for a, b in _chunk_bounds(n, rows):
            batch = batch_generator.structures_in_rows(generator, int(seed), STREAM_CALCULATED,
                                                       a, b, int(generator_block))
            arrays = sphere_arrays(batch, float(d_min), generator.cell_edge_max)
            out["mask"][a:b] = arrays["mask"]
            out["d_spacing"][a:b] = (1.0 / np.sqrt(arrays["d_star_sq"])).astype(np.float32)
            out["amplitude"][a:b] = arrays["amplitude"]
            out["e_value"][a:b] = arrays["e"]
            out["sign"][a:b] = arrays["sign"]
            d_cell[a:b] = arrays["cells"]
            d_id[a:b] = [batch_generator.engine_source_id(int(seed), STREAM_CALCULATED, i)
                         for i in range(a, b)]
            d_atoms[a:b] = batch.n_atoms
        seconds = time.perf_counter() - start
        provenance = {"kind": "sphere", "simulated": False, "parameters": parameters,
                      "packages": metrics.package_versions(_PACKAGES),
                      "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                      "compute_seconds": seconds}
        f.attrs["kind"] = "sphere"
        f.attrs["simulated"] = False
        f.attrs["n_structures"] = n
        f.attrs["d_min"] = float(d_min)
        f.attrs["cell_edge_max"] = float(generator.cell_edge_max)
        f.attrs["provenance"] = json.dumps(provenance, default=str)
    return SphereBuild(path, n, g, float(d_min), time.perf_counter() - start, reused=False)


def build_from_structures(path: str | os.PathLike[str], kind: str,
                          structures: Sequence[tuple[str, Any]], source: dict[str, Any],
                          seed: int = 0, measurement: dict[str, Any] | None = None,
                          skipped: Sequence[SkippedFile] = (), chunk_size: int = 256,
                          n_workers: int = 1, dask_address: str = "", progress: bool = True,
                          n_reflections: int = reflections.N_FULL, table: str = "it1992",
                          algorithm: str = "direct", force: bool = False) -> BuildResult:
    """Build a data set from given structures: (source_id, cctbx xray.structure) pairs.

    ``source`` describes where they came from (e.g. ``{"cif_dir": ..., "files": [...]}``)
    and goes into the provenance (a change forces a rebuild).  ``skipped`` (files the
    reader left out) is recorded too.  With ``measurement`` the intensity is a simulated
    measurement (``kind="experimental"``).  Structures whose structure factors fail are
    skipped with the reason.
    """
    if not structures:
        raise ValueError(f"no structures to build {kind} data set from "
                         f"({len(skipped)} files skipped)")
    spec = {"seed": int(seed), "n_reflections": int(n_reflections), "table": table,
            "algorithm": algorithm, "measurement": measurement}
    parameters = {"format_version": FORMAT_VERSION, "source": "structures",
                  "n_structures": len(structures), "structures": source, **spec}
    bounds = _chunk_bounds(len(structures), chunk_size)
    tasks = [(compute_structures_chunk, (spec, i, s, list(structures[s:e])))
             for i, (s, e) in enumerate(bounds)]
    return _build(path, kind, measurement is not None, parameters, tasks, len(structures),
                  chunk_size, n_workers, dask_address, progress, list(skipped), force,
                  {"input_skipped": len(skipped)})


def relative_name(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """The name of ``path`` relative to the folder ``root``, however both are spelled.

    Works when ``root`` is a relative path, is reached through a symbolic link, or when only
    one of the two is resolved: the lexical relation is tried first, then the resolved one
    (symbolic links followed).  A path outside ``root`` keeps its full name.
    """
    path, root = Path(path), Path(root)
    for a, b in ((path, root), (path.absolute(), root.absolute()),
                 (path.resolve(), root.resolve())):
        if a.is_relative_to(b):
            return a.relative_to(b).as_posix()
    return str(path)


def file_fingerprint(files: Sequence[Path], root: Path | None = None) -> str:
    """SHA-256 over (name, size, modification time) of ``files``: changes when any file does.

    With ``root`` the names are taken relative to it (:func:`relative_name`), so the
    fingerprint does not depend on how the folder is reached (link, relative path).
    """
    digest = hashlib.sha256()
    for p in files:
        p = Path(p)
        st = p.stat()
        name = relative_name(p, root) if root is not None else str(p)
        digest.update(f"{name}\t{st.st_size}\t{int(st.st_mtime)}\n".encode())
    return digest.hexdigest()


def build_calculated_from_cifs(path: str | os.PathLike[str], cif_dir: str | os.PathLike[str],
                               n_structures: int | None = None, space_group: str = "P-1",
                               seed: int = 0, chunk_size: int = 256, n_workers: int = 1,
                               dask_address: str = "", progress: bool = True,
                               n_reflections: int = reflections.N_FULL,
                               table: str = "it1992", algorithm: str = "direct",
                               pattern: str = "*.cif", force: bool = False) -> BuildResult:
    """Calculated data set from a folder of real CIFs (a CSD export, the COD, Acta Cryst E).

    The files are read in the workers (iotbx), in chunks of ``chunk_size`` files, in
    file-name order; structures of space-group type ``space_group`` (any setting; moved to
    the reference setting, inversion centre at the origin) are kept — the first
    ``n_structures`` of them (all when ``None``).  Every file or block left out is listed
    with its reason (``BuildResult.skipped``; data sets ``skipped_path``/``skipped_reason``).
    A missing or empty folder raises a clear error.
    """
    folder = Path(cif_dir).resolve()
    files = cif_files(folder, pattern)
    _space_group_type_number(space_group)
    spec = {"seed": int(seed), "n_reflections": int(n_reflections), "table": table,
            "algorithm": algorithm, "measurement": None, "space_group": space_group}
    parameters = {"format_version": FORMAT_VERSION, "source": "cif_dir",
                  "cif_dir": str(folder), "pattern": pattern, "n_files": len(files),
                  "files_sha256": file_fingerprint(files, folder),
                  "n_structures": None if n_structures is None else int(n_structures), **spec}
    bounds = _chunk_bounds(len(files), chunk_size)
    tasks = [(compute_cif_chunk, (spec, i, [str(f) for f in files[s:e]]))
             for i, (s, e) in enumerate(bounds)]
    try:
        return _build(path, "calculated", False, parameters, tasks, len(files), chunk_size,
                      n_workers, dask_address, progress, [], force, {}, n_structures)
    except DatasetError as error:
        raise ValueError(f"no usable {space_group} structure in {str(cif_dir)!r}: "
                         f"{error}") from None


def compute_measured_chunk(spec: dict[str, Any], chunk: int,
                           rows: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Task: package precomputed rows of real measured data sets (F_calc, I_meas, cell)."""
    n_refl = len(reflections.index_set(spec["n_reflections"]))
    return chunk, {
        "f": np.asarray([r["f"] for r in rows], dtype=np.float32).reshape(len(rows), n_refl),
        "intensity_meas": np.asarray([r["i_meas"] for r in rows],
                                     dtype=np.float32).reshape(len(rows), n_refl),
        "cell": np.asarray([r["cell"] for r in rows], dtype=np.float64).reshape(len(rows), 6),
        "source_id": np.asarray([r["source_id"] for r in rows], dtype=str),
        "n_atoms": np.asarray([r["n_atoms"] for r in rows], dtype=np.int32),
        "skipped": json.dumps([]),
    }


def measured_rows(experimental_dir: str | os.PathLike[str],
                  n_reflections: int = reflections.N_FULL, centric_only: bool = True,
                  min_pearson: float | None = None
                  ) -> tuple[list[dict[str, Any]], list[SkippedFile], list[list[Any]]]:
    """Real measured data sets of a folder on the report's index set.

    Reads every data set with :func:`lib.phases.measured.read_measured_folder` (model CIF +
    measured F², merged, matched); maps I_meas to the P-1 index set
    (:meth:`lib.phases.measured.MeasuredData.on_index_set`; NaN where not measured) and computes
    F_calc of the model on the whole index set with cctbx (neutron scattering lengths for
    neutron data).  With ``centric_only`` a data set whose space group has no inversion
    centre at the origin is skipped (its F_calc phases are not 0 or π: no sign); with
    ``min_pearson`` one whose Pearson r(I_meas, I_calc) is lower (the model does not match
    the data).  Returns (rows, skipped, files) — ``files`` lists (name relative to the
    folder, size, mtime) for provenance, the same however the folder is reached.
    """
    folder = Path(experimental_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"experimental folder {str(folder)!r} does not exist")
    data_sets, skipped_pairs = read_measured_folder(folder, min_pearson=min_pearson)
    skipped = [SkippedFile(p, r) for p, r in skipped_pairs]
    hkl = reflections.index_set(n_reflections)
    rows, files = [], []
    for d in data_sets:
        table = "neutron" if d.radiation == "neutron" else "it1992"
        model = read_cif_file(d.structure_path, space_group=d.space_group, table=table,
                              to_reference_setting=False)
        if not model.structures:
            reason = "; ".join(s.reason for s in model.skipped) or "no structure"
            skipped.append(SkippedFile(d.structure_path, f"model not usable: {reason}"))
            continue
        xs = model.structures[0].structure
        if centric_only and not sfm.inversion_centre_at_origin(xs):
            skipped.append(SkippedFile(
                d.structure_path, f"space group {d.space_group} has no inversion centre at "
                                  f"the origin: F_calc phases are not 0 or π (no sign)"))
            continue
        try:
            sf = sfm.calculate(xs, hkl, table=table)
        except Exception as error:
            skipped.append(SkippedFile(d.structure_path, f"structure factors failed: {error}"))
            continue
        i_meas = d.on_index_set(hkl)["i_meas"]
        if not np.any(np.isfinite(i_meas)):
            skipped.append(SkippedFile(d.structure_path, "no measured reflection in the "
                                                         "index set"))
            continue
        rows.append({"source_id": d.source_id, "f": sf.f.real, "i_meas": i_meas,
                     "cell": xs.unit_cell().parameters(),
                     "n_atoms": xs.scatterers().size()})
        for p in {d.structure_path, d.reflections_path} - {""}:
            st = Path(p).stat()
            files.append([relative_name(p, folder), st.st_size, int(st.st_mtime)])
    return rows, skipped, sorted(files)


def build_experimental_from_measured(path: str | os.PathLike[str],
                                     experimental_dir: str | os.PathLike[str],
                                     chunk_size: int = 256, progress: bool = True,
                                     n_reflections: int = reflections.N_FULL,
                                     centric_only: bool = True, force: bool = False,
                                     min_pearson: float | None = None,
                                     **_ignored: Any) -> BuildResult:
    """Experimental data set from a folder of real model + measured-reflection data sets.

    ``intensity`` is the measured F² (the file's own scale; NaN where not measured),
    ``intensity_calc``/``amplitude``/``sign`` come from the model's F_calc (see
    :func:`measured_rows`).  Data sets that cannot be read, whose model does not match the
    data (Pearson r(I_meas, I_calc) below ``min_pearson``: all intensities zero, another
    structure's reflections, permuted indices), or (``centric_only``) that have no
    inversion centre at the origin, are skipped with their reason.  The folder may be given
    as a relative path or through a symbolic link.  Runs in-process (real folders are small).
    """
    start = time.perf_counter()
    rows, skipped, files = measured_rows(experimental_dir, n_reflections, centric_only,
                                         min_pearson)
    if not rows:
        raise ValueError(f"no usable measured data set in {str(experimental_dir)!r}: "
                         + "; ".join(str(s) for s in skipped[:10]))
    parameters = {"format_version": FORMAT_VERSION, "source": "measured",
                  "experimental_dir": str(Path(experimental_dir).resolve()), "files": files,
                  "n_reflections": int(n_reflections), "centric_only": bool(centric_only),
                  "min_pearson": None if min_pearson is None else float(min_pearson),
                  "n_structures": len(rows)}
    bounds = _chunk_bounds(len(rows), chunk_size)
    tasks = [(compute_measured_chunk, ({"n_reflections": int(n_reflections)}, i, rows[s:e]))
             for i, (s, e) in enumerate(bounds)]
    result = _build(path, "experimental", False, parameters, tasks, len(rows), chunk_size, 1,
                    "", progress, skipped, force, {"input_skipped": len(skipped)})
    result.seconds = time.perf_counter() - start
    return result
