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
# Σ w·BCE / Σ w.  The weights stay these whatever the network sees: with the parameter
# `input = "e_values"` the input is |E| (resolution-shell normalisation in each cell, as
# `00_data` stores it) instead of the report's I/I_max (`intensity_max`, the default).
#
# Besides the report's plain accuracy we show the origin-aware accuracy (best of the 8 P-1
# origin shifts) and evaluate **every** model with the same intensity-weighted accuracy, the
# crystallographically relevant score, so the three weightings are compared on one scale;
# each next to its chance level measured on random signs.
#
# **Why the report's comparison could not show a difference.**  The 8 origins of P-1 are
# equally likely in the generated data and give identical intensities, so for every
# reflection that is not a seminvariant (h, k, l not all even: 620 of the 709) P(sign = + |
# intensities) = ½ exactly.  With the report's plain loss only the 89 seminvariants can be
# learned: the plain accuracy is at most ½ + (n_semi / n)(a_semi − ½) (the *ceiling*, 0.563
# for a perfect seminvariant predictor), whatever the weighting.  So the sweep runs twice:
# as the report did (plain loss; Figs 15–16) and with the origin handled (the
# origin-invariant loss, the minimum over the 8 origin shifts; Figs 15–16
# `_origin_invariant`), where a weighting *could* make a difference.  Every accuracy is
# judged against its baseline: the best constant predictor measured on the training split
# for plain accuracies (seminvariant signs are ≈ 0.487 positive, so "always −" scores ≈ 0.513
# on them), the larger of the best of 8 random guesses and the constants for origin-aware
# ones.

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import losses, plots, training, verdicts

import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

NOTEBOOK = "03_weight_types"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
epochs = None
epochs_origin_invariant = None
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
input = None  # "intensity_max" (the report's I/I_max) or "e_values" (|E|)
distribution = None
train_source = None
steps_per_epoch = None

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
# an MLP of `depth` hidden layers of `hidden_width` units; one run per weighting and loss,
# same seed (`epochs` for the plain loss, `epochs_origin_invariant` for the other).  The
# best constant of each reflection subset is chosen on the training signs
# (`verdicts.sign_baselines_of`).

# %%
data, info = training.profile_data(profile, "calculated", cfg.n_structures,
                                   cfg.validation_fraction, cfg.test_fraction)
tag = info["tag"]
print(training.describe_data(info))
data_baselines = verdicts.sign_baselines_of(data.path, data.splits, cfg.n_reflections)

sweeps = {"plain": {}, "origin_invariant": {}}
for loss, runs in sweeps.items():
    invariant = loss == "origin_invariant"
    for weight_type in types:
        spec = training.SignRun(
            name=f"weights_{weight_type}" + ("_origin_invariant" if invariant else ""),
            n_reflections=cfg.n_reflections, depth=cfg.depth, width=cfg.hidden_width,
            weight_type=weight_type, origin_invariant=invariant,
            epochs=cfg.epochs_origin_invariant if invariant else cfg.epochs,
            batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, seed=cfg.seed,
            normalisation=cfg.normalisation, model_input=cfg.input,
            distribution=cfg.distribution,
            train_source=cfg.train_source, steps_per_epoch=cfg.steps_per_epoch or None)
        runs[weight_type] = training.train_sign_model(spec, data, cfg.models_dir)
        print(runs[weight_type].summary())
results, results_inv = sweeps["plain"], sweeps["origin_invariant"]
baselines = {r.name: data_baselines for runs in sweeps.values() for r in runs.values()}

# %% [markdown]
# Each line: seconds, parameters, final plain accuracy on training, validation and test
# structures and the origin-aware validation accuracy, with both chance levels.
#
# ## Figs 15–16: accuracy and loss per epoch
#
# The loss of each run is its own weighted cross-entropy (nats per unit weight), so the three
# curves of Fig 16 measure slightly different things; the accuracies of Fig 15 are on one
# scale.  First the report's runs (plain loss), then the same with the origin-invariant loss.

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
# level for every weighting, whatever the training curves do — which the ceiling above
# predicts for the plain loss.

# %%
hist_inv = {t: r.history for t, r in results_inv.items()}
fig = plots.accuracy_figure(
    hist_inv, chance, f"Fig 15 (origin-invariant loss) — loss weighting ({tag}): sign "
                      "accuracy per epoch")
figures.save_figure(fig, "fig15_weight_types_accuracy_origin_invariant",
                    "As Fig 15, trained with the origin-invariant loss (minimum over the 8 P-1 "
                    f"origin shifts of the weighted cross-entropy); calculated set ({tag}); left "
                    "plain, right origin-aware accuracy; dotted: chance level.", cfg)
plt.show()
fig = plots.loss_figure(hist_inv, f"Fig 16 (origin-invariant loss) — loss weighting ({tag}): "
                                  "origin-invariant weighted cross-entropy per epoch",
                        chance=losses.UNINFORMATIVE_LOSS)
figures.save_figure(fig, "fig16_weight_types_loss_origin_invariant",
                    "As Fig 16, with the origin-invariant loss (minimum over the 8 origin "
                    f"shifts); calculated set ({tag}); dotted: ln 2.", cfg)
plt.show()

# %% [markdown]
# With the origin handled, the right-hand panel (origin-aware accuracy) is the one to read:
# a validation curve above its dotted chance level is learning that the plain loss could
# not show, and weightings that part there differ.
#
# ## Every model on one scale: the intensity-weighted accuracy on the test structures
#
# Each model, whatever weighting it was trained with, scored on the test structures with
# intensity weights (w = I/I_max): a wrong sign on a strong reflection costs more.  The
# chance level is that of random signs under the same weights.

# %%
scores, common_chance = training.intensity_weighted_scores(
    {r.name: r.model for runs in sweeps.values() for r in runs.values()}, data,
    cfg.n_reflections, cfg.batch_size, cfg.normalisation, seed=cfg.seed,
    model_input=cfg.input)
table = verdicts.weighting_table(results, {t: scores[r.name] for t, r in results.items()},
                                 chance, common_chance, baselines)
table_inv = verdicts.weighting_table(
    results_inv, {t: scores[r.name] for t, r in results_inv.items()}, chance, common_chance,
    baselines)
display(verdicts.format_table(table, 4))
display(verdicts.format_table(table_inv, 4))

# %% [markdown]
# One row per weighting, plain loss first, origin-invariant second.  `test_seminv_acc` and
# `test_other_acc` are the seminvariants and the others next to their best constants
# (`seminv_baseline`, `other_baseline`); `ceiling` is the plain accuracy a plain run's
# seminvariant accuracy allows.  For the origin-invariant runs read `val_origin_acc` and
# `test_origin_acc` against `origin_baseline`.
#
# ## The ceiling of the plain runs

# %%
ceilings = {r.name: verdicts.ceiling_record(r, baselines[r.name]) for r in results.values()}
display(verdicts.format_table(verdicts.ceiling_table(ceilings), 4))

# %% [markdown]
# `other_acc` at its best constant (≈ ½) is the origin symmetry, measured; `ceiling` within
# a point of `best_constant` means no weighting could have lifted the plain accuracy.

# %% [markdown]
# ## Does this run support the report?
#
# "Above chance" means more than two standard errors and at least one percentage point above
# the baseline (`lib/phases/verdicts.py`); weightings "differ" when their best and worst
# validation accuracies are more than two combined standard errors and a point apart.

# %%
judgement = verdicts.judge_weighting(results, results_inv,
                                     pd.concat([table, table_inv]), baselines,
                                     common_chance)
display(Markdown(judgement.markdown()))

# %% [markdown]
# The report's verdict holds for the plain loss but says nothing about the weightings: the
# ceiling keeps every plain run at chance.  The origin-invariant lines say whether any
# weighting learns, and whether they differ, once the origin is handled.

# %% [markdown]
# The runs, the table and the verdict go to the metrics file.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.run_metrics(
    {**results, **{f"{t}_origin_invariant": r for t, r in results_inv.items()}}, table, judgement,
    table_origin_invariant=table_inv.to_dict(orient="records"), baselines=data_baselines,
    data={**info, "normalisation": cfg.normalisation, "input": cfg.input,
          "weights": "w = 1 | I/I_max | exp(I/I_max), intensities normalised per structure"},
    chance=chance, chance_intensity_weighted=common_chance,
    backend=training.backend_name(), seconds=elapsed))
print(f"notebook 03 done in {elapsed:.0f} s")
