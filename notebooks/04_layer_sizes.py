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
#
# **Why the report's sweep could not find a best width.**  The 8 origins of P-1 are equally
# likely in the generated data and give identical intensities, so for every reflection that
# is not a seminvariant (h, k, l not all even: 620 of the 709) P(sign = + | intensities) = ½
# exactly.  With the report's plain loss only the 89 seminvariants can be learned: the plain
# accuracy is at most ½ + (n_semi / n)(a_semi − ½) (the *ceiling*, 0.563 for a perfect
# seminvariant predictor), at any width.  So the sweep runs twice: as the report did (plain
# loss; Figs 17–18b) and with the origin handled (the origin-invariant loss, the minimum over
# the 8 origin shifts; the same figures `_origin_invariant`), where the width could matter;
# that sweep picks its best width by validation origin-aware accuracy.  Plain accuracies are
# judged against the best constant predictor of the training split (seminvariant signs are
# ≈ 0.487 positive: "always −" scores ≈ 0.513 on them), origin-aware ones against the larger
# of the best of 8 random guesses and the constants.  The input is the report's I/I_max
# (parameter `input = "intensity_max"`) or |E| by resolution shell (`"e_values"`).

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
epochs_origin_invariant = None
batch_size = None
n_structures = None
n_reflections = None
widths = None
weight_type = None
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
width_list = config.int_list(cfg.widths, "widths")
losses.check_weight_type(cfg.weight_type)
REPORT_BEST_WIDTH = 100
started = time.perf_counter()

# %% [markdown]
# ## Data and runs
#
# The calculated set of `00_data`; the first `n_structures` structures for training and
# validation, the file's last `test_fraction` as test; one hidden ReLU layer per run, same
# seed and data for every width and loss (`epochs` for the plain loss,
# `epochs_origin_invariant` for the other).  The best constant of each reflection subset is
# chosen on the training signs (`verdicts.sign_baselines_of`).

# %%
data, info = training.profile_data(profile, "calculated", cfg.n_structures,
                                   cfg.validation_fraction, cfg.test_fraction)
tag = info["tag"]
print(training.describe_data(info))
data_baselines = verdicts.sign_baselines_of(data.path, data.splits, cfg.n_reflections)

sweeps = {"plain": {}, "origin_invariant": {}}
for loss, runs in sweeps.items():
    invariant = loss == "origin_invariant"
    for width in width_list:
        spec = training.SignRun(
            name=f"width_{width}" + ("_origin_invariant" if invariant else ""),
            n_reflections=cfg.n_reflections, depth=1, width=width,
            weight_type=cfg.weight_type, origin_invariant=invariant,
            epochs=cfg.epochs_origin_invariant if invariant else cfg.epochs,
            batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, seed=cfg.seed,
            normalisation=cfg.normalisation, model_input=cfg.input,
            distribution=cfg.distribution,
            train_source=cfg.train_source, steps_per_epoch=cfg.steps_per_epoch or None)
        runs[width] = training.train_sign_model(spec, data, cfg.models_dir, keep_model=False)
        print(runs[width].summary())
results, results_inv = sweeps["plain"], sweeps["origin_invariant"]
baselines = {r.name: data_baselines for runs in sweeps.values() for r in runs.values()}
chance = next(iter(results.values())).chance

# %% [markdown]
# Each line: seconds, parameters, final plain accuracy on training, validation and test
# structures and the origin-aware validation accuracy, with both chance levels.
#
# ## Figs 17–18: accuracy and loss per epoch for each width

# %%
for loss, runs in sweeps.items():
    suffix = "" if loss == "plain" else "_origin_invariant"
    label = "" if loss == "plain" else " (origin-invariant loss)"
    hist = {f"{w} units": r.history for w, r in runs.items()}
    fig = plots.accuracy_figure(
        hist, chance, f"Fig 17{label} — one hidden layer of 25–1000 units (calculated set, "
                      f"{tag}, {cfg.n_reflections} reflections): sign accuracy per epoch")
    figures.save_figure(fig, f"fig17_layer_sizes_accuracy{suffix}",
                        f"Training (dashed) and validation (solid) sign accuracy per epoch for "
                        f"one hidden layer of {width_list} units, {loss.replace('_', '-')} loss; "
                        f"calculated set ({tag}); left plain, right origin-aware; dotted: "
                        "chance level measured on random signs.", cfg)
    plt.show()
    fig = plots.loss_figure(hist, f"Fig 18{label} — hidden-layer width ({tag}): loss per epoch",
                            chance=losses.UNINFORMATIVE_LOSS)
    figures.save_figure(fig, f"fig18_layer_sizes_loss{suffix}",
                        "Training (dashed) and validation (solid) loss per epoch for one hidden "
                        f"layer of {width_list} units, {loss.replace('_', '-')} loss; calculated "
                        f"set ({tag}); dotted: ln 2.", cfg)
    plt.show()

# %% [markdown]
# Wider layers have more parameters to memorise the training structures with: their
# training curves (dashed) may climb faster; the width the report looked for is the one
# whose validation curve (solid) is highest — for the plain loss on the left panel, which
# the ceiling pins near chance, for the origin-invariant loss on the right (origin-aware)
# panel.
#
# ## Final accuracy against width
#
# Evaluated after training (inference mode); error bars are two standard errors over the
# validation/test structures (Fig 18b; not in the report).

# %%
table = verdicts.width_table(results.values(), baselines)
table_inv = verdicts.width_table(results_inv.values(), baselines)
display(verdicts.format_table(table, 4))
display(verdicts.format_table(table_inv, 4))

# %% [markdown]
# One row per width, plain loss first, origin-invariant second: `gap` is the overfitting
# (training − validation accuracy); `val_acc_se` and `test_acc_se` are the standard errors
# over structures that the error bars below show; `test_seminv_acc` / `test_other_acc` the
# seminvariants and the others next to their best constants, `ceiling` the plain accuracy a
# plain run's seminvariant accuracy allows, `origin_baseline` the bar for origin-aware ones.

# %%
for loss, tab in (("plain", table), ("origin_invariant", table_inv)):
    suffix = "" if loss == "plain" else "_origin_invariant"
    label = "" if loss == "plain" else " (origin-invariant loss)"
    fig = plots.width_figure(tab, chance, REPORT_BEST_WIDTH,
                             f"Fig 18b{label} — final accuracy vs hidden-layer width "
                             f"(calculated set, {tag})")
    figures.save_figure(fig, f"fig18b_layer_sizes_final_accuracy{suffix}",
                        "Final training, validation and test sign accuracy (left plain, right "
                        "origin-aware) against the width of the single hidden layer, "
                        f"{loss.replace('_', '-')} loss; error bars 2 standard errors; dotted: "
                        "chance; dash-dotted: the report's best width "
                        f"({REPORT_BEST_WIDTH}); calculated set ({tag}).", cfg)
    plt.show()

# %% [markdown]
# ## The ceiling of the plain runs

# %%
ceilings = {r.name: verdicts.ceiling_record(r, baselines[r.name]) for r in results.values()}
display(verdicts.format_table(verdicts.ceiling_table(ceilings), 4))

# %% [markdown]
# `other_acc` at its best constant (≈ ½) is the origin symmetry, measured; `ceiling` within a
# point of `best_constant` means no width could have lifted the plain accuracy.

# %% [markdown]
# Validation points whose error bars overlap are widths this run cannot tell apart.
#
# ## Does this run support the report?
#
# The best width is the one with the highest validation accuracy (origin-aware for the
# origin-invariant sweep); widths within two standard errors of it are tied with it.  When
# no width is above its baseline, the best width is noise and the verdict says so
# (`lib/phases/verdicts.py`).  The ceiling verdict asks whether the plain sweep could have
# found a best width at all.

# %%
judgement = verdicts.judge_width_sweeps(results, results_inv, table, table_inv, baselines,
                                       REPORT_BEST_WIDTH)
display(Markdown(judgement.markdown()))

# %% [markdown]
# The plain sweep's best width is whichever width the noise favoured when the ceiling sits
# at chance; the origin-invariant sweep's verdict says whether width matters once the origin
# is handled.

# %% [markdown]
# The runs, the table, the best width and the verdict go to the metrics file.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.run_metrics(
    {**{str(w): r for w, r in results.items()},
     **{f"{w}_origin_invariant": r for w, r in results_inv.items()}},
    table, judgement, data={**info, "normalisation": cfg.normalisation, "input": cfg.input},
    table_origin_invariant=table_inv.to_dict(orient="records"), baselines=data_baselines,
    chance=chance, backend=training.backend_name(), seconds=elapsed))
print(f"notebook 04 done in {elapsed:.0f} s")
