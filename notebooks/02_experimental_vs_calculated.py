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
# # 02 — Learning signs from intensities: experimental vs calculated data (report 1, §3.2–3.3, Figs 6–14)
#
# In P-1 every structure factor is real, so its phase is 0 or π: a **sign**.  The report asked
# whether a multilayer perceptron (MLP) can read the signs of the structure factors from the
# intensities I = |F|² alone.  It fed the normalised intensities of the report's reflections
# to an MLP with one output per reflection (the probability that F > 0) and trained it with
# binary cross-entropy:
#
# - on the **experimental** set, a 3-hidden-layer MLP as wide as the input (architecture:
#   Fig 6): training accuracy rose while validation accuracy and loss did not follow — the
#   network **overfitted** and did not generalise (Figs 7–8);
# - on the **calculated** set with the 709 reflections of h²+k²+l² < 50, one against three
#   hidden layers of 709 units (Figs 9–10), and data sets of 7,000, 50,000 and 150,000
#   structures for one and for three layers (Figs 11–14): more data narrowed the gap between
#   training and validation, but validation accuracy stayed near 50 %, the accuracy of a coin.
#
# This notebook repeats those experiments and adds what the report lacked:
#
# 1. **Origin awareness.**  P-1 has 8 equivalent origins (the inversion centres at p/2,
#    p ∈ {0,1}³); moving the origin multiplies the sign of F(h) by (−1)^(h·p).  The signs of
#    a structure are therefore defined only up to these 8 shifts, and only the reflections
#    with h, k, l all even (the *structure seminvariants*, about 1/8 of them) keep their sign
#    whatever the origin.  A plain loss asks the network to guess which origin the data set
#    happened to use — impossible from intensities — so we also report the **origin-aware
#    accuracy** (best over the 8 shifts) and the accuracy on the seminvariants.
# 2. **Chance levels measured**, not assumed: random signs score 0.5 in plain accuracy but
#    more in origin-aware accuracy (the best of 8 guesses); every accuracy is shown next to
#    its chance level.
# 3. **The origin-invariant loss** (the minimum over the 8 shifts of the loss, as PhAI does
#    for P2₁/c): does it change the overfitting?
# 4. A held-out **test** block of structures, never seen in training or model choice.
#
# **What the plain loss can show at all.**  The generator places atoms uniformly and its
# minimum-distance rule is unchanged by x → x + p/2, so the 8 origins are equally likely and
# give identical intensities.  For every reflection that is not a seminvariant (620 of the
# 709) P(sign = + | intensities) = ½ exactly: no network, however trained, can do better than
# a coin on them with the report's plain loss.  Only the 89 seminvariants can be learned, so
# the plain accuracy is at most **½ + (n_semi / n)(a_semi − ½)** — the *ceiling*, 0.563 even
# for a perfect seminvariant predictor.  A validation accuracy "at chance" is therefore what
# the symmetry forces, not evidence of overfitting.  Every subset accuracy (all, seminvariants,
# the others) is judged against the **best constant predictor measured on the training
# split**: seminvariant signs are ≈ 0.487 positive here (atoms keep away from the inversion
# centres), so "always −" already scores ≈ 0.513 on them.
#
# The model input is the parameter `input`.  `intensity_max` (the default: the report's
# input) is the intensities normalised per structure by their maximum, linear, without the
# cell; `e_values` is what a crystallographer would give instead: the normalised structure
# factors |E| that `00_data` stores for every entry (shell normalisation by resolution in the
# structure's own cell, equal to cctbx's `normalize`, clipped at 5), so the same (h, k, l)
# at different resolutions in different cells is put on one scale (`lib.phases.inputs`).
# Neither input changes the symmetry argument above: |E| is origin-independent too.
# Definitions of the losses and metrics are in `lib/phases/losses.py`.

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import inputs, losses, models, plots, store, training, verdicts

import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

NOTEBOOK = "02_experimental_vs_calculated"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
epochs_experimental = None
epochs = None
batch_size = None
n_reflections_experimental = None
n_reflections = None
dataset_sizes = None
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
requested_sizes = config.int_list(cfg.dataset_sizes, "dataset_sizes")
REPORT_SIZES = [7_000, 50_000, 150_000]
started = time.perf_counter()
print("Keras backend:", training.backend_name())

# %% [markdown]
# ## The data sets
#
# Both files come from `00_data` (`lib.phases.build`).  The experimental set holds measured
# intensities (real ones when `00_data` was given real data, simulated measurements
# otherwise: the output says which) with the signs of F_calc from each structure's model; the
# calculated set holds |F_calc|² of random P-1 structures.  The last `test_fraction` of each
# file is the test block; a data-set size *N* means the first *N* structures of the file,
# of which the last `validation_fraction` are the validation split.

# %%
exp_info = inputs.dataset_summary(store.dataset_path(profile, "experimental"))
calc_info = inputs.dataset_summary(store.dataset_path(profile, "calculated"))
exp_tag, calc_tag = exp_info["tag"], calc_info["tag"]
available = inputs.available_structures(calc_info["n_structures"], cfg.test_fraction)
sizes, size_notes = inputs.clip_sizes(requested_sizes, available)
scaled_down = sizes != REPORT_SIZES
print(f"experimental set: {exp_info['n_structures']} structures, {exp_tag}")
print(f"calculated set:   {calc_info['n_structures']} structures, {calc_tag}; "
      f"{available} available for training + validation")
print("data-set sizes used:", sizes, "| report:", REPORT_SIZES)
for note in size_notes:
    print("  note:", note)
if scaled_down:
    print(f"  This run is SCALED DOWN from the report's sizes {REPORT_SIZES} "
          f"(profile {profile!r}); conclusions about size trends are about these sizes.")

# %% [markdown]
# Every run below is one call of `training.train_sign_model` (`lib/phases/training.py`): it
# trains, evaluates every split in inference mode, measures the chance levels on the test
# split and leaves `history.csv`, `model.keras` and `config.json` in the run's folder.
# `verdicts.sign_baselines_of` reads the run's training signs once per data set and chooses
# the best constant sign of each subset (all, seminvariants, others) on them.

# %%
results, baselines, data_baselines = {}, {}, {}
common = dict(batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, seed=cfg.seed,
              normalisation=cfg.normalisation, model_input=cfg.input,
              distribution=cfg.distribution,
              steps_per_epoch=cfg.steps_per_epoch or None)


def train(spec, data, keep_model=False):
    results[spec.name] = r = training.train_sign_model(spec, data, cfg.models_dir,
                                                       keep_model=keep_model)
    if data.label not in data_baselines:       # best constants of the data's training split
        data_baselines[data.label] = verdicts.sign_baselines_of(data.path, data.splits,
                                                                spec.n_reflections)
    baselines[spec.name] = data_baselines[data.label]
    print(r.summary())

# %% [markdown]
# ## The experimental set: a 3-layer MLP as wide as the input (Figs 6–8)
#
# Three hidden layers of as many units as there are input reflections, ReLU, and one sign
# logit per reflection, trained with the plain and with the origin-invariant loss.  Fig 6 is
# drawn from the trained model's own layers.

# %%
n_exp = cfg.n_reflections_experimental
exp_data = training.data_spec(exp_info, None, cfg.validation_fraction, cfg.test_fraction,
                              f"experimental ({exp_tag})")
for loss in ("plain", "invariant"):
    train(training.SignRun(name=f"experimental_3x{n_exp}_{loss}", n_reflections=n_exp, depth=3,
                           width=n_exp, epochs=cfg.epochs_experimental,
                           origin_invariant=loss == "invariant", **common),
          exp_data, keep_model=loss == "plain")
exp_plain = results[f"experimental_3x{n_exp}_plain"]
exp_inv = results[f"experimental_3x{n_exp}_invariant"]

# %% [markdown]
# Each line: seconds, parameters, final plain accuracy on the training, validation and test
# structures, and the origin-aware validation accuracy, with both chance levels.  A training
# accuracy above the validation one is the overfitting the report saw.

# %%
fig = plots.architecture_figure(
    exp_plain.model,
    f"Fig 6 — sign MLP: {n_exp} normalised intensities → 3 × {n_exp} ReLU → {n_exp} "
    f"sign logits ({exp_plain.n_parameters:,} parameters)")
figures.save_figure(fig, "fig06_mlp_architecture",
                    f"Architecture of the sign MLP trained on the experimental set: {n_exp} "
                    "normalised intensities in, 3 hidden ReLU layers as wide as the input, one "
                    "sign logit per reflection out; drawn from the trained Keras model.", cfg)
plt.show()
display(pd.DataFrame(models.layer_table(exp_plain.model)))

# %% [markdown]
# One row per layer of the trained model with its parameters (weights and biases): a dense
# layer as wide as its n inputs holds (n + 1)·n of them, so the hidden layers hold almost
# all of the network's parameters.

# %%
fig = plots.accuracy_figure(
    {"3-layer MLP": exp_plain.history}, exp_plain.chance,
    f"Fig 7 — experimental set ({exp_tag}), {n_exp} reflections: sign accuracy per epoch")
figures.save_figure(fig, "fig07_experimental_accuracy",
                    f"Training (dashed) and validation (solid) sign accuracy per epoch of the "
                    f"3-layer MLP on the experimental set ({exp_tag}); left plain, right "
                    "origin-aware (best of the 8 P-1 origin shifts); dotted: chance level "
                    "measured on random signs.", cfg)
plt.show()

# %% [markdown]
# Fig 7: the report's overfitting shows as a training curve (dashed) that climbs away from
# the validation curve (solid); the validation curve is to be read against the dotted chance
# level, not against 0.5.

# %%
fig = plots.loss_figure({"3-layer MLP": exp_plain.history},
                        f"Fig 8 — experimental set ({exp_tag}): loss per epoch",
                        chance=losses.UNINFORMATIVE_LOSS)
figures.save_figure(fig, "fig08_experimental_loss",
                    f"Training (dashed) and validation (solid) binary cross-entropy per epoch "
                    f"of the 3-layer MLP on the experimental set ({exp_tag}); dotted: ln 2, the "
                    "loss of predicting P(F>0) = 1/2.", cfg)
plt.show()

# %% [markdown]
# Fig 8: a validation loss above ln 2 (dotted) is worse than predicting P(F > 0) = ½ for
# every reflection.
#
# The same network trained with the origin-invariant loss: the curves below show the plain
# and origin-aware accuracies of that run (Fig 7b; not in the report).

# %%
fig = plots.accuracy_figure(
    {"plain loss": exp_plain.history, "origin-invariant loss": exp_inv.history},
    exp_plain.chance,
    f"Fig 7b — experimental set ({exp_tag}): plain vs origin-invariant loss")
figures.save_figure(fig, "fig07b_experimental_accuracy_origin_invariant_loss",
                    "Sign accuracy per epoch on the experimental set for the plain loss and the "
                    "origin-invariant loss (minimum over the 8 P-1 origin shifts); left plain, "
                    "right origin-aware accuracy; dotted: measured chance levels.", cfg)
plt.show()

# %% [markdown]
# ## The calculated set, 709 reflections: one vs three hidden layers and the data-set size (Figs 9–14)
#
# Hidden layers of 709 units (as wide as the input), one or three of them, on the calculated
# set of the data-set sizes listed above; every configuration is trained once with the plain
# loss and once with the origin-invariant loss.  As in the report, every size trains for the
# same number of epochs, so a larger set also gets proportionally more weight updates.

#
# With `-p train_source stream` these runs train on a stream of never-seen structures from the
# batched generator (`lib.phases.stream`; validation and test stay on the file's held-out
# splits), and with `-p distribution mirrored` (or `auto`) on every GPU of a node; the
# report's setting, the defaults here, is one fixed data set on one device.
# %%
n_calc = cfg.n_reflections


def calc_name(size, depth, loss="plain"):
    return f"calculated_{size}_{depth}x{n_calc}_{loss}"


for size in sizes:
    calc_data = training.data_spec(calc_info, size, cfg.validation_fraction, cfg.test_fraction,
                                   f"calculated ({calc_tag}), {size} structures")
    for depth in (1, 3):
        for loss in ("plain", "invariant"):
            train(training.SignRun(name=calc_name(size, depth, loss), n_reflections=n_calc,
                                   depth=depth, width=n_calc, epochs=cfg.epochs,
                                   origin_invariant=loss == "invariant",
                                   train_source=cfg.train_source, **common), calc_data)
largest = sizes[-1]
calc_chance = results[calc_name(largest, 1)].chance

# %% [markdown]
# One line per run, as above.  The chance levels of the calculated runs are measured on the
# same test block, so the figures below draw those of the largest set.

# %%
hist = {"1 hidden layer": results[calc_name(largest, 1)].history,
        "3 hidden layers": results[calc_name(largest, 3)].history}
fig = plots.accuracy_figure(
    hist, calc_chance, f"Fig 9 — calculated set ({calc_tag}), {n_calc} reflections, "
                       f"{largest:,} structures: 1 vs 3 hidden layers")
figures.save_figure(fig, "fig09_calculated_1_vs_3_layers_accuracy",
                    f"Sign accuracy per epoch on the calculated set ({calc_tag}, {n_calc} "
                    f"reflections, {largest} structures) for 1 and 3 hidden layers of {n_calc} "
                    "units; training dashed, validation solid; left plain, right origin-aware; "
                    "dotted: measured chance.", cfg)
plt.show()
fig = plots.loss_figure(hist, f"Fig 10 — calculated set ({calc_tag}), {largest:,} "
                              "structures: loss, 1 vs 3 hidden layers",
                        chance=losses.UNINFORMATIVE_LOSS)
figures.save_figure(fig, "fig10_calculated_1_vs_3_layers_loss",
                    f"Binary cross-entropy per epoch on the calculated set ({calc_tag}, "
                    f"{largest} structures), 1 vs 3 hidden layers; dotted: ln 2.", cfg)
plt.show()

# %% [markdown]
# Figs 9–10 compare depth on the largest set: the deeper network has more parameters to
# memorise the training structures with, so its training curve may climb faster; what
# matters is whether either validation curve leaves the chance level.
#
# Figs 11–14: the same for every data-set size, one figure per depth.

# %%
for depth, (fig_acc, fig_loss) in {1: (11, 12), 3: (13, 14)}.items():
    layers = "1 hidden layer" if depth == 1 else "3 hidden layers"
    stem = f"dataset_size_{depth}_layer{'s' if depth > 1 else ''}"
    hist = {f"{size:,} structures": results[calc_name(size, depth)].history for size in sizes}
    fig = plots.accuracy_figure(
        hist, calc_chance, f"Fig {fig_acc} — calculated set ({calc_tag}), {layers}: "
                           "data-set size")
    figures.save_figure(fig, f"fig{fig_acc}_{stem}_accuracy",
                        f"Sign accuracy per epoch for data-set sizes {sizes} (report: "
                        f"{REPORT_SIZES}) with {layers} of {n_calc} units on the calculated set "
                        f"({calc_tag}); training dashed, validation solid; dotted: chance.", cfg)
    plt.show()
    fig = plots.loss_figure(hist, f"Fig {fig_loss} — calculated set ({calc_tag}), "
                                  f"{layers}: loss vs data-set size",
                            chance=losses.UNINFORMATIVE_LOSS)
    figures.save_figure(fig, f"fig{fig_loss}_{stem}_loss",
                        f"Binary cross-entropy per epoch for data-set sizes {sizes} with "
                        f"{layers} on the calculated set ({calc_tag}); dotted: ln 2.", cfg)
    plt.show()

# %% [markdown]
# ## Every run: final accuracies and chance levels
#
# Accuracies evaluated after training in inference mode on each split; `chance_*` are
# measured on the test split with random signs (10 draws).  `gap` = training − validation
# accuracy, the overfitting; `test_seminv_acc` / `test_other_acc` are the test accuracies on
# the seminvariants (h, k, l all even) and on the others, next to the best constant of the
# training split (`seminv_baseline`, `other_baseline`, `all_baseline`); `ceiling` is the plain
# accuracy the run's own seminvariant accuracy allows (plain-loss runs only).

# %%
table = verdicts.sign_runs_table(results.values(), baselines)
display(verdicts.format_table(table, 4))

# %% [markdown]
# ## The ceiling: what each plain run's accuracy can show
#
# For every run with the plain loss, on the test structures: its plain accuracy, the ceiling
# ½ + (n_semi/n)(a_semi − ½) at its own seminvariant accuracy, the ceiling of a perfect
# seminvariant predictor, and each subset against its best constant.

# %%
plain_runs = [r for r in results.values() if not r.spec["origin_invariant"]]
ceilings = {r.name: verdicts.ceiling_record(r, baselines[r.name]) for r in plain_runs}
display(verdicts.format_table(verdicts.ceiling_table(ceilings), 4))

# %% [markdown]
# `other_acc` should sit on its best constant (≈ ½) in every run: that is the origin
# symmetry, measured.  When `ceiling` is within a point of `best_constant`
# (`ceiling_near_chance`), the plain accuracy could not have left chance, with or without
# overfitting; the only learning a plain run can show is `seminv_acc` above
# `seminv_best_constant` (`seminv_learned`).

# %% [markdown]
# ## Does the origin-invariant loss change the overfitting?
#
# For every configuration, the overfitting gap (training − validation origin-aware accuracy)
# with the plain loss and with the origin-invariant loss (Fig 14b; not in the report).

# %%
loss_pairs = verdicts.loss_pairs_table(results)
display(verdicts.format_table(loss_pairs))

# %% [markdown]
# One row per configuration: `gap_plain` and `gap_invariant` are the overfitting under each
# loss, the `test_origin_acc_*` columns what generalises, next to `chance_origin_acc`.

# %%
fig = plots.loss_pairs_figure(loss_pairs, f"Fig 14b — plain vs origin-invariant loss "
                                          f"(experimental: {exp_tag}; calculated: {calc_tag})")
figures.save_figure(fig, "fig14b_origin_invariant_loss_overfitting",
                    "Overfitting gap (training − validation origin-aware accuracy) and test "
                    "origin-aware accuracy of every configuration trained with the plain and "
                    "with the origin-invariant loss; dotted: chance level (best of 8 random).",
                    cfg)
plt.show()

# %% [markdown]
# A smaller bar on the left means the origin-invariant loss overfits less; on the right, a
# bar above the dotted line generalises beyond the best of 8 random guesses.
#
# ## Does this run support the report?
#
# Each claim is judged from this run's numbers (`lib/phases/verdicts.py`).  "Above chance"
# means more than two standard errors (spread of the per-structure accuracy over the
# validation structures) **and** at least one percentage point above the baseline: the best
# constant of the training split for plain accuracies, the larger of the best of 8 random
# guesses and the constants for origin-aware ones; "overfits" means a training − validation
# accuracy gap above 0.05.  The report's explanation ("at chance because it overfits") is
# judged with the ceiling: when the ceiling itself is at chance, a chance-level accuracy
# does not support it.

# %%
judgement = verdicts.judge_sign_learning(
    exp_plain, {depth: [results[calc_name(s, depth)] for s in sizes] for depth in (1, 3)},
    sizes, loss_pairs, [results[c + "_invariant"] for c in loss_pairs["configuration"]],
    baselines)
display(Markdown(judgement.markdown()))

# %% [markdown]
# Read the verdicts together: the overfitting (a training accuracy that leaves the
# validation one) is real, but it is memorising which of the 8 origins each training
# structure happened to get; the chance-level validation accuracy is the origin symmetry.
# What a plain loss can add is the seminvariant line, and what the origin-invariant runs add
# is whether anything beyond the seminvariants is learned once the origin is handled.

# %% [markdown]
# The runs, tables, verdicts and the numbers behind them go to the metrics file.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.run_metrics(
    results, table, judgement,
    data={"experimental": exp_info, "calculated": calc_info,
          "experimental_simulated": exp_info["simulated"],
          "calculated_simulated": calc_info["simulated"],
          "dataset_sizes_requested": requested_sizes, "dataset_sizes_used": sizes,
          "report_dataset_sizes": REPORT_SIZES, "scaled_down": scaled_down,
          "size_notes": size_notes, "normalisation": cfg.normalisation, "input": cfg.input,
          "n_reflections_experimental": n_exp, "n_reflections_calculated": n_calc},
    chance={"calculated_test": calc_chance, "experimental_test": exp_plain.chance},
    baselines=data_baselines,
    origin_invariant_vs_plain=loss_pairs.to_dict(orient="records"),
    backend=training.backend_name(), seconds=elapsed))
print(f"notebook 02 done in {elapsed:.0f} s")
