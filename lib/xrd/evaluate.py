"""The report's table (precision, recall, F1 per crystal system, and accuracy) and confusion
matrices, from true labels and predicted probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

from .patterns import CRYSTAL_SYSTEMS


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
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
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
