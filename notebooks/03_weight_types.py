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
# # 03 — Weighting the loss by intensity (report 1, §3.4, Figs 15–16)
#
# Not every sign matters equally: an electron-density map is a Fourier sum weighted by |F|,
# so a wrong sign on a strong reflection damages it far more than one on a weak reflection.
# The report therefore weighted the binary cross-entropy of each reflection's sign by its
# **intensity**, or by **exp(intensity)**, and compared both with **no weighting**
# (Figs 15–16, training and validation accuracy and loss per epoch).  In the report no
# weighting made the network generalise: validation accuracy stayed near 50 %.
#
# How the weights are defined here (`lib/phases/losses.py`): intensities are first normalised
# per structure by their maximum, I/I_max ∈ [0, 1].  Then w = 1 (none), w = I/I_max
# (intensity) or w = exp(I/I_max) ∈ [1, e] (exp_intensity).  **exp of a raw intensity is not
# usable**: |F|² reaches 10⁴–10⁶ electrons², and exp overflows float32 above 88, so every
# strong reflection would get an infinite weight; on normalised intensities the exponential
# is a mild emphasis (the strongest reflection weighs e ≈ 2.7 times an absent one), weaker
# than the linear weighting (where absent reflections weigh 0).  The loss of a structure is
# Σ w·BCE / Σ w.
#
# Besides the report's plain accuracy we show the origin-aware accuracy (best of the 8 P-1
# origin shifts) and evaluate **every** model with the same intensity-weighted accuracy, the
# crystallographically relevant score, so the three weightings are compared on one scale;
# each next to its chance level measured on random signs.

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import losses, plots, training, verdicts

import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

NOTEBOOK = "03_weight_types"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
epochs = None
batch_size = None
n_structures = None
n_reflections = None
depth = None
hidden_width = None
weight_types = None
validation_fraction = None
test_fraction = None
learning_rate = None
normalisation = None

# %%
cfg = config.notebook_config(NOTEBOOK, profile, **config.parameters_from(globals(), NOTEBOOK))
print(cfg.table())
types = [t.strip() for t in cfg.weight_types.split(",") if t.strip()]
for t in types:
    losses.check_weight_type(t)
started = time.perf_counter()

# %% [markdown]
# ## Data and runs
#
# The calculated set of `00_data` (first `n_structures` structures for training and
# validation, the file's last `test_fraction` as test), the first `n_reflections` reflections,
# an MLP of `depth` hidden layers of `hidden_width` units; one run per weighting, same seed.

# %%
data, info = training.profile_data(profile, "calculated", cfg.n_structures,
                                   cfg.validation_fraction, cfg.test_fraction)
tag = info["tag"]
print(training.describe_data(info))

results = {}
for weight_type in types:
    spec = training.SignRun(name=f"weights_{weight_type}", n_reflections=cfg.n_reflections,
                            depth=cfg.depth, width=cfg.hidden_width, weight_type=weight_type,
                            epochs=cfg.epochs, batch_size=cfg.batch_size,
                            learning_rate=cfg.learning_rate, seed=cfg.seed,
                            normalisation=cfg.normalisation)
    results[weight_type] = training.train_sign_model(spec, data, cfg.models_dir)
    print(results[weight_type].summary())

# %% [markdown]
# Each line: seconds, parameters, final plain accuracy on training, validation and test
# structures and the origin-aware validation accuracy, with both chance levels.
#
# ## Figs 15–16: accuracy and loss per epoch
#
# The loss of each run is its own weighted cross-entropy (nats per unit weight), so the three
# curves of Fig 16 measure slightly different things; the accuracies of Fig 15 are on one
# scale.

# %%
hist = {t: r.history for t, r in results.items()}
chance = next(iter(results.values())).chance
fig = plots.accuracy_figure(
    hist, chance, f"Fig 15 — loss weighting (calculated set, {tag}, {cfg.n_reflections} "
                  "reflections): sign accuracy per epoch")
figures.save_figure(fig, "fig15_weight_types_accuracy",
                    f"Training (dashed) and validation (solid) sign accuracy per epoch for a loss "
                    f"weighted by intensity, by exp(intensity) (intensities normalised per "
                    f"structure to max 1) or not weighted; calculated set ({tag}); left plain, "
                    "right origin-aware; dotted: chance level measured on random signs.", cfg)
plt.show()
fig = plots.loss_figure(hist, f"Fig 16 — loss weighting ({tag}): weighted "
                              "cross-entropy per epoch",
                        chance=losses.UNINFORMATIVE_LOSS)
figures.save_figure(fig, "fig16_weight_types_loss",
                    "Training (dashed) and validation (solid) weighted binary cross-entropy per "
                    f"epoch for the three weightings; calculated set ({tag}); dotted: ln 2.", cfg)
plt.show()

# %% [markdown]
# The report's finding would show as validation curves (solid) that stay on the dotted chance
# level for every weighting, whatever the training curves do.
#
# ## Every model on one scale: the intensity-weighted accuracy on the test structures
#
# Each model, whatever weighting it was trained with, scored on the test structures with
# intensity weights (w = I/I_max): a wrong sign on a strong reflection costs more.  The
# chance level is that of random signs under the same weights.

# %%
scores, common_chance = training.intensity_weighted_scores(
    {t: r.model for t, r in results.items()}, data, cfg.n_reflections, cfg.batch_size,
    cfg.normalisation, seed=cfg.seed)
table = verdicts.weighting_table(results, scores, chance, common_chance)
display(verdicts.format_table(table))

# %% [markdown]
# ## Does this run support the report?
#
# "Above chance" means more than two standard errors and at least one percentage point above
# the chance level measured on random signs (`lib/phases/verdicts.py`).

# %%
judgement = verdicts.judge_weighting(results, table, chance, common_chance)
display(Markdown(judgement.markdown()))

# %% [markdown]
# The runs, the table and the verdict go to the metrics file.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.run_metrics(
    results, table, judgement,
    data={**info, "normalisation": cfg.normalisation,
          "weights": "w = 1 | I/I_max | exp(I/I_max), intensities normalised per structure"},
    chance=chance, chance_intensity_weighted=common_chance,
    backend=training.backend_name(), seconds=elapsed))
print(f"notebook 03 done in {elapsed:.0f} s")
