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
# # 08 — Can a network read the signs from the intensities? The report's §4 tested
#
# Report 1 trained an MLP to predict the signs of the structure factors of P-1 structures from
# their intensities; it stayed at chance, and the report's §4 explained why in three ways:
#
# 1. **information** — the intensities alone do not hold enough; add the cell parameters, or
#    use the **Patterson function** instead of the intensities;
# 2. **data** — there were not enough training structures;
# 3. **capacity** — the network memorises; dropout, batch normalisation, smaller layers.
#
# The review of issue 8 (notebooks 02–04) found a fourth, prior reason: with the plain loss
# every sign that is not a seminvariant has P(+ | intensities) = ½ exactly, because the 8
# origins of P-1 give the same intensities.  So this notebook uses the corrections of issue 8
# throughout — |E| on the resolution sphere (every reflection with d ≥ d_min), the origin
# handled (origin fixing or the min-over-8 loss) — and the bar of notebook 07: classical
# direct methods phase most of these structures from the same |E| at 1.0 Å.
#
# It trains three designs (`lib/phases/phase_models.py`) on a stream of **never-seen**
# generated structures (`SphereStream`: every batch new; the x-axis of a learning curve is
# structures seen):
#
# - the report's **MLP** on |E| (+ origin markers + cell), the reference;
# - a **PhAI-style** model: |E| on the 3D (h, k, l) grid → 3D convolutions → a mixer block →
#   one logit per reflection, with 3 recycling passes;
# - a **triplet (Σ2) model**: message passing over the triplets h = k + (h − k) of the
#   strongest reflections, tangent-formula-like updates from a multisolution start with a
#   ψ₀ figure of merit.  *Untrained it is already a classical Σ2 routine*, so it is shown
#   untrained and trained: what training adds is the difference.
#
# Every number is measured on structures never trained on: notebook 07's generated test
# structures (its random stream 8, the same structures as 07's table) and the real COD P-1
# structures.  Then the models' signs **seed classical phasing** (as AI-PhaSeed does with
# PhAI): charge flipping and Σ2 started from the model's signs of the strongest reflections,
# against the same methods started at random.

# %%
from lib import config, figures, metrics  # lib first (cctbx's runtime before pandas/matplotlib)
from lib.phases import baselines, model_study, plots, verdicts
from lib.phases.structures import GeneratorParameters, read_cif_structures

import json
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

NOTEBOOK = "08_phasing_models"

# %% tags=["parameters"]
profile = "default"
# None = take it from the profile
seed = None
d_mins = None
train_d_min = None
n_test = None
n_curve_test = None
cod_dir = None
cod_limit = None
batch_size = None
n_checkpoints = None
mlp_structures = None
mlp_width = None
mlp_depth = None
phai_structures = None
triplet_structures = None
learning_rate = None
n_strong = None
max_edges = None
n_symbols_train = None
n_symbols_test = None
seeded_methods = None
n_seeded = None
seed_fraction = None
n_workers = None

# %%
cfg = config.notebook_config(NOTEBOOK, profile, **config.parameters_from(globals(), NOTEBOOK))
print(cfg.table())
resolutions = baselines.parse_resolutions(cfg.d_mins)
if cfg.train_d_min not in resolutions:
    raise ValueError(f"train_d_min = {cfg.train_d_min} Å must be one of d_mins = {cfg.d_mins}")
seeded_method_names = baselines.parse_methods(cfg.seeded_methods)
started = time.perf_counter()

# %% [markdown]
# ## Test structures: notebook 07's, and the COD
#
# The generated test structures are notebook 07's: the generator of `00_data` (this profile's
# parameters) on random stream 8 of 07's seed — never a training structure (training reads
# stream 3, the learning curves' held-out batches stream 4).  The COD P-1 structures are read
# as in 07; the MLP and PhAI-style models read a fixed index grid sized for cells up to the
# generator's largest edge, so they score only the COD structures whose cell fits it (listed);
# the triplet model reads any cell.

# %%
generator = GeneratorParameters.from_mapping(config.profile_parameters("00_data", profile))
seed_07 = config.profile_parameters("07_phasing_baselines", profile)["seed"]
generated = baselines.generated_test_structures(generator, seed_07, max(cfg.n_test,
                                                                        cfg.n_seeded))
print(f"{len(generated)} generated test structures (notebook 07's stream "
      f"{baselines.STREAM_PHASING_TEST}, seed {seed_07})")

cod_path = config.resolve_shared(cfg.cod_dir, "cod_structures", "p-1")
cod, cod_skipped = [], []
if cod_path is None:
    print("no COD P-1 structures (../shared/data/cod_structures/p-1 is absent): generated only")
else:
    read = read_cif_structures(cod_path)
    cod = [(s.source_id, s.structure) for s in sorted(read.structures, key=lambda s: s.source_id)]
    if cfg.cod_limit:
        cod = cod[:cfg.cod_limit]
    cod_skipped = [str(s) for s in read.skipped]
    print(f"{len(cod)} COD P-1 structures from {cod_path} ({len(cod_skipped)} files skipped)")
sources = {"generated": generated[:cfg.n_test]}
if cod:
    sources["cod_p-1"] = cod

path_07 = config.metrics_dir(profile) / "07_phasing_baselines.json"
table_07 = None
if path_07.is_file():
    table_07 = pd.DataFrame(json.loads(path_07.read_text(encoding="utf-8"))["baseline_table"])
    print(f"notebook 07's baseline table read from {path_07}")
else:
    print(f"{path_07} is absent (notebook 07 not run with profile {profile!r}): the classical "
          f"rows below are this notebook's own, on its {cfg.n_seeded} structures")

# %% [markdown]
# ## Training on never-seen structures
#
# Every model is trained on `batch_size` new structures per step (its profile's count of
# structures in all), the origin handled by **origin fixing** (three strong reflections of
# independent parity classes made +, marked as an input; plain |E|-weighted BCE) unless said
# otherwise.  At `train_d_min` each model records a learning curve: held-out accuracy after
# 0, …, n structures.  The MLP and PhAI-style models read a grid fixed by d_min, so they are
# trained once per d_min; the triplet model's weights do not depend on the grid, so it is
# trained once at `train_d_min` and applied at every d_min.

# %%
common = dict(generator=generator, seed=cfg.seed, batch_size=cfg.batch_size,
              curve_batches=max(1, cfg.n_curve_test // cfg.batch_size),
              learning_rate=cfg.learning_rate, n_strong=cfg.n_strong, max_edges=cfg.max_edges)
mlp_options = dict(width=cfg.mlp_width, depth=cfg.mlp_depth)
models: dict[tuple[str, float], model_study.TrainedModel] = {}


def train(name, kind, d_min, n, points=cfg.n_checkpoints, **options):
    trained = model_study.train_sign_model(name, kind, d_min=d_min, n_structures=n,
                                           n_points=points, **common, **options)
    f = trained.final
    print(f"{name:<28} d_min {d_min:g} Å: {n:>7} structures, {trained.seconds:6.1f} s — "
          f"held-out strongest 20 % {f['accuracy_strongest']:.3f} (chance "
          f"{f['chance_strongest']:.3f}), all {f['accuracy_all']:.3f} (chance "
          f"{f['chance_all']:.3f})")
    return trained


triplet_options = dict(n_symbols=cfg.n_symbols_train, n_symbols_test=cfg.n_symbols_test)
d0 = cfg.train_d_min
models[("triplet_untrained", d0)] = train("triplet_untrained", "triplet", d0, 0,
                                          **triplet_options)
models[("triplet", d0)] = train("triplet", "triplet", d0, cfg.triplet_structures,
                                max(1, cfg.n_checkpoints // 2), **triplet_options)
for d in resolutions:
    if d != d0:
        for name in ("triplet_untrained", "triplet"):
            models[(name, d)] = model_study.on_grid(models[(name, d0)], d,
                                                    generator.cell_edge_max)
    models[("mlp", d)] = train("mlp", "mlp", d, cfg.mlp_structures,
                               cfg.n_checkpoints if d == d0 else 1, **mlp_options)
    models[("phai_like", d)] = train("phai_like", "phai", d, cfg.phai_structures,
                                     cfg.n_checkpoints if d == d0 else 1)

# %% [markdown]
# ## The report's §4 variants and the origin handling, at `train_d_min`
#
# All MLPs see the same structures (same seed, same count): the base (|E| + origin markers +
# cell), without the cell, on the Patterson map instead of |E| (explanation i); with
# dropout 0.3, with batch normalisation, with a quarter of the width (explanation iii); and
# the base trained on raw signs with the min-over-8 loss instead of origin fixing.  (The
# triplet model's two origin handlings were compared in the benchmark of
# `benchmarks/bench_phase_models.py`: 0.868 origin-fixed vs 0.862 min-over-8 on the
# strongest 20 % at 1.0 Å, untrained 0.861 — neither wins; too slow to repeat here.)

# %%
variants = {
    "mlp_no_cell": dict(inputs=("e", "origin")),
    "mlp_patterson": dict(inputs=("patterson", "origin", "cell")),
    "mlp_dropout": dict(dropout=0.3),
    "mlp_batch_norm": dict(batch_norm=True),
    "mlp_narrow": dict(width=max(4, cfg.mlp_width // 4)),
}
for name, options in variants.items():
    models[(name, d0)] = train(name, "mlp", d0, cfg.mlp_structures, 1,
                               **{**mlp_options, **options})
models[("mlp_min_over_8", d0)] = train("mlp_min_over_8", "mlp", d0, cfg.mlp_structures, 1,
                                       origin="raw", **mlp_options)

# %% [markdown]
# ## Learning curves (explanation ii: data)
#
# Held-out accuracy on the strongest 20 % of the reflections (by |E|) against structures seen,
# each with its chance level (random signs, best of 8 origins).  Dashed: a power law
# 1 − accuracy = a·n^(−b) fitted to the last points, extrapolated to 10× the data; the fit
# gives the number of structures at which each model would reach 0.75 — an extrapolation
# from a short curve, to be read as an order of magnitude, and meaningless where the curve
# does not rise.

# %%
curve_models = ["triplet", "mlp", "phai_like"]
curves = {n: models[(n, d0)].curve for n in curve_models}
extrapolations = {n: model_study.power_law_extrapolation(
    [c["structures_seen"] for c in curves[n]], [c["accuracy_strongest"] for c in curves[n]], 0.75)
    for n in curve_models}
extrapolations_all = {n: model_study.power_law_extrapolation(
    [c["structures_seen"] for c in curves[n]], [c["accuracy_all"] for c in curves[n]], 0.90)
    for n in curve_models}
display(pd.DataFrame([{"model": n, "structures seen": int(curves[n][-1]["structures_seen"]),
                       "strongest 20 %": curves[n][-1]["accuracy_strongest"],
                       "chance": curves[n][-1]["chance_strongest"],
                       "exponent b": extrapolations[n]["b"],
                       "structures for 0.75 (strongest)": extrapolations[n]["n_needed"],
                       "log10 of that": extrapolations[n].get("log10_n_needed"),
                       "structures for 0.90 (all)": extrapolations_all[n]["n_needed"],
                       "log10 of that (all)": extrapolations_all[n].get("log10_n_needed")}
                      for n in curve_models]).round(3))
fig = plots.learning_curve_figure(
    curves, extrapolations, f"Phasing Fig 4 — learning curves at d_min = {d0:g} Å "
    "(held-out, strongest 20 %)")
figures.save_figure(fig, "phasing_fig4_learning_curves",
                    f"Held-out |E|-weighted origin-aware sign accuracy on the strongest 20 % of "
                    f"the reflections at d_min = {d0:g} Å against structures seen (each seen "
                    f"once), ± standard error over {cfg.n_curve_test} held-out structures; "
                    "dotted: chance (random signs, best of 8 origins); dashed: power-law fit "
                    "1 − a·n^(−b) extrapolated. Untrained point drawn at half a batch.", cfg)
plt.show()

# %% [markdown]
# ## The main result: every method on the same test structures, by d_min
#
# Each model's signs on notebook 07's generated test structures (and the COD structures),
# scored per structure exactly as 07 scores classical phasing: map correlation at the best
# of the 8 origins (a model's reflections without an opinion — the triplet model's outside
# its K strongest — are left out of its map), solved (map correlation ≥ 0.5), atoms found,
# |E|-weighted origin-aware accuracy on all reflections and on the strongest 20 %, each next
# to its chance level.  Then seeded classical phasing: for each d_min, the trained model with
# the best strongest-20 % accuracy on the generated structures gives its signs of the strongest
# `seed_fraction` of the reflections as the start of charge flipping and of Σ2; the same
# methods from random starts (same seeds) on the same `n_seeded` structures are the rows
# `charge_flipping` and `sigma2`.

# %%
table_models = ["triplet_untrained", "triplet", "mlp", "phai_like"]
rows, evaluations, skipped_cod = [], {}, {}
for d in resolutions:
    for name in table_models:
        for source, items in sources.items():
            result = model_study.evaluate_on_structures(models[(name, d)], items, source,
                                                        seed=cfg.seed)
            rows += result["rows"]
            evaluations[(name, d, source)] = result
            if result["skipped"]:
                skipped_cod[name] = result["skipped"]
for name, ids in skipped_cod.items():
    print(f"{name}: {len(ids)} COD structures do not fit its grid (cell edge > "
          f"{generator.cell_edge_max:g} Å): {', '.join(ids)}")
model_rows = pd.DataFrame(rows)
model_table = baselines.summarise_sweep(model_rows, table_models)

best_by_d = {}
for d in resolutions:   # the best *trained* model: seeds from the untrained Σ2 prior are not ML
    at = model_table[(model_table["source"] == "generated") & (model_table["d_min"] == d)
                     & (model_table["method"] != "triplet_untrained")]
    best_by_d[d] = at.loc[at["accuracy_strongest"].idxmax(), "method"]
jobs = []
for d in resolutions:
    result = evaluations[(best_by_d[d], d, "generated")]
    chosen = slice(0, cfg.n_seeded)
    jobs += model_study.seeded_jobs(
        result["structures"][chosen], {k: (v[chosen] if k not in ("hkl",) else v)
                                       for k, v in result["arrays"].items()},
        result["signs"][chosen], "generated", d, seeded_method_names, cfg.seed,
        cfg.seed_fraction)
seeded_rows = baselines.run_phasing_jobs(jobs, n_workers=cfg.n_workers)
failed = baselines.failures(seeded_rows)
for line in failed:
    print("  failed:", line)
order = [*seeded_method_names, *[f"{m}_seeded" for m in seeded_method_names], *table_models]
table = baselines.summarise_sweep(pd.concat([seeded_rows, model_rows], ignore_index=True), order)
table = pd.concat([table[table["source"] == "generated"], table[table["source"] != "generated"]],
                  ignore_index=True)        # generated rows first (COD rows depend on ../shared)
seeded_only = seeded_rows[seeded_rows["method"].str.endswith("_seeded")]
seed_accuracy = seeded_only.groupby(["method", "d_min"])["seed_accuracy"].mean().to_dict()
print("seeds from: " + ", ".join(f"{d:g} Å → {best_by_d[d]}" for d in resolutions))
display(verdicts.format_table(table.set_index(["source", "method", "d_min"]), 3))

# %% [markdown]
# One row per source × method × d_min, the columns of notebook 07's `baseline_table`.  The
# model rows cover the first `n_test` of 07's generated test structures, the classical and
# seeded rows the first `n_seeded` of them.  On the COD structures map correlation weighs
# each reflection by |F|², so a map that places a heavy atom alone can pass 0.5: there
# `atoms_found` says whether the light atoms were found too (in the default run the triplet
# model's COD "solved" fraction at 2.0 Å, ≈ 0.35, comes with ≈ 0.13 of the atoms found —
# heavy atoms only).  Notebook 07's own rows (on its first 100, when its metrics exist)
# follow for reference.

# %%
if table_07 is not None:
    display(verdicts.format_table(
        table_07[table_07["d_min"].isin(resolutions)].set_index(["source", "method", "d_min"]), 3))

# %% [markdown]
# ## Phasing Fig 5: accuracy by d_min for every method

# %%
fig = plots.baseline_accuracy_figure(
    table, "Phasing Fig 5 — sign models and classical phasing: accuracy against d_min")
figures.save_figure(fig, "phasing_fig5_model_accuracy_by_resolution",
                    "|E|-weighted origin-aware sign accuracy (best of 8 origins) of every sign "
                    "model (trained on never-seen generated structures) and of classical "
                    "phasing, unseeded and seeded with the best model's signs, against d_min "
                    "(Å); all reflections (left), strongest 20 % (right); solid: notebook 07's "
                    "generated test structures, dashed: COD P-1; mean ± standard error; grey: "
                    "chance.", cfg)
plt.show()

# %% [markdown]
# ## Phasing Fig 6: fraction solved by method

# %%
fig = plots.solved_fraction_figure(
    table, "Phasing Fig 6 — fraction solved: models, classical, ML-seeded classical")
figures.save_figure(fig, "phasing_fig6_solved_fraction_by_method",
                    "Fraction of structures solved (map correlation ≥ 0.5 at the best of 8 "
                    "origins) against d_min (Å) by each sign model alone, by charge flipping "
                    "and Σ2 from random starts, and by the same methods seeded with the best "
                    "model's signs of the strongest 20 % of the reflections; error bars: "
                    "binomial standard error.", cfg)
plt.show()

# %% [markdown]
# ## The report's three explanations, each with its verdict

# %%
final = {name: models[(name, d0)].final for name, _ in models if (name, d0) in models}
base = final["mlp"]
seen_gap = base["seen_accuracy_strongest"] - base["accuracy_strongest"]
lines = [
    verdicts.information_verdict(base, final["mlp_no_cell"], final["mlp_patterson"],
                                 final["triplet_untrained"]),
    verdicts.data_verdict(curves["mlp"], extrapolations["mlp"], "MLP"),
    verdicts.data_verdict(curves["phai_like"], extrapolations["phai_like"], "PhAI-style"),
    verdicts.data_verdict(curves["triplet"], extrapolations["triplet"], "triplet"),
    verdicts.capacity_verdict(base, {"dropout 0.3": final["mlp_dropout"],
                                     "batch norm": final["mlp_batch_norm"],
                                     f"width {max(4, cfg.mlp_width // 4)}": final["mlp_narrow"]},
                              seen_gap),
]
origin_mlp, line_mlp = verdicts.origin_verdict(final["mlp"], final["mlp_min_over_8"], "MLP")
explanations = "\n".join(lines + [line_mlp])
explanation_verdicts = {key: verdicts.verdict_status(line) for key, line in zip(
    ("information", "data_mlp", "data_phai_like", "data_triplet", "capacity"), lines)}
display(Markdown(explanations))

# %% [markdown]
# ## The numbers issue 10 asked for

# %%
top_d = min(resolutions)
gen_rows = table[(table["source"] == "generated")]
model_rows_top = gen_rows[(gen_rows["d_min"] == top_d) & gen_rows["method"].isin(table_models)
                          & (gen_rows["method"] != "triplet_untrained")]
best_name = model_rows_top.loc[model_rows_top["accuracy_strongest"].idxmax(), "method"]
best_row = model_rows_top[model_rows_top["method"] == best_name].iloc[0].to_dict()
cod_match = table[(table["source"] == "cod_p-1") & (table["d_min"] == top_d)
                  & (table["method"] == best_name)]
cod_row = cod_match.iloc[0].to_dict() if len(cod_match) else None
mid_d = 1.5 if 1.5 in resolutions else resolutions[len(resolutions) // 2]
at_mid = gen_rows[gen_rows["d_min"] == mid_d].set_index("method")
seeded_mid = {m: at_mid.loc[m].to_dict() for m in at_mid.index if m.endswith("_seeded")}
unseeded_mid = {f"{m}_seeded": at_mid.loc[m].to_dict() for m in seeded_method_names
                if m in at_mid.index}
targets = verdicts.target_verdicts(best_name, best_row, cod_row, seeded_mid, unseeded_mid,
                                   top_d, mid_d)
untrained = gen_rows[(gen_rows["d_min"] == top_d) & (gen_rows["method"] == "triplet_untrained")]
if len(untrained):
    u = untrained.iloc[0]
    targets += (f"\n- **for honesty**: the same triplet model *untrained* (the soft tangent "
                f"formula with the ψ₀ figure of merit, no learning) scores "
                f"{u['accuracy_strongest']:.3f} ± {u['accuracy_strongest_se']:.3f} there.")
seeding = verdicts.seeding_verdict(table, seeded_method_names, seed_accuracy)
display(Markdown(targets + "\n\n**Seeded classical phasing, by method and d_min:**\n\n"
                 + seeding))

# %% [markdown]
# **What this run shows, and why** (the default run, 2 shared cores, 15 minutes; the cells
# above hold this run's own numbers).  The triplet model's high accuracy at 1.0 Å is the
# classical Σ2 structure built into it: untrained (the soft tangent formula from a
# multisolution start, ranked by ψ₀) it scores as well as trained — the default run measured
# 0.905 untrained and 0.898 trained on the strongest 20 % of notebook 07's structures — so at
# this training budget learning adds nothing, and the 0.75 is met by the classical
# prior, not by learning.  On the COD structures it stays clearly above chance (0.68 at
# 1.0 Å against 0.54) but solves few: larger cells with hydrogen and heavy atoms.  The MLP and
# the PhAI-style model read the same |E| with the origin handled and stay at or near chance
# after thousands of structures (default: 0.542 and 0.552 against 0.538): the information
# is in the intensities — the Σ2 relations reach 0.8–0.9 from them — but a dense layer over
# a fixed index grid has to discover products of three inputs at positions that move with
# every cell, and PhAI needed tens of millions of structures for that.  Hence the verdicts:
# more inputs (cell, Patterson — the Patterson map holds exactly the information of the
# |E|², rearranged) do not lift the MLP (i); regularisation has nothing to act on, since on a
# stream of new structures nothing is memorised (iii); and more data (ii) is the one
# explanation this run cannot refute for the dense models, but their curves rise so slowly
# that a power law puts the target at astronomically many structures — the answer is a
# different architecture (the triplet relations built in), not only more data.  Seeding
# classical phasing with a model's signs helps only where the seeds are better than what
# the method finds alone: at 1.0–1.5 Å the best trained model (the triplet model) is a weaker
# copy of Σ2, so its seeds take away the multisolution search and charge flipping's random
# restarts and do not solve more (the seeding lines above give this run's numbers); at 2.0 Å
# no seed is good enough.  The `full` profile (GPU, millions of structures) is the run that
# can say whether the dense models leave chance.

# %%
elapsed = time.perf_counter() - started
metrics.write_metrics(cfg, verdicts.json_ready({
    "model_table": baselines.baseline_records(table),
    "table_columns": list(baselines.TABLE_COLUMNS),
    "baseline_table_07": baselines.baseline_records(table_07) if table_07 is not None else None,
    "models": {f"{name}@{d:g}": m.record() for (name, d), m in models.items()
               if m.kind != "triplet" or d == d0},
    "extrapolation": {"strongest_0.75": extrapolations, "all_0.90": extrapolations_all},
    "explanations": explanations,
    "verdicts": explanation_verdicts,
    "origin_handling": {"mlp": origin_mlp},
    "seeds_from": {f"{d:g}": best_by_d[d] for d in resolutions},
    "targets": targets, "best_model": best_name, "seeding": seeding,
    "seed_accuracy": {f"{m}@{d:g}": v for (m, d), v in seed_accuracy.items()},
    "structures": {"generated": {"n_test": cfg.n_test, "n_seeded": cfg.n_seeded,
                                 "stream": baselines.STREAM_PHASING_TEST, "seed": seed_07},
                   "cod_p-1": {"folder": str(cod_path) if cod_path else None, "n": len(cod),
                               "ids": [c[0] for c in cod], "skipped": cod_skipped,
                               "not_on_grid": skipped_cod}},
    "failed": failed,
    "seconds": elapsed,
}))
print(f"notebook 08 done in {elapsed:.0f} s")
