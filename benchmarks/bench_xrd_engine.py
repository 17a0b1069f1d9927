"""Batched powder patterns (one structure + K variants at once) against pymatgen, per core.

    .venv/bin/python benchmarks/bench_xrd_engine.py            # 20 structures × 16 variants
    .venv/bin/python benchmarks/bench_xrd_engine.py -n 40 --json out.json --profile

Structures: a seeded sample of the MP-20 CSV in ../shared/data (``--csv`` for another), else a
few structures built with pymatgen.  For each, :func:`lib.xrd.variants.make_variants` makes
K variants (the structure itself and K − 1 strained / substituted / jittered copies; timed
apart, ``variants_per_s``).  Then, on the same variants, on one thread:

- engine: :func:`lib.xrd.variants.batch_peaks` (all K peak lists at once) and
  :func:`lib.xrd.profiles.gaussian_patterns` (report 2's Gaussian rendering, all K at once);
- baseline: ``XRDCalculator.get_pattern`` + ``patterns.render`` one pattern at a time
  (and, for ``xrd_ratio_vs_fast_peaks``, ``patterns.fast_peaks`` + ``patterns.render``).

``xrd_patterns_per_s`` and ``xrd_ratio_vs_pymatgen`` are end to end (peaks + profile on the
4500-point grid); ``max_abs_rel_error_vs_pymatgen`` is the largest |Δ intensity| / strongest
peak over all peaks (a peak missing on one side counts with its whole intensity), and
``max_abs_two_theta_error_deg`` the largest |Δ2θ| of matched peaks.  Times are the CPU time
of this process on one thread (``time.process_time``), so a busy shared machine does not
inflate them; the engine's time is the mean of ``repeats`` runs, the baseline's one run.
The pseudo-Voigt renderer is timed too (``xrd_pseudo_voigt_patterns_per_s``, peaks +
profile).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from lib import atomic, config  # noqa: E402
from lib.xrd import patterns, profiles, structures, variants  # noqa: E402


def _fallback_structures() -> list[Any]:
    """NaCl, Si, rutile, a monoclinic and a triclinic structure (when no MP CSV is at hand)."""
    from pymatgen.core import Lattice, Structure

    u = 0.3048
    return [
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                  [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.4309), ["Si"], [[0, 0, 0]]),
        Structure(Lattice.tetragonal(4.594, 2.959), ["Ti", "Ti", "O", "O", "O", "O"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [-u, -u, 0],
                   [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]]),
        Structure.from_spacegroup("C2/c", Lattice.monoclinic(9.7, 8.9, 5.3, 105.0),
                                  ["Ca", "Mg", "Si", "O"],
                                  [[0, 0.3, 0.25], [0, 0.9, 0.25], [0.29, 0.09, 0.23],
                                   [0.12, 0.09, 0.14]]),
        Structure.from_spacegroup("P-1", Lattice.from_parameters(5.1, 6.2, 7.3, 81, 95, 103),
                                  ["Na", "Al", "O", "O"],
                                  [[0.1, 0.2, 0.3], [0.4, 0.3, 0.8], [0.2, 0.7, 0.1],
                                   [0.6, 0.1, 0.4]]),
    ]


def load_structures(n: int, csv: str | None = None, seed: int = 0) -> tuple[list[Any], str]:
    """``n`` structures: a seeded MP-20 sample when the CSV is there (bad CIFs skipped and
    counted), else the built-in ones repeated."""
    if csv and not Path(csv).is_file():
        raise FileNotFoundError(f"MP-20 CSV {csv}: no such file")
    path = Path(csv) if csv else config.resolve_shared("shared", "mp20_subset", "mp20_subset.csv")
    if path is not None and Path(path).is_file():
        df = structures.read_mp_csv(path, limit=n, seed=seed)
        out, skipped = [], 0
        for _, row in df.iterrows():
            try:
                out.append(structures.structure_from_cif(row["cif"], str(row["material_id"])))
            except ValueError:
                skipped += 1
        return out, f"{len(out)} MP-20 structures from {path} ({skipped} skipped)"
    base = _fallback_structures()
    return [base[i % len(base)] for i in range(n)], f"{n} built-in structures (no MP-20 CSV)"


def _compare(engine: tuple[np.ndarray, np.ndarray],
             reference: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(largest |ΔI| / strongest peak, largest |Δ2θ| in degrees) of two peak lists (max 100),
    peaks matched within 10⁻⁴ ° 2θ; an unmatched peak counts with its whole intensity."""
    x0, y0 = reference
    x1, y1 = engine
    if len(x0) == 0 or len(x1) == 0:
        return (0.0 if len(x0) == len(x1) else 1.0), 0.0
    j = np.clip(np.searchsorted(x1, x0), 1, len(x1) - 1)
    j = np.where(np.abs(x1[j - 1] - x0) <= np.abs(x1[j] - x0), j - 1, j)
    matched = np.abs(x1[j] - x0) < 1e-4
    err = np.abs(y1[j] - y0)
    err = np.where(matched, err, y0)
    lonely = np.ones(len(x1), bool)
    lonely[j[matched]] = False
    worst = max(err.max(), y1[lonely].max(initial=0.0)) / 100.0
    dtt = np.abs(x1[j] - x0)[matched].max(initial=0.0)
    return float(worst), float(dtt)


def bench_xrd(n_structures: int = 20, k_variants: int = 16, csv: str | None = None,
              seed: int = 0, n_points: int = 4500, repeats: int = 3) -> dict[str, Any]:
    """Patterns per second (peaks + Gaussian profile on the grid, one thread) of the batched
    engine and of XRDCalculator + ``patterns.render``, their ratio and the largest deviations."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    grid = patterns.Grid(0.0, 90.0, n_points)
    parents, what = load_structures(n_structures, csv, seed)
    with threadpool_limits(1):
        start = time.process_time()
        batches = [variants.make_variants(s, k_variants, seed=seed + i)
                   for i, s in enumerate(parents)]
        t_variants = time.process_time() - start
        pmg_structures = [[b.structure(k) for k in range(len(b))] for b in batches]
        n_patterns = sum(len(b) for b in batches)

        def engine() -> list[variants.PeakBatch]:
            out = []
            for b in batches:
                pk = variants.batch_peaks(b)
                profiles.gaussian_patterns(pk.pattern, pk.two_theta, pk.intensity,
                                           pk.n_patterns, grid)
                out.append(pk)
            return out

        def engine_pv() -> None:
            for b in batches:
                pk = variants.batch_peaks(b)
                profiles.pseudo_voigt_patterns(pk.pattern, pk.two_theta, pk.intensity,
                                               pk.n_patterns, grid)

        engine()                                      # warm caches and imports
        t_engine = sum(_timed(engine) for _ in range(repeats)) / repeats
        t_pv = _timed(engine_pv)
        calc = XRDCalculator("CuKa")
        reference: list[list[tuple[np.ndarray, np.ndarray]]] = []

        def baseline() -> None:
            reference.clear()
            for group in pmg_structures:
                row = []
                for s in group:
                    p = calc.get_pattern(s, two_theta_range=(0.0, 90.0))
                    x, y = np.asarray(p.x, float), np.asarray(p.y, float)
                    patterns.render(x, y, grid, 5.0)
                    row.append((x, y))
                reference.append(row)

        t_base = _timed(baseline)

        def fast_loop() -> None:
            for group in pmg_structures:
                for s in group:
                    patterns.render(*patterns.fast_peaks(s), grid, 5.0)

        t_fast = _timed(fast_loop)
        peaks = engine()
    worst, worst_tt = 0.0, 0.0
    for pk, row in zip(peaks, reference):
        for k, ref in enumerate(row):
            e, d = _compare(pk.peaks(k), ref)
            worst, worst_tt = max(worst, e), max(worst_tt, d)
    return {
        "structures": what, "k_variants": k_variants, "n_patterns": n_patterns,
        "grid_points": n_points, "timing": "CPU time of one thread (time.process_time)",
        "variants_per_s": round(n_patterns / t_variants, 1),
        "xrd_patterns_per_s": round(n_patterns / t_engine, 1),
        "xrd_pymatgen_patterns_per_s": round(n_patterns / t_base, 1),
        "xrd_ratio_vs_pymatgen": round(t_base / t_engine, 2),
        "xrd_ratio_vs_fast_peaks": round(t_fast / t_engine, 2),
        "xrd_pseudo_voigt_patterns_per_s": round(n_patterns / t_pv, 1),
        "max_abs_rel_error_vs_pymatgen": worst,
        "max_abs_two_theta_error_deg": worst_tt,
    }


def _timed(fn: Any) -> float:
    """CPU seconds this process spends in ``fn()`` (one thread): a per-core figure that other
    jobs on a shared machine do not inflate, unlike wall-clock time."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="structures (default 20)")
    parser.add_argument("-k", type=int, default=16, help="variants per structure (default 16)")
    parser.add_argument("--csv", default=None, help="an MP-20-layout CSV")
    parser.add_argument("--json", default=None, help="also write the result to this file")
    parser.add_argument("--profile", action="store_true",
                        help="print where the engine spends its time (cProfile)")
    args = parser.parse_args()
    result = bench_xrd(args.n, args.k, args.csv)
    for key, value in result.items():
        print(f"{key:>34}: {value}")
    if args.profile:
        _profile(args.n, args.k, args.csv)
    if args.json:
        atomic.write_json(args.json, result)
    return 0


def _profile(n: int, k: int, csv: str | None) -> None:
    import cProfile
    import pstats

    parents, _ = load_structures(n, csv)
    batches = [variants.make_variants(s, k, seed=i) for i, s in enumerate(parents)]
    grid = patterns.Grid()
    prof = cProfile.Profile()
    prof.enable()
    for b in batches:
        pk = variants.batch_peaks(b)
        profiles.gaussian_patterns(pk.pattern, pk.two_theta, pk.intensity, pk.n_patterns, grid)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    raise SystemExit(main())
