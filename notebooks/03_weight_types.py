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
from lib.phases import inputs, losses, plots, training
from lib.phases.reflections import index_set

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
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
path, tag = data.path, info["tag"]
print(training.describe_data(info))

results = {}
for weight_type in types:
    spec = training.SignRun(name=f"weights_{weight_type}", n_reflections=cfg.n_reflections,
                            depth=cfg.depth, width=cfg.hidden_width, weight_type=weight_type,
                            epochs=cfg.epochs, batch_size=cfg.batch_size,
                            learning_rate=cfg.learning_rate, seed=cfg.seed,
                            normalisation=cfg.normalisation)
    r = training.train_sign_model(spec, data, cfg.models_dir)
    results[weight_type] = r
    m = r.metrics
    print(f"{weight_type:<14} {r.seconds:6.1f} s  acc train/val/test {m['train']['accuracy']:.3f}/"
          f"{m['validation']['accuracy']:.3f}/{m['test']['accuracy']:.3f}  "
          f"own-weighted val {m['validation']['weighted_accuracy']:.3f}")

# %% [markdown]
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
# ## Every model on one scale: the intensity-weighted accuracy on the test structures

# %%
hkl = index_set(4630)[: cfg.n_reflections]
test_intensity = inputs.ReflectionBatches(
    path, data.splits["test"], cfg.n_reflections, cfg.batch_size, target="sign",
    weight_type="intensity", normalisation=cfg.normalisation, in_memory=data.in_memory)
rows = []
common_chance = None
for t, r in results.items():
    scores, signs, w = training.evaluate_sign_model(r.model, test_intensity, hkl)
    if common_chance is None:
        common_chance = losses.chance_levels(signs, hkl, w, seed=cfg.seed)
    rows.append({"weight_type": t,
                 "train_acc": r.metrics["train"]["accuracy"],
                 "val_acc": r.metrics["validation"]["accuracy"],
                 "test_acc": r.metrics["test"]["accuracy"],
                 "test_origin_acc": r.metrics["test"]["origin_accuracy"],
                 "test_seminv_acc": r.metrics["test"]["seminvariant_accuracy"],
                 "test_intensity_weighted_acc": scores["weighted_accuracy"],
                 "test_intensity_weighted_origin_acc": scores["weighted_origin_accuracy"],
                 "test_acc_se": r.metrics["test"]["accuracy_se"],
                 "gap": training.overfitting_gap(r)})
test_intensity.close()
table = pd.DataFrame(rows)
table["chance_acc"] = chance["accuracy"]
table["chance_origin_acc"] = chance["origin_accuracy"]
table["chance_intensity_weighted_acc"] = common_chance["weighted_accuracy"]
table["chance_intensity_weighted_origin_acc"] = common_chance["weighted_origin_accuracy"]
display(plots.format_table(table))

# %% [markdown]
# ## Does this run support the report?

# %%
verdicts, lines = {}, []
above = {}
for t, r in results.items():
    val = r.metrics["validation"]
    above[t] = plots.above_chance(val["accuracy"], r.chance["accuracy"], val["accuracy_se"])
any_above = any(above.values())
evidence = "; ".join(f"{t}: validation {results[t].metrics['validation']['accuracy']:.4f} ± "
                     f"{results[t].metrics['validation']['accuracy_se']:.4f}" for t in types)
evidence += f" (chance {chance['accuracy']:.3f})"
status = "not supported" if any_above else "supported"
verdicts["no_weighting_generalises"] = status
lines.append(plots.verdict(status, "no loss weighting lifts validation accuracy above "
                                 "chance (Figs 15–16)", evidence))
best = table.loc[table["test_intensity_weighted_acc"].idxmax()]
spread = float(table["test_intensity_weighted_acc"].max() - table["test_intensity_weighted_acc"].min())
lines.append(f"- **on one scale** — best intensity-weighted test accuracy: {best['weight_type']} "
             f"{best['test_intensity_weighted_acc']:.3f} (chance "
             f"{common_chance['weighted_accuracy']:.3f}); spread between weightings {spread:.3f}")
display(Markdown("\n".join(lines)))

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, training.json_ready({
    "data": {**info, "normalisation": cfg.normalisation,
             "weights": "w = 1 | I/I_max | exp(I/I_max), intensities normalised per structure"},
    "chance": chance,
    "chance_intensity_weighted": common_chance,
    "runs": {t: r.record() for t, r in results.items()},
    "table": table.to_dict(orient="records"),
    "verdicts": verdicts,
    "backend": training.backend_name(),
    "seconds": elapsed,
}))
print(f"notebook 03 done in {elapsed:.0f} s")
