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
from lib.phases import losses, plots, training, verdicts

import time

import matplotlib.pyplot as plt
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
tag = info["tag"]
print(training.describe_data(info))

results = {}
for width in width_list:
    spec = training.SignRun(name=f"width_{width}", n_reflections=cfg.n_reflections, depth=1,
                            width=width, weight_type=cfg.weight_type, epochs=cfg.epochs,
                            batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                            seed=cfg.seed, normalisation=cfg.normalisation)
    results[width] = training.train_sign_model(spec, data, cfg.models_dir, keep_model=False)
    print(results[width].summary())
chance = next(iter(results.values())).chance

# %% [markdown]
# Each line: seconds, parameters, final plain accuracy on training, validation and test
# structures and the origin-aware validation accuracy, with both chance levels.
#
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
# Wider layers have more parameters to memorise the training structures with: their
# training curves (dashed) may climb faster; the width the report looked for is the one
# whose validation curve (solid) is highest.
#
# ## Final accuracy against width
#
# Evaluated after training (inference mode); error bars are two standard errors over the
# validation/test structures (Fig 18b; not in the report).

# %%
table = verdicts.width_table(results.values())
display(verdicts.format_table(table))

# %% [markdown]
# One row per width: `gap` is the overfitting (training − validation accuracy); `val_acc_se`
# and `test_acc_se` are the standard errors over structures that the error bars below show.

# %%
fig = plots.width_figure(table, chance, REPORT_BEST_WIDTH,
                         f"Fig 18b — final accuracy vs hidden-layer width (calculated set, {tag})")
figures.save_figure(fig, "fig18b_layer_sizes_final_accuracy",
                    "Final training, validation and test sign accuracy (left plain, right "
                    "origin-aware) against the width of the single hidden layer; error bars 2 "
                    f"standard errors; dotted: chance; dash-dotted: the report's best width "
                    f"({REPORT_BEST_WIDTH}); calculated set ({tag}).", cfg)
plt.show()

# %% [markdown]
# Validation points whose error bars overlap are widths this run cannot tell apart.
#
# ## Does this run support the report?
#
# The best width is the one with the highest validation accuracy; widths within two
# standard errors of it are tied with it.  When no width is above chance, the best width
# is noise and the verdict says so (`lib/phases/verdicts.py`).

# %%
judgement = verdicts.judge_width(table, chance, REPORT_BEST_WIDTH)
display(Markdown(judgement.markdown()))

# %% [markdown]
# The runs, the table, the best width and the verdict go to the metrics file.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.run_metrics(
    results, table, judgement, data={**info, "normalisation": cfg.normalisation},
    chance=chance, backend=training.backend_name(), seconds=elapsed))
print(f"notebook 04 done in {elapsed:.0f} s")
