"""Throughput of the batched engines vs cctbx: structure factors, structures, training stream.

    python benchmarks/bench_engines.py                       # CPU, one core, prints ratios
    python benchmarks/bench_engines.py --device cpu --json results/bench_engines.json
    python benchmarks/bench_engines.py --device gpu --json bench_gpu.json

Structure factors: 30-atom P-1 structures (atoms_min = atoms_max = 30) on the report's 4630
reflections (``lib.phases.reflections.index_set(4630)``); the engine (``lib.phases.engine``,
float32) against cctbx's direct summation and its FFT algorithm
(``lib.phases.structure_factors.calculate``) on the same structures, which also gives the
largest |ΔF| / strongest |F|.  Structures: the batched generator (``lib.phases.generator``)
against cctbx's (``lib.phases.structures.generate_structure``), default parameters.  Stream:
structures + F + normalised inputs + packed sign targets (``lib.phases.stream``).

On ``--device cpu`` everything runs on one core (OMP / BLAS / TensorFlow pinned to one
thread before they load): the figures are per core.  On ``--device gpu`` the engine runs with
``keras.ops`` on the GPU (the device's figure).  Ratios, not timed tests: on a shared machine
the timings are noisy; the reference and the engine are timed in the same run, interleaved.
Powder patterns: ``benchmarks/bench_xrd_engine.bench_xrd`` (K = 16 structure variants per MP-20
structure, peaks + Gaussian profile on the grid, one thread) against XRDCalculator + the same
rendering one pattern at a time; skipped with ``--no-xrd``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--structures", type=int, default=512,
                        help="structures per engine timing (default 512; GPU: 8× more)")
    parser.add_argument("--reference", type=int, default=48,
                        help="structures per cctbx timing (default 48)")
    parser.add_argument("--repeats", type=int, default=3, help="engine timings (best kept)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--xrd-structures", type=int, default=20,
                        help="MP-20 structures for the powder-pattern timing (× 16 variants)")
    parser.add_argument("--no-xrd", action="store_true", help="skip the powder patterns")
    return parser.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None and ARGS.device == "cpu":
    for _name in ONE_THREAD:
        os.environ[_name] = "1"
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from lib.atomic import write_json  # noqa: E402
from lib.phases import engine, generator  # noqa: E402
from lib.phases.reflections import index_set  # noqa: E402
from lib.phases.stream import StructureStream  # noqa: E402
from lib.phases.structure_factors import calculate  # noqa: E402
from lib.phases.structures import GeneratorParameters, generate_structure  # noqa: E402



def _pin_tensorflow() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


#: The clock of the timings: CPU time of this process on ``--device cpu`` (one thread: the
#: per-core figure, robust to other processes sharing the machine), wall time on a GPU.
CLOCK = time.process_time


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = CLOCK()
        fn()
        best = min(best, CLOCK() - start)
    return best


def _tile(batch: engine.StructureBatch, n: int) -> engine.StructureBatch:
    return batch.take(np.arange(n) % len(batch))


def bench_structure_factors(args: argparse.Namespace, backend: str,
                            max_elements: int | None = None) -> dict:
    """Engine vs cctbx on 30-atom P-1 structures and 4630 reflections."""
    hkl = index_set(4630)
    params = GeneratorParameters(atoms_min=30, atoms_max=30)
    structures = [generate_structure(params, args.seed, i) for i in range(args.reference)]
    start = CLOCK()
    reference = np.array([calculate(xs, hkl).f.real for xs in structures])
    direct = _rate(len(structures), CLOCK() - start)
    start = CLOCK()
    for xs in structures:
        calculate(xs, hkl, algorithm="fft", check_real=False)
    fft = _rate(len(structures), CLOCK() - start)
    batch = engine.batch_from_cctbx(structures)
    check = engine.structure_factors_batch(batch, hkl, backend=backend,
                                           max_elements=max_elements)
    strongest = np.abs(reference).max(axis=1, keepdims=True)
    error = float((np.abs(check.f - reference) / strongest).max())
    strong = np.abs(reference) > 1e-3 * strongest
    signs_ok = bool(np.array_equal(check.sign[strong], np.where(reference[strong] < 0, -1, 1)))
    big = _tile(batch, args.structures)
    engine.structure_factors_batch(big.take(slice(0, 8)), hkl, backend=backend,
                                   max_elements=max_elements)                  # warm up
    seconds = _best_time(lambda: engine.structure_factors_batch(
        big, hkl, backend=backend, max_elements=max_elements), args.repeats)
    rate = _rate(len(big), seconds)
    return {"rate": rate, "direct": direct, "fft": fft, "error": error, "signs_ok": signs_ok}


def bench_generator(args: argparse.Namespace) -> dict:
    """Batched generator vs cctbx's, default parameters (8–40 atoms)."""
    params = GeneratorParameters()
    n_ref = max(8, args.reference * 2)
    start = CLOCK()
    for i in range(n_ref):
        generate_structure(params, args.seed, i)
    cctbx = _rate(n_ref, CLOCK() - start)
    generator.generate_batch(params, args.seed, 0, 16)
    seconds = _best_time(lambda: generator.generate_batch(params, args.seed, 1, args.structures),
                         args.repeats)
    return {"rate": _rate(args.structures, seconds), "cctbx": cctbx}


def bench_stream(args: argparse.Namespace, backend: str) -> float:
    """Structures per second of the training stream (default generator, 4630 reflections)."""
    size = min(256, args.structures)
    stream = StructureStream(GeneratorParameters(), seed=args.seed, batch_size=size,
                             steps_per_epoch=4, backend=backend)
    stream[0]
    start = CLOCK()
    for i in range(1, 4):
        stream[i]
    return _rate(3 * size, CLOCK() - start)


def profile_numpy_engine(n_struct: int = 64, n_atoms: int = 30) -> dict[str, float]:
    """CPU seconds per structure of each stage of the NumPy engine's hot loop (30 atoms, 4630
    reflections, the engine's chunk sizes and buffers): tells whether transcendentals, memory
    passes or Python bound it."""
    hkl = index_set(4630).astype(np.float32)
    rng = np.random.default_rng(0)
    x = rng.random((n_struct, n_atoms, 3)).astype(np.float32)
    minus_b = (-engine.EIGHT_PI2 * rng.uniform(0.01, 0.06, (n_struct, n_atoms))).astype(np.float32)
    s2 = rng.uniform(0, 2, (n_struct, len(hkl))).astype(np.float32)
    weight = rng.random((n_struct, 5, n_atoms)).astype(np.float32)
    table = engine.form_factor_table(["C", "N", "O", "S", "Cl"])
    rows = max(1, min(n_struct, engine.MAX_ELEMENTS // (n_atoms * 1024)))
    r = max(1, min(len(hkl), engine.MAX_ELEMENTS // (rows * n_atoms)))
    names = ("h·x (matmul)", "modulo 1 (rint, subtract, ×2π)", "cosine", "−8π²U s² (outer)",
             "thermal exp", "multiply", "sum per element (matmul)", "form factors", "python")
    stages = dict.fromkeys(names, 0.0)
    hkl_t = np.ascontiguousarray(hkl.T)
    phase_buf, tmp_buf = np.empty(rows * n_atoms * r, np.float32), np.empty(rows * n_atoms * r,
                                                                             np.float32)
    acc_buf, ff_buf = np.empty(rows * 5 * r, np.float32), np.empty(rows * 5 * r, np.float32)
    gauss_buf = np.empty(rows * table.a.size * r, np.float32)
    clock = time.process_time
    total = clock()
    for b0 in range(0, n_struct, rows):
        sb = slice(b0, min(b0 + rows, n_struct))
        nb = sb.stop - sb.start
        for r0 in range(0, len(hkl), r):
            sr = slice(r0, min(r0 + r, len(hkl)))
            m = sr.stop - sr.start
            phase = phase_buf[: nb * n_atoms * m].reshape(nb, n_atoms, m)
            tmp = tmp_buf[: nb * n_atoms * m].reshape(nb, n_atoms, m)
            t = [clock()]
            np.matmul(x[sb], hkl_t[:, sr], out=phase); t.append(clock())
            np.rint(phase, out=tmp); np.subtract(phase, tmp, out=phase)
            phase *= np.float32(2 * np.pi); t.append(clock())
            np.cos(phase, out=phase); t.append(clock())
            np.einsum("bn,br->bnr", minus_b[sb], s2[sb, sr], out=tmp); t.append(clock())
            np.exp(tmp, out=tmp); t.append(clock())
            phase *= tmp; t.append(clock())
            acc = np.matmul(weight[sb], phase, out=acc_buf[: nb * 5 * m].reshape(nb, 5, m))
            t.append(clock())
            acc *= engine._form_factors_np(table, s2[sb, sr], np.float32,
                                           out=ff_buf[: nb * 5 * m].reshape(nb, 5, m),
                                           scratch=gauss_buf)
            t.append(clock())
            for k, name in enumerate(names[:-1]):
                stages[name] += t[k + 1] - t[k]
    stages["python"] = max(0.0, clock() - total - sum(stages.values()))
    return {k: v / n_struct for k, v in stages.items()}


def _write(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, results)


def main(args: argparse.Namespace) -> dict:
    global CLOCK
    started = time.perf_counter()
    if args.device == "cpu":
        _pin_tensorflow()
        backend = "numpy"
    else:
        CLOCK = time.perf_counter
        args.structures *= 8
        backend = "keras"
    import keras

    sf = bench_structure_factors(args, backend)
    results: dict = {
        "device": args.device,
        "backend": backend,
        "sf_structures_per_s": sf["rate"],
        "sf_ratio_vs_cctbx_direct": sf["rate"] / sf["direct"],
        "sf_ratio_vs_cctbx_fft": sf["rate"] / sf["fft"],
        "cctbx_direct_structures_per_s": sf["direct"],
        "cctbx_fft_structures_per_s": sf["fft"],
        "max_abs_rel_error_vs_cctbx": sf["error"],
        "signs_identical_above_1e-3": sf["signs_ok"],
    }
    if args.device == "cpu":        # the other implementation, for the record
        other = bench_structure_factors(args, "keras", max_elements=1 << 20)  # CPU memory
        results["sf_structures_per_s_keras"] = other["rate"]
        results["max_abs_rel_error_vs_cctbx_keras"] = other["error"]
    gen = bench_generator(args)
    results.update({
        "generator_structures_per_s": gen["rate"],
        "cctbx_generator_structures_per_s": gen["cctbx"],
        "generator_ratio_vs_cctbx": gen["rate"] / gen["cctbx"],
        "stream_structures_per_s": bench_stream(args, backend),
    })
    if not args.no_xrd:
        from bench_xrd_engine import bench_xrd

        xrd = bench_xrd(n_structures=args.xrd_structures, k_variants=16)
        results.update({key: xrd[key] for key in ("xrd_patterns_per_s", "xrd_ratio_vs_pymatgen",
                                                   "max_abs_rel_error_vs_pymatgen")})
        results["xrd"] = xrd
    else:
        results.update({"xrd_patterns_per_s": None, "xrd_ratio_vs_pymatgen": None,
                        "max_abs_rel_error_vs_pymatgen": None})
    if args.device == "cpu":
        results["numpy_engine_seconds_per_structure_by_stage"] = profile_numpy_engine()
    results.update({"structures_timed": args.structures, "cctbx_structures_timed":
                    args.reference, "seconds": time.perf_counter() - started,
                    "keras_backend": keras.backend.backend(),
                    "clock": "process CPU time (one thread)" if args.device == "cpu"
                    else "wall time",
                    "note": "timings on a shared machine are noisy; ratios are measured in "
                            "one run, reference and engine in the same process"})
    print(f"device {args.device} ({backend}); 30-atom P-1, 4630 reflections")
    print(f"structure factors: engine {sf['rate']:9.1f} /s | cctbx direct {sf['direct']:7.1f} /s"
          f" → ×{results['sf_ratio_vs_cctbx_direct']:.1f} | cctbx fft {sf['fft']:7.1f} /s → "
          f"×{results['sf_ratio_vs_cctbx_fft']:.1f}")
    if "sf_structures_per_s_keras" in results:
        print(f"  keras.ops on this CPU: {results['sf_structures_per_s_keras']:.1f} /s")
    print(f"  max |ΔF| / strongest |F| = {sf['error']:.2e}; signs identical above 1e-3: "
          f"{sf['signs_ok']}")
    print(f"structures: engine {gen['rate']:9.1f} /s | cctbx {gen['cctbx']:7.1f} /s → "
          f"×{results['generator_ratio_vs_cctbx']:.1f}")
    print(f"training stream (structures + F + inputs + targets): "
          f"{results['stream_structures_per_s']:.1f} structures/s")
    if "numpy_engine_seconds_per_structure_by_stage" in results:
        stages = results["numpy_engine_seconds_per_structure_by_stage"]
        total = sum(stages.values())
        print(f"NumPy hot loop, CPU µs per structure (total {total * 1e6:.0f}): " + ", ".join(
            f"{k} {v * 1e6:.0f}" for k, v in stages.items()))
    if results["xrd_patterns_per_s"] is not None:
        print(f"powder patterns (K = 16 variants): engine {results['xrd_patterns_per_s']:9.1f} /s"
              f" → ×{results['xrd_ratio_vs_pymatgen']:.1f} vs XRDCalculator; max Δ intensity / "
              f"strongest peak = {results['max_abs_rel_error_vs_pymatgen']:.1e}")
    results["seconds"] = time.perf_counter() - started
    print(f"run took {results['seconds']:.0f} s")
    if args.json is not None:
        _write(args.json, results)
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main(ARGS)
