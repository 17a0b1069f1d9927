# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python (phases-and-patterns)
#     language: python
#     name: phases-and-patterns
# ---

# %% [markdown]
# # 06 — Crystal system from powder XRD (report 2, Figs 2–5 and its table)
#
# Report 2 simulated powder X-ray diffraction (XRD) patterns of Materials Project structures
# with pymatgen (Cu Kα, 2θ from 0 to 90°), put them on a fixed 2θ grid, smoothed them with a
# Gaussian (σ = 5 grid points), normalised them to [0, 1], turned each vector into a square
# image and trained **MobileNetV2** to tell the 7 crystal systems apart.  It counted the
# materials per crystal system (Figs 2–3), showed an example pattern (Fig 4) and the confusion
# matrix (Fig 5), and tabulated precision, recall and F1 per crystal system: **54 % accuracy**.
# For comparison, Park et al. (2017, IUCrJ 4, 621) classified patterns of ~150,000 ICSD
# structures with a 1D convolutional network at **94.99 %** (crystal system) and **81.14 %**
# (space group); on *measured* patterns (RRUFF) crystal-system accuracies near **81.7 %** have
# been reported — the anchor for what simulated-to-measured transfer can achieve.
#
# This notebook reproduces the report's pipeline and goes past it:
#
# - **balanced synthetic data**: random crystals from pyxtal over all 230 space groups, the same
#   number per crystal system (the report's MP data were dominated by a few systems);
# - **variants**: `n_variants` cheap variants of each training structure (lattice strained
#   within its crystal system, elements replaced by similar ones, free coordinates jittered;
#   same space group) — pyxtal is the slow part, variants are ~50× cheaper;
# - **real structures**: 1,355 Materials Project structures (MP-20 layout) as a second,
#   out-of-distribution test set — never used for training;
# - **a 1D CNN on the pattern vector** in the style of Park et al. (2017), with class weights,
#   and heads for crystal system (7) and space group (230), next to the report's MobileNetV2;
# - **measurement-like training patterns** (Kα doublet, pseudo-Voigt widths, texture,
#   background, counting noise, scans that start at 5–15° as a diffractometer's; smoothed as a
#   measured file is) — on measured patterns they matter more than anything else we tried;
# - **label shift**: the balanced models' probabilities corrected for how often each crystal
#   system occurs among real (COD) structures;
# - train and test sets that share **no structure and no composition**;
# - saved models that `python -m lib.xrd classify` applies to measured pattern files.
#
# Training and the test sets use **simulated** patterns (from synthetic or from real
# structures); 301 **measured** RRUFF patterns (`rruff_dev`) are used only to validate — never
# to train.

# %%
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from lib import config, figures, metrics
from lib.xrd import augment as xrd_augment
from lib.xrd import calibration, classify, dataset, evaluate, plots
from lib.xrd.variants import VariantSettings
from lib.xrd.patterns import CRYSTAL_SYSTEMS, Grid, pattern_to_image
from lib.xrd.simulate import MeasurementModel, PeakSet
from lib.xrd.simulate import simulate as simulate_patterns

NOTEBOOK = "06_xrd_classification"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
n_per_system = None
n_variants = None
variant_strain = None
variant_substitution = None
variant_jitter = None
variant_scale = None
variant_check = None
max_atoms = None
max_attempts = None
mp_csv = None
mp_limit = None
two_theta_min = None
two_theta_max = None
n_points = None
sigma = None
symprec = None
engine = None
image_size = None
epochs_cnn = None
epochs_mobilenet = None
epochs_convnext = None
learning_rate_convnext = None
simulation = None
confidence_target = None
mobilenet_patterns = None
convnext_patterns = None
batch_size = None
learning_rate = None
cnn_dense = None
test_fraction = None
validation_fraction = None
augment = None
augment_copies = None
n_workers = None
background = None
rruff_dir = None
scan_start = None
cod_dir = None
class_prior = None
keep_epoch = None
index_patterns = None
index_simulated = None

# %%
cfg = config.notebook_config(NOTEBOOK, profile, **config.parameters_from(globals(), NOTEBOOK))
print(cfg.table())
if not 0 < cfg.test_fraction < 0.5 or not 0 < cfg.validation_fraction < 0.5:
    raise ValueError("test_fraction and validation_fraction must lie in (0, 0.5)")
grid = Grid(cfg.two_theta_min, cfg.two_theta_max, cfg.n_points)
dense = tuple(config.int_list(cfg.cnn_dense, "cnn_dense"))
mp_path = config.resolve_shared(cfg.mp_csv, "mp20_subset", "mp20_subset.csv")
rruff_path = config.resolve_shared(cfg.rruff_dir, "rruff_dev")
cod_path = config.resolve_shared(cfg.cod_dir, "cod_structures")
if cfg.keep_epoch not in ("best", "last"):
    raise ValueError(f"keep_epoch must be 'best' or 'last', got {cfg.keep_epoch!r}")
if cfg.class_prior not in ("none", "cod"):
    raise ValueError(f"class_prior must be 'none' or 'cod', got {cfg.class_prior!r}")
if cfg.simulation not in ("report", "measured", "measured_once"):
    raise ValueError("simulation must be 'report', 'measured' or 'measured_once', got "
                     f"{cfg.simulation!r}")
if cfg.background not in classify.BACKGROUNDS:
    raise ValueError(f"background must be one of {classify.BACKGROUNDS}, got {cfg.background!r}")
t_start, timings = time.perf_counter(), {}
print(f"2θ grid: {grid.two_theta_min}–{grid.two_theta_max}°, {grid.n_points} points, "
      f"step {grid.step:.4f}°; smoothing σ = {cfg.sigma} points = {cfg.sigma * grid.step:.3f}°")
print(f"labels: SpacegroupAnalyzer, symprec = {cfg.symprec} Å; MP-20 CSV: {mp_path or 'none'}")
print(f"model inputs: background {cfg.background!r}; measured validation set: "
      f"{rruff_path or 'none'}")

# %% [markdown]
# The table lists every parameter of this run and where it came from (profile or override).
# The grid step and σ in degrees say how finely a pattern is sampled and how much it is
# blurred: σ = 5 points is the report's smoothing.

# %% [markdown]
# ## The patterns
#
# **Synthetic structures** (`lib.xrd.structures`): for each crystal system, `n_per_system`
# random crystals from `pyxtal`, the space groups of the system visited in turn (all 230 are
# used once `n_per_system` ≥ 68), 1–3 elements drawn from 61 common ones, atoms placed on
# Wyckoff positions (≲ `max_atoms` per conventional cell, like MP-20's ≤ 20).  pyxtal cannot
# place every composition in every group: each structure gets up to `max_attempts` compositions,
# and structures that still fail are recorded and left out.
#
# **Patterns** (`lib.xrd.patterns`): the peak list of pymatgen's XRD calculator (Cu Kα,
# 2θ 0–90°) — by default through `fast_peaks`, a vectorised copy of
# `XRDCalculator.get_pattern` that skips the hkl-family bookkeeping and gives the same peaks
# (tested to 1e-9) — placed on the grid, smoothed and normalised.  Generation runs over
# `n_workers` processes (`lib.parallel`: a Dask cluster when more than one) and is cached in
# HDF5 under `runs/<profile>/data/` with its provenance.
# **Labels** come from SpacegroupAnalyzer on each structure (not from the group asked of pyxtal:
# a random structure can have higher symmetry than its group, and the label must describe the
# pattern).

# %%
t0 = time.perf_counter()
synth = dataset.synthetic_dataset(cfg.data_dir, cfg.n_per_system, cfg.seed, grid, cfg.sigma,
                                  symprec=cfg.symprec, max_atoms=cfg.max_atoms,
                                  max_attempts=cfg.max_attempts, engine=cfg.engine,
                                  n_workers=cfg.n_workers)
timings["synthetic_data_s"] = time.perf_counter() - t0
synth_summary = evaluate.data_summary(synth, cfg.n_per_system * len(CRYSTAL_SYSTEMS))
print({k: v for k, v in synth_summary.items() if k not in ("failures", "per_crystal_system")})
for f in synth.failures[:5]:
    print("  failed:", f["id"], f["reason"])

# %% [markdown]
# How many of the requested structures pyxtal could build, how many space groups were asked
# and how many SpacegroupAnalyzer found, and the fraction whose crystal system changed because
# the random structure came out more symmetric than asked.

# %%
t0 = time.perf_counter()
mp = None if mp_path is None else dataset.mp_dataset(
    mp_path, cfg.data_dir, grid, cfg.sigma, symprec=cfg.symprec, limit=cfg.mp_limit,
    seed=cfg.seed, engine=cfg.engine, n_workers=cfg.n_workers)
timings["mp_data_s"] = time.perf_counter() - t0
mp_summary = evaluate.data_summary(mp)
if mp_summary is not None:
    mp_summary["csv"] = str(mp_path)
    print({k: mp_summary[k] for k in ("n_structures", "n_skipped", "space_group_agrees_with_csv")})
else:
    print("no MP-20 CSV: the real-structure test is skipped (set mp_csv; see data/README.md)")

# %% [markdown]
# The real Materials Project structures: how many were read, how many were skipped (with their
# reasons in the metrics), and how often our space group agrees with the CSV's
# `spacegroup.number` — a check that the labels mean the same thing on both sides.

# %% [markdown]
# ## Materials per crystal system (report Figs 2 and 3)
#
# The report's Figs 2 and 3 counted the Materials Project structures per crystal system and
# their share.

# %%
counts = evaluate.counts_frame({"synthetic (pyxtal)": synth, "Materials Project": mp})
display(evaluate.count_and_share(counts))
fig = plots.materials_per_system(counts)
figures.save_figure(fig, "xrd_fig02_materials_per_crystal_system",
                    "Number of structures per crystal system: balanced synthetic pyxtal set and the "
                    "real Materials Project (MP-20) structures (report 2, Fig 2).", cfg)
plt.show()

# %% [markdown]
# The synthetic set is balanced by construction (up to the structures whose symmetry search
# found a higher system); the real MP structures are not — a few systems dominate, as in the
# report's data.

# %%
fig = plots.system_shares(counts)
figures.save_figure(fig, "xrd_fig03_crystal_system_share",
                    "Share of each crystal system in the synthetic and the Materials Project sets "
                    "(report 2, Fig 3).", cfg)
plt.show()

# %% [markdown]
# The same counts as shares: a model that always answers the largest MP system would already
# score that system's share on the MP set, the baseline any accuracy there must beat.

# %% [markdown]
# ## An example pattern (report Fig 4)

# %%
example_set = mp if mp is not None and len(mp) else synth
i_ex = example_set.first_of_system("cubic")
aug = xrd_augment.Augmentation() if cfg.augment else xrd_augment.Augmentation.none()
augmented_ex = xrd_augment.augment_pattern(
    example_set.peak_two_theta[i_ex], example_set.peak_intensity[i_ex], grid, cfg.sigma,
    xrd_augment.Augmentation(), np.random.default_rng(cfg.seed))
fig = plots.example_pattern(example_set.peak_two_theta[i_ex], example_set.peak_intensity[i_ex],
                            grid, example_set.patterns[i_ex], augmented_ex,
                            pattern_to_image(example_set.patterns[i_ex], cfg.image_size)[0, ..., 0],
                            cfg.sigma, example_set.describe_row(i_ex))
figures.save_figure(fig, "xrd_fig04_example_pattern",
                    f"Simulated powder pattern (Cu Kα) of {example_set.describe_row(i_ex)}: peak "
                    "list, smoothed and normalised model input, an augmented copy, and the square "
                    "image given to MobileNetV2 (report 2, Fig 4).", cfg)
plt.show()

# %% [markdown]
# The peak list (sticks), the model's input vector (on the grid, smoothed, normalised), an
# augmented version of it (what a measurement might look like: shifted zero, broader peaks,
# texture, background, noise) and the square image MobileNetV2 sees: the same vector,
# resampled to `image_size`² points and laid out row by row — neighbouring rows of the image
# are far apart in 2θ, which a convolution over the image does not know.

# %% [markdown]
# ## Train and test sets that share no structure
#
# The synthetic patterns are split into train / validation / test by **composition**
# (reduced formula) with scikit-learn's `StratifiedGroupKFold`, stratified by crystal system.
# Augmented copies are made of training patterns only.  The MP structures are a second test
# set, never seen in training.

# %%
split = dataset.group_split(synth, cfg.test_fraction, cfg.validation_fraction, cfg.seed)
for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
    shared = set(synth.formula[split[a]]) & set(synth.formula[split[b]])
    assert not shared, f"{a}/{b} share compositions {sorted(shared)[:5]}"
print({k: len(v) for k, v in split.items()}, "structures; no composition shared between sets")
train, val, test = (synth.subset(split[k]) for k in ("train", "validation", "test"))

# %% [markdown]
# No structure — and no composition — appears on two sides, so the test measures
# generalisation to new materials rather than memory.

# %% [markdown]
# ## Variants of the training structures
#
# pyxtal makes a few structures per second; `lib.xrd.variants.make_variants` makes
# `n_variants` variants of a structure in milliseconds each: the lattice strained within the
# constraints of its crystal system (strain components up to `variant_strain`), elements
# replaced by chemically similar ones (probability `variant_substitution`, the cell scaled with
# the atomic radii), free Wyckoff coordinates jittered (σ = `variant_jitter` Å), the cell
# scaled by a factor up to `variant_scale` either way, and with `variant_check` each variant
# checked to keep its parent's space group.  Their peak lists come from
# `lib.xrd.variants.batch_peaks` (the same peaks as pymatgen's `XRDCalculator`, one hkl list per
# parent) and their profiles from `lib.xrd.profiles.gaussian_patterns` (the report's Gaussian,
# σ in grid points, all patterns at once).  Only **training** structures get variants, so the
# variants of a structure stay in its split; validation, test and MP sets stay as simulated.
# A substitution can turn a training composition into one of a validation or test structure:
# such variants are dropped, so the sets still share no composition.

# %%
variant_settings = VariantSettings(strain=cfg.variant_strain,
                                   substitution=cfg.variant_substitution,
                                   jitter=cfg.variant_jitter, symprec=cfg.symprec,
                                   scale=cfg.variant_scale, check=cfg.variant_check)
t0 = time.perf_counter()
variants_all = dataset.variant_set(train, cfg.n_variants, cfg.seed, grid, cfg.sigma,
                                   variant_settings, n_workers=cfg.n_workers)
held_formulas = set(val.formula) | set(test.formula)
variants = variants_all.subset(np.flatnonzero([f not in held_formulas
                                               for f in variants_all.formula]))
timings["variants_s"] = time.perf_counter() - t0
assert set(variants.parent_id) <= set(train.structure_id), "a variant left its parent's split"
assert not set(variants.formula) & held_formulas
variant_summary = {
    "n_variants_per_structure": cfg.n_variants, "n_parents": int(len(train)),
    "n_made": int(len(variants_all)), "n_kept": int(len(variants)),
    "n_dropped_shared_composition": int(len(variants_all) - len(variants)),
    "n_failed_parents": len(variants_all.failures), "failures": variants_all.failures[:20],
    "redrawn": int(variants_all.redrawn), "fallbacks": int(variants_all.fallbacks),
    "space_group_differs_from_parent_label": float(np.mean(
        variants.space_group != train.space_group[variants.parent])) if len(variants) else 0.0,
    "crystal_system_differs_from_parent_label": float(np.mean(
        variants.crystal_system != train.crystal_system[variants.parent]))
        if len(variants) else 0.0,
    "settings": {"strain": cfg.variant_strain, "substitution": cfg.variant_substitution,
                 "jitter_angstrom": cfg.variant_jitter, "symprec": cfg.symprec,
                 "scale": cfg.variant_scale, "space_group_checked": cfg.variant_check},
    "seconds": round(variants_all.seconds, 2),
    "ms_per_variant": round(1e3 * variants_all.seconds / max(1, len(variants_all)), 2)}
print({k: v for k, v in variant_summary.items() if k not in ("failures", "settings")})

# %% [markdown]
# How many variants were made and kept, how many were dropped because a substitution gave a
# validation or test composition, how often the variant's space group (found by
# `make_variants`) differs from its parent's label (SpacegroupAnalyzer; variants are labelled
# with their own), and the cost per variant.

# %%
t0 = time.perf_counter()
preprocess = partial(classify.preprocess, grid=grid, background=cfg.background)
train_peak_batch = dataset.training_peaks(train, variants)
train_peaks = PeakSet.from_batches([train_peak_batch])
y_rows = {"crystal_system": np.concatenate([train.crystal_system, variants.crystal_system]),
          "space_group": np.concatenate([train.space_group, variants.space_group]) - 1}
start_range = (xrd_augment.degree_range(cfg.scan_start, "scan_start") if cfg.scan_start
               else None)                          # None: simulated scans start at 0°
measurement = MeasurementModel(scan_start=start_range or (0.0, 0.0))
scan_inputs = partial(classify.scan_inputs, grid=grid, sigma=cfg.sigma, background=cfg.background)
x_train = None
if cfg.simulation == "report":
    x_aug, aug_rows = xrd_augment.augmented_set(
        train.peak_two_theta, train.peak_intensity, grid, cfg.sigma, aug,
        cfg.augment_copies if cfg.augment else 0, cfg.seed)
    raw_train = np.concatenate([train.patterns, variants.patterns, x_aug])
    if start_range is not None:                    # scans that start where a diffractometer's do
        raw_train = xrd_augment.scan_range(raw_train, grid, start_range,
                                           np.random.default_rng(cfg.seed + 2))
    x_train = np.empty(raw_train.shape, np.float32)
    for lo in range(0, len(raw_train), 2048):      # chunks: preprocess works in float64
        x_train[lo:lo + 2048] = preprocess(raw_train[lo:lo + 2048])
    del raw_train
    y_train = {h: np.concatenate([v, v[aug_rows]]) for h, v in y_rows.items()}
    n_training_patterns = len(x_train)
    training_description = (f"{len(train)} structures + {len(variants)} variants + {len(x_aug)} "
                            "augmented copies, fixed (report's Gaussian σ profiles)")
elif cfg.simulation == "measured_once":
    x_train = np.empty((train_peaks.n_rows, grid.n_points), np.float32)
    rng_once = np.random.default_rng(cfg.seed + 2)
    for lo in range(0, train_peaks.n_rows, 256):  # 128–512 rows a call: 1.4–1.7 ms a pattern
        rows_once = np.arange(lo, min(lo + 256, train_peaks.n_rows))
        x_train[lo:lo + 256] = scan_inputs(simulate_patterns(train_peaks, rows_once, measurement,
                                                             grid, rng_once))
    y_train = y_rows
    n_training_patterns = len(x_train)
    training_description = (f"{len(train)} structures + {len(variants)} variants, each measured "
                            "once (MeasurementModel), fixed")
else:
    y_train = y_rows
    n_training_patterns = train_peaks.n_rows
    training_description = (f"{len(train)} structures + {len(variants)} variants, measured anew "
                            "every epoch (MeasurementModel)")
variants.patterns = variants.patterns[:0]          # the profiles are no longer needed
y_val = {"crystal_system": val.crystal_system, "space_group": val.space_group - 1}
if cfg.simulation == "report":
    val_inputs = preprocess(val.patterns)
else:       # validation measured like the training patterns: it picks the epoch and fits T
    val_inputs = scan_inputs(simulate_patterns(
        PeakSet.from_lists(val.peak_two_theta, val.peak_intensity), np.arange(len(val)),
        measurement, grid, np.random.default_rng(cfg.seed + 3)))
timings["training_patterns_s"] = time.perf_counter() - t0
print(f"training patterns per epoch: {n_training_patterns} = {training_description}; "
      f"background: {cfg.background}")


def pattern_stream(seed: int, rows: np.ndarray | None = None):
    """New measurement-like patterns of the training rows (all, or ``rows``) every epoch
    (lib.xrd.stream), each epoch's drawn when it begins (before its training steps)."""
    rows = np.arange(len(y_rows["crystal_system"])) if rows is None else rows
    labels = {h: v[rows] for h, v in y_rows.items()}
    weights = {h: models.balanced_weights(v, len(models.head_labels(h)))[v].astype(np.float32)
               for h, v in labels.items()}
    peaks = PeakSet.from_batches([dataset.peak_rows(train_peak_batch, rows)])
    return stream.PatternStream(peaks, labels, measurement, cfg.batch_size, seed,
                                preprocess=scan_inputs, grid=grid, sample_weights=weights,
                                epoch_first=True)


def row_subset(n_rows: int, cap: int, seed: int) -> np.ndarray:
    """A seeded subset of ``cap`` of ``n_rows`` training rows (all when cap is 0 or larger)."""
    if not 0 < cap < n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, cap, replace=False))


# %% [markdown]
# The training patterns.  With `simulation = "report"`: each training structure and each
# variant once with the report's Gaussian profile, plus `augment_copies` measurement-like
# copies of each training structure (`lib.xrd.augment`) — a fixed set.  With
# `simulation = "measured"` (every profile's default): the same peak lists are **measured anew
# every epoch** by `lib.xrd.stream.PatternStream` with `lib.xrd.simulate.MeasurementModel`
# (Kα1/Kα2 doublet, pseudo-Voigt peaks with Caglioti and Scherrer widths, zero shift and sample
# displacement, an impurity phase now and then, background, Poisson counting noise, a scan
# range between `scan_start` and 60–90°), each epoch's patterns drawn when it begins (about
# 40 s an epoch here; drawn beside the training steps they slowed them down more than that);
# with `simulation = "measured_once"` each is measured **once**, the same way, and kept (one
# simulation per pattern instead of one per pattern and epoch).  A simulated measurement is smoothed with
# σ within its scan exactly as `classify` smooths a measured file (`classify.scan_inputs`):
# without it the simulated scans had ~4× the point-to-point noise of the measured `rruff_dev`
# scans and ~4× as many local maxima.  In every mode no training scan records anything below
# its start, drawn per pattern from `scan_start` (5–15°: RRUFF scans start at 5°; simulated
# peaks below a diffractometer's start taught the models peaks a measurement never shows).
# The validation patterns (which fit the temperature, and pick the epoch kept when
# `keep_epoch = "best"`) are measured the same way, once each; the test and MP sets stay as
# simulated.  `keep_epoch = "last"` (default): a validation split of 70 structures (± 6 points)
# cannot tell two epochs apart — in two default runs it kept the 1D CNN's first epoch (20.6 %
# on `rruff_dev`), where the paired runs that kept the second gave 30 %.  Every pattern a model sees — training,
# validation, test, MP, measured, or a user's file in `classify` — passes through one function,
# `lib.xrd.classify.preprocess`: with `background = "snip"` the SNIP background (clipping
# half-window 1° 2θ) is subtracted, then each pattern is scaled to [0, 1].

# %% [markdown]
# ## Model 1: the report's MobileNetV2
#
# `keras.applications.MobileNetV2` on the square images, all layers trained, one softmax head
# for the 7 crystal systems.  ImageNet weights are used when they can be loaded (they exist for
# 96–224 pixel images and need one download); otherwise the network starts from random weights —
# the output says which.  Class weights (balanced) enter the loss.  One change from Keras's
# defaults: the batch-normalisation moving averages use momentum 0.9 instead of 0.999 — with
# 0.999 and a few hundred training steps from scratch, the averages still hold their initial
# values and the network predicts a single class at inference (we saw exactly that: validation
# accuracy at chance while training accuracy climbed).

# %%
from lib.xrd import models, networks, stream  # noqa: E402  (TensorFlow: after the data steps)

n_rows_train = len(y_train["crystal_system"])
mnv2_rows = row_subset(n_rows_train, cfg.mobilenet_patterns, cfg.seed)
if x_train is not None:
    x_mnv2 = x_train[mnv2_rows]
else:                                              # one measured draw of each row (fixed)
    x_mnv2 = scan_inputs(simulate_patterns(train_peaks, mnv2_rows, measurement, grid,
                                           np.random.default_rng(cfg.seed)))
mnv2, weights_source = models.build_mobilenet(cfg.image_size, heads=("crystal_system",))
res_mnv2 = models.train(mnv2, models.model_inputs("mobilenetv2", x_mnv2, cfg.image_size),
                        {"crystal_system": y_train["crystal_system"][mnv2_rows]},
                        models.model_inputs("mobilenetv2", val_inputs, cfg.image_size),
                        {"crystal_system": y_val["crystal_system"]}, cfg.epochs_mobilenet,
                        cfg.batch_size, cfg.learning_rate, seed=cfg.seed, keep=cfg.keep_epoch)
timings["mobilenet_train_s"] = res_mnv2.seconds
del x_mnv2
print(f"trained on {len(mnv2_rows)} of the {n_rows_train} training patterns"
      + (" (one fixed measured draw each)" if x_train is None else ""))
print(f"weights: {weights_source}; {mnv2.count_params():,} parameters; {res_mnv2.epochs_run} "
      f"epochs in {res_mnv2.seconds:.0f} s; kept epoch {res_mnv2.best_epoch}")

# %% [markdown]
# How many training patterns MobileNetV2 saw (a seeded subset of `mobilenet_patterns` when
# the set is larger: the images cost ~3× the 1D CNN per pattern), which weights it started
# from, its size, and the epoch kept (the one with the best
# validation accuracy).

# %% [markdown]
# ## Model 2: a 1D CNN in the style of Park et al. (2017)
#
# Three wide strided convolutions (80 filters; kernels 100, 50, 25; strides 5, 5, 2) with
# average pooling and dropout, two dense layers (2300 and 1150 units in the default profile,
# as Park et al.) and two softmax heads: crystal system (7) and space group (230, the loss
# weighted ½).  Balanced class weights of each head enter as sample weights.  Adam's learning
# rate is 3·10⁻⁴: at 10⁻³ the 2300/1150-unit dense layers stalled at chance in our tests.

# %%
cnn = models.build_cnn1d(grid.n_points, heads=("crystal_system", "space_group"), dense=dense)
if x_train is not None:
    res_cnn = models.train(cnn, x_train, y_train, val_inputs, y_val, cfg.epochs_cnn,
                           cfg.batch_size, cfg.learning_rate, seed=cfg.seed, keep=cfg.keep_epoch)
else:
    res_cnn = models.train_stream(cnn, pattern_stream(cfg.seed), val_inputs, y_val,
                                  cfg.epochs_cnn, cfg.learning_rate, seed=cfg.seed,
                                  keep=cfg.keep_epoch)
timings["cnn_train_s"] = res_cnn.seconds
print(f"1D CNN: {cnn.count_params():,} parameters; {res_cnn.epochs_run} epochs in "
      f"{res_cnn.seconds:.0f} s; kept epoch {res_cnn.best_epoch}")

# %% [markdown]
# The 1D CNN sees the pattern as a vector, so a convolution runs along 2θ — neighbours in its
# input are neighbours in the pattern.

# %% [markdown]
# ## Model 3: a 1D ConvNeXt
#
# `lib.xrd.networks.build_convnext1d`: a patchifying stem, ConvNeXt blocks (depthwise
# convolution, layer normalisation, inverted bottleneck, layer scale) in four stages with a
# 2θ-coordinate channel, and two heads — crystal system and space group.  Trained on the same
# patterns as the 1D CNN (Adam at `learning_rate_convnext`), or a seeded subset of
# `convnext_patterns` of them per epoch (it costs ~4× the 1D CNN per pattern on a CPU).

# %%
convnext = networks.build_convnext1d(grid.n_points, heads=("crystal_system", "space_group"))
convnext_rows = row_subset(n_rows_train, cfg.convnext_patterns, cfg.seed + 1)
if x_train is not None:
    res_convnext = models.train(convnext, x_train[convnext_rows],
                                {h: v[convnext_rows] for h, v in y_train.items()}, val_inputs,
                                y_val, cfg.epochs_convnext, cfg.batch_size,
                                cfg.learning_rate_convnext, seed=cfg.seed, keep=cfg.keep_epoch)
else:
    res_convnext = models.train_stream(convnext, pattern_stream(cfg.seed + 1, convnext_rows),
                                       val_inputs, y_val, cfg.epochs_convnext,
                                       cfg.learning_rate_convnext, seed=cfg.seed,
                                       keep=cfg.keep_epoch)
timings["convnext_train_s"] = res_convnext.seconds
print(f"1D ConvNeXt: trained on {len(convnext_rows)} of the {n_rows_train} training patterns "
      "per epoch")
print(f"1D ConvNeXt: {convnext.count_params():,} parameters; {res_convnext.epochs_run} epochs "
      f"in {res_convnext.seconds:.0f} s; kept epoch {res_convnext.best_epoch}")

# %% [markdown]
# ## Results: the report's table for each model
#
# Each model predicts the crystal system of the held-out synthetic structures and of the real
# MP structures (simulated patterns); `lib.xrd.evaluate` computes the accuracies, the report's
# table and the confusion matrices from the true labels and the predicted probabilities.

# %%
sets = {"test": test, "MP": mp}
trained = {"MobileNetV2": ("mobilenetv2", mnv2), "1D CNN": ("cnn1d", cnn),
           "ConvNeXt": ("convnext1d", convnext)}
evals = {(name, where): None if data is None or not len(data) else evaluate.evaluation(
             data.crystal_system,
             models.predict_patterns(model, kind,
                                     classify.preprocess(data.patterns, grid, cfg.background),
                                     cfg.image_size),
             data.space_group)
         for name, (kind, model) in trained.items() for where, data in sets.items()}
display(evaluate.accuracy_frame(evals))

# %% [markdown]
# Accuracy of the crystal system with its standard error, top-2 accuracy, and for the 1D CNN
# the space-group accuracy and top-5; chance for 7 balanced classes is 14.3 %.

# %%
for where, label in (("test", "held-out synthetic structures"), ("MP", "real MP structures")):
    if evaluate.tables_of(evals, where):
        display(Markdown(f"**The report's table — {label}** (simulated patterns)"))
        display(evaluate.table_frame(evaluate.tables_of(evals, where)).round(3))

# %% [markdown]
# Precision, recall and F1 per crystal system — the report's table — for both models side by
# side: a class with recall near zero is one the model never predicts.

# %% [markdown]
# ## The confusion matrix (report Fig 5)

# %%
fig = plots.confusion_matrices(evaluate.confusion_panels(evals))
figures.save_figure(fig, "xrd_fig05_confusion_matrix",
                    "Confusion matrices of the crystal system for MobileNetV2 and the 1D CNN, on "
                    "held-out synthetic structures and on real Materials Project structures "
                    "(counts; colour = share of the true class) (report 2, Fig 5).", cfg)
plt.show()

# %% [markdown]
# Rows are the true crystal systems, columns the predicted ones; the colour is the share of
# the row.  Mistakes between neighbours in symmetry (trigonal/hexagonal, tetragonal/cubic) are
# the expected ones: their patterns differ only in peak splittings.

# %% [markdown]
# ## Measured patterns: the `rruff_dev` validation set
#
# Everything above is simulated.  `rruff_dev` (`../shared/data/rruff_dev`, parameter
# `rruff_dir`) holds 301 **measured** powder patterns of minerals from the RRUFF project (Cu Kα,
# 2θ 5–90° at 0.01°; no trigonal minerals), with their space groups — a **validation set, never
# trained on**.  `lib.xrd.measured.read_rruff_dev` reads each file as `classify` does and puts
# it through the same preprocessing as the training patterns (background: the `background`
# parameter).  Each model is scored beside three baselines: always answering the most common
# crystal system of the set (monoclinic, 31.6 %), guessing at random, and the classical
# method, indexing (below).

# %%
t0 = time.perf_counter()
rruff = None
if rruff_path is not None:
    from lib.xrd import measured

    rruff = measured.read_rruff_dev(rruff_path, grid, cfg.sigma, cfg.background)
    print(rruff.summary())
else:
    print("no rruff_dev folder: the measured validation is skipped (set rruff_dir)")
rruff_probs = {} if rruff is None else {
    name: models.predict_patterns(model, kind, rruff.patterns, cfg.image_size)
    for name, (kind, model) in trained.items()}
rruff_evals = {name: evaluate.evaluation(rruff.crystal_system, p, rruff.space_group)
               for name, p in rruff_probs.items()}
rruff_base = None if rruff is None else evaluate.baselines(rruff.crystal_system,
                                                           rruff.space_group)
timings["rruff_dev_s"] = time.perf_counter() - t0

# %% [markdown]
# ### The classical method: indexing
#
# Before any network, a crystallographer indexes the pattern: finds the cell of highest symmetry
# whose lines match the measured ones. `lib.xrd.indexing` does that without training: it picks
# the lines of each raw scan (SNIP background, ≥ 5 % of the strongest, Kα2 twins dropped), tries
# cells from small indices assigned to the first lines (cubic, hexagonal, rhombohedral,
# tetragonal, orthorhombic; lattice centrings P, I, F, C, R), refines each with a zero shift (≤
# 0.1°) and keeps the best by de Wolff's figure of merit M ≥ 10 — for an orthorhombic cell
# counted with the extinction symbol (the reflection conditions of a set of space groups, from
# cctbx) that fits its lines best — then reports the crystal system of the found lattice's own
# metric symmetry (cctbx, Le Page's method) when that higher cell indexes the lines as well or
# the lattice is within 0.15° of it, else the found cell's. Only when no such cell indexes the
# lines, or the best is orthorhombic (then it must beat that cell's M twice over), does it
# search monoclinic cells (b unique, four parameters, held to the same M ≥ 10 and the same
# metric rule), then triclinic ones for a scan of twenty lines; a scan none indexes gets a
# second look at the maxima of its curvature (lines closer than their maxima resolved); if
# nothing indexes those either it is answered "monoclinic", unindexed. A computed (noise-free)
# scan, such as the simulated ones below, is indexed on its lines down to 1 % instead (a
# computed pattern's weak lines are the phase's own; its second look takes the curvature's
# maxima down to 1 % too, and a rhombohedral cell is sought with indices up to 8 on its first
# lines), and there, where no impurity explains a line, a cell of lower symmetry must also index
# as many lines as the higher one. Then, as a crystallographer would, it names a space group:
# the found cell is counted with each extinction symbol of its system, and the answer is the
# most symmetric group the best one allows (centrosymmetric first, then the highest order: Ia-3d
# for a garnet, Pnma for "P n 21 a, P n m a", P2₁/c for "P 1 21/c 1"); an unindexed pattern gets
# none. The weak lines (down to 1 % of the strongest, Kβ lines dropped) test those conditions:
# when one sits on a reflection they forbid, the cell is counted with the best centring and
# extinction symbol no weak line contradicts — M alone favours the more absences, since the
# strong lines cannot show a weak reflection. It runs on the first `index_patterns` patterns
# (all at default).

# %%
t0 = time.perf_counter()
index_records = []
if rruff is not None and cfg.index_patterns > 0:
    from lib.xrd import indexing

    index_records = indexing.index_files(
        [str(rruff.folder / f) for f in rruff.files[:cfg.index_patterns]],
        n_workers=cfg.n_workers)
    rruff_base["classical_indexing"] = evaluate.indexing_baseline(
        rruff.crystal_system, index_records, rruff.space_group, cfg.confidence_target)
    classical = rruff_base["classical_indexing"]
    print(f"classical indexing: {classical['accuracy']:.1%} of {classical['n']} patterns; "
          f"a cell for {classical['n_indexed']} (monoclinic: "
          f"{classical['n_monoclinic_indexed']}); space "
          f"group (the most symmetric one the best extinction symbol allows) right for "
          f"{classical['n_space_group_right']} ({classical['space_group_accuracy']:.1%}), the "
          f"true group among those allowed for {classical['n_space_group_allowed']}; of the "
          f"{classical['n_orthorhombic_right']} orthorhombic patterns it gets right, "
          f"{classical['n_orthorhombic_space_group_allowed']} have theirs among them")
    if classical["m_threshold"] is not None:
        print(f"answering only when de Wolff's M ≥ {classical['m_threshold']:.1f} (the lowest M "
              f"reaching {classical['target_accuracy']:.0%}): "
              f"{classical['coverage_at_threshold']:.1%} of the patterns answered, "
              f"{classical['accuracy_at_threshold']:.1%} of them right")
timings["indexing_s"] = time.perf_counter() - t0
if rruff_evals:
    display(evaluate.measured_frame(rruff_evals, rruff_base))
    display(Markdown("**The report's table — measured `rruff_dev` patterns**"))
    display(evaluate.table_frame({m: ev["table"] for m, ev in rruff_evals.items()}).round(3))

# %% [markdown]
# A model has learnt something that transfers to measurements only where it beats "always
# monoclinic"; the per-class recall shows which systems it finds and which it never answers.

# %%
if rruff_evals:
    panels = evaluate.measured_panels(rruff_evals, "rruff_dev")
    if "classical_indexing" in rruff_base:
        c = rruff_base["classical_indexing"]
        panels[f"classical indexing, {c['n']} patterns: accuracy {c['accuracy']:.1%}"] = \
            c["confusion"]
    fig = plots.confusion_matrices(panels)
    fig.suptitle("Crystal-system confusion matrices on measured patterns (rruff_dev; colour = "
                 "row share)")
    figures.save_figure(fig, "xrd_fig06_rruff_dev_confusion_matrix",
                        "Confusion matrices of the crystal system on 301 measured RRUFF powder "
                        "patterns (rruff_dev, Cu Kα; validation only, never trained on) for each "
                        "model and for classical indexing (counts; colour = share of the true "
                        "class). Data: RRUFF project "
                        "via Salgado et al., npj Comput. Mater. 2023.", cfg)
    plt.show()

# %% [markdown]
# Rows are the true crystal systems of the measured minerals (no trigonal row: the set has
# none), columns the models' answers.

# %% [markdown]
# ## Calibrated probabilities and answering only when confident
#
# A softmax output is a probability only if it is calibrated.  Each model's crystal-system
# probabilities are **temperature-scaled** (`lib.xrd.calibration`: one T per model, fitted on
# the synthetic validation split; p ∝ p^(1/T), the predictions unchanged); the expected
# calibration error (ECE, 15 bins) is reported before and after, on the validation split and
# on the measured `rruff_dev` patterns.  Then **accuracy against coverage** on `rruff_dev`:
# answer only when the top calibrated probability reaches a threshold.  The threshold stored
# in each bundle (`confidence_threshold`, used by `classify` for `"confident"`) is the lowest
# at which the answered `rruff_dev` patterns — at least 20 of them, so that one lucky answer
# does not set it — reach `confidence_target` accuracy (1 — never confident in practice — when
# no threshold does): `rruff_dev` is a validation set, and
# choosing the threshold is what it is for.

# %% [markdown]
# ### Label shift: crystal systems are not equally common
#
# The models train on **balanced** crystal systems (class weights), so their probabilities
# assume each system is equally likely; real materials are not (monoclinic and orthorhombic
# are common, hexagonal rare).  With `class_prior = "cod"` the probabilities are corrected for
# the crystal-system frequencies π of the **COD structures** in `../shared/data/cod_structures`
# (`cod_dir`; labels from SpacegroupAnalyzer, one pseudo-count per system): p′ ∝ p · π / (1/7)
# (Saerens et al. 2002, `lib.xrd.calibration.prior_corrected`), after temperature scaling.
# π comes from a training-side source, never from `rruff_dev`'s labels.  The COD folder is
# small and not a random sample (its `p-1/` part was chosen for space group P-1, so triclinic
# is over-represented), which the numbers below should be read with.  The bundles store π
# (`meta.class_prior`) and `classify` applies it; `rruff_dev` is reported with and without it.
# Their space-group frequencies (one pseudo-count per group; `meta.space_group_prior`) weight
# the network's space group where indexing names none (below, and `classify --index`).

# %%
prior, prior_summary, sg_prior = None, None, None
if cfg.class_prior == "cod" and cod_path is not None:
    t0 = time.perf_counter()
    cod = dataset.cod_dataset(cod_path, cfg.data_dir, grid, cfg.sigma, symprec=cfg.symprec,
                              engine=cfg.engine, n_workers=cfg.n_workers)
    prior = calibration.class_frequencies(cod.crystal_system, len(CRYSTAL_SYSTEMS))
    sg_prior = calibration.class_frequencies(cod.space_group - 1, 230)   # for the space group
    prior_summary = {"source": "COD structures (crystal systems by SpacegroupAnalyzer)",
                     "folder": str(cod_path), "n_structures": int(len(cod)),
                     "n_skipped": len(cod.failures), "pseudo_count": 1,
                     "counts": dict(zip(CRYSTAL_SYSTEMS, np.bincount(
                         cod.crystal_system, minlength=len(CRYSTAL_SYSTEMS)).tolist())),
                     "frequencies": dict(zip(CRYSTAL_SYSTEMS, np.round(prior, 4).tolist()))}
    timings["class_prior_s"] = time.perf_counter() - t0
    display(pd.DataFrame({"COD structures": prior_summary["counts"],
                          "prior π": prior_summary["frequencies"]}).T)
else:
    print("no class prior (class_prior = 'none' or no COD folder): balanced probabilities")

# %%
calib = {name: evaluate.calibrate(
             models.predict_patterns(model, kind, val_inputs, cfg.image_size)["crystal_system"],
             val.crystal_system,
             None if not rruff_evals else rruff_evals[name]["probs"],
             None if rruff is None else rruff.crystal_system, cfg.confidence_target,
             prior=prior)
         for name, (kind, model) in trained.items()}
prior_name = {name: f"{name} + COD prior" for name in trained}
if prior is not None and rruff_evals:           # the answers classify gives with the prior
    rruff_evals.update({prior_name[name]: evaluate.evaluation(
        rruff.crystal_system, {**rruff_probs[name],
                               "crystal_system": calib[name]["measured_calibrated"]},
        rruff.space_group) for name in trained})
    display(Markdown("**`rruff_dev` with and without the class prior**"))
    display(evaluate.measured_frame(rruff_evals, rruff_base))
calib_frame = pd.DataFrame(
    {name: {k: c.get(k) for k in ("temperature", "ece_validation_before", "ece_validation_after",
                                  "ece_measured_before", "ece_measured_after",
                                  "confidence_threshold", "coverage_at_threshold",
                                  "accuracy_at_threshold")}
     for name, c in calib.items()}).T
display(calib_frame.round(3))
if rruff_evals:
    curves = {n: c["coverage"] for n, c in calib.items()}
    thresholds = {n: c["confidence_threshold"] for n, c in calib.items()}
    if "classical_indexing" in rruff_base:
        c = rruff_base["classical_indexing"]
        name = f"classical indexing ({c['n']} patterns; confidence: de Wolff's M)"
        curves[name] = calibration.Coverage(*(np.array(c["coverage_curve"][k], float) for k in
                                              ("threshold", "coverage", "accuracy")))
        if c["m_threshold"] is not None:
            thresholds[name] = c["m_threshold"]
    fig = plots.coverage_curves(curves, thresholds, rruff_base["majority_class_accuracy"],
                                "Accuracy vs coverage on measured patterns (rruff_dev)")
    figures.save_figure(fig, "xrd_fig07_rruff_dev_accuracy_coverage",
                        "Accuracy of the crystal system against coverage on the 301 measured "
                        "rruff_dev patterns: each model answers only when its top temperature-"
                        "scaled probability reaches a threshold (dots: the threshold stored in "
                        "its bundle), classical indexing only when de Wolff's M of its cell "
                        "does; dashed: always the majority class.", cfg)
    plt.show()

# %% [markdown]
# T > 1 means the model was over-confident on the validation split.  On measured patterns the
# ECE shows how far the probabilities are from frequencies; the curve shows how much accuracy
# a model buys by declining to answer — a flat curve means its confidence carries no
# information about being right.  The figure has the classical indexing's curve too, with de
# Wolff's M as its confidence (an unindexed pattern answered only at coverage 1); its threshold,
# chosen by the same rule, is stored in every bundle (`meta.indexing_m_threshold`) for
# `classify --index`.

# %% [markdown]
# ### Indexing first, then the network
#
# What a user of `classify --index` would do with both answers: take the indexing's when a
# cell indexes the lines, and the network's only when none does.  `lib.xrd.evaluate.
# indexing_first` scores that combination for each network (with the COD prior where there
# is one): an indexed pattern keeps the indexing's crystal system and the space group it
# names; the rest get the network's calibrated crystal system, and a space group the indexing
# does not name is the network's most probable group of that system, weighted by the COD
# structures' space-group frequencies (pseudo-count 1) when the COD folder is there.

# %%
hybrid_names, fallback = [], {}
if rruff is not None and index_records:
    n_indexed_rows = len(index_records)
    # each network as its bundle answers (calibrated, the COD prior where there is one), and
    # the same without a network: the COD frequencies alone
    hybrid = evaluate.indexing_first_evaluations(
        rruff.crystal_system[:n_indexed_rows], index_records,
        {prior_name[name] if prior is not None else name:
         {**rruff_probs[name], "crystal_system": calib[name]["measured_calibrated"]}
         for name in trained},
        rruff.space_group[:n_indexed_rows], sg_prior, prior)
    rruff_evals.update(hybrid)
    hybrid_names = list(hybrid)
    if prior is not None:
        no_network = evaluate.INDEXING_FIRST + evaluate.NO_NETWORK
        fallback = {name: evaluate.fallback_choice(
            rruff_evals[evaluate.INDEXING_FIRST + prior_name[name]], rruff_evals[no_network])
            for name in trained}
    display(evaluate.measured_frame({n: rruff_evals[n] for n in hybrid_names}, rruff_base))
    print("where no cell indexes the lines, classify --index falls back on:", fallback)
else:
    print("no rruff_dev folder or no indexing: the combination is not scored")

# %% [markdown]
# Each row is scored on the patterns indexing ran on (all 301 at default).  Beside the
# classical indexing's own row it shows what the network adds where no cell is found: its
# crystal system instead of "monoclinic", and a space group where indexing names none.  The
# last row is the bar for that: no network, the COD structures' most common crystal system
# where no cell is found, and their most common space group of the system answered where
# indexing names none.  Each bundle stores the better of its network and that prior
# (`evaluate.fallback_choice`: crystal system first, then space group; chosen on `rruff_dev`,
# as the thresholds are) as `meta.indexing_fallback`, and `classify --index` answers with it.

# %% [markdown]
# ### Indexing first on simulated patterns
#
# The issue's numbers for the synthetic test (≥ 80 %) and the MP structures (≥ 70 %) are asked
# of the best model; the answer a user of `classify --index` gets is this combination, so it is
# scored there too: `index_simulated` patterns of each set (a seeded subset; the test and MP
# patterns the networks were scored on above, Cu Kα, 0–90°) are indexed
# (`lib.xrd.indexing.index_patterns`), and each network answers where no cell indexes the lines,
# with its temperature and the COD prior as its bundle applies them.  Beside them on the same
# patterns: the networks alone (their plain probabilities, as in the table above), the COD
# prior with no network, and the indexing alone.

# %%
t0 = time.perf_counter()
sim_blocks = {}
hexagonal_choice = {}       # where → network → trigonal or hexagonal, on hexagonal answers
if cfg.index_simulated > 0:
    from lib.xrd import indexing

    for where, data in sets.items():
        if data is None or not len(data):
            continue
        rows = row_subset(len(data), cfg.index_simulated, cfg.seed + 5)
        truth, groups = data.crystal_system[rows], data.space_group[rows]
        records = indexing.index_patterns(grid.two_theta, data.patterns[rows],
                                          n_workers=cfg.n_workers)
        inputs = classify.preprocess(data.patterns[rows], grid, cfg.background)
        answers, as_bundles = {}, {}
        for name, (kind, model) in trained.items():
            probs = models.predict_patterns(model, kind, inputs, cfg.image_size)
            answers[name] = evaluate.evaluation(truth, probs, groups)
            hexagonal_choice.setdefault(where, {})[name] = evaluate.hexagonal_lattice_choice(
                truth, records, probs)
            cs = classify.answer_probabilities(probs["crystal_system"],
                                               calib[name]["temperature"], prior)
            as_bundles[prior_name[name] if prior is not None else name] = {
                **probs, "crystal_system": cs}
        answers.update(evaluate.indexing_first_evaluations(truth, records, as_bundles, groups,
                                                           sg_prior, prior))
        base = evaluate.indexing_baseline(truth, records, groups, cfg.confidence_target)
        sim_blocks[where] = evaluate.combined_block(base, answers)
        print(f"{where}: {len(rows)} patterns, a cell for {base['n_indexed']}; indexing alone "
              f"{base['accuracy']:.1%} (space group {base['space_group_accuracy']:.1%})")
        display(evaluate.accuracy_frame({(m, where): ev for m, ev in answers.items()}))
else:
    print("index_simulated = 0: indexing first is not scored on simulated patterns")
timings["indexing_simulated_s"] = time.perf_counter() - t0

# %% [markdown]
# Indexing answers a primitive trigonal structure hexagonal: its lines are a hexagonal
# lattice's, and the reflections that would tell the Laue classes apart (hkl and khl) fall on
# one line.  Can a network decide between the two there?  On the patterns indexing answers
# hexagonal, each network's more probable of trigonal and hexagonal (its plain
# probabilities) against always hexagonal — and on `rruff_dev`, which has no trigonal
# mineral, what the network's choice would cost.

# %%
if rruff is not None and index_records:
    hexagonal_choice["rruff_dev"] = {
        name: evaluate.hexagonal_lattice_choice(rruff.crystal_system[:len(index_records)],
                                                index_records, p)
        for name, p in rruff_probs.items()}
display(pd.DataFrame([{"patterns": where, "model": name, **counts}
                      for where, per in hexagonal_choice.items()
                      for name, counts in per.items()]))
for where, per in hexagonal_choice.items():
    print(evaluate.hexagonal_choice_line(where, per))

# %% [markdown]
# `right_hexagonal` is what indexing's answer gets right, `right_network` what the network's
# choice would (`hexagonal_lattice_choice` in the metrics).  Indexing keeps its answer: a
# network that does not beat always hexagonal on held-out rows cannot be trusted with the
# choice, and `classify --index` names trigonal as also possible with a hexagonal answer.

# %% [markdown]
# The verdict below names the best of these combinations against the issue's targets.  Where
# indexing falls short on simulated patterns: a triclinic cell is searched only when nothing
# else indexes a scan of twenty lines or more, and a line blended with its neighbour (σ = 5
# points) sometimes hides it even from the second look at the curvature's maxima down to 1 %
# (the network's answer is then all a triclinic structure gets); and the
# lines of a primitive trigonal lattice are those of a hexagonal one, so indexing answers such a
# structure hexagonal (only a rhombohedral cell is called trigonal) — trigonal rows answered
# hexagonal in the confusion matrices (`indexing_simulated` in the metrics), and `classify
# --index` says `"also_possible": ["trigonal"]` with a hexagonal answer.

# %% [markdown]
# ## Saved models and the classify command
#
# Both models are saved under `runs/<profile>/models/06_xrd_classification/` with what the
# command needs (2θ grid, σ, image size, class labels, model kind).  Any measured or
# simulated Cu Kα pattern — a two-column text file or a `.npy` array, any 2θ range and step —
# can then be classified:
#
# ```bash
# python -m lib.xrd classify my_pattern.xy other.npy \
#     --model runs/default/models/06_xrd_classification/cnn1d --top 3
# ```

# %%
used_aug = xrd_augment.describe(aug) if cfg.augment and cfg.simulation == "report" else None
common = {"training_structures": len(train), "training_patterns": n_training_patterns,
          "training_variants": len(variants), "n_variants": cfg.n_variants,
          "augmentation": used_aug,
          "symprec": cfg.symprec, "profile": cfg.profile, "seed": cfg.seed,
          "data": str(synth.path.name)}


def calibration_meta(name: str) -> dict:
    """What the bundle records of its calibration (temperature; threshold chosen on rruff_dev)."""
    c = calib[name]
    return {"temperature": c["temperature"], "confidence_target": cfg.confidence_target,
            "threshold_chosen_on": "rruff_dev" if "confidence_threshold" in c else None,
            "simulation": cfg.simulation,
            "class_prior": None if prior is None else prior.tolist(),
            "class_prior_source": None if prior is None else "COD structures (cod_dir)",
            "space_group_prior": None if sg_prior is None else sg_prior.tolist(),
            "indexing_fallback": fallback.get(name, "network"),
            "indexing_m_threshold": (rruff_base.get("classical_indexing") or {}).get(
                "m_threshold") if rruff_base else None}


def threshold_of(name: str) -> float:
    """The bundle's confidence threshold: 1 (confident only at probability 1) where no
    threshold reaches the target on rruff_dev; 0 without rruff_dev."""
    return min(1.0, float(calib[name].get("confidence_threshold", 0.0)))


bundle_cnn = models.save_bundle(
    cnn, cfg.models_dir / "cnn1d", "cnn1d", grid, cfg.sigma, None,
    {**common, **calibration_meta("1D CNN"), "epochs": res_cnn.epochs_run,
     "test_accuracy": evals[("1D CNN", "test")]["accuracy"]}, background=cfg.background,
    confidence_threshold=threshold_of("1D CNN"))
bundle_mnv2 = models.save_bundle(
    mnv2, cfg.models_dir / "mobilenetv2", "mobilenetv2", grid, cfg.sigma, cfg.image_size,
    {**common, **calibration_meta("MobileNetV2"), "epochs": res_mnv2.epochs_run,
     "weights": weights_source, "test_accuracy": evals[("MobileNetV2", "test")]["accuracy"]},
    background=cfg.background, confidence_threshold=threshold_of("MobileNetV2"))
bundle_convnext = models.save_bundle(
    convnext, cfg.models_dir / "convnext1d", "convnext1d", grid, cfg.sigma, None,
    {**common, **calibration_meta("ConvNeXt"), "epochs": res_convnext.epochs_run,
     "test_accuracy": evals[("ConvNeXt", "test")]["accuracy"]}, background=cfg.background,
    confidence_threshold=threshold_of("ConvNeXt"))
print("saved:", bundle_cnn, bundle_mnv2, bundle_convnext, sep="\n  ")

# %% [markdown]
# Here we write the simulated profiles of three MP structures on a *different* grid (2θ 5–85°,
# step 0.01°, Gaussian peaks over a flat background) and classify them as a user would.

# %%
demo_set = mp if mp is not None and len(mp) else test
demo_rows = range(min(3, len(demo_set)))
demo_files = classify.write_scans(
    [(demo_set.peak_two_theta[j], demo_set.peak_intensity[j]) for j in demo_rows],
    [str(demo_set.structure_id[j]) for j in demo_rows], cfg.run_dir / "xrd_demo",
    np.arange(5.0, 85.0, 0.01),
    headers=[f"simulated Cu Ka profile of {demo_set.describe_row(j)}" for j in demo_rows])
demo_records = classify.classify_files(demo_files, bundle_cnn, top=3)
print(classify.format_text(demo_records))

# %% [markdown]
# Each file's three most probable crystal systems and space groups; the header of each file
# (in `runs/<profile>/xrd_demo/`) holds the true answer.

# %% [markdown]
# ## Verdict
#
# The report's claim: MobileNetV2 on square images of simulated patterns classifies the
# crystal system with 54 % accuracy.  Park et al.: a 1D CNN on the pattern reaches 94.99 %
# (crystal system) and 81.14 % (space group) with ~150,000 training structures; on measured
# (RRUFF) patterns about 81.7 % has been reported.  `lib.xrd.evaluate.verdict` computes the
# verdict from this run's numbers; with few structures or epochs it says so.

# %%
verdict = evaluate.verdict(evals, (res_cnn.epochs_run, res_mnv2.epochs_run), weights_source,
                           len(train), measured=rruff_evals, measured_baselines=rruff_base,
                           simulated=sim_blocks)
display(Markdown(verdict.text))

# %% [markdown]
# Each line states a claim, whether this run supports it, and the numbers it rests on; a run
# too small to judge (fewer than 200 test structures or 5 epochs) says "inconclusive at this
# scale" rather than a verdict.

# %%
timings["total_s"] = time.perf_counter() - t_start
model_blocks = {
    "mobilenetv2": evaluate.model_summary(evals, "MobileNetV2", mnv2, res_mnv2,
                                          weights=weights_source, bundle=str(bundle_mnv2)),
    "cnn1d": evaluate.model_summary(evals, "1D CNN", cnn, res_cnn, dense=list(dense),
                                    class_weights="balanced per head (sample weights)",
                                    bundle=str(bundle_cnn)),
    "convnext1d": evaluate.model_summary(evals, "ConvNeXt", convnext, res_convnext,
                                         class_weights="balanced per head (sample weights)",
                                         bundle=str(bundle_convnext))}
summary = evaluate.metrics_summary(
    evals, verdict, grid=grid.to_dict(), sigma_points=cfg.sigma, symprec=cfg.symprec,
    engine=cfg.engine, image_size=cfg.image_size,
    image_representation="pattern vector resampled (linear) to image_size^2 points, reshaped "
                         "row-major to image_size x image_size, 3 channels, [-1, 1]",
    synthetic=synth_summary, mp=mp_summary, split={k: int(len(v)) for k, v in split.items()},
    split_grouping="reduced formula of the parent structures (StratifiedGroupKFold by crystal "
                   "system); variants only of training structures (grouped by parent), "
                   "variants with a validation/test composition dropped",
    training_patterns=int(n_training_patterns), variants=variant_summary,
    simulation=cfg.simulation, scan_start=cfg.scan_start,
    measurement_model=measurement.to_dict() if cfg.simulation != "report" else None,
    patterns_per_epoch=int(n_training_patterns),
    training_patterns_mobilenet=int(len(mnv2_rows)),
    training_patterns_convnext=int(len(convnext_rows)),
    augmentation=used_aug,
    models=model_blocks, classify_demo=demo_records, background=cfg.background,
    rruff_dev=None if rruff is None else evaluate.measured_summary(
        rruff_evals, rruff_base, rruff.summary(), background=cfg.background,
        note="measured RRUFF patterns, validation only: never trained on; the confidence "
             "threshold is chosen on it",
        calibration={n: evaluate.calibration_summary(c) for n, c in calib.items()},
        confidence_threshold={n: threshold_of(n) for n in calib}, class_prior=prior_summary),
    indexing_simulated=sim_blocks or None,
    hexagonal_lattice_choice=hexagonal_choice or None,
    calibration_validation={n: {k: c[k] for k in ("temperature", "ece_validation_before",
                                                    "ece_validation_after", "n_validation")}
                            for n, c in calib.items()},
    timings_s=timings)
print(f"metrics: {metrics.write_metrics(cfg, summary)}; total {timings['total_s']:.0f} s")

# %% [markdown]
# The metrics file holds every number above — data sets, split, both models' tables and
# confusion matrices, the verdict and the timings — with the run's parameters and package
# versions; the tests read it.
