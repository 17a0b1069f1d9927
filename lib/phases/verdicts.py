"""Verdicts, tables and metric records of report 1's notebooks (01–05).

The notebooks train and measure; this module turns their numbers into what they show and
write: result tables (one row per run), the "does this run support the report?" verdicts with
the numbers they rest on, and the JSON-ready metrics records.  It draws nothing
(:mod:`lib.phases.plots`) and trains nothing (:mod:`lib.phases.training`); its functions take
finished runs (:class:`lib.phases.training.RunResult`, or any object with the same ``name``,
``spec``, ``data``, ``metrics``, ``chance`` and ``record()``) and plain numbers, so they are
tested on hand-made numbers (``tests/test_verdicts.py``).

A verdict is one of :data:`VERDICTS`.  "Above chance" (:func:`above_chance`) means more than
two standard errors (spread of the per-structure accuracy over structures) **and** at least
:data:`PRACTICAL_MARGIN` above the chance level measured on random signs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - types only
    from .measured import MeasuredData
    from .normalisation import NormalisationComparison
    from .training import RunResult

VERDICTS: tuple[str, ...] = ("supported", "not supported", "inconclusive at this scale")
#: Smallest accuracy above chance (absolute) that the verdicts call a real gain: one point.
PRACTICAL_MARGIN: float = 0.01
#: Training − validation accuracy above which a run "overfits".
OVERFIT_GAP: float = 0.05
#: Split names as they appear in the tables' column names.
SPLIT_COLUMNS: dict[str, str] = {"train": "train", "validation": "val", "test": "test"}


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------

def verdict(status: str, claim: str, evidence: str) -> str:
    """A markdown verdict line: **status** — the report's claim — this run's numbers."""
    if status not in VERDICTS:
        raise ValueError(f"status must be one of {VERDICTS}, got {status!r}")
    return f"- **{status}** — {claim}: {evidence}"


def above_chance(value: float, chance: float, se: float, n_se: float = 2.0,
                 margin: float = PRACTICAL_MARGIN) -> bool:
    """Whether an accuracy is above its chance level, statistically *and* practically.

    Statistically: more than ``n_se`` standard errors (spread over structures) above it;
    practically: by at least ``margin`` (a large test set makes 0.502 "significant", but a
    sign accuracy of 50.2 % is still a coin for a crystallographer).
    """
    diff = value - chance
    return bool(diff > n_se * max(se, 1e-12) and diff >= margin)


def overfitting_gap(result: "RunResult", metric: str = "accuracy") -> float:
    """Final training minus validation value of ``metric`` (inference mode): the overfitting."""
    return float(result.metrics["train"][metric] - result.metrics["validation"][metric])


def format_table(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Round the float columns of a results table for display."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out


def json_ready(obj: Any) -> Any:
    """Round floats to 6 decimals and turn NumPy values into JSON types, recursively."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 6)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


@dataclass
class Judgement:
    """A notebook's answers: one verdict per claim, the markdown it shows, the numbers.

    ``verdicts`` (claim key → one of :data:`VERDICTS`) and ``values`` (the numbers the
    verdicts rest on) go into the metrics JSON; ``lines`` is the markdown shown.
    """

    verdicts: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, status: str, claim: str, evidence: str) -> None:
        """Record the verdict ``status`` on ``claim`` under ``key``, with its evidence line."""
        self.lines.append(verdict(status, claim, evidence))
        self.verdicts[key] = status

    def markdown(self) -> str:
        """The markdown shown by the notebook."""
        return "\n".join(self.lines)


def run_metrics(results: Mapping[Any, "RunResult"], table: pd.DataFrame, judgement: Judgement,
                **extra: Any) -> dict[str, Any]:
    """The metrics record of a training notebook (02–05), JSON-ready.

    ``runs`` (each run's record), ``table`` (its rows), ``verdicts`` and the judgement's
    ``values`` at the top level, plus ``extra`` (data, chance levels, backend, seconds…).
    """
    record = dict(extra)
    record["runs"] = {str(k): r.record() for k, r in results.items()}
    record["table"] = table.to_dict(orient="records")
    record.update(judgement.values)
    record["verdicts"] = dict(judgement.verdicts)
    return json_ready(record)


def results_table(results: Iterable["RunResult"], columns: Iterable[str] = ()) -> pd.DataFrame:
    """One row per sign run: its description, final accuracies per split and chance levels.

    ``columns`` adds spec fields (e.g. ``"depth"``, ``"width"``) in front of the metrics.
    """
    rows = []
    for r in results:
        row: dict[str, Any] = {"run": r.name}
        for c in columns:
            row[c] = r.spec.get(c, r.data.get(c))
        row["n_train"] = r.data["sizes"]["train"]
        row["loss"] = "origin-invariant" if r.spec.get("origin_invariant") else "plain"
        for split, short in SPLIT_COLUMNS.items():
            m = r.metrics.get(split, {})
            row[f"{short}_acc"] = m.get("accuracy")
            row[f"{short}_origin_acc"] = m.get("origin_accuracy")
        row["chance_acc"] = r.chance.get("accuracy")
        row["chance_origin_acc"] = r.chance.get("origin_accuracy")
        row["test_weighted_acc"] = r.metrics.get("test", {}).get("weighted_accuracy")
        row["chance_weighted_acc"] = r.chance.get("weighted_accuracy")
        row["seconds"] = round(r.seconds, 1)
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# 01 — normalising measured intensities (§3.1)
# ---------------------------------------------------------------------------------------------

#: The per-structure normalisations that need no structure (usable as network input).
STRUCTURE_FREE: tuple[str, ...] = ("max", "mean", "median")


def pearson_by_file(ids: Sequence[str], pairs: Sequence[tuple[np.ndarray, np.ndarray]]
                    ) -> dict[str, float]:
    """Pearson r(I_meas, I_calc) of each file's (I_meas, I_calc) pair."""
    return {i: float(np.corrcoef(y, x)[0, 1]) for i, (y, x) in zip(ids, pairs)}


def data_set_overview(data_sets: Sequence["MeasuredData"],
                      pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One row per measured data set: space group, radiation, format, reflections, d_min, r."""
    ids = [d.source_id for d in data_sets]
    r = pearson_by_file(ids, pairs)
    return pd.DataFrame({
        "space group": [d.space_group for d in data_sets],
        "radiation": [d.radiation for d in data_sets],
        "format": [d.reflection_format for d in data_sets],
        "unique reflections": [d.n_reflections for d in data_sets],
        "compared": [len(y) for y, _ in pairs],
        "d_min (Å)": [round(d.d_min, 3) for d in data_sets],
        "Pearson r(I_meas, I_calc)": [round(r[i], 4) for i in ids],
    }, index=pd.Index(ids, name="data set"))


def per_file_slopes(comparison: "NormalisationComparison") -> pd.DataFrame:
    """Per-file slope s_f of normalised I_meas against normalised I_calc, one column a method."""
    table = pd.DataFrame(dict(comparison.slopes), index=comparison.source_ids)
    table.index.name = "per-file slope s_f"
    return table


def judge_normalisation(comparison: "NormalisationComparison", source: str,
                        reflection_set: str, simulated: bool) -> Judgement:
    """Does per-structure normalisation bring the files onto a common scale (§3.1, claims 1–2)?

    **supported** when the best structure-free normalisation (max, mean, median) at least
    halves the raw spread (CV of the per-file slope), **inconclusive** when it lowers it less,
    **not supported** when it does not lower it.  ``values`` holds the best methods, the
    number of files whose raw slope is within 5 % of 1 and the within-file scatter.
    """
    spread = comparison.ratio_spread
    methods = list(comparison.summary)
    free = {m: spread[m] for m in STRUCTURE_FREE}
    best_free = min(free, key=free.get)
    best_all = min(spread, key=spread.get)
    raw_slopes = np.asarray(comparison.slopes["none"])
    near_one = int(np.sum(np.abs(raw_slopes - 1.0) < 0.05))
    within = float(np.nanmedian(comparison.within_file_iqr_log10))
    reduction = spread["none"] / spread[best_free] if spread[best_free] > 0 else float("inf")
    if spread[best_free] < spread["none"] / 2:
        status = "supported"
    elif spread[best_free] < spread["none"]:
        status = "inconclusive at this scale"
    else:
        status = "not supported"
    j = Judgement(verdicts={"common_scale": status})
    j.lines = [f"Data: {source}; reflections compared: {reflection_set}.", "",
               "| method | CV of per-file slope | robust CV of median ratio |", "|---|---|---|"]
    j.lines += [f"| {m} | {spread[m]:.4g} | {comparison.summary[m]['ratio_robust_cv']:.4g} |"
                for m in methods]
    j.lines += [
        "",
        f"- Claim (1)–(2), per-structure normalisation brings the files onto a common scale: "
        f"**{status}**. Raw spread CV = {spread['none']:.3g}; best structure-free "
        f"normalisation **{best_free}** leaves CV = {spread[best_free]:.3g} (a factor "
        f"{reduction:.3g} smaller).",
        f"- Smallest spread of all methods: **{best_all}** (CV = {spread[best_all]:.3g}).",
        "- Among max / mean / median: " + ", ".join(
            f"{m} {free[m]:.3g}" for m in sorted(free, key=free.get)) + ".",
        f"- {near_one} of {len(raw_slopes)} files have a raw slope within 5 % of 1 (already on "
        f"the model's scale).",
        f"- Within-file scatter that no per-file scale can remove: median IQR of "
        f"log10(I_meas/I_calc) over strong reflections = {within:.3g} decades "
        f"(a factor {10 ** within:.3g}).",
    ]
    if spread["median"] > 2 * min(spread["max"], spread["mean"]):
        j.lines.append(f"- The median is the worst structure-free choice here (CV "
                       f"{spread['median']:.3g}): it is set by the many weak, high-angle "
                       f"reflections, which the overall B factor and the counting noise change "
                       f"from file to file.")
    if simulated:
        j.lines.append("- These numbers come from **simulated** measurements, not real data.")
    j.values = {"best_structure_free_method": best_free, "best_method": best_all,
                "n_files_raw_slope_near_1": near_one, "within_file_iqr_log10_median": within,
                "verdict": status}
    return j


def normalisation_metrics(comparison: "NormalisationComparison", judgement: Judgement,
                          pairs: Sequence[tuple[np.ndarray, np.ndarray]], source: str,
                          simulated: bool, reflection_set: str,
                          skipped: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The metrics record of notebook 01 (spreads per method, per-file slopes, the verdict)."""
    ids = comparison.source_ids
    methods = list(comparison.summary)
    return {
        "data_source": source,
        "simulated": simulated,
        "reflection_set": str(reflection_set),
        "n_files": len(ids),
        "n_reflections_compared": int(sum(len(y) for y, _ in pairs)),
        "n_skipped": len(skipped),
        "skipped": [{"path": p, "reason": r} for p, r in skipped],
        "ratio_spread": comparison.ratio_spread,
        "ratio_spread_robust": {m: comparison.summary[m]["slope_robust_cv"] for m in methods},
        "median_ratio_robust_cv": {m: comparison.summary[m]["ratio_robust_cv"] for m in methods},
        "mean_slope": {m: comparison.summary[m]["slope_mean"] for m in methods},
        "per_file_slope": {m: dict(zip(ids, comparison.slopes[m])) for m in methods},
        "pearson_r": pearson_by_file(ids, pairs),
        **judgement.values,
    }


# ---------------------------------------------------------------------------------------------
# 02 — experimental vs calculated, data-set size, origin-invariant loss (§3.2–3.3)
# ---------------------------------------------------------------------------------------------

def sign_runs_table(results: Iterable["RunResult"]) -> pd.DataFrame:
    """Every sign run of notebook 02: accuracies, chance levels and overfitting gaps.

    ``gap`` / ``gap_origin``: training − validation plain / origin-aware accuracy;
    ``test_seminv_acc``: test accuracy on the seminvariants (h, k, l all even);
    ``chance_seminv_pos``: accuracy of always predicting + on them.
    """
    results = list(results)
    table = results_table(results, columns=("depth", "width", "n_reflections"))
    table["gap"] = table["train_acc"] - table["val_acc"]
    table["gap_origin"] = table["train_origin_acc"] - table["val_origin_acc"]
    table["test_seminv_acc"] = [r.metrics["test"]["seminvariant_accuracy"] for r in results]
    table["chance_seminv_pos"] = [r.chance.get("always_positive_seminvariant_accuracy")
                                  for r in results]
    return table


def loss_pairs_table(results: Mapping[str, "RunResult"]) -> pd.DataFrame:
    """Plain against origin-invariant loss, one row per configuration ``<name>_plain``.

    Overfitting gap (training − validation origin-aware accuracy), validation and test
    origin-aware accuracy under both losses, and the chance level (best of 8 random).
    """
    rows = []
    for name, r in results.items():
        if not name.endswith("_plain"):
            continue
        configuration = name[: -len("_plain")]
        inv = results[configuration + "_invariant"]
        rows.append({
            "configuration": configuration,
            "gap_plain": overfitting_gap(r, "origin_accuracy"),
            "gap_invariant": overfitting_gap(inv, "origin_accuracy"),
            "val_origin_acc_plain": r.metrics["validation"]["origin_accuracy"],
            "val_origin_acc_invariant": inv.metrics["validation"]["origin_accuracy"],
            "test_origin_acc_plain": r.metrics["test"]["origin_accuracy"],
            "test_origin_acc_invariant": inv.metrics["test"]["origin_accuracy"],
            "chance_origin_acc": r.chance["origin_accuracy"],
        })
    return pd.DataFrame(rows)


def judge_overfit(result: "RunResult", label: str) -> tuple[str, str]:
    """(verdict, evidence) on "this run overfits and does not generalise".

    **not supported** when the validation accuracy is above chance; **supported** when it is
    not and the training − validation gap exceeds :data:`OVERFIT_GAP`; else inconclusive.
    """
    val = result.metrics["validation"]
    gap = overfitting_gap(result)
    generalises = above_chance(val["accuracy"], result.chance["accuracy"], val["accuracy_se"])
    evidence = (f"{label}: train {result.metrics['train']['accuracy']:.3f}, validation "
                f"{val['accuracy']:.4f} ± {val['accuracy_se']:.4f} (chance "
                f"{result.chance['accuracy']:.3f}), gap {gap:+.3f}")
    if generalises:
        return "not supported", evidence + " — validation accuracy is above chance"
    if gap > OVERFIT_GAP:
        return "supported", evidence
    return "inconclusive at this scale", evidence + " — no clear gap yet (few epochs/structures)"


def judge_dataset_size(runs: Sequence["RunResult"], sizes: Sequence[int],
                       depth: int) -> tuple[str, str]:
    """(verdict, evidence) on "more data narrows the gap, validation stays at chance".

    ``runs[i]`` is the plain run on ``sizes[i]`` structures (ascending).
    """
    gaps = [overfitting_gap(r) for r in runs]
    val_best = max(r.metrics["validation"]["accuracy"] for r in runs)
    big = runs[-1]
    generalises = above_chance(big.metrics["validation"]["accuracy"], big.chance["accuracy"],
                               big.metrics["validation"]["accuracy_se"])
    ev = (f"{depth} layer(s): gap {', '.join(f'{g:+.3f}' for g in gaps)} for sizes "
          f"{', '.join(f'{s:,}' for s in sizes)}; best validation accuracy {val_best:.3f} "
          f"(chance {big.chance['accuracy']:.3f})")
    if len(sizes) < 2:
        return "inconclusive at this scale", ev + " — a single size"
    if gaps[-1] < gaps[0] and not generalises:
        return "supported", ev
    if generalises:
        return "not supported", (ev + " — with the most data the validation accuracy is above "
                                 "chance")
    status = "not supported" if gaps[-1] - gaps[0] > 0.02 else "inconclusive at this scale"
    return status, ev + " — the gap does not shrink with more data"


def judge_sign_learning(experimental: "RunResult", calculated: Mapping[int, Sequence["RunResult"]],
                        sizes: Sequence[int], loss_pairs: pd.DataFrame,
                        invariant_runs: Sequence["RunResult"]) -> Judgement:
    """The verdicts of notebook 02.

    ``experimental``: the plain 3-layer run on the experimental set; ``calculated[depth]``: the
    plain runs of that depth on each of ``sizes`` (ascending); ``loss_pairs``:
    :func:`loss_pairs_table`; ``invariant_runs``: the origin-invariant run of each of its rows.
    ``values`` holds ``findings`` (seminvariant test accuracies) and
    ``origin_invariant_mean_gap_change``.
    """
    j = Judgement()
    largest = sizes[-1]
    status, ev = judge_overfit(experimental, "experimental, 3 layers")
    j.add("experimental_overfits", status,
          "the MLP overfits the experimental set and does not generalise (Figs 7–8)", ev)
    for depth, runs in calculated.items():
        status, ev = judge_overfit(runs[-1], f"calculated, {depth} layer(s), {largest:,} "
                                             "structures")
        j.add(f"calculated_{depth}_layers_no_generalisation", status,
              f"{depth} hidden layer(s) of 709 units overfit the calculated set without "
              "generalising (Figs 9–10)", ev)
    for depth, runs in calculated.items():
        status, ev = judge_dataset_size(runs, sizes, depth)
        j.add(f"dataset_size_{depth}_layers", status, "more data narrows the overfitting gap "
              "but validation accuracy stays at chance (Figs 11–14)", ev)
    mean_change = float((loss_pairs["gap_invariant"] - loss_pairs["gap_plain"]).mean())
    inv_above = [above_chance(r.metrics["test"]["origin_accuracy"], r.chance["origin_accuracy"],
                              r.metrics["test"]["origin_accuracy_se"]) for r in invariant_runs]
    j.lines.append(f"- **origin-invariant loss (new question)** — mean change of the "
                   f"origin-aware gap with the origin-invariant loss {mean_change:+.3f} over "
                   f"{len(loss_pairs)} configurations; test origin-aware accuracy above its "
                   f"chance level in {sum(inv_above)} of {len(inv_above)}")
    # Beyond the report: the seminvariants (h, k, l all even) are the only reflections whose
    # sign does not depend on the origin, so the only ones a plain loss can learn.
    semi_lines, findings = [], {}
    for depth, runs in calculated.items():
        t = runs[-1].metrics["test"]
        se = t.get("seminvariant_accuracy_se", 0.0)
        above = above_chance(t["seminvariant_accuracy"], 0.5, se)
        findings[f"seminvariant_test_accuracy_{depth}_layers"] = {
            "accuracy": t["seminvariant_accuracy"], "se": t.get("seminvariant_accuracy_se"),
            "above_chance": bool(above)}
        semi_lines.append(f"{depth} layer(s): {t['seminvariant_accuracy']:.4f} ± {se:.4f} "
                          f"({'above' if above else 'not above'} chance 0.5)")
    j.lines.append("- **seminvariant signs (new)** — test accuracy on the reflections with h, k, "
                   f"l all even, {largest:,} structures: " + "; ".join(semi_lines))
    j.values = {"findings": findings, "origin_invariant_mean_gap_change": mean_change}
    return j


# ---------------------------------------------------------------------------------------------
# 03 — weighting the loss by intensity (§3.4)
# ---------------------------------------------------------------------------------------------

def weighting_table(results: Mapping[str, "RunResult"], scores: Mapping[str, Mapping[str, float]],
                    chance: Mapping[str, float],
                    common_chance: Mapping[str, float]) -> pd.DataFrame:
    """One row per loss weighting: accuracies and the intensity-weighted test accuracy.

    ``scores[weight type]``: the run's test metrics under intensity weights (one scale for all
    runs); ``chance``: chance levels of the runs; ``common_chance``: under intensity weights.
    """
    rows = []
    for t, r in results.items():
        test = r.metrics["test"]
        rows.append({"weight_type": t,
                     "train_acc": r.metrics["train"]["accuracy"],
                     "val_acc": r.metrics["validation"]["accuracy"],
                     "test_acc": test["accuracy"],
                     "test_origin_acc": test["origin_accuracy"],
                     "test_seminv_acc": test["seminvariant_accuracy"],
                     "test_intensity_weighted_acc": scores[t]["weighted_accuracy"],
                     "test_intensity_weighted_origin_acc": scores[t]["weighted_origin_accuracy"],
                     "test_acc_se": test["accuracy_se"],
                     "gap": overfitting_gap(r)})
    table = pd.DataFrame(rows)
    table["chance_acc"] = chance["accuracy"]
    table["chance_origin_acc"] = chance["origin_accuracy"]
    table["chance_intensity_weighted_acc"] = common_chance["weighted_accuracy"]
    table["chance_intensity_weighted_origin_acc"] = common_chance["weighted_origin_accuracy"]
    return table


def judge_weighting(results: Mapping[str, "RunResult"], table: pd.DataFrame,
                    chance: Mapping[str, float], common_chance: Mapping[str, float]) -> Judgement:
    """The verdict of notebook 03: no weighting lifts validation accuracy above chance."""
    j = Judgement()
    any_above = any(above_chance(r.metrics["validation"]["accuracy"], r.chance["accuracy"],
                                 r.metrics["validation"]["accuracy_se"])
                    for r in results.values())
    evidence = "; ".join(f"{t}: validation {r.metrics['validation']['accuracy']:.4f} ± "
                         f"{r.metrics['validation']['accuracy_se']:.4f}"
                         for t, r in results.items())
    evidence += f" (chance {chance['accuracy']:.3f})"
    j.add("no_weighting_generalises", "not supported" if any_above else "supported",
          "no loss weighting lifts validation accuracy above chance (Figs 15–16)", evidence)
    weighted = table["test_intensity_weighted_acc"]
    best = table.loc[weighted.idxmax()]
    spread = float(weighted.max() - weighted.min())
    j.lines.append(f"- **on one scale** — best intensity-weighted test accuracy: "
                   f"{best['weight_type']} {best['test_intensity_weighted_acc']:.3f} (chance "
                   f"{common_chance['weighted_accuracy']:.3f}); spread between weightings "
                   f"{spread:.3f}")
    return j


# ---------------------------------------------------------------------------------------------
# 04 — hidden-layer width (§3.4)
# ---------------------------------------------------------------------------------------------

def width_table(results: Iterable["RunResult"]) -> pd.DataFrame:
    """One row per hidden-layer width: accuracies, standard errors, parameters, gap."""
    results = list(results)
    table = results_table(results, columns=("width",))
    table["parameters"] = [r.n_parameters for r in results]
    table["val_acc_se"] = [r.metrics["validation"]["accuracy_se"] for r in results]
    table["test_acc_se"] = [r.metrics["test"]["accuracy_se"] for r in results]
    table["gap"] = table["train_acc"] - table["val_acc"]
    return table


def judge_width(table: pd.DataFrame, chance: Mapping[str, float], report_best: int) -> Judgement:
    """Is the best width (by validation accuracy) about ``report_best`` units?

    Widths within 2 standard errors of the best are tied with it.  **inconclusive** when no
    width is above chance (the best width is then noise), **supported** when the best width
    is in [50, 250] or ``report_best`` is tied with it, else **not supported**.
    """
    best_row = table.loc[table["val_acc"].idxmax()]
    best_width = int(best_row["width"])
    best_origin_width = int(table.loc[table["val_origin_acc"].idxmax(), "width"])
    best_acc, best_se = float(best_row["val_acc"]), float(best_row["val_acc_se"])
    best_above = above_chance(best_acc, chance["accuracy"], best_se)
    tied = [int(w) for w, v, s in zip(table["width"], table["val_acc"], table["val_acc_se"])
            if best_acc - v <= 2 * max(s, best_se)]
    evidence = (f"best validation accuracy {best_acc:.4f} ± {best_se:.4f} at width "
                f"{best_width} (chance {chance['accuracy']:.3f}); widths within 2 SE of it: "
                f"{tied}; best by origin-aware accuracy: {best_origin_width}")
    if not best_above:
        status = "inconclusive at this scale"
        evidence += " — no width is above chance, so the best width is noise"
    elif 50 <= best_width <= 250 or report_best in tied:
        status = "supported"
    else:
        status = "not supported"
    j = Judgement()
    j.add("best_width_about_100", status,
          f"the best hidden-layer width is about {report_best} units (Figs 17–18)", evidence)
    j.values = {"best_width": best_width, "best_width_origin_aware": best_origin_width,
                "best_width_above_chance": best_above, "widths_tied_with_best": tied,
                "report_best_width": report_best}
    return j


# ---------------------------------------------------------------------------------------------
# 05 — autoencoders (§3.5)
# ---------------------------------------------------------------------------------------------

def autoencoder_table(results: Mapping[int, "RunResult"], pca_mse: Mapping[int, float],
                      pca_components: Mapping[int, int]) -> pd.DataFrame:
    """One row per bottleneck width: autoencoder MSE per split, PCA test MSE, their ratio."""
    widths = list(results)
    table = pd.DataFrame({
        "bottleneck": widths,
        "ae_train_mse": [results[w].metrics["train"]["mse"] for w in widths],
        "ae_val_mse": [results[w].metrics["validation"]["mse"] for w in widths],
        "ae_test_mse": [results[w].metrics["test"]["mse"] for w in widths],
        "pca_components": [pca_components[w] for w in widths],
        "pca_test_mse": [pca_mse[w] for w in widths],
        "parameters": [results[w].n_parameters for w in widths],
        "seconds": [round(results[w].seconds, 1) for w in widths],
    })
    table["ae_over_pca"] = table["ae_test_mse"] / table["pca_test_mse"]
    return table


def saturation_width(widths: Sequence[int], errors: Sequence[float],
                     tolerance: float = 0.05) -> int:
    """Smallest width whose error is at most (1 + ``tolerance``) × the smallest error."""
    errors = np.asarray(errors, dtype=np.float64)
    best = float(errors.min())
    return min(int(w) for w, e in zip(widths, errors) if e <= (1.0 + tolerance) * best)


def judge_autoencoders(table: pd.DataFrame, relative_error: np.ndarray,
                       tolerance: float) -> Judgement:
    """The verdicts of notebook 05 from its table (widths ascending) and the widest code's
    smoothed relative error per reflection (report order, low R first).

    The error falls (last < 0.9 × first), saturates (:func:`saturation_width` below the widest)
    and varies with R (lowest- and highest-R tenths differ by more than a factor 1.5).
    """
    widths = [int(w) for w in table["bottleneck"]]
    ae_mse = table["ae_test_mse"].to_numpy()
    pca_mse = table["pca_test_mse"].to_numpy()
    saturation = saturation_width(widths, ae_mse, tolerance)
    j = Judgement()
    if ae_mse[-1] < 0.9 * ae_mse[0]:
        status = "supported"
    else:
        status = "not supported" if len(widths) > 1 else "inconclusive at this scale"
    j.add("error_falls_with_width", status,
          "the reconstruction error falls as the bottleneck widens (Fig 19)",
          f"test MSE {ae_mse[0]:.3e} at {widths[0]} → {ae_mse[-1]:.3e} at {widths[-1]} units")
    if saturation < widths[-1]:
        status = "supported"
        ev = (f"the error saturates at {saturation} units (within {tolerance:.0%} of the best, "
              f"{ae_mse.min():.3e})")
    else:
        status = "not supported" if len(widths) > 2 else "inconclusive at this scale"
        ev = (f"no saturation within {widths}: the widest bottleneck is still the best by > "
              f"{tolerance:.0%}")
    j.add("error_saturates", status, "the error levels off beyond some bottleneck width", ev)
    tenth = max(1, len(relative_error) // 10)
    low_r, high_r = float(relative_error[:tenth].mean()), float(relative_error[-tenth:].mean())
    varies = max(low_r, high_r) > 1.5 * min(low_r, high_r)
    j.add("error_varies_with_R", "supported" if varies else "not supported",
          "the per-reflection error changes with R (Figs 20–21)",
          f"relative error (bottleneck {widths[-1]}) {low_r:.3f} for the lowest-R tenth, "
          f"{high_r:.3f} for the highest-R tenth")
    beats = [w for w, a, p in zip(widths, ae_mse, pca_mse) if a < p]
    pca_saturation = saturation_width(widths, pca_mse, tolerance)
    j.lines.append(f"- **autoencoder vs PCA (new)** — the autoencoder beats PCA of the same "
                   f"width at {beats if beats else 'no'} width(s); AE/PCA test-MSE ratio "
                   f"{', '.join(f'{v:.2f}' for v in table['ae_over_pca'])}; PCA saturates at "
                   f"{pca_saturation} components")
    j.values = {"saturation_width": saturation, "pca_saturation_width": pca_saturation,
                "ae_beats_pca_at": beats, "relative_error_low_r_tenth": low_r,
                "relative_error_high_r_tenth": high_r}
    return j
