"""Throughput of the data-set builder vs a plain one-structure-at-a-time cctbx loop.

    python benchmarks/bench_structure_factors.py                 # short: 1024 structures, 2 workers
    python benchmarks/bench_structure_factors.py --n 2000 --workers 16 --chunk-size 100

The plain loop generates random P-1 structures (``lib.phases.structures.generate_structure``)
and computes F on the report's 4630 reflections with cctbx's direct summation, keeping the
results in memory.  The builder (``lib.phases.build.build_generated``) runs with ``--engine``
(``batched``, the default of ``00_data``: the vectorised generator and NumPy engine; or
``cctbx``, the same per-structure path as the plain loop) chunks on a Dask
LocalCluster of ``--workers`` processes (in-process when 1), saves them, and assembles the
HDF5 file.  Printed: structures per second of each, their ratio, and the projection to the
report's 150,000 structures.  A ratio, not a timed test: the target is that the builder scales
with the workers (compute ratio ≈ workers on an idle machine; start-up of a LocalCluster costs a
few seconds, so short runs end to end favour the plain loop) and that 150,000 × 4630 is
feasible on a 16-core node.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lib.phases import build, store
from lib.phases.reflections import index_set
from lib.phases.structure_factors import calculate
from lib.phases.structures import GeneratorParameters, generate_structure


def plain_loop(n: int, seed: int, generator: GeneratorParameters) -> float:
    """Structures per second of a plain loop: generate, compute F, keep |F|² and sign."""
    hkl = index_set(4630)
    intensity = np.empty((n, len(hkl)), np.float32)
    sign = np.empty((n, len(hkl)), np.int8)
    start = time.perf_counter()
    for i in range(n):
        sf = calculate(generate_structure(generator, seed, i), hkl)
        intensity[i] = sf.intensity
        sign[i] = sf.sign
    return n / (time.perf_counter() - start)


def builder(n: int, seed: int, generator: GeneratorParameters, workers: int,
            chunk_size: int, engine: str) -> tuple[float, float, float]:
    """Structures per second of the builder: (compute after the cluster is up, end to end
    incl. cluster start-up and HDF5 assembly), and the cluster start-up seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        result = build.build_generated(Path(tmp) / "calculated.h5", "calculated", n, seed,
                                         generator=generator, chunk_size=chunk_size,
                                         n_workers=workers, progress=False,
                                         engine=engine)
        compute = result.compute_seconds - result.startup_seconds
        return n / compute, n / result.seconds, result.startup_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="structures (default 1024)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--chunk-size", type=int, default=128,
                        help="structures per task (a multiple of the generator block, 64)")
    parser.add_argument("--atoms-max", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=("batched", "cctbx"), default="batched")
    args = parser.parse_args()
    generator = GeneratorParameters(atoms_max=args.atoms_max)
    plain = plain_loop(args.n, args.seed, generator)
    compute, end_to_end, startup = builder(args.n, args.seed, generator, args.workers,
                                           args.chunk_size, args.engine)
    print(f"structures: {args.n}, atoms per asymmetric unit {generator.atoms_min}-"
          f"{generator.atoms_max}, 4630 reflections; builder engine {args.engine}")
    print(f"plain cctbx loop (1 process):      {plain:8.1f} structures/s")
    print(f"builder, {args.workers} worker(s), compute:     {compute:8.1f} structures/s "
          f"(after {startup:.1f} s of cluster start-up)")
    print(f"builder, end to end (HDF5, Dask):   {end_to_end:8.1f} structures/s")
    print(f"ratio builder/plain: compute {compute / plain:.2f}, end to end "
          f"{end_to_end / plain:.2f} (ideal ≈ {args.workers})")
    per_worker = compute / args.workers
    print(f"projection: 150,000 structures on 16 workers ≈ "
          f"{150_000 / (16 * per_worker) / 60:.1f} min (at {per_worker:.1f} structures/s per "
          f"worker measured here)")


if __name__ == "__main__":
    main()
