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
# by their maximum; per-reflection error = mean over the test structures of the squared
# error of that reflection's normalised intensity; relative error over a window of
# reflections = their summed error divided by their summed mean squared normalised intensity
# (the fraction of their signal lost; summing first keeps it finite for nearly extinct
# high-R reflections).

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import autoencoders as aa
from lib.phases import inputs, plots, training
from lib.phases.reflections import index_set, squared_index_norm

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
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
path, tag = data.path, info["tag"]
print(training.describe_data(info))

results = {}
for width in widths:
    spec = training.AutoencoderRun(name=f"autoencoder_{width}", bottleneck=width,
                                   n_reflections=cfg.n_reflections, epochs=cfg.epochs,
                                   activation=cfg.activation, batch_size=cfg.batch_size,
                                   learning_rate=cfg.learning_rate,
                                   seed=cfg.seed, normalisation=cfg.normalisation)
    r = training.train_autoencoder(spec, data, cfg.models_dir)
    results[width] = r
    print(f"bottleneck {width:>5}: {r.seconds:6.1f} s, MSE train/val/test "
          f"{r.metrics['train']['mse']:.3e}/{r.metrics['validation']['mse']:.3e}/"
          f"{r.metrics['test']['mse']:.3e}")

# %% [markdown]
# ## The linear reference: PCA with the same widths
#
# Fitted on (at most 20,000 of) the training structures, evaluated on the same test block.
# PCA cannot have more components than training structures; wider requests are clipped.

# %%
def batches(split):
    return inputs.ReflectionBatches(path, data.splits[split], cfg.n_reflections,
                                          cfg.batch_size, target="intensity",
                                          normalisation=cfg.normalisation,
                                          in_memory=data.in_memory)


x_train = aa.collect_inputs(batches("train"), max_structures=20_000)
t0 = time.perf_counter()
pca = aa.fit_pca(x_train, max(widths), seed=cfg.seed)
print(f"PCA of {x_train.shape[0]} × {x_train.shape[1]} in {time.perf_counter() - t0:.1f} s, "
      f"{pca.n_components_} components")
del x_train
test_batches = batches("test")
pca_errors = {w: training.reconstruction_errors(aa.pca_reconstructor(pca, w), test_batches)
              for w in widths}
pca_components = {w: int(min(w, pca.n_components_)) for w in widths}
test_batches.close()

table = pd.DataFrame({
    "bottleneck": widths,
    "ae_train_mse": [results[w].metrics["train"]["mse"] for w in widths],
    "ae_val_mse": [results[w].metrics["validation"]["mse"] for w in widths],
    "ae_test_mse": [results[w].metrics["test"]["mse"] for w in widths],
    "pca_components": [pca_components[w] for w in widths],
    "pca_test_mse": [pca_errors[w]["mse"] for w in widths],
    "parameters": [results[w].n_parameters for w in widths],
    "seconds": [round(results[w].seconds, 1) for w in widths],
})
table["ae_over_pca"] = table["ae_test_mse"] / table["pca_test_mse"]
baseline = results[widths[0]].extra["test_errors"]
# Reference: predicting every reflection by its mean intensity over the test structures.
variance_mse = float((baseline["mean_square_intensity"] - baseline["mean_intensity"] ** 2).mean())
display(plots.format_table(table, 6))
print(f"reference: MSE of predicting each reflection's mean intensity = {variance_mse:.3e}")

# %% [markdown]
# ## Fig 19: reconstruction error against the bottleneck

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
for i, w in enumerate(widths):
    h = results[w].history
    c = colours[i % len(colours)]
    axes[0].plot(h["epoch"], h["loss"], "--", color=c, label=f"{w} (train)")
    axes[0].plot(h["epoch"], h["val_loss"], "-", color=c, label=f"{w} (validation)")
axes[0].set_yscale("log")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("MSE of normalised intensities")
axes[0].set_title("training (dashed) and validation (solid) loss", fontsize=10)
axes[0].legend(fontsize=6, ncol=2)
axes[1].plot(widths, table["ae_test_mse"], "o-", label="autoencoder (test)")
axes[1].plot(widths, table["pca_test_mse"], "s--", label="PCA, same width (test)")
axes[1].axhline(variance_mse, color="0.4", ls=":", label="predict the mean intensity")
axes[1].set_xscale("log")
axes[1].set_yscale("log")
axes[1].set_xlabel("bottleneck width (units / components)")
axes[1].set_ylabel("test MSE")
axes[1].set_title("final test error", fontsize=10)
axes[1].legend(fontsize=7)
fig.suptitle(f"Fig 19 — autoencoders of the {cfg.n_reflections} intensities ({tag})",
             fontsize=11)
fig.tight_layout()
figures.save_figure(fig, "fig19_autoencoder_mse",
                    f"Autoencoders of the {cfg.n_reflections} normalised intensities ({tag}) "
                    f"with bottlenecks {widths}: left, training (dashed) and "
                    "validation (solid) MSE per epoch; right, test MSE against the bottleneck "
                    "width with PCA of the same number of components as linear reference.", cfg)
plt.show()

# %% [markdown]
# ## Figs 20–21: the error of each reflection, in the order of R = h² + k² + l²
#
# Reflections are in the report's order (by R, then h, k, l), so the x axis runs from low
# to high resolution.  Fig 20 shows the raw per-reflection test error; Fig 21 the same
# smoothed over `smoothing_window` reflections, absolute and relative to the reflections'
# mean squared intensity.

# %%
x = np.arange(cfg.n_reflections)
fig, ax = plt.subplots(figsize=(12, 4.2))
for i, w in enumerate(widths):
    ax.plot(x, results[w].extra["test_errors"]["per_reflection_mse"], lw=0.5,
            color=colours[i % len(colours)], label=f"bottleneck {w}", alpha=0.8)
ax.set_yscale("log")
ax.set_xlabel("reflection index, sorted by R = h²+k²+l², then h, k, l")
ax.set_ylabel("test MSE of the reflection")
sec = ax.secondary_xaxis("top", functions=(lambda i: np.interp(i, x, r2),
                                           lambda v: np.interp(v, r2, x)))
sec.set_xlabel("R = h² + k² + l²")
ax.legend(fontsize=7)
ax.set_title(f"Fig 20 — per-reflection reconstruction error ({tag})", fontsize=11)
fig.tight_layout()
figures.save_figure(fig, "fig20_autoencoder_error_per_reflection",
                    "Test mean squared error of each reflection's normalised intensity for every "
                    "bottleneck, reflections sorted by R = h²+k²+l² then h, k, l (top axis: R); "
                    f"{tag}.", cfg)
plt.show()

window = cfg.smoothing_window
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharex=True)
smoothed = {}
for i, w in enumerate(widths):
    err = results[w].extra["test_errors"]
    smoothed[w] = {"absolute": aa.moving_average(err["per_reflection_mse"], window),
                   "relative": aa.smoothed_relative_error(err["per_reflection_mse"],
                                                          err["mean_square_intensity"], window)}
    c = colours[i % len(colours)]
    axes[0].plot(x, smoothed[w]["absolute"], color=c, label=f"bottleneck {w}")
    axes[1].plot(x, smoothed[w]["relative"], color=c, label=f"bottleneck {w}")
pca_rel = aa.smoothed_relative_error(pca_errors[widths[-1]]["per_reflection_mse"],
                                     pca_errors[widths[-1]]["mean_square_intensity"], window)
axes[1].plot(x, pca_rel, "k--", lw=0.8,
             label=f"PCA {pca_components[widths[-1]]} components")
axes[0].set_yscale("log")
axes[0].set_ylabel("MSE (smoothed)")
axes[1].set_ylabel("Σ MSE / Σ mean squared intensity (window)")
axes[1].set_yscale("log")
for ax in axes:
    ax.set_xlabel("reflection index, sorted by R")
    ax.legend(fontsize=7)
fig.suptitle(f"Fig 21 — per-reflection error smoothed over {window} reflections, absolute and "
             f"relative ({tag})", fontsize=11)
fig.tight_layout()
figures.save_figure(fig, "fig21_autoencoder_error_smoothed",
                    f"Per-reflection test error smoothed over a {window}-reflection window, "
                    "absolute (left) and relative to the window's mean squared normalised "
                    "intensity (right), reflections sorted by R; dashed: PCA of the widest "
                    f"width; {tag}.", cfg)
plt.show()

# %% [markdown]
# ## Does this run support the report?

# %%
ae_mse = table["ae_test_mse"].to_numpy()
pca_mse = table["pca_test_mse"].to_numpy()
saturation = aa.saturation_width(widths, ae_mse, cfg.saturation_tolerance)
pca_saturation = aa.saturation_width(widths, pca_mse, cfg.saturation_tolerance)
verdicts, lines = {}, []
falls = bool(ae_mse[-1] < 0.9 * ae_mse[0])
status = "supported" if falls else ("not supported" if len(widths) > 1 else
                                    "inconclusive at this scale")
verdicts["error_falls_with_width"] = status
lines.append(plots.verdict(
    status, "the reconstruction error falls as the bottleneck widens (Fig 19)",
    f"test MSE {ae_mse[0]:.3e} at {widths[0]} → {ae_mse[-1]:.3e} at {widths[-1]} units"))
if saturation < widths[-1]:
    status = "supported"
    ev = (f"the error saturates at {saturation} units (within {cfg.saturation_tolerance:.0%} of "
          f"the best, {ae_mse.min():.3e})")
else:
    status = "not supported" if len(widths) > 2 else "inconclusive at this scale"
    ev = f"no saturation within {widths}: the widest bottleneck is still the best by > " \
         f"{cfg.saturation_tolerance:.0%}"
verdicts["error_saturates"] = status
lines.append(plots.verdict(status, "the error levels off beyond some bottleneck width", ev))
# Trend with R: smoothed relative error of the lowest vs the highest 10 % of reflections.
tenth = max(1, cfg.n_reflections // 10)
widest = smoothed[widths[-1]]["relative"]
low_r, high_r = float(widest[:tenth].mean()), float(widest[-tenth:].mean())
varies = bool(max(low_r, high_r) > 1.5 * min(low_r, high_r))
status = "supported" if varies else "not supported"
verdicts["error_varies_with_R"] = status
lines.append(plots.verdict(
    status, "the per-reflection error changes with R (Figs 20–21)",
    f"relative error (bottleneck {widths[-1]}) {low_r:.3f} for the lowest-R tenth, "
    f"{high_r:.3f} for the highest-R tenth"))
beats = [w for w, a, p in zip(widths, ae_mse, pca_mse) if a < p]
lines.append(f"- **autoencoder vs PCA (new)** — the autoencoder beats PCA of the same width at "
             f"{beats if beats else 'no'} width(s); AE/PCA test-MSE ratio "
             f"{', '.join(f'{v:.2f}' for v in table['ae_over_pca'])}; PCA saturates at "
             f"{pca_saturation} components")
display(Markdown("\n".join(lines)))

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, training.json_ready({
    "data": {**info, "normalisation": cfg.normalisation, "n_reflections": cfg.n_reflections},
    "runs": {str(w): r.record() for w, r in results.items()},
    "table": table.to_dict(orient="records"),
    "pca": {str(w): {"components": pca_components[w], "test_mse": pca_errors[w]["mse"]}
            for w in widths},
    "mean_intensity_reference_mse": variance_mse,
    "saturation_width": saturation,
    "pca_saturation_width": pca_saturation,
    "ae_beats_pca_at": beats,
    "relative_error_low_r_tenth": low_r,
    "relative_error_high_r_tenth": high_r,
    "verdicts": verdicts,
    "backend": training.backend_name(),
    "seconds": elapsed,
}))
print(f"notebook 05 done in {elapsed:.0f} s")
