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
# # 01 — Normalising measured intensities (report 1, §3.1, Figs 1–5)
#
# A measured data set gives the intensity I = F² of each reflection on its own arbitrary
# scale: crystal size, beam intensity, exposure and detector all multiply it.  A network
# trained on calculated intensities |F_calc|² can only read measured ones once both are put
# on a common scale, so the report normalised every structure's intensities and compared,
# **by eye**, scatter plots of measured against calculated intensity before (Fig 1) and after
# normalising by the maximum (Fig 2), the mean (Fig 3), the median (Fig 4) and by a linear
# regression on the calculated intensities (Fig 5).  The report put no number on the
# comparison.
#
# This notebook reproduces the five figures and puts a number on what was judged by eye:
# after each normalisation, how much does the ratio I_meas/I_calc still vary **across
# files**?  For every file we fit the slope s_f of normalised I_meas against normalised
# I_calc (a line through the origin); a normalisation that removes the arbitrary scale makes
# every s_f equal to 1, so the coefficient of variation CV = sd(s_f)/mean(s_f) across files
# is the spread it leaves (`ratio_spread` in the metrics).  See `lib/phases/normalisation.py` for
# the definitions and for why the regression's spread is measured by cross-fitting.
#
# It runs on the real single-crystal data sets in `../shared/data/experimental` when they are
# present (parameter `experimental_dir`), and on simulated measurements of random P-1
# structures otherwise (`lib.phases.measured.simulate_measurement`: per-file scale, overall B
# factor, counting noise, incompleteness).  The output says which, and figures made from
# simulated data say "simulated" in their title.

# %%
# lib first: it loads cctbx's runtime, which must precede pandas + matplotlib in a process
from lib import config, figures, metrics
from lib.phases import plots, verdicts
from lib.phases.measured import read_measured_folder
from lib.phases.normalisation import (COMPARISON_METHODS, compare_normalisations, normalise_pair,
                                      restrict_to_index_set)
from lib.phases.simulate import simulate_data_sets
from lib.phases.structures import GeneratorParameters

import os

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

NOTEBOOK = "01_normalisation"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
experimental_dir = None
n_files_plot = None
n_simulated_files = None
reflection_set = None
min_pearson = None

# %%
cfg = config.notebook_config(NOTEBOOK, profile, **config.parameters_from(globals(), NOTEBOOK))
print(cfg.table())
if str(cfg.reflection_set).lower() not in ("all", "4630", "709"):
    raise ValueError(f"reflection_set must be '4630', '709' or 'all', got {cfg.reflection_set!r}")

# %% [markdown]
# ## The data
#
# Real data sets are read with iotbx (`lib.phases.measured.read_measured_folder`): measured F² from
# COD-style reflection CIFs (`_refln_F_squared_meas`, or `_refln_F_meas` squared for the
# neutron set), SHELX HKLF 4 files, or CIFs with an embedded `_shelx_hkl_file`; merged to the
# unique set of the structure's space group and matched to |F_calc|² computed by cctbx from
# the model in the same CIF (neutron scattering lengths for neutron data).  A data set that
# cannot be read, or whose model does not match its data (Pearson r below `min_pearson`), is
# skipped and listed.  The comparison then uses the reflections of the report's index set
# (`reflection_set`: h, k, l ∈ [−10, 10] in P-1, i.e. what the network sees) or all of them.

# %%
folder = config.resolve_shared(cfg.experimental_dir, "experimental")
simulated = folder is None
skipped: list[tuple[str, str]] = []
if not simulated:
    data_sets, skipped = read_measured_folder(folder, min_pearson=cfg.min_pearson)
    if not data_sets:
        raise RuntimeError(f"no usable data set in {folder}; skipped: {skipped}")
    try:
        shown = os.path.relpath(folder, config.ROOT)
    except ValueError:                 # another drive (Windows)
        shown = str(folder)
    source = f"real: {shown} ({len(data_sets)} files)"
    for path, reason in skipped:
        print(f"skipped {path}: {reason}")

# %% [markdown]
# Without real data, the measurements are simulated from random P-1 structures with the
# generator and measurement parameters of `00_data`'s profile (the same simulator that
# builds the experimental set), on the report's 4630 reflections or the 709 of `reflection_set`.

# %%
if simulated:
    data_cfg = config.notebook_config("00_data", cfg.profile)
    measurement = {"scale_range": (data_cfg.meas_scale_min, data_cfg.meas_scale_max),
                   "b_max": data_cfg.meas_b_max, "noise": data_cfg.meas_noise,
                   "completeness": data_cfg.meas_completeness}
    n_sim = 4630 if str(cfg.reflection_set).lower() == "all" else int(cfg.reflection_set)
    data_sets = simulate_data_sets(cfg.n_simulated_files, cfg.seed,
                                   GeneratorParameters.from_mapping(data_cfg), measurement,
                                   n_reflections=n_sim)
    source = "simulated"
    print("simulated measurement parameters:", measurement)
label = "simulated" if simulated else "real data"
print(f"data source: {source}")

# %% [markdown]
# Each data set is cut to the reflections compared (`reflection_set`); one left with fewer
# than 10 measured reflections is skipped and listed.

# %%
pairs = [restrict_to_index_set(d, "all" if simulated else cfg.reflection_set)
         for d in data_sets]
too_few = [len(y) < 10 for y, _ in pairs]
skipped += [(d.reflections_path or d.source_id,
             f"fewer than 10 measured reflections in reflection set {cfg.reflection_set}")
            for d, few in zip(data_sets, too_few) if few]
data_sets = [d for d, few in zip(data_sets, too_few) if not few]
pairs = [p for p, few in zip(pairs, too_few) if not few]
ids = [d.source_id for d in data_sets]
verdicts.data_set_overview(data_sets, pairs)

# %% [markdown]
# ## The comparison
#
# Each file's measured and calculated intensities are normalised the same way (a network
# trained on calculated intensities sees them normalised too); "linear regression" divides
# I_meas by the least-squares scale a of I_meas ≈ a·I_calc (through the origin).

# %%
comparison = compare_normalisations([y for y, _ in pairs], [x for _, x in pairs], ids,
                                    rng=np.random.default_rng(cfg.seed))
print(f"spread across {len(ids)} files ({label}) of the ratio I_meas/I_calc after each method")
comparison.table().round(4)

# %% [markdown]
# `CV of slope` is the spread the report judged by eye: 0 when every file lands on the same
# scale.  The raw intensities (`none`) keep each file's arbitrary scale; the robust columns
# (median and MAD) show whether one odd file drives a CV.  Below, the slope of every file.

# %%
verdicts.per_file_slopes(comparison).round(4)

# %% [markdown]
# A slope near 1 in a column means that file lands on the common scale after that
# normalisation; the CV of each column is the first column of the table above.
#
# ## Figures 1–5
#
# Log–log scatter of measured against calculated intensity for up to `n_files_plot` files,
# chosen to span the range of raw scales (one colour per file).

# %%
plot_index = plots.spread_picks(comparison.slopes["none"], cfg.n_files_plot)
print("files drawn:", ", ".join(ids[i] for i in plot_index))
FIGURES = {
    "none": ("fig01_measured_vs_calculated", "measured vs calculated intensity"),
    "max": ("fig02_normalised_by_maximum", "normalised by maximum"),
    "mean": ("fig03_normalised_by_mean", "normalised by mean"),
    "median": ("fig04_normalised_by_median", "normalised by median"),
    "linear_regression": ("fig05_normalised_by_linear_regression",
                          "normalised by linear regression"),
}

# %% [markdown]
# Fig 1 shows the raw intensities with each file's least-squares line; Figs 2–5 show them
# after each normalisation with the line y = x.  Non-positive intensities, which a log axis
# cannot show, are left out of the plot but not of the numbers.  The right panel gives every
# file's slope s_f and the CV across files (on a linear axis when the slopes span less than
# a decade).

# %%
for number, method in enumerate(COMPARISON_METHODS, start=1):
    name, what = FIGURES[method]
    spread = comparison.ratio_spread[method]
    fig = plots.intensity_figure(
        [normalise_pair(*pairs[i], method) for i in plot_index], [ids[i] for i in plot_index],
        comparison.slopes[method], ids, spread, method,
        f"Fig {number} — {what} ({label}, {len(ids)} files)",
        fit_slopes=[comparison.slopes["none"][i] for i in plot_index] if method == "none"
        else None)
    caption = (f"{what.capitalize()}: log-log scatter of I_meas against I_calc for "
               f"{len(plot_index)} of {len(ids)} files ({source}); right: per-file slope, "
               f"CV across files {spread:.3g}."
               + (" Lines: each file's least-squares fit I_meas = a·I_calc."
                  if method == "none" else ""))
    figures.save_figure(fig, name, caption, cfg)
    plt.show()

# %% [markdown]
# ## What the report claimed, and what this run says
#
# The report showed Figs 1–5 and judged them by eye; it put no number on the spread across
# files, and the project's spec (issue 2) does not record which method it found best, so
# this run does not pretend to confirm a ranking it cannot quote.  The claims that can be
# checked with numbers: (1) raw measured intensities are on arbitrary per-file scales, so
# they must be normalised; (2) normalising per structure by a statistic of its own
# intensities (max, mean, median) brings the files onto a common scale.  The cell below
# also names the normalisation that leaves the smallest spread in this run.  Regression on
# I_calc needs the structure, so it is a reference (the best a single per-file scale can
# do), not a usable input normalisation for unknown structures.
# Caveat for real data: CIF reflection files (`.fcf`, COD `.hkl` CIFs) usually hold F²_meas
# already scaled by the refinement program to the model, so their raw slopes are close to 1;
# only raw SHELX `.hkl` files keep the arbitrary scale.

# %%
judgement = verdicts.judge_normalisation(comparison, source, cfg.reflection_set, simulated)
display(Markdown(judgement.markdown()))

# %% [markdown]
# The verdict, the spreads and every file's slope go to the metrics file.

# %%
metrics.write_metrics(cfg, verdicts.normalisation_metrics(
    comparison, judgement, pairs, source, simulated, cfg.reflection_set, skipped))
