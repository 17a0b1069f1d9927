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

from . import losses
from .store import load_arrays

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


def verdict_status(line: str) -> str:
    """The status of a :func:`verdict` line (one of :data:`VERDICTS`), for the metrics JSON;
    ``ValueError`` for a line that is not a verdict."""
    for status in VERDICTS:
        if line.startswith(f"- **{status}** — "):
            return status
    raise ValueError(f"not a verdict line: {line[:60]!r}")


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
# Baselines and the plain-loss ceiling (02–04)
# ---------------------------------------------------------------------------------------------
# The 8 origins of P-1 are equally likely in the generated data and give identical intensities,
# so every reflection that is not a seminvariant is + with probability ½ exactly, whatever the
# intensities: with the report's plain loss only the seminvariants (h, k, l all even) can be
# learned, and the plain accuracy is at most ½ + (n_semi/n)(a_semi − ½)
# (:func:`lib.phases.losses.plain_accuracy_ceiling`).  Every subset accuracy is judged against
# the best constant predictor chosen on the training split (seminvariant signs are ≈ 0.487
# positive, so "always −" scores ≈ 0.513 there, not 0.5).

#: Reflection subsets of the sign verdicts and their accuracy keys in a split's metrics.
SUBSET_ACCURACY: dict[str, str] = {"all": "accuracy", "seminvariant": "seminvariant_accuracy",
                                   "non_seminvariant": "non_seminvariant_accuracy"}
#: A plain run's accuracy "within the ceiling": at most this many standard errors above it.
CEILING_N_SE: float = 3.0


def subset_masks(hkl: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the subsets of :data:`SUBSET_ACCURACY` over the reflections ``hkl``."""
    semi = losses.seminvariant_mask(hkl)
    return {"all": np.ones(len(semi), dtype=bool), "seminvariant": semi,
            "non_seminvariant": ~semi}


def sign_baselines(train_sign: np.ndarray, split_signs: Mapping[str, np.ndarray],
                   hkl: np.ndarray) -> dict[str, dict[str, Any]]:
    """The best constant predictor of each subset, chosen on the training split, on each split.

    ``train_sign`` (n_train, m) and ``split_signs[split]`` (n, m) are ±1 signs of the
    reflections ``hkl`` (m of them).  Returns, per subset of :data:`SUBSET_ACCURACY`:
    ``constant`` (±1), ``n_reflections``, ``train_positive_fraction`` and the constant's
    accuracy on every split of ``split_signs``; and under ``origin_aware`` the origin-aware
    accuracy (best of the 8 origin shifts) of the subsets' constants together, per split — a
    constant scores less than the chance level of random signs there, so the origin-aware
    baseline is the larger of the two (:func:`origin_baseline`).
    """
    train_sign = np.asarray(train_sign)
    out: dict[str, dict[str, Any]] = {}
    combined = np.ones(len(hkl), dtype=np.int8)
    for subset, mask in subset_masks(hkl).items():
        if not mask.any():
            continue
        constant = losses.best_constant_sign(train_sign[:, mask])
        record: dict[str, Any] = {
            "constant": constant, "n_reflections": int(mask.sum()),
            "train_positive_fraction": float(np.mean(train_sign[:, mask] > 0))}
        for split, signs in split_signs.items():
            record[split] = losses.constant_accuracy(constant, np.asarray(signs)[:, mask])
        out[subset] = record
        if subset != "all":
            combined[mask] = constant
    out["origin_aware"] = {"constant": "seminvariant and non-seminvariant constants"}
    for split, signs in split_signs.items():
        signs = np.asarray(signs)
        guess = np.broadcast_to(combined, signs.shape)
        out["origin_aware"][split] = float(losses.origin_aware_accuracy(guess, signs, hkl).mean())
    return out


def sign_baselines_of(path: str | Path, splits: Mapping[str, Any],
                      n_reflections: int) -> dict[str, dict[str, Any]]:
    """:func:`sign_baselines` of a data set's splits (``splits``: name → row range with
    ``start``/``stop``, as in :class:`lib.phases.training.DataSpec`), read from the file."""
    stop = max(r.stop for r in splits.values())
    arrays = load_arrays(path, ("sign", "hkl"), n_reflections=n_reflections, n_structures=stop)
    signs = {name: arrays["sign"][r.start:r.stop] for name, r in splits.items()}
    return sign_baselines(signs["train"], {k: v for k, v in signs.items() if k != "train"},
                          arrays["hkl"])


def subset_se(split_metrics: Mapping[str, Any], subset: str) -> float:
    """Standard error over structures of a subset's accuracy in a split's metrics.

    ``<key>_se`` when recorded, else from ``<key>_mean_square`` and ``n_structures``
    (:func:`lib.phases.losses.standard_error_from_moments`); NaN when neither is there.
    """
    key = SUBSET_ACCURACY[subset]
    if f"{key}_se" in split_metrics:
        return float(split_metrics[f"{key}_se"])
    if f"{key}_mean_square" in split_metrics and "n_structures" in split_metrics:
        return losses.standard_error_from_moments(split_metrics[key],
                                                  split_metrics[f"{key}_mean_square"],
                                                  int(split_metrics["n_structures"]))
    return float("nan")


def origin_baseline(result: "RunResult", baselines: Mapping[str, Any], split: str) -> float:
    """Baseline of the origin-aware accuracy: the larger of the chance level of random signs
    (best of 8 origins) and the origin-aware accuracy of the training split's constants."""
    return max(float(result.chance["origin_accuracy"]),
               float(baselines.get("origin_aware", {}).get(split, 0.0)))


def ceiling_record(result: "RunResult", baselines: Mapping[str, Any],
                   split: str = "test") -> dict[str, Any]:
    """What a plain run's accuracy on ``split`` can show: its ceiling and each subset.

    ``ceiling``: :func:`lib.phases.losses.plain_accuracy_ceiling` at the run's own
    seminvariant accuracy (where its plain accuracy sits when the others are at ½);
    ``ceiling_perfect_seminvariants``: the same with every seminvariant right;
    ``ceiling_near_baseline``: the ceiling is less than :data:`PRACTICAL_MARGIN` above the
    best constant on all reflections (then a plain accuracy "at chance" is forced by the origin
    symmetry and says nothing about overfitting); ``within_ceiling``: the accuracy is at most
    :data:`CEILING_N_SE` standard errors above the ceiling; per subset the accuracy, its
    standard error, the best constant's accuracy (``baseline``) and whether the run is above it
    (:func:`above_chance`).
    """
    m = result.metrics[split]
    n_semi = int(baselines["seminvariant"]["n_reflections"])
    n = n_semi + int(baselines["non_seminvariant"]["n_reflections"])
    ceiling = losses.plain_accuracy_ceiling(m["seminvariant_accuracy"], n_semi, n)
    subsets = {}
    for subset, key in SUBSET_ACCURACY.items():
        se = subset_se(m, subset)
        base = float(baselines[subset][split])
        subsets[subset] = {"accuracy": float(m[key]), "se": se, "baseline": base,
                           "constant": int(baselines[subset]["constant"]),
                           "above_baseline": above_chance(float(m[key]), base, se)}
    se_all = subsets["all"]["se"]
    return {"split": split, "n_reflections": n, "n_seminvariant": n_semi,
            "ceiling": ceiling,
            "ceiling_perfect_seminvariants": losses.plain_accuracy_ceiling(1.0, n_semi, n),
            "ceiling_near_baseline": bool(ceiling - subsets["all"]["baseline"]
                                          < PRACTICAL_MARGIN),
            "within_ceiling": bool(m["accuracy"] <= ceiling + CEILING_N_SE * se_all),
            "subsets": subsets}


def ceiling_line(record: Mapping[str, Any], label: str) -> str:
    """One markdown line: what a plain run's accuracy shows, subset by subset."""
    s = record["subsets"]
    sign = {1: "+", -1: "−"}

    def part(subset: str, name: str) -> str:
        r = s[subset]
        return (f"{name} {r['accuracy']:.4f} ± {r['se']:.4f} vs best constant (always "
                f"{sign[r['constant']]}) {r['baseline']:.4f}"
                f"{' — above it' if r['above_baseline'] else ''}")

    return (f"- {label} ({record['split']}): " + "; ".join(
        (part("all", "all"), part("seminvariant", f"{record['n_seminvariant']} seminvariants"),
         part("non_seminvariant", f"{record['n_reflections'] - record['n_seminvariant']} others")))
        + f"; ceiling {record['ceiling']:.4f} (perfect seminvariants: "
          f"{record['ceiling_perfect_seminvariants']:.3f})")


def ceiling_table(records: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per plain run (:func:`ceiling_record`): accuracy, ceiling, and each subset's
    accuracy next to its best constant."""
    rows = []
    for name, r in records.items():
        s = r["subsets"]
        rows.append({"run": name, "split": r["split"],
                     "acc": s["all"]["accuracy"], "acc_se": s["all"]["se"],
                     "ceiling": r["ceiling"],
                     "ceiling_perfect_seminv": r["ceiling_perfect_seminvariants"],
                     "best_constant": s["all"]["baseline"],
                     "seminv_acc": s["seminvariant"]["accuracy"],
                     "seminv_se": s["seminvariant"]["se"],
                     "seminv_best_constant": s["seminvariant"]["baseline"],
                     "other_acc": s["non_seminvariant"]["accuracy"],
                     "other_se": s["non_seminvariant"]["se"],
                     "other_best_constant": s["non_seminvariant"]["baseline"],
                     "seminv_learned": s["seminvariant"]["above_baseline"],
                     "ceiling_near_chance": r["ceiling_near_baseline"]})
    return pd.DataFrame(rows)


def judge_chance_explanation(records: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """(verdict, evidence) on "validation accuracy stays at chance because the MLP overfits".

    ``records``: :func:`ceiling_record` of the plain runs.  **not supported** when every run's
    ceiling is near the best constant (the plain accuracy is then at chance whatever the
    network does: 87 % of the signs are coin flips given the intensities, by origin symmetry);
    **inconclusive at this scale** otherwise (some run learned the seminvariants enough to
    lift its ceiling, so its chance level would need another explanation).
    """
    near = [k for k, r in records.items() if r["ceiling_near_baseline"]]
    semi_learned = [k for k, r in records.items()
                    if r["subsets"]["seminvariant"]["above_baseline"]]
    others_at_half = all(not r["subsets"]["non_seminvariant"]["above_baseline"]
                         for r in records.values())
    ceilings = [r["ceiling"] for r in records.values()]
    any_record = next(iter(records.values()))
    evidence = (f"ceilings {min(ceilings):.4f}–{max(ceilings):.4f} against best constants ≈ "
                f"{any_record['subsets']['all']['baseline']:.4f} ({len(near)} of {len(records)} "
                f"runs within {PRACTICAL_MARGIN} of it); non-seminvariant accuracy "
                f"{'at' if others_at_half else 'NOT at'} its baseline in every run, as the origin "
                f"symmetry demands; seminvariants above their best constant in "
                f"{len(semi_learned)} of {len(records)} runs")
    if len(near) == len(records):
        return "not supported", evidence + (" — a plain accuracy at chance is forced by the "
                                            "origin symmetry, with or without overfitting")
    return "inconclusive at this scale", evidence


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

def subset_columns(table: pd.DataFrame, results: Sequence["RunResult"],
                   baselines: Mapping[str, Mapping[str, Any]], split: str = "test"
                   ) -> pd.DataFrame:
    """``table`` (one row per run of ``results``) with each subset's accuracy on ``split``
    next to its best constant, the origin-aware baseline and the plain runs' ceiling.

    ``baselines[run name]``: :func:`sign_baselines` of the run's data.  Columns
    ``{split}_seminv_acc``/``seminv_baseline``, ``{split}_other_acc``/``other_baseline``
    (non-seminvariants), ``all_baseline``, ``origin_baseline`` and ``ceiling`` (NaN for runs
    with the origin-invariant loss, whose plain accuracy has no such ceiling).
    """
    out = table.copy()
    short = SPLIT_COLUMNS[split]
    cols: dict[str, list[Any]] = {k: [] for k in (
        f"{short}_seminv_acc", "seminv_baseline", f"{short}_other_acc", "other_baseline",
        "all_baseline", "origin_baseline", "ceiling")}
    for r in results:
        b, m = baselines[r.name], r.metrics[split]
        cols[f"{short}_seminv_acc"].append(m["seminvariant_accuracy"])
        cols["seminv_baseline"].append(b["seminvariant"][split])
        cols[f"{short}_other_acc"].append(m.get("non_seminvariant_accuracy", float("nan")))
        cols["other_baseline"].append(b["non_seminvariant"][split])
        cols["all_baseline"].append(b["all"][split])
        cols["origin_baseline"].append(origin_baseline(r, b, split))
        cols["ceiling"].append(float("nan") if r.spec.get("origin_invariant")
                               else ceiling_record(r, b, split)["ceiling"])
    for k, v in cols.items():
        out[k] = v
    return out


def sign_runs_table(results: Iterable["RunResult"],
                    baselines: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every sign run of notebook 02: accuracies, baselines, ceilings and overfitting gaps.

    ``gap`` / ``gap_origin``: training − validation plain / origin-aware accuracy; the subset
    columns of :func:`subset_columns` on the test split.
    """
    results = list(results)
    table = results_table(results, columns=("depth", "width", "n_reflections"))
    table["gap"] = table["train_acc"] - table["val_acc"]
    table["gap_origin"] = table["train_origin_acc"] - table["val_origin_acc"]
    return subset_columns(table, results, baselines)


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


def _baseline(result: "RunResult", baseline: float | None) -> float:
    """The given baseline, else the run's chance level of random signs."""
    return float(result.chance["accuracy"]) if baseline is None else float(baseline)


def judge_overfit(result: "RunResult", label: str,
                  baseline: float | None = None) -> tuple[str, str]:
    """(verdict, evidence) on "this run overfits and does not generalise".

    ``baseline``: the best constant's validation accuracy (:func:`sign_baselines`, subset
    ``all``); the chance level of random signs when not given.  **not supported** when the
    validation accuracy is above the baseline; **supported** when it is not and the training −
    validation gap exceeds :data:`OVERFIT_GAP`; else inconclusive.  Whether "at chance" says
    anything about overfitting is :func:`judge_chance_explanation`'s question.
    """
    val = result.metrics["validation"]
    gap = overfitting_gap(result)
    base = _baseline(result, baseline)
    generalises = above_chance(val["accuracy"], base, val["accuracy_se"])
    evidence = (f"{label}: train {result.metrics['train']['accuracy']:.3f}, validation "
                f"{val['accuracy']:.4f} ± {val['accuracy_se']:.4f} (baseline "
                f"{base:.4f}), gap {gap:+.3f}")
    if generalises:
        return "not supported", evidence + " — validation accuracy is above the baseline"
    if gap > OVERFIT_GAP:
        return "supported", evidence
    return "inconclusive at this scale", evidence + " — no clear gap yet (few epochs/structures)"


def judge_dataset_size(runs: Sequence["RunResult"], sizes: Sequence[int], depth: int,
                       baseline: float | None = None) -> tuple[str, str]:
    """(verdict, evidence) on "more data narrows the gap, validation stays at chance".

    ``runs[i]`` is the plain run on ``sizes[i]`` structures (ascending); ``baseline`` the best
    constant's validation accuracy on the largest set (chance of random signs when not given).
    """
    gaps = [overfitting_gap(r) for r in runs]
    val_best = max(r.metrics["validation"]["accuracy"] for r in runs)
    big = runs[-1]
    base = _baseline(big, baseline)
    generalises = above_chance(big.metrics["validation"]["accuracy"], base,
                               big.metrics["validation"]["accuracy_se"])
    ev = (f"{depth} layer(s): gap {', '.join(f'{g:+.3f}' for g in gaps)} for sizes "
          f"{', '.join(f'{s:,}' for s in sizes)}; best validation accuracy {val_best:.4f} "
          f"(baseline {base:.4f})")
    if len(sizes) < 2:
        return "inconclusive at this scale", ev + " — a single size"
    if gaps[-1] < gaps[0] and not generalises:
        return "supported", ev
    if generalises:
        return "not supported", (ev + " — with the most data the validation accuracy is above "
                                 "the baseline")
    status = "not supported" if gaps[-1] - gaps[0] > 0.02 else "inconclusive at this scale"
    return status, ev + " — the gap does not shrink with more data"


def judge_sign_learning(experimental: "RunResult", calculated: Mapping[int, Sequence["RunResult"]],
                        sizes: Sequence[int], loss_pairs: pd.DataFrame,
                        invariant_runs: Sequence["RunResult"],
                        baselines: Mapping[str, Mapping[str, Any]]) -> Judgement:
    """The verdicts of notebook 02.

    ``experimental``: the plain 3-layer run on the experimental set; ``calculated[depth]``: the
    plain runs of that depth on each of ``sizes`` (ascending); ``loss_pairs``:
    :func:`loss_pairs_table`; ``invariant_runs``: the origin-invariant run of each of its rows;
    ``baselines[run name]``: :func:`sign_baselines` of the run's data.  ``values`` holds
    ``ceiling`` (:func:`ceiling_record` of every plain run on the test split), ``findings``
    (seminvariant test accuracies against their best constant) and
    ``origin_invariant_mean_gap_change``.
    """
    j = Judgement()
    largest = sizes[-1]

    def base(r: "RunResult") -> float:
        return float(baselines[r.name]["all"]["validation"])

    status, ev = judge_overfit(experimental, "experimental, 3 layers", base(experimental))
    j.add("experimental_overfits", status,
          "the MLP overfits the experimental set and does not generalise (Figs 7–8)", ev)
    for depth, runs in calculated.items():
        status, ev = judge_overfit(runs[-1], f"calculated, {depth} layer(s), {largest:,} "
                                             "structures", base(runs[-1]))
        j.add(f"calculated_{depth}_layers_no_generalisation", status,
              f"{depth} hidden layer(s) of 709 units overfit the calculated set without "
              "generalising (Figs 9–10)", ev)
    for depth, runs in calculated.items():
        status, ev = judge_dataset_size(runs, sizes, depth, base(runs[-1]))
        j.add(f"dataset_size_{depth}_layers", status, "more data narrows the overfitting gap "
              "but validation accuracy stays at chance (Figs 11–14)", ev)
    plain = [experimental] + [r for runs in calculated.values() for r in runs]
    ceilings = {r.name: ceiling_record(r, baselines[r.name]) for r in plain}
    status, ev = judge_chance_explanation(ceilings)
    j.add("chance_explained_by_overfitting", status, "validation accuracy stays at chance "
          "because the network overfits (the report's explanation, §3.3)", ev)
    j.lines.append("- **what the plain accuracy shows** (test split; origin symmetry: only the "
                   "seminvariants can be learned with the plain loss):")
    shown = [(experimental, "experimental, 3 layers")] + [
        (runs[-1], f"calculated, {depth} layer(s), {largest:,} structures")
        for depth, runs in calculated.items()]
    j.lines += ["  " + ceiling_line(ceilings[r.name], label) for r, label in shown]
    mean_change = float((loss_pairs["gap_invariant"] - loss_pairs["gap_plain"]).mean())
    inv_above = [above_chance(r.metrics["test"]["origin_accuracy"],
                              origin_baseline(r, baselines[r.name], "test"),
                              r.metrics["test"]["origin_accuracy_se"]) for r in invariant_runs]
    j.lines.append(f"- **origin-invariant loss (new question)** — mean change of the "
                   f"origin-aware gap with the origin-invariant loss {mean_change:+.3f} over "
                   f"{len(loss_pairs)} configurations; test origin-aware accuracy above its "
                   f"baseline (best of 8 random signs, or of the constants) in {sum(inv_above)} "
                   f"of {len(inv_above)}")
    findings = {}
    for depth, runs in calculated.items():
        semi = ceilings[runs[-1].name]["subsets"]["seminvariant"]
        findings[f"seminvariant_test_accuracy_{depth}_layers"] = {
            "accuracy": semi["accuracy"], "se": semi["se"], "baseline": semi["baseline"],
            "above_baseline": semi["above_baseline"]}
    j.values = {"ceiling": ceilings, "findings": findings,
                "origin_invariant_mean_gap_change": mean_change,
                "origin_invariant_above_baseline": int(sum(inv_above))}
    return j


# ---------------------------------------------------------------------------------------------
# 03 — weighting the loss by intensity (§3.4)
# ---------------------------------------------------------------------------------------------

def weighting_table(results: Mapping[str, "RunResult"], scores: Mapping[str, Mapping[str, float]],
                    chance: Mapping[str, float], common_chance: Mapping[str, float],
                    baselines: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per loss weighting (one loss): accuracies, baselines, intensity-weighted scores.

    ``scores[weight type]``: the run's test metrics under intensity weights (one scale for all
    runs); ``chance``: chance levels of the runs; ``common_chance``: under intensity weights;
    ``baselines[run name]``: :func:`sign_baselines` (subset columns: :func:`subset_columns`).
    """
    rows = []
    for t, r in results.items():
        test, val = r.metrics["test"], r.metrics["validation"]
        rows.append({"weight_type": t,
                     "loss": "origin-invariant" if r.spec.get("origin_invariant") else "plain",
                     "train_acc": r.metrics["train"]["accuracy"],
                     "val_acc": val["accuracy"],
                     "val_acc_se": val["accuracy_se"],
                     "test_acc": test["accuracy"],
                     "val_origin_acc": val["origin_accuracy"],
                     "val_origin_acc_se": val["origin_accuracy_se"],
                     "test_origin_acc": test["origin_accuracy"],
                     "test_intensity_weighted_acc": scores[t]["weighted_accuracy"],
                     "test_intensity_weighted_origin_acc": scores[t]["weighted_origin_accuracy"],
                     "test_acc_se": test["accuracy_se"],
                     "gap": overfitting_gap(r)})
    table = pd.DataFrame(rows)
    table["chance_acc"] = chance["accuracy"]
    table["chance_origin_acc"] = chance["origin_accuracy"]
    table["chance_intensity_weighted_acc"] = common_chance["weighted_accuracy"]
    table["chance_intensity_weighted_origin_acc"] = common_chance["weighted_origin_accuracy"]
    return subset_columns(table, list(results.values()), baselines)


def judge_differences(labels: Sequence[str], values: Sequence[float], ses: Sequence[float],
                      baseline: float, what: str) -> tuple[str, str, list[str]]:
    """(verdict, evidence, labels above ``baseline``) on "these configurations do not differ".

    **not supported** when the best and the worst differ by more than two combined standard
    errors and at least :data:`PRACTICAL_MARGIN`; **supported** when they do not and at least
    one is above ``baseline`` (something is learned, and it is the same for all);
    **inconclusive at this scale** when none is above it (no difference could show).
    """
    values, ses = np.asarray(values, float), np.asarray(ses, float)
    hi, lo = int(values.argmax()), int(values.argmin())
    diff = float(values[hi] - values[lo])
    combined = float(np.hypot(ses[hi], ses[lo]))
    learned = [lab for lab, v, e in zip(labels, values, ses) if above_chance(v, baseline, e)]
    evidence = (f"{what}: " + ", ".join(f"{lab} {v:.4f} ± {e:.4f}"
                                        for lab, v, e in zip(labels, values, ses))
                + f" (baseline {baseline:.4f}); best − worst {diff:+.4f}; above the baseline: "
                + (", ".join(learned) if learned else "none"))
    if len(values) > 1 and diff > 2 * combined and diff >= PRACTICAL_MARGIN:
        return "not supported", evidence, learned
    if learned:
        return "supported", evidence, learned
    return ("inconclusive at this scale",
            evidence + " — nothing is learned, so no difference could show", learned)


def judge_weighting(plain: Mapping[str, "RunResult"], invariant: Mapping[str, "RunResult"],
                    table: pd.DataFrame, baselines: Mapping[str, Mapping[str, Any]],
                    common_chance: Mapping[str, float]) -> Judgement:
    """The verdicts of notebook 03, on the plain runs (as the report) and on the runs with
    the origin-invariant loss (where a weighting could make a difference).

    ``table``: both losses' :func:`weighting_table` rows; ``baselines[run name]``:
    :func:`sign_baselines`.  ``values`` holds ``ceiling`` (the plain runs'
    :func:`ceiling_record` on the test split).
    """
    j = Judgement()
    status, evidence, learned = judge_differences(
        list(plain), [r.metrics["validation"]["accuracy"] for r in plain.values()],
        [r.metrics["validation"]["accuracy_se"] for r in plain.values()],
        max(float(baselines[r.name]["all"]["validation"]) for r in plain.values()),
        "plain loss, validation accuracy")
    j.add("no_weighting_generalises", "not supported" if learned else "supported",
          "no loss weighting lifts validation accuracy above chance (Figs 15–16)", evidence)
    ceilings = {r.name: ceiling_record(r, baselines[r.name]) for r in plain.values()}
    status, evidence = judge_chance_explanation(ceilings)
    j.add("plain_loss_can_compare_weightings",
          "not supported" if status == "not supported" else "inconclusive at this scale",
          "a plain-loss run can tell the weightings apart (implied by the report's comparison)",
          evidence)
    j.lines += ["  " + ceiling_line(ceilings[r.name], f"plain, {t}") for t, r in plain.items()]
    if invariant:
        status, evidence, learned = judge_differences(
            list(invariant), [r.metrics["validation"]["origin_accuracy"]
                              for r in invariant.values()],
            [r.metrics["validation"]["origin_accuracy_se"] for r in invariant.values()],
            max(origin_baseline(r, baselines[r.name], "validation")
                for r in invariant.values()),
            "origin-invariant loss, validation origin-aware accuracy")
        j.add("no_weighting_generalises_origin_invariant",
              "not supported" if learned else "supported",
              "no loss weighting lifts validation accuracy above chance, with the origin "
              "handled (origin-invariant loss, origin-aware accuracy)", evidence)
        j.add("weighting_makes_no_difference_origin_invariant", status,
              "the loss weighting makes no difference, with the origin handled", evidence)
    for loss, rows in table.groupby("loss", sort=False):
        weighted = rows["test_intensity_weighted_acc" if loss == "plain"
                        else "test_intensity_weighted_origin_acc"]
        best = rows.loc[weighted.idxmax()]
        chance_key = "weighted_accuracy" if loss == "plain" else "weighted_origin_accuracy"
        j.lines.append(f"- **on one scale, {loss} loss** — best intensity-weighted test "
                       f"{'' if loss == 'plain' else 'origin-aware '}accuracy: "
                       f"{best['weight_type']} {weighted.max():.4f} (chance "
                       f"{common_chance[chance_key]:.4f}); spread between weightings "
                       f"{float(weighted.max() - weighted.min()):.4f}")
    j.values = {"ceiling": ceilings}
    return j


# ---------------------------------------------------------------------------------------------
# 04 — hidden-layer width (§3.4)
# ---------------------------------------------------------------------------------------------

def width_table(results: Iterable["RunResult"],
                baselines: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per hidden-layer width: accuracies, standard errors, parameters, gap, and the
    subset columns of :func:`subset_columns` (test split)."""
    results = list(results)
    table = results_table(results, columns=("width",))
    table["parameters"] = [r.n_parameters for r in results]
    for split in ("validation", "test"):
        short = SPLIT_COLUMNS[split]
        table[f"{short}_acc_se"] = [r.metrics[split]["accuracy_se"] for r in results]
        table[f"{short}_origin_acc_se"] = [r.metrics[split]["origin_accuracy_se"]
                                           for r in results]
    table["gap"] = table["train_acc"] - table["val_acc"]
    return subset_columns(table, results, baselines)


def judge_width(table: pd.DataFrame, baseline: float, report_best: int, metric: str = "acc",
                key_suffix: str = "") -> Judgement:
    """Is the best width (by validation ``metric``: ``acc`` or ``origin_acc``) about
    ``report_best`` units?

    Widths within 2 standard errors of the best are tied with it.  **inconclusive** when no
    width is above ``baseline`` (the best constant, or for origin-aware accuracy
    :func:`origin_baseline`: the best width is then noise), **supported** when the best width
    is in [50, 250] or ``report_best`` is tied with it, else **not supported**.  Keys and
    values end in ``key_suffix``.
    """
    col, se_col = f"val_{metric}", f"val_{metric}_se"
    best_row = table.loc[table[col].idxmax()]
    best_width = int(best_row["width"])
    best_acc, best_se = float(best_row[col]), float(best_row[se_col])
    best_above = above_chance(best_acc, baseline, best_se)
    tied = [int(w) for w, v, s in zip(table["width"], table[col], table[se_col])
            if best_acc - v <= 2 * max(s, best_se)]
    name = "accuracy" if metric == "acc" else "origin-aware accuracy"
    evidence = (f"best validation {name} {best_acc:.4f} ± {best_se:.4f} at width "
                f"{best_width} (baseline {baseline:.4f}); widths within 2 SE of it: {tied}")
    if not best_above:
        status = "inconclusive at this scale"
        evidence += " — no width is above the baseline, so the best width is noise"
    elif 50 <= best_width <= 250 or report_best in tied:
        status = "supported"
    else:
        status = "not supported"
    j = Judgement()
    loss = "" if not key_suffix else " (origin-invariant loss, origin-aware accuracy)"
    j.add(f"best_width_about_100{key_suffix}", status,
          f"the best hidden-layer width is about {report_best} units{loss} (Figs 17–18)",
          evidence)
    j.values = {f"best_width{key_suffix}": best_width,
                f"best_width_above_baseline{key_suffix}": best_above,
                f"widths_tied_with_best{key_suffix}": tied}
    return j


def judge_width_sweeps(plain: Mapping[int, "RunResult"], invariant: Mapping[int, "RunResult"],
                       table: pd.DataFrame, table_inv: pd.DataFrame,
                       baselines: Mapping[str, Mapping[str, Any]], report_best: int) -> Judgement:
    """The verdicts of notebook 04: the report's plain sweep, whether a plain sweep can rank
    widths at all (:func:`judge_chance_explanation` on its ceilings), and the sweep with the
    origin-invariant loss (best width by validation origin-aware accuracy, keys
    ``…_origin_invariant``).  ``values`` holds ``ceiling`` (plain runs, test split)."""
    base = max(float(baselines[r.name]["all"]["validation"]) for r in plain.values())
    j = judge_width(table, base, report_best)
    ceilings = {r.name: ceiling_record(r, baselines[r.name]) for r in plain.values()}
    status, evidence = judge_chance_explanation(ceilings)
    j.add("plain_loss_can_rank_widths",
          "not supported" if status == "not supported" else "inconclusive at this scale",
          "a plain-loss sweep can rank the widths (implied by the report's choice)", evidence)
    j.lines += ["  " + ceiling_line(ceilings[r.name], f"width {w}") for w, r in plain.items()]
    if invariant:
        inv_base = max(origin_baseline(r, baselines[r.name], "validation")
                       for r in invariant.values())
        inv = judge_width(table_inv, inv_base, report_best, metric="origin_acc",
                          key_suffix="_origin_invariant")
        j.lines += inv.lines
        j.verdicts.update(inv.verdicts)
        j.values.update(inv.values)
    j.values.update(ceiling=ceilings, report_best_width=report_best)
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


# ---------------------------------------------------------------------------------------------
# 08 — sign models on the resolution sphere: the report's three explanations (§4)
# ---------------------------------------------------------------------------------------------
# Each result is a mapping with the held-out ``accuracy_strongest`` (|E|-weighted,
# origin-aware, strongest 20 % of the reflections), its standard error over structures
# ``accuracy_strongest_se`` and its measured ``chance_strongest``
# (:func:`lib.phases.phase_models.evaluate_sphere_model`).

def beats(a: Mapping[str, float], b: Mapping[str, float], n_se: float = 2.0,
          margin: float = PRACTICAL_MARGIN, score: str = "accuracy_strongest") -> bool:
    """Whether result ``a`` is better than ``b`` on ``score``: by more than ``n_se`` combined
    standard errors and by at least ``margin``."""
    diff = float(a[score]) - float(b[score])
    se = float(np.hypot(a.get(f"{score}_se", 0.0) or 0.0, b.get(f"{score}_se", 0.0) or 0.0))
    return diff > n_se * se and diff >= margin


def model_above_chance(r: Mapping[str, float]) -> bool:
    """:func:`above_chance` of a result's strongest-20 % accuracy."""
    return above_chance(float(r["accuracy_strongest"]), float(r["chance_strongest"]),
                        float(r.get("accuracy_strongest_se") or 0.0))


def _acc(name: str, r: Mapping[str, float]) -> str:
    return (f"{name} {r['accuracy_strongest']:.3f} ± {r.get('accuracy_strongest_se') or 0:.3f} "
            f"(chance {r['chance_strongest']:.3f})")


def information_verdict(base: Mapping[str, float], no_cell: Mapping[str, float],
                        patterson: Mapping[str, float],
                        classical: Mapping[str, float]) -> str:
    """Report §4 (i): the intensities hold too little information; more inputs (the cell,
    the Patterson function) would help.  ``base``: the MLP on |E| + cell, ``no_cell``: on
    |E| alone, ``patterson``: on the Patterson map + cell, ``classical``: the Σ2 prior (the
    untrained triplet model) on the same |E|.  Supported when the cell or the Patterson input
    lifts the MLP; not supported when neither does while |E| alone (classically) is well
    above chance; inconclusive otherwise."""
    helps = [name for name, better, worse in (("the cell", base, no_cell),
                                              ("the Patterson input", patterson, base))
             if beats(better, worse)]
    info = model_above_chance(classical)
    evidence = (f"held-out strongest-20 % accuracy: {_acc('MLP |E|', no_cell)}, "
                f"{_acc('MLP |E| + cell', base)}, {_acc('MLP Patterson + cell', patterson)}; "
                f"{_acc('the Σ2 relations alone (untrained triplet model)', classical)}")
    claim = ("(i) information — the intensities do not hold enough; add the cell, use the "
             "Patterson function")
    if helps:
        return verdict("supported", claim, f"{' and '.join(helps)} lift(s) the MLP; {evidence}")
    if info:
        return verdict("not supported", claim,
                       f"neither input lifts the MLP, while the same |E| give the Σ2 relations "
                       f"far above chance: the information is there, the MLP does not read "
                       f"it; {evidence}")
    return verdict("inconclusive at this scale", claim, evidence)


def data_verdict(curve: Sequence[Mapping[str, float]], extrapolation: Mapping[str, Any],
                 name: str) -> str:
    """Report §4 (ii): not enough training data.  ``curve``: a model's learning curve
    (held-out results with ``structures_seen``, first point = untrained), ``extrapolation``:
    :func:`lib.phases.model_study.power_law_extrapolation` of it.  Supported when the
    held-out accuracy rises significantly with the structures seen; inconclusive when it
    stays at chance (no signal yet at this scale); not supported when it is flat above
    chance."""
    first, last = curve[0], curve[-1]
    rises = beats(last, first)
    needed = extrapolation.get("n_needed")
    if extrapolation.get("reached"):
        reach = f"already at or above the target {extrapolation['target']:.2f}"
    elif not (rises or model_above_chance(last)):
        reach = "no power law to fit: the curve stays at chance"
    elif needed:
        reach = (f"the power-law fit of the last points (1 − accuracy ∝ "
                 f"n^−{extrapolation['b']:.2f}) reaches {extrapolation['target']:.2f} after "
                 f"≈ {needed:.2g} structures")
    elif extrapolation.get("log10_n_needed"):
        reach = (f"the power-law fit (1 − accuracy ∝ n^−{extrapolation['b']:.3f}) reaches "
                 f"{extrapolation['target']:.2f} only after ≈ 10^"
                 f"{extrapolation['log10_n_needed']:.0f} structures: no practical amount")
    else:
        reach = (f"the fit gives no finite number of structures to reach "
                 f"{extrapolation['target']:.2f} (the curve does not rise)")
    after = f"after {int(last['structures_seen'])} structures"
    evidence = f"{name}: {_acc('untrained', first)} → {_acc(after, last)}; {reach}"
    claim = "(ii) data — there are not enough training structures"
    if rises:
        return verdict("supported", claim, f"the accuracy still rises with data; {evidence}")
    if not model_above_chance(last):
        return verdict("inconclusive at this scale", claim,
                       f"at chance over the whole curve: no signal yet to extrapolate "
                       f"(PhAI trained on millions); {evidence}")
    return verdict("not supported", claim, f"flat above chance; {evidence}")


def capacity_verdict(base: Mapping[str, float], variants: Mapping[str, Mapping[str, float]],
                     seen_gap: float) -> str:
    """Report §4 (iii): the network memorises too much; dropout, batch normalisation or
    smaller layers help.  ``variants``: held-out results by name (e.g. "dropout 0.3");
    ``seen_gap``: the base model's accuracy on structures it trained on minus its held-out
    accuracy (what memorising would show).  Supported when a variant beats the base; else
    not supported (inconclusive when every model is at chance and nothing is memorised)."""
    helps = [n for n, v in variants.items() if beats(v, base)]
    evidence = (f"{_acc('base MLP', base)}; " + "; ".join(_acc(n, v) for n, v in variants.items())
                + f"; trained-on minus held-out accuracy of the base: {seen_gap:+.3f} (each "
                f"structure of the stream is seen once)")
    claim = "(iii) capacity — the network memorises; dropout, batch norm, smaller layers help"
    if helps:
        return verdict("supported", claim, f"{', '.join(helps)} beat(s) the base; {evidence}")
    if seen_gap < OVERFIT_GAP and not any(model_above_chance(v) for v in
                                          [base, *variants.values()]):
        return verdict("inconclusive at this scale", claim,
                       f"nothing to regularise: no model leaves chance and none memorises; "
                       f"{evidence}")
    return verdict("not supported", claim, f"no variant beats the base; {evidence}")


def origin_verdict(fixed: Mapping[str, float], raw: Mapping[str, float], name: str
                   ) -> tuple[str, str]:
    """Which origin handling wins for model ``name``: ("fixed" | "min-over-8" | "neither",
    a markdown line with the numbers)."""
    if beats(fixed, raw):
        winner = "fixed"
    elif beats(raw, fixed):
        winner = "min-over-8"
    else:
        winner = "neither"
    text = (f"- **origin handling ({name})**: {_acc('origin fixing + plain BCE', fixed)}; "
            f"{_acc('min-over-8 loss on raw signs', raw)} — "
            + ("neither wins beyond two standard errors" if winner == "neither"
               else f"{winner} wins"))
    return winner, text


def target_verdicts(best: str, best_row: Mapping[str, float], cod_row: Mapping[str, float] | None,
                    seeded: Mapping[str, Mapping[str, float]], unseeded: Mapping[str, float],
                    d_best: float = 1.0, d_seeded: float = 1.5, target: float = 0.75) -> str:
    """Markdown lines on issue 10's numbers to reach: the best model's strongest-20 % accuracy
    at ``d_best`` (1.0 Å) on held-out generated structures (≥ ``target``), on COD (above
    chance), and seeded classical phasing at ``d_seeded`` (1.5 Å: solves some where unseeded
    fails); ``seeded`` / ``unseeded``: table rows by seeded method name."""
    lines = [f"- **best model at {d_best:g} Å** ({best}): strongest-20 % accuracy "
             f"{best_row['accuracy_strongest']:.3f} ± "
             f"{best_row.get('accuracy_strongest_se') or 0:.3f} (chance "
             f"{best_row['chance_strongest']:.3f}) — "
             + ("meets" if best_row["accuracy_strongest"] >= target else "misses")
             + f" the target {target:.2f}."]
    if cod_row is not None:
        ok = above_chance(cod_row["accuracy_strongest"], cod_row["chance_strongest"],
                          cod_row.get("accuracy_strongest_se") or 0.0)
        lines.append(f"- **on the COD structures** ({best}, {d_best:g} Å, n = "
                     f"{int(cod_row['n_structures'])}): {cod_row['accuracy_strongest']:.3f} ± "
                     f"{cod_row.get('accuracy_strongest_se') or 0:.3f} (chance "
                     f"{cod_row['chance_strongest']:.3f}) — "
                     + ("above chance." if ok else "not clearly above chance."))
    for method, row in seeded.items():
        base = unseeded.get(method)
        ref = (f" vs {base['solved']:.2f} ± {base['solved_se']:.2f} unseeded" if base else "")
        lines.append(f"- **{method} at {d_seeded:g} Å**: solved {row['solved']:.2f} ± "
                     f"{row['solved_se']:.2f} (n = {int(row['n_structures'])}){ref}.")
    return "\n".join(lines)


def seeding_verdict(table: pd.DataFrame, methods: Sequence[str],
                    seed_accuracy: Mapping[tuple[str, float], float] | None = None,
                    source: str = "generated", n_se: float = 2.0) -> str:
    """Markdown lines: for each classical method and d_min, the fraction solved when started
    from a model's signs (``<method>_seeded`` rows of ``table``) against random starts (the
    ``<method>`` rows), with "helps" / "hurts" when the difference exceeds ``n_se`` combined
    binomial standard errors, else "no difference"; with ``seed_accuracy`` ({(method, d_min):
    |E|-weighted accuracy of the seeds}) beside the unseeded method's own accuracy on the
    strongest 20 % — seeds help only where they are better than what the method finds alone."""
    rows = table[table["source"] == source].set_index(["method", "d_min"])
    lines = []
    for method in methods:
        seeded_name = f"{method}_seeded"
        for d_min in sorted({d for m, d in rows.index if m == seeded_name}):
            if (method, d_min) not in rows.index:
                continue
            s, u = rows.loc[(seeded_name, d_min)], rows.loc[(method, d_min)]
            diff = float(s["solved"] - u["solved"])
            se = float(np.hypot(s["solved_se"], u["solved_se"]))
            word = ("helps" if diff > n_se * se and diff > 0 else
                    "hurts" if diff < -n_se * se and diff < 0 else "no difference")
            seeds = ""
            if seed_accuracy and (seeded_name, d_min) in seed_accuracy:
                seeds = (f"; seeds {seed_accuracy[(seeded_name, d_min)]:.3f} right "
                         f"(|E|-weighted) vs {u['accuracy_strongest']:.3f} on the strongest "
                         f"20 % by {method} alone")
            lines.append(f"- **{method} at {d_min:g} Å**: seeded {s['solved']:.2f} ± "
                         f"{s['solved_se']:.2f} vs random starts {u['solved']:.2f} ± "
                         f"{u['solved_se']:.2f} solved (n = {int(s['n_structures'])}) — "
                         f"{word}{seeds}.")
    return "\n".join(lines)
