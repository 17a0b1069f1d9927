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
# # 04 — How wide should the hidden layer be? (report 1, §3.4, Figs 17–18)
#
# The report trained MLPs with **one hidden layer** of 25, 50, 100, 250, 500, 709 and 1000
# units on the calculated set (709 reflections) and compared their training and validation
# accuracy and loss per epoch (Figs 17–18).  It found the best width at **about 100 units**.
#
# This notebook repeats the sweep, picks the best width from the final **validation**
# accuracy (the test block stays untouched for the final numbers), and asks whether that
# choice is meaningful: when every width scores at the chance level, the "best" width is
# noise, and the verdict says so.  Accuracies are shown next to their chance levels measured
# on random signs, plain and origin-aware (best of the 8 P-1 origin shifts).

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import inputs, losses, plots, training

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

NOTEBOOK = "04_layer_sizes"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
epochs = None
batch_size = None
n_structures = None
n_reflections = None
widths = None
weight_type = None
validation_fraction = None
test_fraction = None
learning_rate = None
normalisation = None

# %%
cfg = config.notebook_config(NOTEBOOK, profile, **config.parameters_from(globals(), NOTEBOOK))
print(cfg.table())
width_list = config.int_list(cfg.widths, "widths")
losses.check_weight_type(cfg.weight_type)
REPORT_BEST_WIDTH = 100
started = time.perf_counter()

# %% [markdown]
# ## Data and runs
#
# The calculated set of `00_data`; the first `n_structures` structures for training and
# validation, the file's last `test_fraction` as test; one hidden ReLU layer per run, same
# seed and data for every width.

# %%
data, info = training.profile_data(profile, "calculated", cfg.n_structures,
                                   cfg.validation_fraction, cfg.test_fraction)
path, tag = data.path, info["tag"]
print(training.describe_data(info))

results = {}
for width in width_list:
    spec = training.SignRun(name=f"width_{width}", n_reflections=cfg.n_reflections, depth=1,
                            width=width, weight_type=cfg.weight_type, epochs=cfg.epochs,
                            batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                            seed=cfg.seed, normalisation=cfg.normalisation)
    r = training.train_sign_model(spec, data, cfg.models_dir, keep_model=False)
    results[width] = r
    m = r.metrics
    print(f"width {width:>5}: {r.seconds:6.1f} s, {r.n_parameters:>9,} parameters, acc "
          f"train/val/test {m['train']['accuracy']:.3f}/{m['validation']['accuracy']:.3f}/"
          f"{m['test']['accuracy']:.3f}, origin-aware val {m['validation']['origin_accuracy']:.3f}")
chance = next(iter(results.values())).chance

# %% [markdown]
# ## Figs 17–18: accuracy and loss per epoch for each width

# %%
hist = {f"{w} units": r.history for w, r in results.items()}
fig = plots.accuracy_figure(
    hist, chance, f"Fig 17 — one hidden layer of 25–1000 units (calculated set, {tag}, "
                  f"{cfg.n_reflections} reflections): sign accuracy per epoch")
figures.save_figure(fig, "fig17_layer_sizes_accuracy",
                    f"Training (dashed) and validation (solid) sign accuracy per epoch for one "
                    f"hidden layer of {width_list} units; calculated set ({tag}); left plain, "
                    "right origin-aware; dotted: chance level measured on random signs.", cfg)
plt.show()
fig = plots.loss_figure(hist, f"Fig 18 — hidden-layer width ({tag}): loss per epoch",
                              chance=losses.UNINFORMATIVE_LOSS)
figures.save_figure(fig, "fig18_layer_sizes_loss",
                    "Training (dashed) and validation (solid) binary cross-entropy per epoch for "
                    f"one hidden layer of {width_list} units; calculated set ({tag}); "
                    "dotted: ln 2.", cfg)
plt.show()

# %% [markdown]
# ## Final accuracy against width
#
# Evaluated after training (inference mode); error bars are two standard errors over the
# validation/test structures (Fig 18b; not in the report).

# %%
table = training.results_table(results.values(), columns=("width",))
table["parameters"] = [r.n_parameters for r in results.values()]
table["val_acc_se"] = [r.metrics["validation"]["accuracy_se"] for r in results.values()]
table["test_acc_se"] = [r.metrics["test"]["accuracy_se"] for r in results.values()]
table["gap"] = table["train_acc"] - table["val_acc"]
display(plots.format_table(table))

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, key, title, ch in ((axes[0], "acc", "plain sign accuracy", chance["accuracy"]),
                           (axes[1], "origin_acc", "origin-aware accuracy",
                            chance["origin_accuracy"])):
    ax.plot(table["width"], table[f"train_{key}"], "o--", label="train")
    se = table["val_acc_se"] if key == "acc" else None
    ax.errorbar(table["width"], table[f"val_{key}"], yerr=None if se is None else 2 * se,
                fmt="o-", label="validation")
    ax.errorbar(table["width"], table[f"test_{key}"],
                yerr=None if key != "acc" else 2 * table["test_acc_se"], fmt="s-", label="test")
    ax.axhline(ch, color="0.4", ls=":", label=f"chance ({ch:.3f})")
    ax.axvline(REPORT_BEST_WIDTH, color="tab:red", ls="-.", lw=0.8, label="report's best (≈100)")
    ax.set_xscale("log")
    ax.set_xlabel("hidden-layer width (units)")
    ax.set_ylabel(title)
    ax.legend(fontsize=7)
fig.suptitle(f"Fig 18b — final accuracy vs hidden-layer width (calculated set, {tag})",
             fontsize=11)
fig.tight_layout()
figures.save_figure(fig, "fig18b_layer_sizes_final_accuracy",
                    "Final training, validation and test sign accuracy (left plain, right "
                    "origin-aware) against the width of the single hidden layer; error bars 2 "
                    f"standard errors; dotted: chance; dash-dotted: the report's best width "
                    f"({REPORT_BEST_WIDTH}); calculated set ({tag}).", cfg)
plt.show()

# %% [markdown]
# ## Does this run support the report?

# %%
best_row = table.loc[table["val_acc"].idxmax()]
best_width = int(best_row["width"])
best_origin_width = int(table.loc[table["val_origin_acc"].idxmax(), "width"])
best_above = plots.above_chance(float(best_row["val_acc"]), chance["accuracy"],
                                      float(best_row["val_acc_se"]))
# Is the best width distinguishable from the others? Within 2 SE of the best = tied.
tied = [int(w) for w, v, s in zip(table["width"], table["val_acc"], table["val_acc_se"])
        if float(best_row["val_acc"]) - v <= 2 * max(s, float(best_row["val_acc_se"]))]
evidence = (f"best validation accuracy {best_row['val_acc']:.4f} ± "
            f"{best_row['val_acc_se']:.4f} at width {best_width} (chance "
            f"{chance['accuracy']:.3f}); widths within 2 SE of it: {tied}; best by origin-aware "
            f"accuracy: {best_origin_width}")
if not best_above:
    status = "inconclusive at this scale"
    evidence += " — no width is above chance, so the best width is noise"
elif 50 <= best_width <= 250 or REPORT_BEST_WIDTH in tied:
    status = "supported"
else:
    status = "not supported"
verdicts = {"best_width_about_100": status}
display(Markdown(plots.verdict(status, f"the best hidden-layer width is about "
                                     f"{REPORT_BEST_WIDTH} units (Figs 17–18)", evidence)))

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, training.json_ready({
    "data": {**info, "normalisation": cfg.normalisation},
    "chance": chance,
    "runs": {str(w): r.record() for w, r in results.items()},
    "table": table.to_dict(orient="records"),
    "best_width": best_width,
    "best_width_origin_aware": best_origin_width,
    "best_width_above_chance": best_above,
    "widths_tied_with_best": tied,
    "report_best_width": REPORT_BEST_WIDTH,
    "verdicts": verdicts,
    "backend": training.backend_name(),
    "seconds": elapsed,
}))
print(f"notebook 04 done in {elapsed:.0f} s")
