"""Measurement-like training patterns per epoch, and the 1D ConvNeXt, on this machine.

    .venv/bin/python benchmarks/bench_xrd_stream.py              # 40 structures × 8 variants
    .venv/bin/python benchmarks/bench_xrd_stream.py --json out.json --no-network

Structures: a seeded sample of the MP-20 CSV in ../shared/data (``--csv`` for another; only
timed here, never trained on for a result), else NaCl, rutile and wurtzite.  Each gets K
variants (:func:`lib.xrd.variants.make_variants`); :func:`lib.xrd.stream.training_peaks`
computes their peak lists and reflection tables (timed: ``peak_table_s``).  Then:

- ``stream_patterns_per_s``: :class:`lib.xrd.stream.PatternStream` with every effect of the
  default :class:`lib.xrd.simulate.MeasurementModel` on, batches of ``--batch`` on the
  4500-point grid, smoothing/scaling included, over two epochs; CPU time of this process
  (``time.process_time``) with NumPy on one thread, so a busy machine does not inflate it;
- ``network_*``: :func:`lib.xrd.networks.build_convnext1d` (default size) trained for two
  epochs on ``--patterns`` stream patterns (arrays) with Keras on the machine's cores; the
  wall time of each epoch (the first includes tracing) and the CPU time, and the time of one
  epoch drawn straight from the stream (simulation inside ``fit``, on TensorFlow's ``tf.data``
  thread beside the training step) and of one drawn when it begins (``epoch_first``, as
  notebook 06 trains; simulation before the steps).  Keras trains on the machine's cores, the
  stream on one; the ratios against the epoch from arrays are printed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from lib import atomic, config  # noqa: E402
from lib.xrd import networks, simulate, structures, variants  # noqa: E402
from lib.xrd.patterns import Grid  # noqa: E402
from lib.xrd.stream import PatternStream, training_peaks  # noqa: E402


def _structures(csv: Path, n: int, seed: int) -> list[Any]:
    if csv.is_file():
        df = structures.read_mp_csv(csv, limit=n, seed=seed)
        return [structures.structure_from_cif(c, str(m)) for c, m in zip(df["cif"],
                                                                        df["material_id"])]
    from pymatgen.core import Lattice, Structure

    u = 0.3048
    return [Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                      [[0, 0, 0], [0.5, 0.5, 0.5]]),
            Structure(Lattice.tetragonal(4.594, 2.959), ["Ti", "Ti", "O", "O", "O", "O"],
                      [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [-u, -u, 0],
                       [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]]),
            Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
                                      [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]])]


def main(args: argparse.Namespace) -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    result: dict[str, Any] = {"structures": 0, "variants_per_structure": args.k,
                              "batch": args.batch, "n_points": args.points,
                              "load_average_1min": os.getloadavg()[0]}
    grid = Grid(0.0, 90.0, args.points)
    batches = []
    t = time.perf_counter()
    for i, s in enumerate(_structures(Path(args.csv), args.n, args.seed)):
        try:
            batches.append(variants.make_variants(s, args.k, seed=args.seed + i))
        except Exception as exc:                        # a batch goes on with the rest
            print(f"skipped structure {i}: {type(exc).__name__}: {exc}"[:200], file=sys.stderr)
    result["structures"] = len(batches)
    result["variants_s"] = round(time.perf_counter() - t, 2)
    t = time.process_time()
    peaks, labels = training_peaks(batches)
    result["peak_table_s"] = round(time.process_time() - t, 3)
    result["rows"] = peaks.n_rows
    result["peaks_per_row"] = round(len(peaks.two_theta) / peaks.n_rows, 1)
    stream = PatternStream(peaks, labels, simulate.MeasurementModel(), args.batch, args.seed,
                           grid=grid)
    stream[0]
    t = time.process_time()
    n = 0
    for epoch in range(2):
        stream.set_epoch(epoch)
        for i in range(len(stream)):
            n += len(stream[i][0])
    result["stream_patterns_per_s"] = round(n / (time.process_time() - t), 1)
    print(f"stream: {result['stream_patterns_per_s']} patterns/s (one thread)", flush=True)
    if args.no_network:
        return result
    import keras

    keras.utils.set_random_seed(args.seed)
    reps = int(np.ceil(args.patterns / peaks.n_rows))
    rows = np.tile(np.arange(peaks.n_rows), reps)[:args.patterns]
    big = simulate.PeakSet.from_lists([peaks.peaks(r)[0] for r in rows],
                                      [peaks.peaks(r)[1] for r in rows])
    big_labels = {h: v[rows] for h, v in labels.items()}
    data = PatternStream(big, big_labels, simulate.MeasurementModel(), args.batch, args.seed,
                         grid=grid)
    x = np.concatenate([data[i][0] for i in range(len(data))])
    first = PatternStream(big, big_labels, simulate.MeasurementModel(), args.batch, args.seed,
                          grid=grid, epoch_first=True)
    model = networks.build_convnext1d(args.points)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3),
                  loss={h: "sparse_categorical_crossentropy" for h in model.output_names},
                  metrics={h: ["accuracy"] for h in model.output_names})
    wall, cpu = [], []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            wall.append(round(time.perf_counter() - self.t, 1))
            cpu.append(round(time.process_time() - self.c, 1))

    model.fit(x, big_labels, epochs=2, batch_size=args.batch, verbose=0, callbacks=[Timer()])
    result.update(network_parameters=int(model.count_params()), network_patterns=len(x),
                  network_epoch_wall_s=list(wall), network_epoch_cpu_s=list(cpu))
    wall.clear()
    cpu.clear()
    model.fit(data, epochs=1, verbose=0, callbacks=[Timer()])
    model.fit(first, epochs=1, verbose=0, callbacks=[Timer()])
    result["network_epoch_from_stream_wall_s"] = wall[0]
    result["network_epoch_drawn_first_wall_s"] = wall[1]
    arrays = result["network_epoch_wall_s"][-1]
    print(f"one epoch: from arrays {arrays} s; from the stream {wall[0]} s "
          f"({wall[0] / arrays:.2f}x); drawn when it begins {wall[1]} s ({wall[1] / arrays:.2f}x)")
    return result


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=40, help="structures")
    parser.add_argument("-k", type=int, default=8, help="variants per structure")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--points", type=int, default=4500, help="2θ grid points (0–90°)")
    parser.add_argument("--patterns", type=int, default=2000, help="patterns per network epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", default=str(config.SHARED_DATA_DIR / "mp20_subset"
                                             / "mp20_subset.csv"))
    parser.add_argument("--no-network", action="store_true", help="time the stream only")
    parser.add_argument("--json", default=None, help="also write the result to this file")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = _parse()
    RESULT = main(ARGS)
    print(RESULT)
    if ARGS.json:
        atomic.write_json(ARGS.json, RESULT)
