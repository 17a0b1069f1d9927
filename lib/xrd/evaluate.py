"""What notebook 06 reports, computed from true labels and predicted probabilities.

- the report's table (precision, recall, F1 per crystal system, accuracy) and confusion
  matrices: :func:`report_table`, :func:`confusion`, :func:`evaluation`, :func:`table_frame`,
  :func:`accuracy_frame`;
- the verdict on the report's claims, computed from a run's numbers against the anchors
  (report 2: 54 % with MobileNetV2; Park et al. 2017: 94.99 % crystal system, 81.14 % space
  group; measured RRUFF patterns: 81.7 %): :func:`verdict`;
- the notebook's metrics dictionary: :func:`data_summary`, :func:`model_summary`,
  :func:`metrics_summary`.

Accuracies are fractions in [0, 1]; "s.e." is the binomial standard error of a fraction.
No plotting and no model here: the notebook predicts, this module computes, the notebook shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import calibration
from .dataset import XRDData
from .patterns import CRYSTAL_SYSTEMS, crystal_system_of, space_groups_of

#: Crystal-system accuracy of the report's MobileNetV2 (report 2).
REPORT_ACCURACY = 0.54
#: Park et al. (2017, IUCrJ 4, 621): 1D CNN, ~150,000 ICSD structures.
PARK_CRYSTAL_SYSTEM, PARK_SPACE_GROUP, PARK_N_STRUCTURES = 0.9499, 0.8114, 150_000
#: Crystal-system accuracy reported on measured (RRUFF) patterns.
RRUFF_CRYSTAL_SYSTEM = 0.817
#: Below these a run is too small for a verdict (test structures, epochs of either model).
MIN_TEST_STRUCTURES, MIN_EPOCHS = 200, 5


def accuracy(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Top-1 accuracy (fraction; NaN for an empty set)."""
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(y_true)))


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Fraction of patterns whose true class is among the ``k`` most probable."""
    if len(y_true) == 0:
        return float("nan")
    top = np.argsort(probs, axis=1)[:, ::-1][:, :k]
    return float(np.mean(np.any(top == np.asarray(y_true)[:, None], axis=1)))


def report_table(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Precision, recall, F1 and support per crystal system, macro and weighted averages, and
    accuracy — the report's table — as a JSON-ready dict (classes absent from ``y_true`` have
    support 0 and recall 0)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(len(CRYSTAL_SYSTEMS)))
    if len(y_true) == 0:
        p = r = f = np.zeros(len(labels))
        s = np.zeros(len(labels), int)
    else:
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     zero_division=0)
    per = {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                  "support": int(s[i])} for i, name in enumerate(CRYSTAL_SYSTEMS)}
    present = s > 0
    macro = {"precision": float(p[present].mean()) if present.any() else float("nan"),
             "recall": float(r[present].mean()) if present.any() else float("nan"),
             "f1": float(f[present].mean()) if present.any() else float("nan")}
    weighted = {k: float(np.average(v, weights=s)) if s.sum() else float("nan")
                for k, v in (("precision", p), ("recall", r), ("f1", f))}
    acc = float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")
    return {"per_class": per, "macro_avg": macro, "weighted_avg": weighted, "accuracy": acc,
            "n": int(len(y_true))}


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """7 × 7 confusion matrix of crystal systems (rows true, columns predicted)."""
    from sklearn.metrics import confusion_matrix

    if len(y_true) == 0:
        return np.zeros((len(CRYSTAL_SYSTEMS), len(CRYSTAL_SYSTEMS)), int)
    return confusion_matrix(y_true, y_pred, labels=list(range(len(CRYSTAL_SYSTEMS))))


def table_frame(tables: dict[str, dict[str, Any]]) -> "Any":
    """The report's table for several models side by side: a pandas DataFrame with rows =
    crystal systems + macro average + accuracy, columns = (model, precision/recall/F1)."""
    import pandas as pd

    cols = {}
    for model, tab in tables.items():
        for metric in ("precision", "recall", "f1"):
            col = [tab["per_class"][c][metric] for c in CRYSTAL_SYSTEMS]
            col.append(tab["macro_avg"][metric])
            col.append(tab["accuracy"] if metric == "f1" else np.nan)
            cols[(model, metric)] = col
        cols[(model, "support")] = [tab["per_class"][c]["support"] for c in CRYSTAL_SYSTEMS] + \
            [tab["n"], tab["n"]]
    index = list(CRYSTAL_SYSTEMS) + ["macro avg", "accuracy"]
    return pd.DataFrame(cols, index=index)


def standard_error(fraction: float, n: int) -> float:
    """Binomial standard error of a fraction measured on ``n`` patterns (NaN for n = 0)."""
    return float(np.sqrt(fraction * (1 - fraction) / n)) if n else float("nan")


def percent(fraction: float) -> str:
    """A fraction as ``"54.0 %"``."""
    return f"{100 * fraction:.1f} %"


def evaluation(crystal_system: np.ndarray, probs: Mapping[str, np.ndarray],
               space_group: np.ndarray | None = None) -> dict[str, Any]:
    """The numbers of one model on one set: ``n``, ``probs`` (crystal system), the report's
    ``table``, ``confusion`` (7 × 7), ``accuracy``, ``top2_accuracy`` and, when ``probs`` has a
    space-group head, ``space_group_accuracy`` and ``space_group_top5_accuracy``.

    ``crystal_system``: true indices into ``CRYSTAL_SYSTEMS``; ``space_group``: true
    international numbers (1–230); ``probs``: {head: (n, n_classes)} class probabilities."""
    cs = np.asarray(probs["crystal_system"])
    predicted = cs.argmax(1)
    out = {"n": int(len(crystal_system)), "probs": cs,
           "table": report_table(crystal_system, predicted),
           "confusion": confusion(crystal_system, predicted),
           "accuracy": accuracy(crystal_system, cs),
           "top2_accuracy": top_k_accuracy(crystal_system, cs, 2)}
    if "space_group" in probs and space_group is not None:
        sg, truth = np.asarray(probs["space_group"]), np.asarray(space_group) - 1
        out["space_group_accuracy"] = accuracy(truth, sg)
        out["space_group_top5_accuracy"] = top_k_accuracy(truth, sg, 5)
    return out


def accuracy_frame(evals: Mapping[tuple[str, str], dict[str, Any] | None]) -> "Any":
    """One row per (model, set) evaluation: n, crystal-system accuracy ± s.e., top-2, and the
    space-group accuracy and top-5 (NaN without a space-group head); a pandas DataFrame."""
    import pandas as pd

    rows = []
    for (model, where), ev in evals.items():
        if ev is None:
            continue
        rows.append({"model": model, "set": where, "n": ev["n"],
                     "crystal system accuracy": round(ev["accuracy"], 3),
                     "± s.e.": round(standard_error(ev["accuracy"], ev["n"]), 3),
                     "top-2": round(ev["top2_accuracy"], 3),
                     "space group accuracy": round(ev.get("space_group_accuracy", np.nan), 3),
                     "space group top-5": round(ev.get("space_group_top5_accuracy", np.nan), 3)})
    return pd.DataFrame(rows)


def tables_of(evals: Mapping[tuple[str, str], dict[str, Any] | None], where: str,
              ) -> dict[str, dict[str, Any]]:
    """The report's tables of every model evaluated on set ``where`` ({model: table})."""
    return {m: ev["table"] for (m, w), ev in evals.items() if w == where and ev is not None}


def confusion_panels(evals: Mapping[tuple[str, str], dict[str, Any] | None],
                     ) -> dict[str, np.ndarray]:
    """{panel title: 7 × 7 confusion counts} of every evaluation, for Fig 5."""
    return {f"{m}, {'synthetic test' if w == 'test' else 'MP structures'}: accuracy "
            f"{ev['accuracy']:.1%}": ev["confusion"] for (m, w), ev in evals.items()
            if ev is not None}


def counts_frame(sets: Mapping[str, XRDData | None]) -> "Any":
    """Structures per crystal system of each data set ({column name: data set or None}); a
    DataFrame indexed by crystal system (report Figs 2 and 3)."""
    import pandas as pd

    return pd.DataFrame({name: counts_per_system(data) for name, data in sets.items()},
                        index=list(CRYSTAL_SYSTEMS))


def count_and_share(counts: "Any") -> "Any":
    """The counts and each column's share (3 decimals) side by side."""
    import pandas as pd

    share = counts / counts.sum().replace(0, 1)
    return pd.concat({"count": counts, "share": share.round(3)}, axis=1)


# ---------------------------------------------------------------------------------------------
# Verdict
# ---------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """The computed verdict: on the report's 54 %, on 1D CNN vs MobileNetV2, whether the run
    is too small to judge, and the Markdown text the notebook shows."""

    report_54: str
    cnn_vs_mobilenet: str
    small_scale: bool
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"report_54": self.report_54, "cnn_vs_mobilenet": self.cnn_vs_mobilenet,
                "small_scale": self.small_scale, "text": self.text}


def is_small(n_test: int, epochs: tuple[int, ...]) -> bool:
    """Too few test structures or epochs for a verdict."""
    return n_test < MIN_TEST_STRUCTURES or min(epochs) < MIN_EPOCHS


def verdict_on_report(accuracy_: float, n: int, small: bool, weights: str,
                      n_train: int) -> str:
    """Does this run's MobileNetV2 accuracy (on ``n`` patterns) agree with the report's 54 %?
    Agreement: within max(2 s.e., 5 points)."""
    if small:
        return "inconclusive at this scale"
    diff = accuracy_ - REPORT_ACCURACY
    if abs(diff) <= max(2 * standard_error(accuracy_, n), 0.05):
        text = "supported (this run's MobileNetV2 lands within the uncertainty of 54 %)"
    elif diff > 0:
        text = ("not reproduced as a limit: this run's MobileNetV2 does better than the report's "
                "54 %")
    else:
        text = "not supported: this run's MobileNetV2 does worse than 54 %"
    if not str(weights).startswith("imagenet"):
        text += (f" (at this scale: {n_train} training structures, trained from scratch without "
                 "ImageNet weights)")
    return text


def verdict_on_models(cnn: float, mobilenet: float, n: int, small: bool) -> str:
    """Does the 1D CNN beat MobileNetV2 on the same ``n`` test patterns (by 2 s.e. of the
    difference)?"""
    if small:
        return "inconclusive at this scale"
    spread = 2 * float(np.hypot(standard_error(cnn, n), standard_error(mobilenet, n)))
    if cnn - mobilenet > spread:
        return "supported: the 1D CNN beats MobileNetV2"
    if cnn - mobilenet < -spread:
        return "not supported: MobileNetV2 beats the 1D CNN"
    return "inconclusive: the two models are within two standard errors"


def _line_report(ev_ref: dict[str, Any], ref_name: str, m_test: dict[str, Any], text: str,
                 weights: str) -> str:
    return (f"- **Report's 54 % (MobileNetV2):** {text}. This run: {percent(ev_ref['accuracy'])} "
            f"± {percent(standard_error(ev_ref['accuracy'], ev_ref['n']))} on {ev_ref['n']} "
            f"{ref_name}; {percent(m_test['accuracy'])} on {m_test['n']} held-out synthetic "
            f"structures (chance: {percent(1 / len(CRYSTAL_SYSTEMS))}); weights: {weights}.")


def _line_models(c_test: dict[str, Any], m_test: dict[str, Any], c_mp: dict[str, Any] | None,
                 m_mp: dict[str, Any] | None, text: str) -> str:
    on_mp = (f"{percent(c_mp['accuracy'])} vs {percent(m_mp['accuracy'])} on MP)."
             if c_mp is not None and m_mp is not None else "no MP set).")
    return (f"- **A 1D CNN on the vector does better than MobileNetV2 on images:** {text} "
            f"({percent(c_test['accuracy'])} vs {percent(m_test['accuracy'])} on the synthetic "
            f"test; " + on_mp)


def _line_park(c_test: dict[str, Any], n_train: int) -> str:
    gap = c_test["accuracy"] - PARK_CRYSTAL_SYSTEM
    where = "at or above" if gap >= 0 else f"{percent(-gap)} below"
    return (f"- **Park et al.'s {100 * PARK_CRYSTAL_SYSTEM:.2f} % / "
            f"{100 * PARK_SPACE_GROUP:.2f} %:** this run's "
            f"1D CNN reaches {percent(c_test['accuracy'])} (crystal system) and "
            f"{percent(c_test.get('space_group_accuracy', np.nan))} (space group; top-5 "
            f"{percent(c_test.get('space_group_top5_accuracy', np.nan))}) on held-out synthetic "
            f"structures with {n_train} training structures ({n_train / PARK_N_STRUCTURES:.1%} of "
            f"Park et al.'s ~150,000) — {where} their crystal-system accuracy"
            + (", expected at this data size." if gap < 0 else "."))


def _line_transfer(c_test: dict[str, Any], c_mp: dict[str, Any] | None) -> str:
    anchor = (f"for measured patterns (RRUFF) ~{percent(RRUFF_CRYSTAL_SYSTEM)} is the reported "
              "anchor")
    if c_mp is None:
        return f"- **Transfer to real structures:** not measured (no MP-20 CSV); {anchor}."
    drop = c_test["accuracy"] - c_mp["accuracy"]
    return (f"- **Transfer to real structures:** from synthetic test to MP the 1D CNN goes "
            f"{percent(c_test['accuracy'])} → {percent(c_mp['accuracy'])} "
            f"({'a drop' if drop > 0 else 'a gain'} of {percent(abs(drop))}); {anchor} — our MP "
            "patterns are still simulated, so this run does not test measured data.")


def _line_measured(measured: Mapping[str, dict[str, Any]], base: dict[str, Any]) -> str:
    """The verdict's line on measured patterns: the best network against "always <majority>"
    (by 2 s.e.), the classical indexing and the best "indexing first, then a network"
    (:func:`indexing_first`; named ``INDEXING_FIRST`` + the network's name), and the reported
    RRUFF anchor."""
    combined = {m: ev for m, ev in measured.items() if m.startswith(INDEXING_FIRST)}
    measured = {m: ev for m, ev in measured.items() if m not in combined}
    name, best = max(measured.items(), key=lambda kv: kv[1]["accuracy"])
    acc, n, major = best["accuracy"], best["n"], base["majority_class_accuracy"]
    spread = 2 * standard_error(acc, n)
    if acc - major > spread:
        text = "the models have learnt something that carries over to measurements"
    elif major - acc > spread:
        text = "no model beats answering the most common crystal system"
    else:
        text = "inconclusive: the best model is within two standard errors of the majority class"
    sg = best.get("space_group_accuracy")
    on_sg = f", space group {percent(sg)}" if sg is not None else ""
    plain = {m: ev for m, ev in measured.items() if "prior" not in m}
    without = ""
    if len(plain) < len(measured) and plain:       # how much of it the class prior gives
        p_name, p_best = max(plain.items(), key=lambda kv: kv[1]["accuracy"])
        f1_plain, f1_best = (ev["table"]["macro_avg"]["f1"] for ev in (p_best, best))
        without = (f"; without the class prior the best is {p_name} "
                   f"{percent(p_best['accuracy'])} (macro F1 {f1_plain:.2f} against "
                   f"{f1_best:.2f} with it: the prior buys accuracy by answering the common "
                   "systems more often)")
    classical = base.get("classical_indexing")
    bar = ""
    if classical:
        c_acc, c_n = classical["accuracy"], classical["n"]
        gap = acc - c_acc
        spread_c = 2 * np.hypot(standard_error(acc, n), standard_error(c_acc, c_n))
        how = ("above" if gap > spread_c else "below" if -gap > spread_c
               else "within two standard errors of")
        c_sg = classical.get("space_group_accuracy")
        on_c_sg = f" (space group {percent(c_sg)})" if c_sg is not None else ""
        bar = (f"; the classical method (indexing, no training) scores {percent(c_acc)} ± "
               f"{percent(standard_error(c_acc, c_n))} on {c_n} of them{on_c_sg}, so the best "
               f"model is {how} it")
    if combined:
        def scores(ev: dict[str, Any]) -> str:
            sg_ = ev.get("space_group_accuracy")
            return (f"{percent(ev['accuracy'])} on {ev['n']}"
                    + (f", space group {percent(sg_)}" if sg_ is not None else ""))

        h_name, h_best = max(combined.items(), key=lambda kv: kv[1]["accuracy"])
        bar += (f"; {h_name} (the network only where no cell indexes the lines): "
                f"{scores(h_best)}")
        with_sg = {m: ev for m, ev in combined.items() if "space_group_accuracy" in ev}
        if with_sg:
            s_name, s_best = max(with_sg.items(), key=lambda kv: kv[1]["space_group_accuracy"])
            if s_name != h_name:
                bar += f"; best space group: {s_name}, {scores(s_best)}"
    return (f"- **Measured patterns (rruff_dev, never trained on):** {text}. Best: {name} "
            f"{percent(acc)} ± {percent(standard_error(acc, n))} on {n} patterns{on_sg}; always "
            f"{base['majority_class']}: {percent(major)}; chance: {percent(base['chance_uniform'])}"
            f"{without}{bar}; reported on RRUFF: ~{percent(RRUFF_CRYSTAL_SYSTEM)}.")


def verdict(evals: Mapping[tuple[str, str], dict[str, Any] | None], epochs: tuple[int, ...],
            weights: str, n_train: int, measured: Mapping[str, dict[str, Any]] | None = None,
            measured_baselines: dict[str, Any] | None = None,
            simulated: Mapping[str, dict[str, Any]] | None = None) -> Verdict:
    """The verdict on report 2's claims from this run's evaluations.

    ``evals``: {(model, set): :func:`evaluation` or None} with models ``"MobileNetV2"`` and
    ``"1D CNN"`` and sets ``"test"`` (held-out synthetic structures, required) and ``"MP"``
    (real structures, may be None); ``epochs``: epochs run by each model; ``weights``:
    MobileNetV2's weights source; ``n_train``: training structures; ``measured``: {model:
    :func:`evaluation`} on measured patterns (rruff_dev) with their :func:`baselines`;
    ``simulated``: {set: :func:`combined_block`} of "indexing first" on simulated patterns."""
    m_test, c_test = evals[("MobileNetV2", "test")], evals[("1D CNN", "test")]
    m_mp, c_mp = evals.get(("MobileNetV2", "MP")), evals.get(("1D CNN", "MP"))
    small = is_small(m_test["n"], epochs)
    ref, ref_name = ((m_mp, "real MP structures") if m_mp is not None
                     else (m_test, "held-out synthetic structures"))
    on_report = verdict_on_report(ref["accuracy"], ref["n"], small, weights, n_train)
    on_models = verdict_on_models(c_test["accuracy"], m_test["accuracy"], m_test["n"], small)
    lines = [_line_report(ref, ref_name, m_test, on_report, weights),
             _line_models(c_test, m_test, c_mp, m_mp, on_models),
             _line_park(c_test, n_train), _line_transfer(c_test, c_mp)]
    if measured and measured_baselines is not None:
        lines.append(_line_measured(measured, measured_baselines))
    if simulated:
        lines.append(_line_simulated(simulated))
    return Verdict(on_report, on_models, bool(small), "\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Metrics dictionary
# ---------------------------------------------------------------------------------------------

def counts_per_system(data: XRDData | None) -> np.ndarray:
    """Structures per crystal system (7,), zeros when there is no data set."""
    if data is None:
        return np.zeros(len(CRYSTAL_SYSTEMS), int)
    return np.bincount(data.crystal_system, minlength=len(CRYSTAL_SYSTEMS))


def system_changed_fraction(data: XRDData) -> float:
    """Fraction of structures whose crystal system found by SpacegroupAnalyzer differs from the
    one of the space group asked of pyxtal (random structures can gain symmetry)."""
    if len(data) == 0:
        return float("nan")
    asked = np.array([CRYSTAL_SYSTEMS.index(crystal_system_of(g))
                      for g in data.space_group_reference], dtype=int)
    return float(np.mean(asked != data.crystal_system))


def data_summary(data: XRDData | None, n_requested: int | None = None) -> dict[str, Any] | None:
    """The metrics block of one data set: sizes, failures, counts per crystal system and, for
    the synthetic set (``n_requested`` given), the space groups asked and found; for the MP set
    the agreement of the found space group with the CSV's."""
    if data is None:
        return None
    out = {"n_structures": len(data), "n_failed": len(data.failures),
           "failures": data.failures[:50],
           "per_crystal_system": dict(zip(CRYSTAL_SYSTEMS, counts_per_system(data).tolist())),
           "generation_seconds": data.provenance.get("seconds"),
           "file": data.path.name if data.path else None}
    if n_requested is not None:
        out.update({"n_requested": int(n_requested),
                    "n_space_groups_requested": int(len(np.unique(data.space_group_reference))),
                    "n_space_groups_found": int(len(np.unique(data.space_group))),
                    "crystal_system_changed_by_symmetry_search": system_changed_fraction(data)})
    else:
        out.update({"n_skipped": len(data.failures), "skipped": data.failures[:50],
                    "space_group_agrees_with_csv": float(np.mean(data.space_group ==
                                                                 data.space_group_reference))
                    if len(data) else float("nan")})
    return out


def without_probs(ev: dict[str, Any] | None) -> dict[str, Any] | None:
    """An evaluation without its per-pattern probabilities (for the metrics JSON)."""
    return None if ev is None else {k: v for k, v in ev.items() if k != "probs"}


def model_summary(evals: Mapping[tuple[str, str], dict[str, Any] | None], name: str,
                  model: Any, trained: Any, **facts: Any) -> dict[str, Any]:
    """The metrics block of one model: its size, training (``trained``: a
    :class:`lib.xrd.models.TrainResult`), its heads, ``facts`` (weights, bundle, ...) and its
    evaluations on the synthetic test (``test``) and MP (``mp``) sets."""
    return {"parameters": int(model.count_params()), "epochs_run": trained.epochs_run,
            "best_epoch": trained.best_epoch, "train_seconds": trained.seconds,
            "heads": list(model.output_names), **facts,
            "test": without_probs(evals.get((name, "test"))),
            "mp": without_probs(evals.get((name, "MP")))}


def metrics_summary(evals: Mapping[tuple[str, str], dict[str, Any] | None],
                    verdict_: Verdict, **blocks: Any) -> dict[str, Any]:
    """The notebook's metrics dictionary: ``blocks`` as given (grid, data sets, split, models,
    demo, timings, ...), the report's tables of every model on both sets, the anchors and the
    verdict."""
    models = list(dict.fromkeys(m for m, _ in evals))
    return {**blocks,
            "table": {m: {w: (evals.get((m, w)) or {}).get("table") for w in ("test", "MP")}
                      for m in models},
            "report": {"mobilenetv2_accuracy": REPORT_ACCURACY,
                       "park2017_crystal_system": PARK_CRYSTAL_SYSTEM,
                       "park2017_space_group": PARK_SPACE_GROUP,
                       "rruff_measured_crystal_system": RRUFF_CRYSTAL_SYSTEM},
            "verdict": verdict_.to_dict()}


# ---------------------------------------------------------------------------------------------
# Measured validation set (rruff_dev)
# ---------------------------------------------------------------------------------------------

def baselines(crystal_system: np.ndarray, space_group: np.ndarray | None = None,
              ) -> dict[str, Any]:
    """What a model must beat on a set with these true labels (fractions).

    ``majority_class``: always answering the set's most common crystal system (e.g. "always
    monoclinic"); ``chance_uniform``: guessing one of the 7 crystal systems at random (1/7);
    ``chance_prior``: guessing with the set's own class frequencies (Σ pᵢ²); and for space
    groups the same majority and uniform (1/230) baselines."""
    cs = np.asarray(crystal_system, int)
    out: dict[str, Any] = {"n": int(len(cs))}
    if len(cs) == 0:
        return {**out, "majority_class": None, "majority_class_accuracy": float("nan"),
                "chance_uniform": 1 / len(CRYSTAL_SYSTEMS), "chance_prior": float("nan")}
    counts = np.bincount(cs, minlength=len(CRYSTAL_SYSTEMS))
    share = counts / counts.sum()
    out.update({"majority_class": CRYSTAL_SYSTEMS[int(counts.argmax())],
                "majority_class_accuracy": float(share.max()),
                "chance_uniform": 1 / len(CRYSTAL_SYSTEMS),
                "chance_prior": float(np.sum(share ** 2))})
    if space_group is not None and len(space_group):
        sg_counts = np.bincount(np.asarray(space_group, int), minlength=231)
        out.update({"majority_space_group": int(sg_counts.argmax()),
                    "majority_space_group_accuracy": float(sg_counts.max() / sg_counts.sum()),
                    "space_group_chance_uniform": 1 / 230})
    return out


#: How a combined model ("indexing first, then a network") is named in the measured tables.
INDEXING_FIRST = "indexing, then "


def indexing_first(records: list[dict[str, Any]], probs: Mapping[str, np.ndarray],
                   space_group_prior: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The probabilities of "indexing first, then the network" on the patterns of ``records``
    (:func:`lib.xrd.indexing.index_files`, one per pattern, the first ``len(records)`` rows of
    ``probs``): a pattern whose lines a cell indexes gets its crystal system (and the space
    group indexing names, when it names one) with probability 1; an unindexed or unread one
    keeps the network's crystal-system probabilities.  A space group indexing does not name is
    the network's most probable group of the crystal system answered (its space-group head,
    times ``space_group_prior``, 230 frequencies, when given — e.g. those of the COD
    structures: the head was trained on groups cycled evenly within each system, with balanced
    class weights, so this is the prior correction of :func:`lib.xrd.calibration.
    prior_corrected` with a uniform training prior).  Returns
    ``{"crystal_system": (n, 7)[, "space_group": (n, 230)]}``."""
    n = len(records)
    cs = np.array(probs["crystal_system"], float)[:n].copy()
    sg = None
    if "space_group" in probs:
        sg = np.array(probs["space_group"], float)[:n].copy()
        if space_group_prior is not None:
            sg = sg * np.asarray(space_group_prior, float)[None, :]
    for i, rec in enumerate(records):
        if rec.get("indexed"):
            cs[i] = np.eye(len(CRYSTAL_SYSTEMS))[CRYSTAL_SYSTEMS.index(rec["crystal_system"])]
        if sg is None:
            continue
        group = rec.get("space_group") if rec.get("indexed") else None
        if group:
            sg[i] = np.eye(230)[int(group) - 1]
            continue
        system = CRYSTAL_SYSTEMS[int(cs[i].argmax())]
        inside = np.zeros(230, bool)
        inside[np.asarray(space_groups_of(system)) - 1] = True
        sg[i] = np.where(inside, sg[i], 0.0)
        sg[i] = sg[i] / sg[i].sum() if sg[i].sum() > 0 else inside / inside.sum()
    return {"crystal_system": cs} if sg is None else {"crystal_system": cs, "space_group": sg}


#: The crystal-system accuracy issue 11 asks of the best model at the default profile, per
#: simulated set (held-out synthetic structures, real MP structures).
SIMULATED_TARGETS: dict[str, float] = {"test": 0.80, "MP": 0.70}
_SIMULATED_SETS = {"test": "held-out synthetic structures", "MP": "real MP structures"}


def combined_block(base: dict[str, Any], evals: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The metrics block of "indexing first" on one simulated set: ``n`` patterns, the indexing
    alone (``base``: :func:`indexing_baseline`, without its coverage curve) and each answer's
    :func:`evaluation` without its probabilities — the networks alone and their
    :func:`indexing_first` combinations (named ``INDEXING_FIRST`` + ...), all on the same
    patterns."""
    return {"n": base["n"],
            "indexing": {k: v for k, v in base.items() if k != "coverage_curve"},
            "answers": {m: without_probs(ev) for m, ev in evals.items()}}


def _line_simulated(blocks: Mapping[str, dict[str, Any]]) -> str:
    """The verdict's line on "indexing first" on simulated patterns (:func:`combined_block` per
    set ``"test"``/``"MP"``): the best combination against :data:`SIMULATED_TARGETS`, beside
    the best network alone and the indexing alone on the same patterns."""
    parts, met = [], []
    for where, block in blocks.items():
        answers = block["answers"]
        combined = {m: a for m, a in answers.items() if m.startswith(INDEXING_FIRST)}
        alone = {m: a for m, a in answers.items() if m not in combined}
        target = SIMULATED_TARGETS.get(where)
        text = f"on {_SIMULATED_SETS.get(where, where)} ({block['n']} patterns"
        text += f", target {percent(target)}): " if target is not None else "): "
        if combined:
            c_name, c_best = max(combined.items(), key=lambda kv: kv[1]["accuracy"])
            sg = c_best.get("space_group_accuracy")
            text += (f"{c_name} {percent(c_best['accuracy'])}"
                     + (f" (space group {percent(sg)})" if sg is not None else ""))
            if target is not None:
                met.append(c_best["accuracy"] >= target)
        if alone:
            a_name, a_best = max(alone.items(), key=lambda kv: kv[1]["accuracy"])
            text += f"; best network alone: {a_name} {percent(a_best['accuracy'])}"
        indexing = block["indexing"]
        text += f"; indexing alone {percent(indexing['accuracy'])}"
        parts.append(text)
    verdict_ = ("reached" if met and all(met) else "not reached" if met else "not measured")
    return (f"- **Indexing first on simulated patterns (the same answer as `classify --index`; "
            f"crystal-system targets: synthetic test ≥ {percent(SIMULATED_TARGETS['test'])}, MP "
            f"≥ {percent(SIMULATED_TARGETS['MP'])}):** {verdict_} — " + "; ".join(parts) + ".")


#: The name of "indexing first" with no network behind it (the COD frequencies alone).
NO_NETWORK = "the COD prior (no network)"


def indexing_first_evaluations(crystal_system: np.ndarray, records: list[dict[str, Any]],
                               network_probs: Mapping[str, Mapping[str, np.ndarray]],
                               space_group: np.ndarray | None = None,
                               space_group_prior: np.ndarray | None = None,
                               class_prior: np.ndarray | None = None,
                               ) -> dict[str, dict[str, Any]]:
    """The :func:`evaluation` of :func:`indexing_first` on the patterns of ``records`` (true
    crystal systems and space groups given for the same rows), named ``INDEXING_FIRST`` + the
    key of each network's probabilities in ``network_probs`` (as its bundle answers with
    them), and, with a ``class_prior``, the same with no network
    (:func:`prior_probabilities`; ``INDEXING_FIRST`` + :data:`NO_NETWORK`)."""
    probs = dict(network_probs)
    if class_prior is not None:
        probs[NO_NETWORK] = prior_probabilities(class_prior, len(records))
    return {INDEXING_FIRST + name: evaluation(crystal_system,
                                              indexing_first(records, p, space_group_prior),
                                              space_group)
            for name, p in probs.items()}


def hexagonal_lattice_choice(crystal_system: np.ndarray, records: list[dict[str, Any]],
                             probs: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Whether a network tells a trigonal structure from a hexagonal one where indexing cannot.
    A primitive trigonal structure has a hexagonal P lattice: its lines sit where a hexagonal
    structure's would, and the reflections that tell the Laue classes apart (hkl and khl) fall
    on the same line, so indexing answers "hexagonal".  On the patterns of ``records``
    (:func:`lib.xrd.indexing.index_files`, one per pattern, true ``crystal_system`` indices for
    the same rows) that indexing answers hexagonal: ``n`` of them, how many are ``trigonal`` and
    ``hexagonal``, and how many each rule gets right — always hexagonal
    (``right_hexagonal``, as indexing answers) or the more probable of the two by the network's
    crystal-system probabilities (``probs["crystal_system"]``, its first ``len(records)`` rows;
    ``right_network``)."""
    trig, hexa = CRYSTAL_SYSTEMS.index("trigonal"), CRYSTAL_SYSTEMS.index("hexagonal")
    rows = np.array([i for i, rec in enumerate(records)
                     if rec.get("indexed") and rec.get("crystal_system") == "hexagonal"], int)
    truth = np.asarray(crystal_system, int)[rows]
    cs = np.asarray(probs["crystal_system"], float)[rows]
    choice = np.where(cs[:, trig] > cs[:, hexa], trig, hexa)
    n_hexagonal = int(np.sum(truth == hexa))        # always hexagonal is right on exactly these
    return {"n": int(len(rows)), "trigonal": int(np.sum(truth == trig)),
            "hexagonal": n_hexagonal, "right_hexagonal": n_hexagonal,
            "right_network": int(np.sum(choice == truth))}


def hexagonal_choice_line(where: str, per_network: Mapping[str, Mapping[str, int]]) -> str:
    """One sentence on :func:`hexagonal_lattice_choice` for the patterns ``where``, one count
    per network: the best network's choice between trigonal and hexagonal against always
    hexagonal, and whether it beats it."""
    if not per_network:
        return f"{where}: no network scored"
    name = max(per_network, key=lambda n: per_network[n]["right_network"])
    c = per_network[name]
    if not c["n"]:
        return f"{where}: indexing answers no pattern hexagonal"
    verdict = ("beats" if c["right_network"] > c["right_hexagonal"] else
               "ties with" if c["right_network"] == c["right_hexagonal"] else "loses to")
    return (f"{where}: {c['n']} answered hexagonal ({c['trigonal']} trigonal, {c['hexagonal']} "
            f"hexagonal structures); the best network's choice ({name}) is right for "
            f"{c['right_network']}, always hexagonal for {c['right_hexagonal']}: it {verdict} "
            f"indexing's answer")


def prior_probabilities(class_prior: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Probabilities with no network behind them, for :func:`indexing_first`: every one of
    ``n`` patterns gets the crystal-system frequencies ``class_prior`` (7) and even space-group
    probabilities (which :func:`indexing_first`'s space-group prior then weights)."""
    prior = np.asarray(class_prior, float)
    return {"crystal_system": np.tile(prior, (n, 1)), "space_group": np.ones((n, 230))}


def fallback_choice(with_network: dict[str, Any], no_network: dict[str, Any]) -> str:
    """Which answer "indexing first" should fall back on where no cell indexes the lines, from
    two :func:`evaluation` s of it on a measured set: ``"network"`` when the combination with
    the network scores higher on crystal system, or as high and higher on space group (a
    model without that head counts 0), else ``"prior"`` (the frequencies alone)."""
    def key(ev: dict[str, Any]) -> tuple[float, float]:
        return ev["accuracy"], ev.get("space_group_accuracy", 0.0)

    return "network" if key(with_network) > key(no_network) else "prior"


def indexing_baseline(crystal_system: np.ndarray, records: list[dict[str, Any]],
                      space_group: np.ndarray | None = None, target_accuracy: float = 0.8,
                      min_answered: int = 20) -> dict[str, Any]:
    """The classical method's numbers on a measured set: ``records`` from
    :func:`lib.xrd.indexing.index_files` for the first ``len(records)`` patterns, whose true
    crystal systems (indices into ``CRYSTAL_SYSTEMS``) are ``crystal_system[:len(records)]``.
    Files it could not read count as wrong.  Returns ``n``, ``accuracy``, ``n_indexed`` (a
    cell found), ``n_monoclinic_indexed`` (a monoclinic one: searched when no cell of
    higher symmetry indexes the lines or the best is orthorhombic), the report's ``table`` and
    ``confusion``;
    with the true ``space_group`` numbers, also ``space_group_accuracy`` (the record's
    ``space_group``: the most symmetric group the found cell's reflection conditions allow;
    a pattern left unindexed has none and counts as wrong), ``n_space_group_allowed`` (the
    true group among the solution's ``space_groups``) and the same two over the orthorhombic
    patterns answered right (``n_orthorhombic_right``, ``n_orthorhombic_space_group_allowed``).

    Accuracy against coverage with de Wolff's M as the confidence (an unindexed pattern has
    none: answered only at threshold 0): ``coverage_curve`` and ``m_threshold``, the lowest M
    at which the answered patterns reach ``target_accuracy`` with at least ``min_answered``
    of them (None when none does), with ``coverage_at_threshold`` and
    ``accuracy_at_threshold`` — what ``classify --index`` calls confident."""
    truth = np.asarray(crystal_system, int)[:len(records)]
    answer = np.array([CRYSTAL_SYSTEMS.index(r["crystal_system"]) if "crystal_system" in r
                       else -1 for r in records], int)
    shown = np.where(answer < 0, (truth + 1) % len(CRYSTAL_SYSTEMS), answer)   # always wrong
    out = {"method": "classical indexing (lib.xrd.indexing: trial cells from the first lines, "
                     "de Wolff M ≥ 10, cubic to monoclinic, then triclinic (M ≥ 20, ≥ 20 "
                     "lines), else monoclinic unindexed; no training)",
           "n": int(len(truth)), "accuracy": float(np.mean(answer == truth)) if len(truth)
           else float("nan"),
           "n_indexed": int(sum(bool(r.get("indexed")) for r in records)),
           "n_monoclinic_indexed": int(sum(
               bool(r.get("indexed")) and (r.get("solution") or {}).get("system") == "monoclinic"
               for r in records)),
           "n_unread": int(np.sum(answer < 0)),
           "table": report_table(truth, shown), "confusion": confusion(truth, shown)}
    score = np.array([float((r.get("solution") or {}).get("M", 0.0)) if r.get("indexed")
                      else 0.0 for r in records])
    curve = calibration.score_coverage(score, answer == truth)
    m_threshold, coverage, acc = calibration.threshold_on_curve(curve, len(truth),
                                                                target_accuracy, min_answered)
    out.update({"target_accuracy": target_accuracy,
                "m_threshold": None if np.isinf(m_threshold) else m_threshold,
                "coverage_at_threshold": coverage,
                "accuracy_at_threshold": None if acc != acc else acc,
                "coverage_curve": {"threshold": curve.threshold.tolist(),
                                   "coverage": curve.coverage.tolist(),
                                   "accuracy": [None if a != a else float(a)
                                                for a in curve.accuracy]}})
    if space_group is not None:
        def allowed(rec: dict[str, Any], group: int) -> bool:
            return group in ((rec.get("solution") or {}).get("space_groups") or ())

        pairs = [(r, int(g)) for r, g in zip(records, space_group)]
        out["n_space_group_right"] = int(sum(r.get("space_group") == g for r, g in pairs))
        out["space_group_accuracy"] = (out["n_space_group_right"] / len(pairs) if pairs
                                       else float("nan"))
        out["n_space_group_allowed"] = int(sum(allowed(r, g) for r, g in pairs))
        ortho = CRYSTAL_SYSTEMS.index("orthorhombic")
        right = [(r, g) for (r, g), t, ans in zip(pairs, truth, answer) if t == ans == ortho]
        out["n_orthorhombic_right"] = len(right)
        out["n_orthorhombic_space_group_allowed"] = int(sum(allowed(r, g) for r, g in right))
    return out


def baseline_rows(base: dict[str, Any]) -> list[dict[str, Any]]:
    """The baselines as rows of the accuracy table (model, n, crystal-system accuracy, space
    group accuracy)."""
    rows = [{"model": f"always {base['majority_class']} (majority class)", "n": base["n"],
             "crystal system accuracy": round(base["majority_class_accuracy"], 3),
             "space group accuracy": round(base.get("majority_space_group_accuracy",
                                                    float("nan")), 3)},
            {"model": "chance (1 of 7 at random)", "n": base["n"],
             "crystal system accuracy": round(base["chance_uniform"], 3),
             "space group accuracy": round(base.get("space_group_chance_uniform",
                                                    float("nan")), 3)},
            {"model": "chance (the set's class frequencies)", "n": base["n"],
             "crystal system accuracy": round(base["chance_prior"], 3),
             "space group accuracy": float("nan")}]
    classical = base.get("classical_indexing")
    if classical:
        rows.append({"model": "classical indexing (no training)", "n": classical["n"],
                     "crystal system accuracy": round(classical["accuracy"], 3),
                     "± s.e.": round(standard_error(classical["accuracy"], classical["n"]), 3),
                     "macro F1": round(classical["table"]["macro_avg"]["f1"], 3),
                     "space group accuracy": round(classical.get("space_group_accuracy",
                                                                 float("nan")), 3)})
    return rows


def measured_frame(evals: Mapping[str, dict[str, Any]], base: dict[str, Any]) -> "Any":
    """Every model's accuracy on a measured set beside the baselines: a pandas DataFrame with
    crystal-system accuracy ± s.e., macro F1, space-group top-1 (NaN without that head)."""
    import pandas as pd

    rows = []
    for model, ev in evals.items():
        rows.append({"model": model, "n": ev["n"],
                     "crystal system accuracy": round(ev["accuracy"], 3),
                     "± s.e.": round(standard_error(ev["accuracy"], ev["n"]), 3),
                     "macro F1": round(ev["table"]["macro_avg"]["f1"], 3),
                     "space group accuracy": round(ev.get("space_group_accuracy", np.nan), 3)})
    return pd.DataFrame(rows + baseline_rows(base))


def measured_panels(evals: Mapping[str, dict[str, Any]], name: str) -> dict[str, np.ndarray]:
    """{panel title: 7 × 7 confusion counts} of every model on the measured set ``name``."""
    return {f"{m}, {name} (measured): accuracy {ev['accuracy']:.1%}": ev["confusion"]
            for m, ev in evals.items()}


def measured_summary(evals: Mapping[str, dict[str, Any]], base: dict[str, Any],
                     data: dict[str, Any] | None = None, **facts: Any) -> dict[str, Any]:
    """The metrics block of a measured validation set: the set (``data``), the baselines, and
    per model its accuracy, space-group top-1 (when it has that head), the report's table
    (precision / recall / F1 per crystal system) and the confusion matrix; ``facts`` (e.g.
    the preprocessing) as given."""
    models = {}
    for model, ev in evals.items():
        block = without_probs(ev) or {}
        block["beats_majority_class"] = bool(ev["accuracy"] > base["majority_class_accuracy"])
        if base.get("classical_indexing"):
            block["beats_classical_indexing"] = bool(
                ev["accuracy"] > base["classical_indexing"]["accuracy"])
        models[model] = block
    return {"set": data, "baselines": base, **facts, "models": models}


def calibrate(validation_probs: np.ndarray, validation_labels: np.ndarray,
              measured_probs: np.ndarray | None = None,
              measured_labels: np.ndarray | None = None, target_accuracy: float = 0.8,
              bins: int = 15, prior: np.ndarray | None = None) -> dict[str, Any]:
    """Temperature scaling of one model's crystal-system probabilities and what it does.

    The temperature T is fitted on the synthetic validation split (:func:`calibration.
    fit_temperature` on log p: calibrated p ∝ p^(1/T)); the expected calibration error (ECE,
    ``bins`` equal-width bins) before and after on the validation split and, when given, on
    the measured set; there also the accuracy-vs-coverage curve of the calibrated
    probabilities and the confidence threshold: the lowest top probability at which the
    answered measured patterns reach ``target_accuracy`` (> 1: answer nothing when none does).
    ``prior``: crystal-system frequencies of a training-side source; when given, the measured
    probabilities are temperature-scaled and then corrected for them
    (:func:`calibration.prior_corrected`) — as ``classify`` does with a bundle that has a
    ``class_prior`` — before the ECE after, the curve and the threshold.  Returns a dict of
    plain numbers plus ``measured_calibrated`` (the calibrated probabilities) and ``coverage``
    (a :class:`calibration.Coverage`) for figures."""
    logits = calibration.logits_from_probabilities(validation_probs)
    t = calibration.fit_temperature(logits, validation_labels)
    out: dict[str, Any] = {
        "temperature": t, "n_validation": int(len(validation_labels)),
        "ece_validation_before": calibration.expected_calibration_error(
            validation_probs, validation_labels, bins),
        "ece_validation_after": calibration.expected_calibration_error(
            calibration.softmax(logits, t), validation_labels, bins), "ece_bins": bins}
    if measured_probs is not None and measured_labels is not None:
        cal = calibration.softmax(calibration.logits_from_probabilities(measured_probs), t)
        if prior is not None:
            cal = calibration.prior_corrected(cal, prior)
        threshold, coverage, acc = calibration.threshold_for_accuracy(cal, measured_labels,
                                                                       target_accuracy)
        curve = calibration.coverage_curve(cal, measured_labels)
        out.update({
            "ece_measured_before": calibration.expected_calibration_error(
                measured_probs, measured_labels, bins),
            "ece_measured_after": calibration.expected_calibration_error(
                cal, measured_labels, bins),
            "target_accuracy": target_accuracy, "confidence_threshold": threshold,
            "coverage_at_threshold": coverage,
            "accuracy_at_threshold": None if acc != acc else acc,
            "coverage_curve": {"threshold": curve.threshold.tolist(),
                               "coverage": curve.coverage.tolist(),
                               "accuracy": [None if a != a else float(a)
                                            for a in curve.accuracy]},
            "measured_calibrated": cal, "coverage": curve})
    return out


def calibration_summary(block: dict[str, Any]) -> dict[str, Any]:
    """A :func:`calibrate` result without its arrays (for the metrics JSON)."""
    return {k: v for k, v in block.items() if k not in ("measured_calibrated", "coverage")}
