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
# # 05 — How much information do the intensities hold? Autoencoders (report 1, §3.5, Figs 19–21)
#
# If the 4630 intensities of a structure could be squeezed through a narrow code without loss,
# a sign network would need far fewer inputs.  The report trained **autoencoders** on the
# 4630 normalised intensities with bottlenecks of 50, 100, 250, 500 and 1000 units and a
# mean-squared-error loss (Fig 19), then looked at the error **per reflection**, sorted by
# R = h² + k² + l² (then h, k, l; Fig 20) and smoothed over a 50-point window, absolute and
# relative (Fig 21).  It found that the error falls as the bottleneck widens and then levels
# off, and that it is not uniform over the reflections: it changes with R (resolution).
#
# This notebook repeats the experiment and adds the **linear reference**: principal component
# analysis (PCA) with as many components as the bottleneck has units, the best linear code of
# that size in mean squared error.  An autoencoder that cannot beat PCA has learnt nothing
# non-linear.  It also states where the autoencoder's error **saturates**: the smallest
# bottleneck whose test error is within `saturation_tolerance` of the best one.
#
# Definitions (`lib/phases/autoencoders.py`): input = intensities normalised per structure
# by their maximum (parameter `input = "intensity_max"`, the report's; with `"e_values"` the
# autoencoders reconstruct |E| by resolution shell instead, and "normalised intensity" below
# reads |E|); per-reflection error = mean over the test structures of the squared
# error of that reflection's normalised intensity; relative error over a window of
# reflections = their summed error divided by their summed mean squared normalised intensity
# (the fraction of their signal lost; summing first keeps it finite for nearly extinct
# high-R reflections).

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import autoencoders, plots, training, verdicts
from lib.phases.reflections import index_set, squared_index_norm

import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

NOTEBOOK = "05_autoencoders"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
epochs = None
batch_size = None
n_structures = None
n_reflections = None
bottlenecks = None
activation = None
smoothing_window = None
saturation_tolerance = None
validation_fraction = None
test_fraction = None
learning_rate = None
normalisation = None
input = None  # "intensity_max" (the report's I/I_max) or "e_values" (|E|)
distribution = None
train_source = None
steps_per_epoch = None

# %%
cfg = config.notebook_config(NOTEBOOK, profile, **config.parameters_from(globals(), NOTEBOOK))
print(cfg.table())
widths = sorted(config.int_list(cfg.bottlenecks, "bottlenecks"))
hkl = index_set(4630)[: cfg.n_reflections]
r2 = squared_index_norm(hkl)
started = time.perf_counter()

# %% [markdown]
# ## Data and runs
#
# The calculated set of `00_data` (first `n_structures` structures for training and
# validation, the file's last `test_fraction` as test).  Each autoencoder is
# 4630 → bottleneck (`activation`, ELU by default) → 4630 (linear), MSE loss, Adam, same seed
# and data for every width.  Why ELU and small batches: on this data a ReLU bottleneck
# reconstructed worse (units that die never recover) and batches of 128 gave too few updates
# in the default budget — with either, the autoencoder hardly beat predicting the mean
# intensity.

# %%
data, info = training.profile_data(profile, "calculated", cfg.n_structures,
                                   cfg.validation_fraction, cfg.test_fraction)
tag = info["tag"]
print(training.describe_data(info))

results = {}
for width in widths:
    spec = training.AutoencoderRun(name=f"autoencoder_{width}", bottleneck=width,
                                   n_reflections=cfg.n_reflections, epochs=cfg.epochs,
                                   activation=cfg.activation, batch_size=cfg.batch_size,
                                   learning_rate=cfg.learning_rate,
                                   seed=cfg.seed, normalisation=cfg.normalisation,
                                   model_input=cfg.input, distribution=cfg.distribution,
                                   train_source=cfg.train_source,
                                   steps_per_epoch=cfg.steps_per_epoch or None)
    results[width] = training.train_autoencoder(spec, data, cfg.models_dir)
    print(results[width].summary())

# %% [markdown]
# Each line: seconds, parameters and the final mean squared error of the normalised
# intensities on the training, validation and test structures.
#
# ## The linear reference: PCA with the same widths
#
# Fitted on (at most 20,000 of) the training structures, evaluated on the same test block.
# PCA cannot have more components than training structures; wider requests are clipped.

# %%
pca = autoencoders.pca_reference(data, widths, cfg.n_reflections, cfg.batch_size,
                                 cfg.normalisation, seed=cfg.seed, model_input=cfg.input)
print(pca.describe())
table = verdicts.autoencoder_table(results, {w: e["mse"] for w, e in pca.errors.items()},
                                   pca.components)
display(verdicts.format_table(table, 6))

# %% [markdown]
# `ae_over_pca` below 1 means the autoencoder reconstructs better than the best linear code
# of its width.  A second reference: predicting every reflection by its mean intensity over
# the test structures, the error of a code that carries nothing about the structure.

# %%
test_errors = {w: r.extra["test_errors"] for w, r in results.items()}
variance_mse = autoencoders.mean_intensity_mse(test_errors[widths[0]])
print(f"reference: MSE of predicting each reflection's mean intensity = {variance_mse:.3e}")

# %% [markdown]
# ## Fig 19: reconstruction error against the bottleneck

# %%
fig = plots.autoencoder_mse_figure(
    {w: r.history for w, r in results.items()}, table, variance_mse,
    f"Fig 19 — autoencoders of the {cfg.n_reflections} intensities ({tag})")
figures.save_figure(fig, "fig19_autoencoder_mse",
                    f"Autoencoders of the {cfg.n_reflections} normalised intensities ({tag}) "
                    f"with bottlenecks {widths}: left, training (dashed) and "
                    "validation (solid) MSE per epoch; right, test MSE against the bottleneck "
                    "width with PCA of the same number of components as linear reference.", cfg)
plt.show()

# %% [markdown]
# Right panel: where the autoencoder's curve flattens is where a wider code stops paying;
# below the PCA curve it has learnt something non-linear, near the dotted line nothing.
#
# ## Figs 20–21: the error of each reflection, in the order of R = h² + k² + l²
#
# Reflections are in the report's order (by R, then h, k, l), so the x axis runs from low
# to high resolution.  Fig 20 shows the raw per-reflection test error; Fig 21 the same
# smoothed over `smoothing_window` reflections, absolute and relative to the reflections'
# mean squared intensity.

# %%
fig = plots.per_reflection_error_figure(
    {w: e["per_reflection_mse"] for w, e in test_errors.items()}, r2,
    f"Fig 20 — per-reflection reconstruction error ({tag})")
figures.save_figure(fig, "fig20_autoencoder_error_per_reflection",
                    "Test mean squared error of each reflection's normalised intensity for every "
                    "bottleneck, reflections sorted by R = h²+k²+l² then h, k, l (top axis: R); "
                    f"{tag}.", cfg)
plt.show()

# %% [markdown]
# Each reflection's error in Fig 20 is a mean over the test structures only, so it can jump
# from one reflection to the next; Fig 21 smooths it to show the trend with R.

# %%
window = cfg.smoothing_window
smoothed = {w: autoencoders.smoothed_errors(e["per_reflection_mse"],
                                            e["mean_square_intensity"], window)
            for w, e in test_errors.items()}
widest_pca = pca.errors[widths[-1]]
pca_relative = autoencoders.smoothed_errors(widest_pca["per_reflection_mse"],
                                            widest_pca["mean_square_intensity"],
                                            window)["relative"]
fig = plots.smoothed_error_figure(
    smoothed, pca_relative, f"PCA {pca.components[widths[-1]]} components",
    f"Fig 21 — per-reflection error smoothed over {window} reflections, absolute and "
    f"relative ({tag})")
figures.save_figure(fig, "fig21_autoencoder_error_smoothed",
                    f"Per-reflection test error smoothed over a {window}-reflection window, "
                    "absolute (left) and relative to the window's mean squared normalised "
                    "intensity (right), reflections sorted by R; dashed: PCA of the widest "
                    f"width; {tag}.", cfg)
plt.show()

# %% [markdown]
# Left: the absolute error of each window of reflections.  Right: the fraction of each
# window's signal that is lost; a curve that rises or falls with the reflection index is an
# error that changes with resolution, the report's second finding.
#
# ## Does this run support the report?
#
# The error falls when the widest bottleneck's test MSE is below 0.9 × the narrowest's; it
# saturates at the smallest width within `saturation_tolerance` of the best; it changes with
# R when the widest code's relative error differs by more than a factor 1.5 between the
# lowest-R and the highest-R tenth of the reflections (`lib/phases/verdicts.py`).

# %%
judgement = verdicts.judge_autoencoders(table, smoothed[widths[-1]]["relative"],
                                        cfg.saturation_tolerance)
display(Markdown(judgement.markdown()))

# %% [markdown]
# The runs, the table, the PCA reference and the verdicts go to the metrics file.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.run_metrics(
    results, table, judgement,
    data={**info, "normalisation": cfg.normalisation, "input": cfg.input, "n_reflections": cfg.n_reflections},
    pca={str(w): {"components": pca.components[w], "test_mse": pca.errors[w]["mse"]}
         for w in widths},
    mean_intensity_reference_mse=variance_mse,
    backend=training.backend_name(), seconds=elapsed))
print(f"notebook 05 done in {elapsed:.0f} s")
