"""Pattern data sets: generated in parallel (:mod:`lib.parallel`: in-process for one worker, else
a Dask ``LocalCluster``), cached to HDF5 (written by :func:`lib.atomic.hdf5_file`) with
provenance.

:func:`synthetic_dataset` (random pyxtal crystals, balanced over the 7 crystal systems) and
:func:`mp_dataset` (real structures from an MP-20-layout CSV) return an :class:`XRDData`.  Both
cache to ``<data_dir>/xrd_<kind>_<key>.h5``, where ``key`` hashes what decides the structures
and their peaks (seed, counts, symprec, engine, source file); the 2θ grid and the smoothing are
applied when loading, from the stored peak lists, so changing them never regenerates data.

HDF5 layout (written atomically: temporary name, then rename; root attr ``complete`` = True):

- ``peak_two_theta``, ``peak_intensity`` — variable-length float32 per structure (2θ in degrees,
  intensity with maximum 100; Cu Kα, 2θ 0–90°)
- ``pattern`` (n, n_points) float32 — the smoothed, normalised vectors on the grid of the run
  that wrote the file (grid and σ in attrs ``grid``, ``sigma``)
- ``space_group`` int16, ``crystal_system`` int8 (index into ``CRYSTAL_SYSTEMS``) — labels from
  SpacegroupAnalyzer with ``symprec`` (attrs)
- ``space_group_reference`` int16 — the space group asked of pyxtal, or the CSV's
  ``spacegroup.number``
- ``structure_id``, ``formula`` (reduced), ``cif`` — str; ``n_atoms`` int32
- attrs: ``kind``, ``simulated`` (patterns are always simulated; True), ``n_structures``,
  ``failures`` (JSON list of {id, reason}), ``provenance`` (JSON), ``complete``
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import atomic, parallel
from .patterns import CRYSTAL_SYSTEMS, Grid, crystal_system_of, peaks, render, symmetry_labels
from .profiles import gaussian_patterns
from .structures import StructureSpec, random_crystal, read_mp_csv, structure_from_cif, \
    synthetic_specs
from .variants import PeakBatch, VariantSettings, batch_peaks, make_variants

FORMAT_VERSION = 1


@dataclass
class XRDData:
    """Patterns and labels of one data set (rows = structures)."""

    patterns: np.ndarray                 # (n, n_points) float32, [0, 1]
    peak_two_theta: list[np.ndarray]     # degrees
    peak_intensity: list[np.ndarray]     # max 100
    space_group: np.ndarray              # (n,) int
    crystal_system: np.ndarray           # (n,) int, index into CRYSTAL_SYSTEMS
    space_group_reference: np.ndarray    # (n,) int
    structure_id: np.ndarray             # (n,) str
    formula: np.ndarray                  # (n,) str
    n_atoms: np.ndarray                  # (n,) int
    grid: Grid
    sigma: float
    failures: list[dict[str, str]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    cif_sources: list[Path] = field(default_factory=list)   # files holding the rows' CIFs
                                                            # (when not one ``path``)

    def __len__(self) -> int:
        return len(self.space_group)

    def first_of_system(self, system: str) -> int:
        """Row of the first structure of crystal system ``system`` (0 when there is none)."""
        rows = np.flatnonzero(self.crystal_system == CRYSTAL_SYSTEMS.index(system))
        return int(rows[0]) if len(rows) else 0

    def describe_row(self, row: int) -> str:
        """"<id> <formula>, space group <n>, <crystal system>" of one structure."""
        return (f"{self.structure_id[row]} {self.formula[row]}, space group "
                f"{self.space_group[row]}, {CRYSTAL_SYSTEMS[self.crystal_system[row]]}")

    def subset(self, index: np.ndarray) -> "XRDData":
        """Rows ``index`` of the data set."""
        idx = np.asarray(index)
        return XRDData(self.patterns[idx], [self.peak_two_theta[i] for i in idx],
                       [self.peak_intensity[i] for i in idx], self.space_group[idx],
                       self.crystal_system[idx], self.space_group_reference[idx],
                       self.structure_id[idx], self.formula[idx], self.n_atoms[idx],
                       self.grid, self.sigma, self.failures, self.provenance, self.path,
                       self.cif_sources)


# ---------------------------------------------------------------------------------------------
# Workers (run in worker processes: module-level, import only pymatgen / pyxtal)
# ---------------------------------------------------------------------------------------------

def _record(structure: Any, sid: str, reference: int, symprec: float, engine: str,
            cif: str | None = None) -> dict[str, Any]:
    labels = symmetry_labels(structure, symprec=symprec)
    tt, inten = peaks(structure, engine=engine)
    if len(tt) == 0:
        raise ValueError("no reflection between 0 and 90° 2θ")
    return {"id": sid, "ok": True, "two_theta": tt.astype(np.float32),
            "intensity": inten.astype(np.float32), "space_group": labels["space_group"],
            "crystal_system": CRYSTAL_SYSTEMS.index(labels["crystal_system"]),
            "reference": int(reference), "formula": structure.composition.reduced_formula,
            "n_atoms": len(structure), "cif": cif if cif is not None else structure.to(fmt="cif")}


def _synthetic_chunk(specs: Sequence[StructureSpec], max_atoms: int, max_attempts: int,
                     symprec: float, engine: str, id_prefix: str) -> list[dict[str, Any]]:
    warnings.simplefilter("ignore")
    out = []
    for spec in specs:
        sid = f"{id_prefix}{spec.index:06d}"
        structure, reason = random_crystal(spec, max_atoms=max_atoms, max_attempts=max_attempts)
        if structure is None:
            out.append({"id": sid, "ok": False, "reason": reason})
            continue
        try:
            out.append(_record(structure, sid, spec.space_group, symprec, engine))
        except Exception as exc:
            out.append({"id": sid, "ok": False, "reason": f"{type(exc).__name__}: {exc}"[:300]})
    return out


def _mp_chunk(rows: Sequence[tuple[str, str, int]], symprec: float, engine: str,
              ) -> list[dict[str, Any]]:
    warnings.simplefilter("ignore")
    out = []
    for material_id, cif, reference in rows:
        try:
            structure = structure_from_cif(cif, name=str(material_id))
            out.append(_record(structure, str(material_id), reference, symprec, engine, cif))
        except Exception as exc:
            out.append({"id": str(material_id), "ok": False,
                        "reason": f"{type(exc).__name__}: {exc}"[:300]})
    return out


def generate(func: Callable[..., list[dict]], chunks: Sequence[Sequence[Any]], n_workers: int,
             desc: str, progress: bool = True, **kwargs: Any) -> list[dict[str, Any]]:
    """The records of ``func(chunk, **kwargs)`` for every chunk, in the chunks' order, computed
    by :func:`lib.parallel.map_chunks` (in this process for ``n_workers`` = 1, else on a Dask
    ``LocalCluster`` of ``n_workers`` processes), with a progress bar counting structures."""
    per_chunk = parallel.map_chunks(func, chunks, n_workers, desc=desc, unit="structure",
                                    progress=progress, **kwargs)
    return [record for records in per_chunk for record in records]


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------------------------
# HDF5 cache
# ---------------------------------------------------------------------------------------------

def cache_key(params: dict[str, Any]) -> str:
    """Short hash of the parameters that decide a data set's structures and peaks."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_dataset(path: str | Path, records: list[dict[str, Any]], kind: str,
                  params: dict[str, Any], grid: Grid, sigma: float,
                  seconds: float | None = None) -> Path:
    """Write the successful ``records`` (and the failures, as an attr) to HDF5, atomically."""
    import h5py

    from ..metrics import package_versions

    good = [r for r in records if r["ok"]]
    failures = [{"id": r["id"], "reason": r["reason"]} for r in records if not r["ok"]]
    patterns = np.stack([render(r["two_theta"], r["intensity"], grid, sigma) for r in good]) \
        .astype(np.float32) if good else np.zeros((0, grid.n_points), np.float32)
    provenance = {"params": params, "format_version": FORMAT_VERSION,
                  "radiation": "CuKa (1.54184 Å)", "two_theta_range": [0.0, 90.0],
                  "packages": package_versions(("numpy", "scipy", "pymatgen", "pyxtal", "spglib",
                                                "h5py")),
                  "n_failed": len(failures), "seconds": seconds,
                  "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = Path(path)
    with atomic.hdf5_file(path) as h5:
        vf = h5py.vlen_dtype(np.float32)
        st = h5py.string_dtype()
        n = len(good)
        d = h5.create_dataset("peak_two_theta", (n,), dtype=vf)
        e = h5.create_dataset("peak_intensity", (n,), dtype=vf)
        for i, r in enumerate(good):
            d[i] = r["two_theta"]
            e[i] = r["intensity"]
        h5.create_dataset("pattern", data=patterns, compression="gzip", compression_opts=4,
                          chunks=(max(1, min(n, 256)), grid.n_points) if n else None)
        h5.create_dataset("space_group", data=np.array([r["space_group"] for r in good],
                                                       np.int16))
        h5.create_dataset("crystal_system", data=np.array([r["crystal_system"] for r in good],
                                                          np.int8))
        h5.create_dataset("space_group_reference",
                          data=np.array([r["reference"] for r in good], np.int16))
        h5.create_dataset("n_atoms", data=np.array([r["n_atoms"] for r in good], np.int32))
        for name, key in (("structure_id", "id"), ("formula", "formula"), ("cif", "cif")):
            h5.create_dataset(name, data=np.array([r[key] for r in good], dtype=object),
                              dtype=st)
        h5.attrs["kind"] = kind
        h5.attrs["simulated"] = True
        h5.attrs["n_structures"] = n
        h5.attrs["crystal_systems"] = json.dumps(list(CRYSTAL_SYSTEMS))
        h5.attrs["grid"] = json.dumps(grid.to_dict())
        h5.attrs["sigma"] = float(sigma)
        h5.attrs["symprec"] = float(params.get("symprec", float("nan")))
        h5.attrs["failures"] = json.dumps(failures)
        h5.attrs["provenance"] = json.dumps(provenance, default=str)
    return path


def load_dataset(path: str | Path, grid: Grid | None = None, sigma: float | None = None,
                 ) -> XRDData:
    """Read a pattern data set; re-render the patterns from the peaks when ``grid``/``sigma``
    differ from the file's.  Clear error naming the file when missing or incomplete."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"XRD data set {path}: no such file")
    with h5py.File(path, "r") as h5:
        if not h5.attrs.get("complete", False):
            raise ValueError(f"XRD data set {path}: incomplete (no 'complete' flag); delete it")
        file_grid = Grid.from_dict(json.loads(h5.attrs["grid"]))
        file_sigma = float(h5.attrs["sigma"])
        tt = [np.asarray(a, float) for a in h5["peak_two_theta"][...]]
        inten = [np.asarray(a, float) for a in h5["peak_intensity"][...]]
        grid = grid or file_grid
        sigma = file_sigma if sigma is None else float(sigma)
        if grid == file_grid and sigma == file_sigma:
            patterns = h5["pattern"][...]
        else:
            patterns = np.stack([render(a, b, grid, sigma) for a, b in zip(tt, inten)]) \
                .astype(np.float32) if tt else np.zeros((0, grid.n_points), np.float32)

        def strings(name: str) -> np.ndarray:
            return np.array([s.decode() if isinstance(s, bytes) else s for s in h5[name][...]],
                            dtype=object)

        return XRDData(patterns=patterns, peak_two_theta=tt, peak_intensity=inten,
                       space_group=h5["space_group"][...].astype(int),
                       crystal_system=h5["crystal_system"][...].astype(int),
                       space_group_reference=h5["space_group_reference"][...].astype(int),
                       structure_id=strings("structure_id"), formula=strings("formula"),
                       n_atoms=h5["n_atoms"][...].astype(int), grid=grid, sigma=sigma,
                       failures=json.loads(h5.attrs["failures"]),
                       provenance=json.loads(h5.attrs["provenance"]), path=path)


def _cached(path: Path, params: dict[str, Any], grid: Grid, sigma: float) -> XRDData | None:
    if not path.is_file():
        return None
    try:
        data = load_dataset(path, grid, sigma)
    except Exception:
        return None
    if data.provenance.get("params") != json.loads(json.dumps(params, default=str)):
        return None
    return data


# ---------------------------------------------------------------------------------------------
# The two data sets
# ---------------------------------------------------------------------------------------------

def synthetic_dataset(data_dir: str | Path, n_per_system: int, seed: int, grid: Grid,
                      sigma: float = 5.0, symprec: float = 0.1, max_atoms: int = 24,
                      max_attempts: int = 10, engine: str = "fast", n_workers: int = 1,
                      chunk_size: int = 16, progress: bool = True, refresh: bool = False,
                      ) -> XRDData:
    """Random pyxtal crystals, ``n_per_system`` per crystal system over all 230 space groups;
    their patterns and labels, generated in parallel and cached to HDF5."""
    params = {"kind": "synthetic", "generator": "pyxtal.from_random", "n_per_system": n_per_system,
              "seed": seed, "symprec": symprec, "max_atoms": max_atoms,
              "max_attempts": max_attempts, "engine": engine}
    path = Path(data_dir) / f"xrd_synthetic_{cache_key(params)}.h5"
    if not refresh and (data := _cached(path, params, grid, sigma)) is not None:
        return data
    specs = synthetic_specs(n_per_system, seed)
    start = time.perf_counter()
    records = generate(_synthetic_chunk, _chunks(specs, chunk_size), n_workers,
                           "pyxtal + XRD", progress, max_atoms=max_atoms,
                           max_attempts=max_attempts, symprec=symprec, engine=engine,
                           id_prefix=f"pyxtal-{seed}-")
    seconds = time.perf_counter() - start
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    write_dataset(path, records, "synthetic", params, grid, sigma, seconds)
    return load_dataset(path, grid, sigma)


def mp_dataset(csv_path: str | Path, data_dir: str | Path, grid: Grid, sigma: float = 5.0,
               symprec: float = 0.1, limit: int = 0, seed: int = 0, engine: str = "fast",
               n_workers: int = 1, chunk_size: int = 32, progress: bool = True,
               refresh: bool = False) -> XRDData:
    """Patterns and labels of the real structures of an MP-20-layout CSV, cached to HDF5.

    Rows whose CIF cannot be parsed or simulated are skipped and listed in ``failures``.
    """
    csv_path = Path(csv_path)
    stat = csv_path.stat() if csv_path.is_file() else None
    params = {"kind": "mp", "csv": str(csv_path.resolve()),
              "csv_size": stat.st_size if stat else None, "limit": limit, "seed": seed,
              "symprec": symprec, "engine": engine}
    path = Path(data_dir) / f"xrd_mp_{cache_key(params)}.h5"
    if not refresh and (data := _cached(path, params, grid, sigma)) is not None:
        return data
    df = read_mp_csv(csv_path, limit=limit, seed=seed)
    rows = [(str(r["material_id"]), r["cif"], int(r["spacegroup.number"]))
            for _, r in df.iterrows()]
    start = time.perf_counter()
    records = generate(_mp_chunk, _chunks(rows, chunk_size), n_workers, "MP + XRD", progress,
                           symprec=symprec, engine=engine)
    seconds = time.perf_counter() - start
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    write_dataset(path, records, "mp", params, grid, sigma, seconds)
    return load_dataset(path, grid, sigma)


def _cod_chunk(paths: Sequence[str], symprec: float, engine: str, max_atoms: int,
               ) -> list[dict[str, Any]]:
    warnings.simplefilter("ignore")
    out = []
    for path in paths:
        sid = f"cod-{Path(path).stem}"
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
            structure = structure_from_cif(text, name=str(path))
            if len(structure) > max_atoms:
                raise ValueError(f"{len(structure)} atoms in the cell, more than {max_atoms}")
            if any(el.symbol in ("X", "Xx") or el.Z == 0 for el in structure.composition):
                raise ValueError("atoms of unknown type")
            out.append(_record(structure, sid, _cif_space_group(text), symprec, engine))
        except Exception as exc:
            out.append({"id": sid, "ok": False, "reason": f"{type(exc).__name__}: {exc}"[:300]})
    return out


def _cif_space_group(text: str) -> int:
    """The space-group number a CIF states (``_space_group_IT_number`` or
    ``_symmetry_Int_Tables_number``), 0 when it states none."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].lower() in ("_space_group_it_number",
                                                    "_symmetry_int_tables_number"):
            try:
                return int(parts[1])
            except ValueError:
                return 0
    return 0


def cod_files(folder: str | Path) -> list[Path]:
    """One CIF per COD entry under ``folder`` (recursively): ``<id>.cif``, or when only
    variants of it exist (``<id>__<note>.cif``), the first of them by name."""
    chosen: dict[str, Path] = {}
    for path in sorted(Path(folder).rglob("*.cif")):
        entry = path.stem.split("__")[0]
        if entry not in chosen or path.stem == entry:
            chosen[entry] = path
    return [chosen[k] for k in sorted(chosen)]


def cod_dataset(folder: str | Path, data_dir: str | Path, grid: Grid, sigma: float = 5.0,
                symprec: float = 0.1, engine: str = "fast", max_atoms: int = 400,
                n_workers: int = 1, chunk_size: int = 8, progress: bool = True,
                refresh: bool = False) -> XRDData:
    """Patterns and labels of the COD structures under ``folder`` (one CIF per entry:
    :func:`cod_files`), cached to HDF5 like the other sets.  Real structures with larger cells
    than pyxtal's, for training: the caller keeps the split free of test compositions.
    Entries that cannot be parsed, have atoms of unknown type, more than ``max_atoms`` atoms in
    the cell, or no reflection, are skipped and listed in ``failures``; labels from
    SpacegroupAnalyzer (``symprec`` Å; disordered sites count as their own species)."""
    folder = Path(folder)
    files = cod_files(folder)
    if not files:
        raise ValueError(f"COD folder {folder}: no .cif files")
    params = {"kind": "cod", "folder": str(folder.resolve()), "n_files": len(files),
              "bytes": sum(f.stat().st_size for f in files), "symprec": symprec,
              "engine": engine, "max_atoms": max_atoms}
    path = Path(data_dir) / f"xrd_cod_{cache_key(params)}.h5"
    if not refresh and (data := _cached(path, params, grid, sigma)) is not None:
        return data
    start = time.perf_counter()
    records = generate(_cod_chunk, _chunks([str(f) for f in files], chunk_size), n_workers,
                       "COD + XRD", progress, symprec=symprec, engine=engine,
                       max_atoms=max_atoms)
    seconds = time.perf_counter() - start
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    write_dataset(path, records, "cod", params, grid, sigma, seconds)
    return load_dataset(path, grid, sigma)


def concatenate(sets: Sequence[XRDData]) -> XRDData:
    """The rows of several data sets on one grid, in order (failures and provenance of the
    first; ``path`` None unless all come from one file, the files in ``cif_sources``, where
    :func:`variant_set` reads the rows' CIFs)."""
    if not sets:
        raise ValueError("concatenate: no data sets")
    first = sets[0]
    for other in sets[1:]:
        if other.grid != first.grid or other.sigma != first.sigma:
            raise ValueError("concatenate: data sets on different grids or σ")
    paths = {s.path for s in sets}
    out = XRDData(np.concatenate([s.patterns for s in sets]),
                  [t for s in sets for t in s.peak_two_theta],
                  [i for s in sets for i in s.peak_intensity],
                  np.concatenate([s.space_group for s in sets]),
                  np.concatenate([s.crystal_system for s in sets]),
                  np.concatenate([s.space_group_reference for s in sets]),
                  np.concatenate([s.structure_id for s in sets]),
                  np.concatenate([s.formula for s in sets]),
                  np.concatenate([s.n_atoms for s in sets]), first.grid, first.sigma,
                  list(first.failures), dict(first.provenance),
                  next(iter(paths)) if len(paths) == 1 else None,
                  [p for s in sets for p in ([s.path] if s.path else s.cif_sources)])
    return out


def group_split(data: XRDData, test_fraction: float, validation_fraction: float, seed: int,
                ) -> dict[str, np.ndarray]:
    """Train / validation / test row indices sharing no structure and no composition.

    Rows are grouped by reduced formula (so two random crystals of the same composition, or
    augmented copies of one structure, never straddle a split) and stratified by crystal system
    with scikit-learn's StratifiedGroupKFold.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n = len(data)
    groups = data.formula.astype(str)
    y = data.crystal_system

    def split(index: np.ndarray, fraction: float, rs: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(2, int(round(1 / fraction)))
        counts = np.bincount(y[index])
        k = min(k, max(2, int(counts.max())))      # sklearn needs one class with >= k members
        k = min(k, len(np.unique(groups[index])))
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=rs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rest, held = next(cv.split(np.zeros(len(index)), y[index], groups[index]))
        return index[rest], index[held]

    train_val, test = split(np.arange(n), test_fraction, seed)
    train, val = split(train_val, validation_fraction / max(1e-9, 1 - test_fraction), seed + 1)
    return {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}


# ---------------------------------------------------------------------------------------------
# Variants of structures (lib.xrd.variants): more training patterns without more pyxtal calls
# ---------------------------------------------------------------------------------------------

@dataclass
class VariantSet:
    """Patterns of K variants of each of a set of parent structures (rows = variants).

    ``patterns`` (n, n_points) float32 in [0, 1]: Gaussian profiles (report mode, σ in grid
    points) of the variants' Cu Kα peak lists; ``parent``: row of each variant's parent in the
    parent :class:`XRDData`; ``parent_id``; ``space_group`` / ``crystal_system``: the variant's
    (= its parent's space group, :func:`lib.xrd.variants.make_variants` keeps it); ``formula``:
    the variant's reduced formula (element substitution changes it).  ``failures``: parents
    without variants ({id, reason}); ``redrawn`` / ``fallbacks``: see
    :class:`lib.xrd.variants.VariantBatch`; ``peaks``: the variants' peak lists (2θ degrees,
    intensity max 100; ``peaks.pattern`` = row), for simulations drawn per epoch.
    """

    patterns: np.ndarray
    parent: np.ndarray
    parent_id: np.ndarray
    space_group: np.ndarray
    crystal_system: np.ndarray
    formula: np.ndarray
    failures: list[dict[str, str]] = field(default_factory=list)
    redrawn: int = 0
    fallbacks: int = 0
    seconds: float = 0.0
    peaks: PeakBatch | None = None

    def __len__(self) -> int:
        return len(self.parent)

    def subset(self, index: np.ndarray) -> "VariantSet":
        """Rows ``index`` of the set (their peak lists renumbered in the new order)."""
        idx = np.asarray(index, int)
        peaks_ = None if self.peaks is None else peak_rows(self.peaks, idx)
        return VariantSet(self.patterns[idx], self.parent[idx], self.parent_id[idx],
                          self.space_group[idx], self.crystal_system[idx], self.formula[idx],
                          self.failures, self.redrawn, self.fallbacks, self.seconds, peaks_)


def peak_rows(peaks: PeakBatch, rows: np.ndarray) -> PeakBatch:
    """The peak lists of patterns ``rows`` (distinct), renumbered 0..len(rows)−1 in that order."""
    rows = np.asarray(rows, int)
    new_row = np.full(peaks.n_patterns, -1)
    new_row[rows] = np.arange(len(rows))
    sel = np.flatnonzero(new_row[peaks.pattern] >= 0)
    order = sel[np.argsort(new_row[peaks.pattern[sel]], kind="stable")]
    return PeakBatch(new_row[peaks.pattern[order]], peaks.two_theta[order],
                     peaks.intensity[order], len(rows))


def training_peaks(parents: XRDData, variants: VariantSet) -> PeakBatch:
    """The peak lists (2θ degrees, intensity max 100) of ``parents`` (rows 0..P−1) followed by
    those of ``variants`` (rows P..), one :class:`PeakBatch`, for patterns drawn per epoch."""
    counts = [len(t) for t in parents.peak_two_theta]
    pattern = np.repeat(np.arange(len(parents)), counts)
    tt = [np.asarray(t, np.float32) for t in parents.peak_two_theta]
    inten = [np.asarray(i, np.float32) for i in parents.peak_intensity]
    if variants.peaks is not None and len(variants):
        pattern = np.concatenate([pattern, variants.peaks.pattern + len(parents)])
        tt.append(np.asarray(variants.peaks.two_theta, np.float32))
        inten.append(np.asarray(variants.peaks.intensity, np.float32))
    return PeakBatch(pattern.astype(np.int64), np.concatenate(tt) if tt else np.zeros(0),
                     np.concatenate(inten) if inten else np.zeros(0),
                     len(parents) + len(variants))


def read_cifs(path: str | Path) -> dict[str, str]:
    """The CIF of every structure of a data set file, by structure id."""
    import h5py

    with h5py.File(path, "r") as h5:
        ids = [s.decode() if isinstance(s, bytes) else s for s in h5["structure_id"][...]]
        cifs = [s.decode() if isinstance(s, bytes) else s for s in h5["cif"][...]]
    return dict(zip(ids, cifs))


def variant_seed(seed: int, structure_id: str) -> int:
    """The seed of one parent's variants: from the run's seed and the parent's id (so a
    parent's variants do not depend on which other parents are in the set)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(str(structure_id).encode())])
               .generate_state(1)[0])


def _reduced_formula(symbols: Sequence[str], occupancies: np.ndarray) -> str:
    """Reduced formula of a cell's atoms (element symbols with their site occupancies)."""
    from pymatgen.core import Composition

    amounts: dict[str, float] = {}
    for el, occ in zip(symbols, occupancies):
        amounts[str(el)] = amounts.get(str(el), 0.0) + float(occ)
    return Composition(amounts).reduced_formula


def _variant_chunk(rows: Sequence[tuple[int, str, str]], k: int, seed: int,
                   settings: VariantSettings) -> list[dict[str, Any]]:
    """Peak lists (Cu Kα, 2θ 0–90°) of ``k`` variants of each parent (row, id, CIF)."""
    warnings.simplefilter("ignore")
    out = []
    for row, sid, cif in rows:
        try:
            structure = structure_from_cif(cif, name=sid)
            batch = make_variants(structure, k + 1, seed=variant_seed(seed, sid),
                                  settings=settings, include_parent=True)
            peaks_ = batch_peaks(batch, (0.0, 90.0))
            keep = peaks_.pattern >= 1                       # row 0 is the (idealised) parent
            formulas = [_reduced_formula(batch.symbols[j], batch.occupancies)
                        for j in range(1, len(batch))]
            out.append({"row": row, "id": sid, "ok": True, "pattern": peaks_.pattern[keep] - 1,
                        "two_theta": peaks_.two_theta[keep], "intensity": peaks_.intensity[keep],
                        "n": len(batch) - 1, "space_group": int(batch.space_group),
                        "formula": formulas, "redrawn": batch.redrawn,
                        "fallbacks": batch.fallbacks})
        except Exception as exc:
            out.append({"row": row, "id": sid, "ok": False,
                        "reason": f"{type(exc).__name__}: {exc}"[:300]})
    return out


def variant_set(parents: XRDData, k: int, seed: int, grid: Grid, sigma: float = 5.0,
                settings: VariantSettings = VariantSettings(), n_workers: int = 1,
                chunk_size: int = 8, progress: bool = True, render_chunk: int = 2048,
                ) -> VariantSet:
    """``k`` variants of every structure of ``parents`` (lattice strained within its crystal
    system, elements substituted, free coordinates jittered: :func:`make_variants`), their
    peak lists by :func:`batch_peaks` (= ``XRDCalculator``, Cu Kα, 2θ 0–90°) and their
    Gaussian profiles on ``grid`` (:func:`profiles.gaussian_patterns`, σ in points).

    The parents' CIFs are read from ``parents.path`` (or ``parents.cif_sources``); a parent
    whose variants fail is listed in ``failures`` and the rest go on.  Generated over
    ``n_workers`` processes.
    """
    if k < 0:
        raise ValueError(f"n_variants must be >= 0, got {k}")
    empty = VariantSet(np.zeros((0, grid.n_points), np.float32), np.zeros(0, int),
                       np.zeros(0, object), np.zeros(0, int), np.zeros(0, int),
                       np.zeros(0, object))
    if k == 0 or not len(parents):
        return empty
    sources = [parents.path] if parents.path is not None else parents.cif_sources
    if not sources:
        raise ValueError("variant_set needs parents read from a data set file (their CIFs)")
    cifs = {k: v for source in sources for k, v in read_cifs(source).items()}
    rows = [(i, str(sid), cifs[str(sid)]) for i, sid in enumerate(parents.structure_id)]
    start = time.perf_counter()
    records = generate(_variant_chunk, _chunks(rows, chunk_size), n_workers, "variants + XRD",
                       progress, k=k, seed=seed, settings=settings)
    good = [r for r in records if r["ok"]]
    failures = [{"id": r["id"], "reason": r["reason"]} for r in records if not r["ok"]]
    n = sum(r["n"] for r in good)
    if not n:
        empty.failures = failures
        return empty
    offsets = np.cumsum([0] + [r["n"] for r in good])
    pattern = np.concatenate([r["pattern"] + o for r, o in zip(good, offsets)])
    two_theta = np.concatenate([r["two_theta"] for r in good])
    intensity = np.concatenate([r["intensity"] for r in good])
    patterns = np.empty((n, grid.n_points), np.float32)
    for lo in range(0, n, render_chunk):
        hi = min(n, lo + render_chunk)
        sel = (pattern >= lo) & (pattern < hi)
        patterns[lo:hi] = gaussian_patterns(pattern[sel] - lo, two_theta[sel], intensity[sel],
                                            hi - lo, grid, sigma)
    parent = np.concatenate([np.full(r["n"], r["row"]) for r in good])
    space_group = np.concatenate([np.full(r["n"], r["space_group"]) for r in good])
    return VariantSet(
        patterns=patterns, parent=parent, parent_id=parents.structure_id[parent],
        space_group=space_group,
        crystal_system=np.array([CRYSTAL_SYSTEMS.index(crystal_system_of(int(g)))
                                 for g in space_group]),
        formula=np.array([f for r in good for f in r["formula"]], dtype=object),
        failures=failures, redrawn=sum(r["redrawn"] for r in good),
        fallbacks=sum(r["fallbacks"] for r in good), seconds=time.perf_counter() - start,
        peaks=PeakBatch(pattern, two_theta.astype(np.float32), intensity.astype(np.float32), n))
