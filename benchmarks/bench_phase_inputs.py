"""Streamed vs in-memory training batches of the phase-learning notebooks (lib.phases.inputs).

    python benchmarks/bench_phase_inputs.py                       # a data set made here
    python benchmarks/bench_phase_inputs.py --path runs/default/data/calculated.h5 --rows 20000

Reads every batch of one epoch of a split (4630 reflections, sign targets with intensity
weights, block-shuffled) once streamed from HDF5 and once from memory, and prints batches per
second of each, their ratio, the peak Python memory of each mode (tracemalloc) and the
projection to one epoch of the ``full`` profile (135,000 training structures).  A ratio, not a
timed test: streaming must keep memory at a few batches whatever the data-set size, at a
throughput well above what a GPU step on the 4630-wide MLP needs (a few hundred structures per
second per GPU).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from lib.phases.inputs import ReflectionBatches, RowRange

FULL_TRAIN_STRUCTURES = 135_000


def one_epoch(path: Path, rows: int, n_reflections: int, batch_size: int,
              in_memory: bool) -> tuple[float, float, int]:
    """(seconds to build, seconds for one epoch of batches, peak bytes)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    batches = ReflectionBatches(path, RowRange(0, rows), n_reflections, batch_size,
                                weight_type="intensity", shuffle=True, seed=0,
                                in_memory=in_memory)
    t1 = time.perf_counter()
    for i in range(len(batches)):
        batches[i]
    t2 = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    batches.close()
    return t1 - t0, t2 - t1, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, help="a data set (default: make 400 structures)")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--reflections", type=int, default=4630)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)

    path = args.path
    if path is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from _fake_data import write_fake_dataset

        path = Path(tempfile.mkdtemp()) / "calculated.h5"
        print(f"making {args.rows} random P-1 structures with cctbx in {path} ...")
        write_fake_dataset(path, args.rows, seed=0)
    n_batches = -(-args.rows // args.batch_size)
    print(f"{args.rows} structures × {args.reflections} reflections, {n_batches} batches of "
          f"{args.batch_size}")
    results = {}
    for mode, in_memory in (("streamed", False), ("in memory", True)):
        build, epoch, peak = one_epoch(path, args.rows, args.reflections, args.batch_size,
                                       in_memory)
        results[mode] = (build, epoch, peak)
        print(f"{mode:>10}: load {build:6.2f} s, epoch {epoch:6.2f} s "
              f"({args.rows / max(epoch, 1e-9):9.0f} structures/s), peak memory "
              f"{peak / 2**20:8.1f} MiB")
    s, m = results["streamed"], results["in memory"]
    print(f"ratio streamed/in-memory: time per epoch incl. loading "
          f"{(s[0] + s[1]) / max(m[0] + m[1], 1e-9):.2f}, peak memory {s[2] / max(m[2], 1):.3f}")
    rate = args.rows / max(s[1], 1e-9)
    print(f"projection, full profile: one streamed epoch of {FULL_TRAIN_STRUCTURES:,} structures "
          f"≈ {FULL_TRAIN_STRUCTURES / rate / 60:.1f} min of reading on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
