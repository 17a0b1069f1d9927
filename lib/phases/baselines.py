"""The classical phasing baseline of report 1: a resolution sweep and the triplet statistics.

Every sign model of the study is judged against what classical direct methods achieve from the
same |E| (:mod:`lib.phases.classical`).  This module runs those methods over sets of known P-1
structures and turns the per-structure scores into the study's baseline table.

Test structures
---------------
:func:`generated_test_structures` draws structures with the generator of ``00_data``
(:func:`lib.phases.structures.generate_structure`, same parameters) from their own random
stream :data:`STREAM_PHASING_TEST`: structure i is seeded by ``SeedSequence(seed,
spawn_key=(8, i))``, which no data set of the study uses (``00_data``: streams 0 and 1;
the streaming trainer: the batched generator's keys ``(0xE9, stream, i)``), so no structure
phased here was ever a training, validation or test row of a sign model.

Resolution sweep
----------------
:func:`resolution_sweep` phases every structure at every resolution d_min (Å) with every
method (:func:`lib.phases.classical.phase_known_structure`: |E| of all unique reflections with
d ≥ d_min, the signs found, then map correlation at the best of the 8 origins, solved = map
correlation ≥ 0.5, share of atoms with a peak within 0.5 Å, |E|-weighted origin-aware sign
accuracy on all and on the strongest 20 % of the reflections, each with its chance level
measured with random signs).  One row per structure × method × d_min; a structure that fails
is kept as a row with its ``error`` and counted in the summary, the batch goes on.  The work
runs in chunks on :func:`lib.parallel.map_chunks` (Dask processes when ``n_workers`` > 1).

:func:`summarise_sweep` gives one row per source × method × d_min: the fraction solved with
its binomial standard error √(p(1 − p)/n), and the mean of every score with its standard
error over structures.  :func:`baseline_records` writes that table as JSON records (the
``baseline_table`` of notebook 07's metrics, which later notebooks extend with their models).

Triplet statistics
------------------
:func:`triplet_statistics` measures on known structures how often the sign product
s(h) s(k) s(h+k) of a triplet of strong reflections is +1, against Cochran's prediction
(A = 2 σ₃ σ₂^(−3/2) |E_h E_k E_{h+k}|): the information that direct methods
use, computed from the intensities (|E|) and the composition alone.  In a centrosymmetric
structure P(+) = ½ + ½ tanh(σ₃ σ₂^(−3/2) |E_h E_k E_h+k|) = ½ + ½ tanh(A/2) (Cochran &
Woolfson 1955), as :class:`lib.phases.classical.CochranCheck` predicts; ½ + ½ tanh A, the
non-centrosymmetric form, is
shown beside it: it over-predicts (all triplets among the 150 strongest |E| of 30 generated
structures at 1.5 Å: 0.734 observed, 0.719 by tanh(A/2), 0.833 by tanh A).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import parallel
from .classical import METHODS, CochranCheck, phase_known_structure, sigma_ratio, strongest_triplets
from .evalues import e_values
from .structure_factors import calculate
from .structures import GeneratorParameters, generate_structure, generated_source_id

#: Random stream of the generated test structures of the phasing baseline (see module doc).
STREAM_PHASING_TEST: int = 8
#: Metrics of :func:`lib.phases.classical.phase_known_structure` averaged in the summary.
SCORES: tuple[str, ...] = ("map_correlation", "atoms_found", "accuracy", "chance",
                           "accuracy_strongest", "chance_strongest")
#: Columns of the baseline table (one row per source × method × d_min).
TABLE_COLUMNS: tuple[str, ...] = (
    "source", "method", "d_min", "n_structures", "n_failed", "n_reflections", "solved",
    "solved_se", "converged", "map_correlation", "map_correlation_se", "atoms_found",
    "accuracy", "accuracy_se", "chance", "accuracy_strongest", "accuracy_strongest_se",
    "chance_strongest", "seconds")
#: Default bin edges of Cochran's A for the triplet calibration.
A_EDGES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, math.inf)


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def parse_resolutions(text: str | Sequence[float], name: str = "d_mins") -> list[float]:
    """Resolutions d_min (Å) from ``"0.8,1.0,1.5"``, sorted; each must be a positive number."""
    items = list(text) if isinstance(text, (list, tuple)) else \
        [t for t in str(text).replace(" ", "").split(",") if t]
    try:
        values = sorted(float(v) for v in items)
    except ValueError:
        raise ValueError(f"{name} must be comma-separated resolutions in Å, got {text!r}") from None
    if not values or any(not v > 0 for v in values):
        raise ValueError(f"{name} must be a non-empty list of positive resolutions (Å), "
                         f"got {text!r}")
    return values


def parse_methods(text: str | Sequence[str]) -> list[str]:
    """Classical phasing methods by name (``"charge_flipping,sigma2"``); unknown names raise."""
    items = list(text) if isinstance(text, (list, tuple)) else \
        [t for t in str(text).replace(" ", "").split(",") if t]
    unknown = [m for m in items if m not in METHODS]
    if not items or unknown:
        raise ValueError(f"methods must name some of {', '.join(METHODS)}; got {text!r}")
    return items


# ---------------------------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------------------------


def generated_test_structures(generator: GeneratorParameters, seed: int, n: int,
                              stream: int = STREAM_PHASING_TEST) -> list[tuple[str, Any]]:
    """``n`` generated P-1 structures (source id, cctbx ``xs``) of the phasing stream."""
    return [(generated_source_id(seed, i, stream), generate_structure(generator, seed, i, stream))
            for i in range(int(n))]


# ---------------------------------------------------------------------------------------------
# Resolution sweep
# ---------------------------------------------------------------------------------------------


def phase_jobs(jobs: Sequence[tuple]) -> list[dict[str, Any]]:
    """Task: phase and score each job (source, source id, ``xs``, d_min in Å, method, seed
    [, label, options]); ``options`` go to :func:`lib.phases.classical.phase_known_structure`
    (e.g. ``seeds``) and ``label`` names the row's method (default: the method); a failure
    becomes a row with its ``error`` (the batch goes on)."""
    rows = []
    for source, source_id, xs, d_min, method, seed, *rest in jobs:
        label, options = (rest[0], rest[1]) if rest else (method, {})
        started = time.perf_counter()
        base = {"source": source, "structure": source_id, "method": label,
                "d_min": float(d_min)}
        try:
            row = phase_known_structure(xs, d_min, method, seed=seed, **options)
            rows.append({**base, **row, "method": label, "error": ""})
        except Exception as error:  # noqa: BLE001 - a bad structure must not stop the batch
            rows.append({**base, "seconds": time.perf_counter() - started,
                         "error": f"{type(error).__name__}: {error}"})
    return rows


def resolution_sweep(structures: Mapping[str, Sequence[tuple[str, Any]]], d_mins: Sequence[float],
                     methods: Sequence[str], n_per_method: Mapping[str, int] | None = None,
                     seed: int = 0, n_workers: int = 1, chunk_size: int = 8,
                     progress: bool = False) -> pd.DataFrame:
    """Phase every structure at every d_min (Å) with every method; one row per structure ×
    method × d_min (the columns of :func:`lib.phases.classical.phase_known_structure` plus
    ``source``, ``structure`` and ``error``).

    ``structures``: {source name: [(source id, cctbx xs), ...]}; ``n_per_method`` limits a
    method to the first n structures of each source (e.g. Σ2, slower, on fewer).  Structure i
    is phased with random starts seeded by ``seed + i``.  Jobs are grouped in chunks of
    ``chunk_size`` and run on ``n_workers`` processes (:func:`lib.parallel.map_chunks`).
    """
    jobs = []
    for source, items in structures.items():
        for method in methods:
            if method not in METHODS:
                raise ValueError(f"unknown phasing method {method!r}: choose one of "
                                 f"{', '.join(METHODS)}")
            limit = len(items) if n_per_method is None else int(n_per_method.get(method,
                                                                                 len(items)))
            for i, (source_id, xs) in enumerate(items[:limit]):
                for d_min in d_mins:
                    jobs.append((source, source_id, xs, float(d_min), method, int(seed) + i))
    return run_phasing_jobs(jobs, n_workers, chunk_size, progress)


def run_phasing_jobs(jobs: Sequence[tuple], n_workers: int = 1, chunk_size: int = 8,
                     progress: bool = False) -> pd.DataFrame:
    """Run :func:`phase_jobs` jobs in chunks of about ``chunk_size`` on ``n_workers``
    processes (:func:`lib.parallel.map_chunks`; slow jobs — Σ2, high resolution — spread
    first) and return their rows sorted by source, method, d_min and structure."""
    jobs = sorted(jobs, key=lambda j: (j[4] != "sigma2", j[3]))
    chunks = [jobs[i::max(1, math.ceil(len(jobs) / chunk_size))]
              for i in range(max(1, math.ceil(len(jobs) / chunk_size)))] if jobs else []
    results = parallel.map_chunks(phase_jobs, [c for c in chunks if c], n_workers=n_workers,
                                  desc="phasing", unit="job", progress=progress)
    rows = [row for chunk in results for row in chunk]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(["source", "method", "d_min", "structure"],
                             kind="stable").reset_index(drop=True)


def _se(values: pd.Series) -> float:
    v = values.dropna().astype(float)
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


def binomial_se(p: float, n: int) -> float:
    """Standard error √(p(1 − p)/n) of a fraction p measured on n structures (NaN for n = 0)."""
    return float(math.sqrt(p * (1 - p) / n)) if n > 0 else float("nan")


def summarise_sweep(rows: pd.DataFrame, method_order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per source × method × d_min (columns :data:`TABLE_COLUMNS`): structures phased
    and failed, median reflections, fraction solved ± binomial SE, fraction converged, mean
    map correlation, atoms found, |E|-weighted origin-aware accuracy (all and strongest 20 %)
    ± SE over structures next to their chance levels, mean seconds per structure.  Rows are
    sorted by source (generated structures first, then the real ones by name), method (in
    ``method_order``, default :data:`lib.phases.classical.METHODS`; others after, in order of
    appearance) and d_min."""
    out = []
    for (source, method, d_min), group in rows.groupby(["source", "method", "d_min"], sort=False):
        ok = group[group["error"] == ""] if "error" in group else group
        n = int(len(ok))
        solved = float(ok["solved"].astype(float).mean()) if n else float("nan")
        record = {"source": source, "method": method, "d_min": float(d_min),
                  "n_structures": n, "n_failed": int(len(group) - n),
                  "n_reflections": float(ok["n_reflections"].median()) if n else float("nan"),
                  "solved": solved, "solved_se": binomial_se(solved, n) if n else float("nan"),
                  "converged": float(ok["converged"].astype(float).mean()) if n else float("nan"),
                  "seconds": float(group["seconds"].mean())}
        for score in SCORES:
            record[score] = float(ok[score].mean()) if n else float("nan")
        for score in ("map_correlation", "accuracy", "accuracy_strongest"):
            record[f"{score}_se"] = _se(ok[score]) if n else float("nan")
        out.append(record)
    table = pd.DataFrame(out, columns=list(TABLE_COLUMNS))
    names = list(method_order or METHODS)
    names += [m for m in dict.fromkeys(table["method"]) if m not in names]
    order = {m: i for i, m in enumerate(names)}
    def key(column: pd.Series) -> pd.Series:
        if column.name == "method":
            return column.map(order)
        if column.name == "source":
            return column.map(lambda source: ("0" if source == "generated" else "1") + source)
        return column

    return table.sort_values(["source", "method", "d_min"], key=key,
                             kind="stable").reset_index(drop=True)


def failures(rows: pd.DataFrame) -> list[str]:
    """``"source id (method, d_min Å): error"`` for every job of the sweep that failed."""
    if rows.empty or "error" not in rows:
        return []
    bad = rows[rows["error"] != ""]
    return [f"{r.structure} ({r.method}, {r.d_min:g} Å): {r.error}" for r in bad.itertuples()]


def baseline_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The baseline table as JSON-ready records (NaN → None), one per row."""
    records = []
    for row in table.to_dict(orient="records"):
        records.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                            (v.item() if hasattr(v, "item") else v)) for k, v in row.items()})
    return records


# ---------------------------------------------------------------------------------------------
# Triplet statistics (Cochran)
# ---------------------------------------------------------------------------------------------


def centric_triplet_probability(a: np.ndarray) -> np.ndarray:
    """P(s(h) s(k) s(h+k) = +1) of a triplet in a centrosymmetric structure (Cochran &
    Woolfson 1955): ½ + ½ tanh(σ₃ σ₂^(−3/2) |E_h E_k E_h+k|) = ½ + ½ tanh(A/2), with
    ``a`` = Cochran's A = 2 σ₃ σ₂^(−3/2) |E_h E_k E_h+k| (the concentration of the phase
    sum's distribution in the non-centrosymmetric case, as
    :func:`lib.phases.classical.strongest_triplets` returns it)."""
    return 0.5 + 0.5 * np.tanh(np.asarray(a, dtype=np.float64) / 2)


@dataclass
class TripletStatistics:
    """Triplets of strong reflections of known structures at one resolution ``d_min`` (Å):
    ``strongest`` = the ``n_triplets`` triplets of largest A per structure (pooled),
    ``all_strong`` = every triplet among the ``n_strong`` strongest reflections (pooled; the
    calibration over A), and the number of structures.

    Predicted P(+) is the centrosymmetric formula :func:`centric_triplet_probability`
    (½ + ½ tanh(A/2)); ``tanh_a`` columns give ½ + ½ tanh A, the non-centrosymmetric form, for
    comparison."""

    d_min: float
    strongest: CochranCheck
    all_strong: CochranCheck
    n_structures: int

    @staticmethod
    def _summary(check: CochranCheck) -> dict[str, Any]:
        n = int(len(check.a))
        return {"n": n, "observed": check.observed if n else float("nan"),
                "predicted": float(np.mean(centric_triplet_probability(check.a))) if n
                else float("nan"),
                "predicted_tanh_a": check.predicted_tanh_a if n else float("nan")}

    def calibration(self, edges: Sequence[float] = A_EDGES) -> pd.DataFrame:
        """Observed P(+) against the predicted one per bin of A (every triplet among the
        strong reflections): mean A, count, observed, its binomial SE, predicted
        (½ + ½ tanh(A/2), centrosymmetric) and ½ + ½ tanh A."""
        a, positive = self.all_strong.a, self.all_strong.product > 0
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (a >= lo) & (a < hi)
            n = int(sel.sum())
            if n:
                p = float(positive[sel].mean())
                rows.append((float(a[sel].mean()), n, p, binomial_se(p, n),
                             float(centric_triplet_probability(a[sel]).mean()),
                             float(np.mean(0.5 + 0.5 * np.tanh(a[sel])))))
        return pd.DataFrame(rows, columns=["a_mean", "count", "observed", "observed_se",
                                           "predicted", "predicted_tanh_a"])

    def record(self) -> dict[str, Any]:
        """JSON-ready summary: P(+) observed and predicted for the strongest triplets and for
        all strong triplets, with counts and the calibration table."""
        return {"d_min": self.d_min, "n_structures": self.n_structures,
                "strongest": self._summary(self.strongest),
                "all_strong": self._summary(self.all_strong),
                "calibration": baseline_records(self.calibration())}


def triplet_statistics(structures: Sequence[tuple[str, Any]], d_min: float,
                       n_triplets: int = 50, n_strong: int = 150) -> TripletStatistics:
    """Sign products of the triplets of strong reflections of known P-1 structures at
    resolution ``d_min`` (Å): |E| of every unique reflection with d ≥ d_min (as the sweep),
    true signs from F, Cochran's A with the structure's σ₃ σ₂^(−3/2).  Per structure the
    ``n_triplets`` triplets of largest A and every triplet among the ``n_strong`` strongest."""
    from cctbx import miller

    top_a, top_p, all_a, all_p = [], [], [], []
    for _, xs in structures:
        ms = miller.build_set(crystal_symmetry=xs, anomalous_flag=False, d_min=float(d_min))
        hkl = np.array(ms.indices(), dtype=np.int32).reshape(-1, 3)
        sf = calculate(xs, hkl)
        e = e_values(sf.amplitude, hkl, xs.unit_cell().parameters())
        ratio = sigma_ratio(xs)
        a, p = strongest_triplets(e, sf.sign, hkl, ratio, n_triplets, n_strong)
        top_a.append(a)
        top_p.append(p)
        a, p = strongest_triplets(e, sf.sign, hkl, ratio, n_strong ** 3, n_strong)
        all_a.append(a)
        all_p.append(p)
    join = np.concatenate
    return TripletStatistics(
        d_min=float(d_min), n_structures=len(structures),
        strongest=CochranCheck(a=join(top_a) if top_a else np.empty(0),
                               product=join(top_p) if top_p else np.empty(0)),
        all_strong=CochranCheck(a=join(all_a) if all_a else np.empty(0),
                                product=join(all_p) if all_p else np.empty(0)))


# ---------------------------------------------------------------------------------------------
# What the sweep shows
# ---------------------------------------------------------------------------------------------


def solved_range(table: pd.DataFrame, method: str, source: str = "generated",
                 threshold: float = 0.5) -> tuple[list[float], list[float]]:
    """Resolutions (Å) at which ``method`` solves at least / less than ``threshold`` of the
    structures of ``source``: (solved, failed)."""
    rows = table[(table["method"] == method) & (table["source"] == source)]
    ok = [float(r.d_min) for r in rows.itertuples() if r.solved >= threshold]
    bad = [float(r.d_min) for r in rows.itertuples() if not r.solved >= threshold]
    return ok, bad


def baseline_verdict(table: pd.DataFrame, triplets: Sequence[TripletStatistics],
                     source: str = "generated") -> str:
    """Markdown: per method the fraction solved at each d_min, the resolutions where it fails
    (the range left to machine learning), and the triplet check (observed vs Cochran)."""
    lines = []
    for method in [m for m in METHODS if m in set(table["method"])]:
        rows = table[(table["method"] == method) & (table["source"] == source)]
        if rows.empty:
            continue
        cells = ", ".join(f"{r.d_min:g} Å: {r.solved:.2f} ± {r.solved_se:.2f} "
                          f"(n = {r.n_structures})" for r in rows.itertuples())
        ok, bad = solved_range(table, method, source)
        tail = "; ".join(part for part in (
            f"at least half solved at d_min = {', '.join(f'{d:g}' for d in ok)} Å" if ok else "",
            f"fewer than half at {', '.join(f'{d:g}' for d in bad)} Å" if bad else "") if part)
        lines.append(f"- **{method}** on the {source} structures, fraction solved (map "
                     f"correlation ≥ 0.5) — {cells}: {tail}.")
    for t in triplets:
        top, every = t.record()["strongest"], t.record()["all_strong"]
        if top["n"]:
            lines.append(
                f"- **triplets** at d_min = {t.d_min:g} Å ({t.n_structures} structures): the "
                f"strongest triplets ({top['n']} in all) have s(h)s(k)s(h+k) = +1 in "
                f"{100 * top['observed']:.1f} % of cases (centrosymmetric Cochran–Woolfson "
                f"formula: {100 * top['predicted']:.1f} %); all {every['n']} triplets among the "
                f"strongest reflections: {100 * every['observed']:.1f} % (predicted "
                f"{100 * every['predicted']:.1f} %, chance 50 %).")
    return "\n".join(lines)
