"""Throughput of the pattern pipeline against pymatgen's XRDCalculator, one structure at a time.

    .venv/bin/python benchmarks/bench_xrd_patterns.py                 # short (about a minute)
    .venv/bin/python benchmarks/bench_xrd_patterns.py -n 1355 --workers 4

Structures: the MP-20 CSV in ../shared/data when present (``--csv`` for another), else random
pyxtal crystals.  Each pattern = CIF parsed, space group found (SpacegroupAnalyzer), peak
list computed, placed on the 2θ grid, smoothed and normalised: the same work on both sides.

- baseline: a loop calling ``XRDCalculator.get_pattern`` for one structure after another;
- engine: the same loop with ``lib.xrd.patterns.fast_peaks`` (vectorised, same numbers);
- pipeline: ``lib.xrd.dataset.generate`` (``lib.parallel``: a Dask ``LocalCluster`` of
  ``--workers`` processes) with the fast engine (what the notebook runs), cluster start-up
  included.

Prints patterns per second and the ratios to the baseline, for the pattern step alone
(structures already parsed) and for the full work per structure.  For random pyxtal crystals
the structure generation itself (~0.1 s each) dominates the notebook's data time; processes
are what speed that up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import config  # noqa: E402
from lib.xrd import dataset, patterns, structures  # noqa: E402


def _rows(n: int, csv: str | None) -> tuple[list[tuple[str, str, int]], str]:
    path = Path(csv) if csv else config.resolve_shared("shared", "mp20_subset", "mp20_subset.csv")
    if path is not None and Path(path).is_file():
        df = structures.read_mp_csv(path, limit=n, seed=0)
        return ([(str(r["material_id"]), r["cif"], int(r["spacegroup.number"]))
                 for _, r in df.iterrows()], f"{len(df)} MP-20 structures from {path}")
    rows = []
    for spec in structures.synthetic_specs(max(1, n // 7 + 1), seed=0)[:n]:
        s, _ = structures.random_crystal(spec)
        if s is not None:
            rows.append((f"pyxtal-{spec.index}", s.to(fmt="cif"), spec.space_group))
    return rows, f"{len(rows)} random pyxtal structures (no MP-20 CSV found)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=150, help="structures (default 150)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--csv", default=None, help="an MP-20-layout CSV")
    parser.add_argument("--n-points", type=int, default=4500)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    grid = patterns.Grid(0.0, 90.0, args.n_points)
    rows, what = _rows(args.n, args.csv)
    print(f"bench_xrd_patterns: {what}; grid {grid.n_points} points; "
          f"{args.workers} worker process(es)")

    def full_loop(engine: str) -> float:
        start = time.perf_counter()
        for r in dataset._mp_chunk(rows, symprec=0.1, engine=engine):
            if r["ok"]:
                patterns.render(r["two_theta"], r["intensity"], grid, 5.0)
        return time.perf_counter() - start

    parsed = [structures.structure_from_cif(c, i) for i, c, _ in rows]

    def pattern_loop(engine: str) -> float:
        start = time.perf_counter()
        for s in parsed:
            patterns.render(*patterns.peaks(s, engine=engine), grid, 5.0)
        return time.perf_counter() - start

    dataset._mp_chunk(rows[:2], symprec=0.1, engine="pymatgen")   # warm the imports
    dataset._mp_chunk(rows[:2], symprec=0.1, engine="fast")
    n = len(rows)
    p_base, p_fast = pattern_loop("pymatgen"), pattern_loop("fast")
    t_base, t_fast = full_loop("pymatgen"), full_loop("fast")
    start = time.perf_counter()
    recs = dataset.generate(dataset._mp_chunk, dataset._chunks(rows, 16), args.workers,
                            "pipeline", progress=False, symprec=0.1, engine="fast")
    for r in recs:
        if r["ok"]:
            patterns.render(r["two_theta"], r["intensity"], grid, 5.0)
    t_pipe = time.perf_counter() - start
    print("\npattern only (structure already parsed -> peaks -> grid -> smoothed):")
    print(f"  {'method':<52} {'patterns/s':>11} {'ratio':>7}")
    for name, t in (("XRDCalculator.get_pattern, one at a time", p_base),
                    ("fast_peaks, one at a time", p_fast)):
        print(f"  {name:<52} {n / t:11.1f} {p_base / t:7.2f}")
    print("\nfull work per structure (CIF parsed, space group, peaks, grid, smoothed):")
    print(f"  {'method':<52} {'patterns/s':>11} {'ratio':>7}")
    for name, t in (("baseline: XRDCalculator, one at a time", t_base),
                    ("fast_peaks, one at a time", t_fast),
                    (f"pipeline: fast_peaks, {args.workers} processes (start-up included)",
                     t_pipe)):
        print(f"  {name:<52} {n / t:11.1f} {t_base / t:7.2f}")
    print(f"\nratio pattern routine fast/XRDCalculator = {p_base / p_fast:.2f}")
    print(f"ratio pipeline/baseline = {t_base / t_pipe:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
