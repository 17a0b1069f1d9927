"""What moves the crystal-system accuracy on the measured ``rruff_dev`` patterns: small
controlled runs of the 1D CNN (notebook 06's best model) with one setting changed at a time.

Each run: the cached pyxtal structures (``--n-per-system``, ``--max-atoms``), the composition
split of notebook 06, ``--n-variants`` variants of each training structure, 1D CNN (or
``--model convnext_gap``; on the 2θ grid or ``--axis log_q``) trained ``--epochs`` epochs on the
report-style patterns (``--simulation report``), on patterns measured anew every epoch
(``measured``) or measured once (``fixed``); then crystal-system accuracy on the held-out synthetic
test split, the MP-20 structures and ``rruff_dev`` (validation only: never trained on; nothing
is fitted on its labels here).  One JSON line per run is appended to ``--out`` and the rruff_dev
probabilities are saved beside it (``<out>.<tag>.npz``) so that a prior correction can be
scored afterwards without retraining.

    nice -n 5 python benchmarks/bench_xrd_rruff.py --tag base
    nice -n 5 python benchmarks/bench_xrd_rruff.py --tag start5 --scan-start 5,15
    nice -n 5 python benchmarks/bench_xrd_rruff.py --tag wide --simulation fixed --smooth \
        --scan-start 5,15 --variants 0.2,0.8,0.3 --no-variant-check
    nice -n 5 python benchmarks/bench_xrd_rruff.py --tag p1960 --simulation fixed --smooth \
        --scan-start 5,15 --extra-sets 1,2,3,4 --parents 1960 --n-variants 4 --epochs 8
    nice -n 5 python benchmarks/bench_xrd_rruff.py --tag gaplogq --simulation fixed --smooth \
        --scan-start 5,15 --model convnext_gap --axis log_q --epochs 8

Measured 2026-11-21 on the shared 2-core machine (700 pyxtal structures, 490 training parents
× (1 + 15) ≈ 7,600–8,100 patterns, 1D CNN 2300/1150, 2 epochs, seed 20240611; rruff_dev n =
301, always-monoclinic 31.6 %; s.e. ≈ 2–3 points; "+ prior": probabilities × the COD
crystal-system frequencies, computed afterwards from the saved probabilities):

    run                                   rruff_dev       test   MP     rruff + prior
    report (notebook 06's old default)    11.0 ± 1.8 %    30.7   36.2   12.6 %
    report + scan start 5–15°             18.9 ± 2.3 %    38.6   39.3   23.6 %
      same, another training seed         19.3 ± 2.3 %    30.7   40.4   24.9 %
    report + start + COD parents (+178)    8.3 ± 1.6 %    32.1   37.6   —
    report + start, max_atoms 48          16.6 ± 2.1 %    31.9   38.2   20.3 %
    measured stream (per epoch)           33.2 ± 2.7 %    27.9   32.0   39.9 %
    measured stream, smoothed as classify 35.2 ± 2.8 %    27.1   31.1   41.9 %
    measured once (fixed), smoothed       29.6 ± 2.6 %    30.0   34.1   40.9 %
      same, 4 epochs                      26.6 ± 2.5 %    32.9   34.5   34.2 %
    measured once, "wide" variants        27.9 ± 2.6 %    25.0   28.1   —
      (--variants 0.2,0.8,0.3 --no-variant-check: lattice ratios, elements and coordinates
      far from the parent, 10× cheaper)
      same + --variant-scale 1.6          19.6 ± 2.3 %    21.4   26.4   —

Distinct structures against variants of few (2026-11-21, same machine; "fixed", smoothed, scan
start 5–15°; parents drawn from the 490 training structures plus four more pyxtal sets of 700,
``--extra-sets 1,2,3,4``, 2,122 of whose 2,800 structures have a composition in no test set;
``--parents N --n-variants V``; "measured" columns = the synthetic test and MP structures
measured once like the training patterns instead of the report's clean profiles; MP s.e. 1.3
points, test 3.5–4, rruff_dev 2.3–2.7; "train" = training crystal-system accuracy at the end):

    parents × patterns each   patterns  epochs  train  test (measured)  MP (measured)  rruff_dev
      245 × 33                 8,025     2       —     23.6 / 27.1      30.0 / 30.6    32.9 / 22.6 %
      490 × 17                 8,268     2       —     29.3             30.3           28.2 %
      980 × 9                  8,752     2       —     32.1             31.2           26.3 %
    1,960 × 5                  9,731     2       —     27.9 / 23.6      30.0 / 29.4    30.6 / 31.6 %
    1,960 × 17                33,067     2       —     35.0             33.4           29.6 %
      490 × 17                 8,268     8      0.58   33.6 (32.1)      31.7 (29.6)    19.6 %
    1,960 × 5                  9,731     8      0.40   33.6 (29.3)      35.9 (34.5)    28.2 %
    1,960 × 5                  9,731    24      0.60   32.9 (32.9)      34.1 (34.6)    32.6 %
    (two values: two training seeds)

Runs are not bit-reproducible (measured; the source is not traced): the 490 × 17 row run four
times with the same seeds gave synthetic test 29.3 / 28.6 / 30.0 / 19.3 % (the last kept
epoch 1), MP 30.3 / 31.4 / 30.7 / 25.1 %, rruff_dev 28.2 / 29.6 / 26.3 / 30.9 %.

At 2 epochs the number of distinct parents changes nothing beyond the noise; at 8 epochs four
times more parents memorise less (training accuracy 0.40 against 0.58) and score higher on MP
(+4 points) and rruff_dev (+9).  But 24 epochs on 1,960 parents end where 2 did: the validation
accuracy stays at 0.33–0.39 from epoch 4 while the training accuracy climbs to 0.60 (space group:
0.35 against 0.04 on validation): the network memorises parents again.  Measuring the test sets
like the training patterns changes nothing (the models are not held back by the clean test
profiles).

Input axis, pooling and intensities (2026-12-06, same machine, times not compared; 490
parents × (1 + 15) = 7,621 patterns, "fixed", smoothed, scan start 5–15°, one training seed;
s.e. test 3.5–4 points, MP 1.3, rruff_dev 2.3–2.7; "predicted" = the crystal systems answered
on rruff_dev, whose labels are 20 tric, 95 mono, 76 orth, 27 tet, 0 trig, 28 hex, 55 cubic):

    run                                     epochs  test    MP      rruff_dev  predicted most
    1D CNN (as above)                        4      35.7    33.7    25.9 %     84 hex, 68 mono
      + --intensity-jitter 1.0               4      25.0    35.1    19.3 %     130 triclinic
    --model convnext_gap (2θ)                8      26.4    41.0    27.2 %     150 orth, 0 mono
    --model convnext_gap --axis log_q        8      20.0    34.7    34.6 %     167 orth, 1 mono
    1D CNN, 8 epochs (best: epoch 4)         8      30.0    34.8    30.9 %     119 orth, 57 mono
    1D CNN, 10,124 parents × (1 + 1)         8      27.9    33.1    33.6 %     86 mono, 58 tet
      same, --train-seed 2                   8      30.0    34.3    32.9 %     94 mono, 49 cubic
      (= 20,213 patterns: --extra-sets 1,…,20 --n-variants 1; pyxtal is no longer the slow
      part — a set of 700 took 21 s with 2 workers; measured test / MP 40.0 / 36.8 %)
      same parents, convnext_gap on ln Q     4      22.1    30.8    33.2 %     116 mono, 0 orth

``--axis log_q`` puts the pattern on ln Q, where a larger or smaller cell only shifts it, so a
network that pools over positions (``convnext_gap``: global pooling, no coordinate channel)
should see one comb per lattice type at any cell size; ``--intensity-jitter`` scrambles the
relative intensities (positions kept) so that only the line positions, which carry the lattice,
are worth learning.  Neither does what it was meant to: the jitter lowers the synthetic test and
rruff_dev (the network calls 43 % of the measured patterns triclinic); the position-blind
ConvNeXt reaches the best MP score of these runs on 2θ, but on rruff_dev it answers almost only
orthorhombic, triclinic and cubic, and never monoclinic; on ln Q its 34.6 % is 1.1 s.e. above
always-monoclinic (31.6 %), with 167 orthorhombic answers.  Twenty times more distinct
parents (10,124, one variant each) give the 1D CNN 33.6 and 32.9 % (two training seeds; 30.9 %
with the 490 parents, same epochs) with answers spread over the systems, MP unchanged, and the
ln Q ConvNeXt 33.2 % (4 epochs, ≈ 75 s each; it answers only four systems): both within
one s.e. of always-monoclinic.  Not adopted in notebook 06.

The simulated measurements without the σ smoothing that classify gives a measured file had a
median of 138 local maxima (prominence 0.02, 5–90°) against 34 for rruff_dev and 28 when
smoothed; report-style patterns 30, MP 24.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np

from lib import config
from lib.xrd import augment as xrd_augment
from lib.xrd import classify, dataset, evaluate
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid
from lib.xrd.simulate import MeasurementModel, PeakSet, simulate
from lib.xrd.variants import VariantSettings

#: Points of the ln Q axis (``--axis log_q``): 5–90° 2θ (Cu Kα), 2,048 steps of Δln Q ≈ 0.0014.
LOG_Q_POINTS = 2048


def log_q_axis(patterns: np.ndarray, grid: Grid, n: int = LOG_Q_POINTS,
               two_theta_low: float = 5.0) -> np.ndarray:
    """Patterns on ``grid`` (2θ degrees, Cu Kα) resampled onto ``n`` points uniform in ln Q
    (Q = 4π sin θ / λ, Å⁻¹) from ``two_theta_low`` to the grid's end: each point takes the
    largest value of the 2θ points that fall nearest to it, or the interpolated value where none
    does (low angles, where the ln Q steps are finer than the 2θ grid).  On this axis a change of
    the cell's scale shifts the whole pattern, so a convolutional network that pools over
    positions sees the same pattern at any cell size."""
    from lib.xrd.patterns import CU_KA

    tt = grid.two_theta
    ln_q = lambda t: np.log(4 * np.pi * np.sin(np.radians(t) / 2) / CU_KA)  # noqa: E731
    axis = np.linspace(ln_q(two_theta_low), ln_q(grid.two_theta_max), n)
    src = np.flatnonzero(tt >= two_theta_low)
    nearest = np.clip(np.rint((ln_q(tt[src]) - axis[0]) / (axis[1] - axis[0])).astype(int),
                      0, n - 1)
    tt_of_axis = classify.to_two_theta(np.exp(axis), "q", CU_KA, CU_KA)[0]
    out = np.empty((len(patterns), n), np.float32)
    for r, row in enumerate(np.asarray(patterns)):
        top = np.full(n, -np.inf)
        np.maximum.at(top, nearest, row[src])
        interp = np.interp(tt_of_axis, tt, row)
        out[r] = np.where(np.isfinite(top), np.maximum(top, interp), interp)
    return out


def jitter_intensities(peaks: PeakSet, sigma: float, seed: int) -> PeakSet:
    """``peaks`` with every peak's intensity × exp(N(0, σ²)) (σ in ln units; 0: unchanged):
    the relative intensities scrambled, the positions kept."""
    if sigma <= 0:
        return peaks
    import dataclasses

    factor = np.exp(np.random.default_rng([seed, 3]).normal(0.0, sigma, len(peaks.intensity)))
    return dataclasses.replace(peaks, intensity=peaks.intensity * factor)


def add_parent_arguments(p: argparse.ArgumentParser) -> None:
    """The options :func:`parent_sets` reads (data folder, seed, pyxtal set size, extra sets,
    parent subset, COD parents)."""
    p.add_argument("--data-dir", default="/tmp/xrd11-data")
    p.add_argument("--seed", type=int, default=20240611)
    p.add_argument("--n-per-system", type=int, default=100)
    p.add_argument("--max-atoms", type=int, default=24)
    p.add_argument("--cod", action="store_true", help="COD structures as extra parents")
    p.add_argument("--extra-sets", default="",
                   help="seeds of further pyxtal sets (same size) whose structures join the "
                        "training parents (compositions of the test sets removed)")
    p.add_argument("--parents", type=int, default=0,
                   help="seeded subset of this many training parents (0 = all)")


def parent_sets(args: argparse.Namespace, grid: Grid, sigma: float,
                ) -> tuple["dataset.XRDData", "dataset.XRDData", "dataset.XRDData",
                           "dataset.XRDData"]:
    """The training parents, validation and test splits of the cached pyxtal set (notebook
    06's composition split), with ``--extra-sets``, ``--parents`` and ``--cod`` applied to
    the training parents, and the MP-20 structures (a test set): (train, val, test, mp)."""
    synth = dataset.synthetic_dataset(args.data_dir, args.n_per_system, args.seed, grid, sigma,
                                      symprec=0.1, max_atoms=args.max_atoms, max_attempts=10,
                                      engine="fast", n_workers=2)
    mp = dataset.mp_dataset(config.resolve_shared("shared", "mp20_subset", "mp20_subset.csv"),
                            args.data_dir, grid, sigma, symprec=0.1, seed=args.seed,
                            engine="fast", n_workers=2)
    split = dataset.group_split(synth, 0.2, 0.1, args.seed)
    train, val, test = (synth.subset(split[k]) for k in ("train", "validation", "test"))
    for extra_seed in (int(v) for v in args.extra_sets.split(",") if v):
        extra = dataset.synthetic_dataset(args.data_dir, args.n_per_system, extra_seed, grid,
                                          sigma, symprec=0.1, max_atoms=args.max_atoms,
                                          max_attempts=10, engine="fast", n_workers=2)
        held = set(val.formula) | set(test.formula) | set(mp.formula) | set(train.formula)
        keep = np.flatnonzero([f not in held for f in extra.formula])
        print(f"set {extra_seed}: {len(extra)} structures, {len(keep)} kept as parents")
        train = dataset.concatenate([train, extra.subset(keep)])
    if args.parents:
        if args.parents > len(train):
            raise SystemExit(f"--parents {args.parents}: only {len(train)} training parents")
        pick = np.random.default_rng([args.seed, args.parents]).permutation(len(train))
        train = train.subset(np.sort(pick[:args.parents]))
    if args.cod:
        cod = dataset.cod_dataset(config.resolve_shared("shared", "cod_structures"),
                                  args.data_dir, grid, sigma, symprec=0.1, n_workers=2)
        held = set(val.formula) | set(test.formula) | set(mp.formula)
        keep = np.flatnonzero([f not in held for f in cod.formula])
        print(f"COD: {len(cod)} structures, {len(keep)} kept (composition not in a test set)")
        train = dataset.concatenate([train, cod.subset(keep)])
    return train, val, test, mp


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tag", required=True)
    add_parent_arguments(p)
    p.add_argument("--out", default="/tmp/xrd11-results.jsonl")
    p.add_argument("--train-seed", type=int, default=None)
    p.add_argument("--n-variants", type=int, default=15)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--simulation", choices=("report", "measured", "fixed"), default="report")
    p.add_argument("--scan-start", default="", help="a,b: training scans start at U(a, b)°")
    p.add_argument("--two-theta-min", type=float, default=0.0)
    p.add_argument("--background", default="snip")
    p.add_argument("--dense", default="2300,1150")
    p.add_argument("--variants", default="0.03,0.3,0.05",
                   help="strain,substitution,jitter(Å) of the variants (notebook 06's default)")
    p.add_argument("--variant-scale", type=float, default=1.0,
                   help="bound s of the cell's isotropic scale factor, in [1/s, s]")
    p.add_argument("--no-variant-check", action="store_true",
                   help="do not search each variant's space group (≈ 10× faster)")
    p.add_argument("--smooth", action="store_true",
                   help="measured: smooth the simulated scans with σ as classify smooths files")
    p.add_argument("--axis", choices=("2theta", "log_q"), default="2theta",
                   help="the network's input axis: the 2θ grid, or ln Q (log_q_axis)")
    p.add_argument("--model", choices=("cnn1d", "convnext_gap"), default="cnn1d",
                   help="Park-style 1D CNN, or the 1D ConvNeXt of lib.xrd.networks with global "
                        "pooling and no coordinate channel (position-blind)")
    p.add_argument("--intensity-jitter", type=float, default=0.0,
                   help="measured/fixed: peak intensities × exp(N(0, s²)) (jitter_intensities)")
    args = p.parse_args()
    if args.intensity_jitter and args.simulation == "report":
        raise SystemExit("--intensity-jitter needs --simulation measured or fixed")
    train_seed = args.seed if args.train_seed is None else args.train_seed
    t_start = time.perf_counter()
    grid = Grid(args.two_theta_min, 90.0, int(round((90.0 - args.two_theta_min) / 0.02)))
    sigma = 5.0
    on_axis = ((lambda x: log_q_axis(x, grid)) if args.axis == "log_q"  # noqa: E731
               else (lambda x: np.asarray(x, np.float32)))

    def preprocess(patterns: np.ndarray) -> np.ndarray:
        """Pattern vectors on ``grid`` as the network sees them (background, [0, 1], axis)."""
        return on_axis(classify.preprocess(patterns, grid=grid, background=args.background))

    train, val, test, mp = parent_sets(args, grid, sigma)
    strain, substitution, jitter = (float(v) for v in args.variants.split(","))
    variants = dataset.variant_set(train, args.n_variants, args.seed, grid, sigma,
                                   VariantSettings(strain, substitution, jitter, 0.1,
                                                   scale=args.variant_scale,
                                                   check=not args.no_variant_check),
                                   n_workers=2)
    held = set(val.formula) | set(test.formula)
    variants = variants.subset(np.flatnonzero([f not in held for f in variants.formula]))
    y = {"crystal_system": np.concatenate([train.crystal_system, variants.crystal_system]),
         "space_group": np.concatenate([train.space_group, variants.space_group]) - 1}
    peak_batch = dataset.training_peaks(train, variants)
    training_peaks = jitter_intensities(PeakSet.from_batches([peak_batch]), args.intensity_jitter,
                                        args.seed)
    t_data = time.perf_counter() - t_start

    from lib.xrd import models, stream

    y_val = {"crystal_system": val.crystal_system, "space_group": val.space_group - 1}
    val_inputs = preprocess(val.patterns)
    dense = tuple(int(v) for v in args.dense.split(","))
    n_inputs = LOG_Q_POINTS if args.axis == "log_q" else grid.n_points
    if args.model == "cnn1d":
        cnn, learning_rate = models.build_cnn1d(n_inputs, dense=dense), 3e-4
    else:
        from lib.xrd.networks import build_convnext1d

        cnn = build_convnext1d(n_inputs, width=(32, 64, 96, 128, 160), depths=(1,) * 5,
                               coordinates=False, pool="gap")
        learning_rate = 1e-3
    start = tuple(float(v) for v in args.scan_start.split(",")) if args.scan_start else None
    measurement = MeasurementModel() if start is None else MeasurementModel(scan_start=start)

    def measured_inputs(scans: np.ndarray) -> np.ndarray:
        """Simulated measurements as the model sees them: smoothed as classify smooths a file
        (``--smooth``), then preprocessed."""
        return on_axis(classify.scan_inputs(scans, grid, sigma if args.smooth else 0.0,
                                            args.background))

    if args.simulation == "report":
        aug = xrd_augment.Augmentation()
        x_aug, aug_rows = xrd_augment.augmented_set(train.peak_two_theta, train.peak_intensity,
                                                    grid, sigma, aug, 1, args.seed)
        raw = np.concatenate([train.patterns, variants.patterns, x_aug])
        if start is not None:
            raw = xrd_augment.scan_range(raw, grid, start, np.random.default_rng(args.seed))
        x_train = np.concatenate([preprocess(raw[lo:lo + 2048])
                                  for lo in range(0, len(raw), 2048)]).astype(np.float32)
        y_train = {h: np.concatenate([v, v[aug_rows]]) for h, v in y.items()}
        res = models.train(cnn, x_train, y_train, val_inputs, y_val, args.epochs, 64,
                           learning_rate, seed=train_seed)
        n_patterns = len(x_train)
    elif args.simulation == "fixed":             # one measured-like draw of every row, kept
        rng = np.random.default_rng(args.seed)
        t0 = time.perf_counter()
        n_rows = training_peaks.n_rows
        x_train = np.concatenate([
            measured_inputs(simulate(training_peaks, np.arange(lo, min(lo + 1024, n_rows)),
                                     measurement, grid, rng))
            for lo in range(0, n_rows, 1024)]).astype(np.float32)
        print(f"fixed measured draw: {time.perf_counter() - t0:.0f} s")
        res = models.train(cnn, x_train, y, val_inputs, y_val, args.epochs, 64, learning_rate,
                           seed=train_seed)
        n_patterns = len(x_train)
    else:
        weights = {h: models.balanced_weights(v, len(models.head_labels(h)))[v]
                   .astype(np.float32) for h, v in y.items()}
        s = stream.PatternStream(training_peaks, y, measurement, 64,
                                 train_seed, preprocess=measured_inputs, grid=grid,
                                 sample_weights=weights)
        res = models.train_stream(cnn, s, val_inputs, y_val, args.epochs, learning_rate,
                                  seed=train_seed)
        n_patterns = peak_batch.n_patterns

    from lib.xrd import measured

    rruff = measured.read_rruff_dev(config.resolve_shared("shared", "rruff_dev"), grid, sigma,
                                    args.background)
    out = {"tag": args.tag, "args": vars(args), "n_train_structures": len(train),
           "n_training_patterns": int(n_patterns), "epochs_run": res.epochs_run,
           "best_epoch": res.best_epoch, "data_s": round(t_data, 1),
           "train_s": round(res.seconds, 1)}
    probs = {}
    evaluated = [("test", preprocess(test.patterns), test.crystal_system),
                 ("mp", preprocess(mp.patterns), mp.crystal_system),
                 ("rruff", on_axis(rruff.patterns), rruff.crystal_system)]
    if args.simulation != "report":     # the held-out sets measured as the training patterns
        for where, data in (("test_measured", test), ("mp_measured", mp)):
            peaks = PeakSet.from_lists(data.peak_two_theta, data.peak_intensity)
            x = simulate(peaks, np.arange(len(data)), measurement, grid,
                         np.random.default_rng([args.seed, 7]))
            evaluated.append((where, measured_inputs(x), data.crystal_system))
    for where, data, labels in evaluated:
        pr = models.predict_patterns(cnn, "cnn1d", data)["crystal_system"]
        probs[where] = pr
        acc = evaluate.accuracy(labels, pr)
        out[where] = round(acc, 4)
        out[where + "_se"] = round(evaluate.standard_error(acc, len(labels)), 4)
    pred = probs["rruff"].argmax(1)
    out["rruff_predicted"] = dict(zip(CRYSTAL_SYSTEMS, np.bincount(pred, minlength=7).tolist()))
    out["total_s"] = round(time.perf_counter() - t_start, 1)
    np.savez(f"{args.out}.{args.tag}.npz", rruff=probs["rruff"], rruff_y=rruff.crystal_system,
             mp=probs["mp"], mp_y=mp.crystal_system, test=probs["test"],
             test_y=test.crystal_system)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(out) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
