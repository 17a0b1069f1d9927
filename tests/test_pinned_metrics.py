"""Pinned smoke metrics: the smoke run's key numbers must reproduce the recorded ones.

The README promises that a rerun with the same profile and seed reproduces the metrics to
3 decimals.  ``tests/data/pinned_smoke_metrics.json`` holds the recorded key numbers of each
smoke notebook run; this test compares the session's runs (made by the notebook tests through
the ``run_notebook`` fixture, reused here, never executed twice) with them:

- floats: ``pytest.approx`` with ``rel=1e-3`` and ``abs=1e-4``: 3 significant digits (an
  accuracy of 0.5 to ±0.0005, i.e. 3 decimals; a mean squared error of 0.0015 to ±0.0001);
  integers, booleans and strings exactly;
- a pinned key that disappeared, or a new key that is not recorded, fails too;
- accuracies over a test split of a few items (:data:`ONE_ITEM`: notebook 06's smoke test split
  holds 14 patterns) to within one item.  Its smoke networks, trained for an epoch or two, sit at
  chance with near-tied class probabilities; the float sums of training differ between CPUs
  (oneDNN's AVX2 and AVX-512 kernels give different weights, measured) and one tie then flips one
  pattern (CI once read MobileNetV2 3/14 where 2/14 was recorded).  A real change moves more.

The notebook kernels run with TensorFlow's thread pools fixed (``conftest.KERNEL_THREADS``): the
thread count changes the float sums too.

A change that moves a result fails loudly here; when the move is intended, re-record on purpose
and commit the JSON with the change:

    ./run_tests.sh tests/test_pinned_metrics.py --record-pinned            # every notebook
    ./run_tests.sh tests/test_pinned_metrics.py --record-pinned -k 06_xrd   # one notebook

Keys that depend on timing, paths or the presence of ``../shared`` are never pinned.
"""

from __future__ import annotations

import json
import math
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import run_key
from lib import atomic

PINNED_FILE = Path(__file__).parent / "data" / "pinned_smoke_metrics.json"
ABS_TOL = 1e-4
REL_TOL = 1e-3

#: Per smoke run: (notebook, parameters, notebooks whose data it reads, key patterns).  Keys are
#: dotted paths in the metrics JSON (list items by index); patterns use fnmatch (``*`` spans
#: dots).  Only numbers that the seeds determine: accuracies, spreads, errors, counts.
PINNED_RUNS: list[tuple[str, dict[str, Any], tuple[str, ...], tuple[str, ...]]] = [
    ("00_data", {}, (), (
        "calculated.n_structures", "experimental.n_structures", "experimental.n_files",
        "n_reflections", "sign_balance.*", "checks.*", "verdict",
    )),
    # real data (../shared) would change every number: the simulated run is the pinned one
    ("01_normalisation", {"experimental_dir": ""}, (), (
        "ratio_spread.*", "best_structure_free_method", "n_files", "n_reflections_compared",
        "verdict",
    )),
    ("02_experimental_vs_calculated", {}, ("00_data",), (
        "runs.*.metrics.test.accuracy", "runs.*.metrics.test.origin_accuracy",
        "runs.*.metrics.test.loss", "runs.*.epochs_run", "runs.*.n_parameters",
        "findings.*.accuracy", "findings.*.baseline", "verdicts.*",
        "ceiling.*.ceiling", "ceiling.*.subsets.*.accuracy", "baselines.*.test",
    )),
    ("03_weight_types", {}, ("00_data",), (
        "runs.*.metrics.test.accuracy", "runs.*.metrics.test.loss",
        "table.*.test_intensity_weighted_acc", "verdicts.*", "ceiling.*.ceiling",
        "table_origin_invariant.*.test_intensity_weighted_origin_acc",
    )),
    ("04_layer_sizes", {}, ("00_data",), (
        "runs.*.metrics.test.accuracy", "runs.*.metrics.test.loss", "best_width", "verdicts.*",
        "ceiling.*.ceiling", "best_width_origin_invariant",
    )),
    ("05_autoencoders", {}, ("00_data",), (
        "table.*.ae_test_mse", "table.*.pca_test_mse", "table.*.pca_components",
        "saturation_width", "pca_saturation_width", "mean_intensity_reference_mse",
        "relative_error_low_r_tenth", "relative_error_high_r_tenth", "verdicts.*",
    )),
    # the generated structures' rows come first in the table (COD rows, from ../shared, after)
    ("07_phasing_baselines", {}, (), (
        "baseline_table.[0-3].solved", "baseline_table.[0-3].accuracy",
        "baseline_table.[0-3].accuracy_strongest", "baseline_table.[0-3].chance",
        "baseline_table.[0-3].map_correlation*", "baseline_table.[0-3].n_structures",
        "triplets.*.strongest.*",
    )),
    # generated rows first (COD rows, from ../shared, after them): rows 0-15 are the generated
    # classical, seeded and model rows of the smoke run
    ("08_phasing_models", {}, ("07_phasing_baselines",), tuple(
        f"model_table.{rows}.{column}" for rows in ("[0-9]", "1[0-5]")
        for column in ("solved", "accuracy", "accuracy_strongest", "chance",
                       "chance_strongest", "map_correlation", "n_structures")
    ) + ("verdicts.*", "origin_handling.*", "best_model")),
    # the MP-20 test set comes from ../shared: only the synthetic numbers are pinned
    ("06_xrd_classification", {}, (), (
        "synthetic.n_structures", "synthetic.n_failed", "synthetic.per_crystal_system.*",
        "split.*", "table.*.test.accuracy", "models.*.test.accuracy",
        "models.*.test.space_group_accuracy", "models.*.n_parameters",
    )),
]

#: Per smoke run: (key patterns of accuracies over its test split, key of the split's size).
#: These are compared to within one test item (see the module docstring).
ONE_ITEM: dict[str, tuple[tuple[str, ...], str]] = {
    "06_xrd_classification": (("*.test.accuracy", "*.test.space_group_accuracy"), "split.test"),
}

#: Never pinned, whatever the patterns say: timing, places, dates, ../shared.
NEVER = ("_run.*", "*seconds*", "*_s", "*.time*", "*minutes*", "*hour*", "*path*", "*dir*",
         "*reused*", "*written*", "mp.*", "*.MP.*", "*mp_*")


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of a metrics JSON as (dotted path, number/bool/string); list items by index."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}{index}.")
    elif isinstance(value, (int, float, str, bool)) or value is None:
        yield prefix[:-1], value


def pinned_values(metrics: dict[str, Any], patterns: tuple[str, ...]) -> dict[str, Any]:
    """The key numbers of one run: leaves matching ``patterns`` and none of :data:`NEVER`."""
    return {path: value for path, value in flatten(metrics)
            if any(fnmatchcase(path, p) for p in patterns)
            and not any(fnmatchcase(path, n) for n in NEVER)}


def same_value(recorded: Any, measured: Any) -> bool:
    """Equal to 3 decimals for floats (see the module docstring); exactly otherwise."""
    if isinstance(recorded, float) or isinstance(measured, float):
        if isinstance(recorded, bool) or isinstance(measured, bool):
            return recorded == measured
        if not isinstance(recorded, (int, float)) or not isinstance(measured, (int, float)):
            return False
        if math.isnan(recorded):
            return math.isnan(measured)
        return measured == pytest.approx(recorded, abs=ABS_TOL, rel=REL_TOL)
    return recorded == measured and type(recorded) is type(measured)


def within_one_item(recorded: Any, measured: Any, n_items: int) -> bool:
    """An accuracy over ``n_items`` test items, equal to within one item (a fraction 1/n)."""
    if isinstance(recorded, bool) or isinstance(measured, bool) or not n_items:
        return same_value(recorded, measured)
    if not isinstance(recorded, (int, float)) or not isinstance(measured, (int, float)):
        return False
    return abs(measured - recorded) <= 1.0 / n_items + ABS_TOL


def differences(recorded: dict[str, Any], measured: dict[str, Any],
                one_item: tuple[tuple[str, ...], str] | None = None) -> list[str]:
    """Readable lines for each key that moved, disappeared or is new.  ``one_item``: (patterns,
    size key) of the accuracies compared to within one test item (:data:`ONE_ITEM`); the size is
    the recorded one."""
    lines = []
    patterns, size_key = one_item if one_item else ((), "")
    n_items = recorded.get(size_key, 0) if one_item else 0
    for key in sorted(set(recorded) | set(measured)):
        coarse = any(fnmatchcase(key, p) for p in patterns)
        if key not in measured:
            lines.append(f"  {key}: recorded {recorded[key]!r}, no longer in the metrics")
        elif key not in recorded:
            lines.append(f"  {key}: {measured[key]!r} is new (not recorded)")
        elif coarse and not within_one_item(recorded[key], measured[key], n_items):
            lines.append(f"  {key}: recorded {recorded[key]!r}, now {measured[key]!r} "
                         f"(more than one of {n_items} test items)")
        elif not coarse and not same_value(recorded[key], measured[key]):
            lines.append(f"  {key}: recorded {recorded[key]!r}, now {measured[key]!r}")
    return lines


def read_pinned() -> dict[str, Any]:
    """The recorded file, or an empty record when there is none yet."""
    if not PINNED_FILE.exists():
        return {}
    return json.loads(PINNED_FILE.read_text(encoding="utf-8"))


def record(key: str, values: dict[str, Any]) -> None:
    """Store one run's key numbers (the other runs' entries are kept), atomically."""
    data = read_pinned()
    data["_about"] = ("Key numbers of the smoke profile's notebook runs, checked by "
                      "tests/test_pinned_metrics.py to 3 decimals. Re-record on purpose: "
                      "./run_tests.sh tests/test_pinned_metrics.py --record-pinned")
    runs = data.setdefault("runs", {})
    runs[key] = dict(sorted(values.items()))
    data["runs"] = dict(sorted(runs.items()))
    atomic.write_json(PINNED_FILE, data)


@pytest.mark.notebook
@pytest.mark.parametrize("name, parameters, needs, patterns", PINNED_RUNS,
                         ids=[run_key(n, p) for n, p, _, _ in PINNED_RUNS])
def test_smoke_metrics_match_the_pinned_values(name, parameters, needs, patterns, smoke_metrics,
                                               request):
    for earlier in needs:  # the data sets this notebook reads (run once per session)
        smoke_metrics(earlier)
    key = run_key(name, parameters)
    measured = pinned_values(smoke_metrics(name, **parameters), patterns)
    assert measured, f"{key}: no metric matches the pinned patterns {patterns}"
    if request.config.getoption("--record-pinned"):
        record(key, measured)
        return
    recorded = read_pinned().get("runs", {}).get(key)
    assert recorded is not None, (
        f"{key} has no pinned values in {PINNED_FILE.name}: record them with "
        "./run_tests.sh tests/test_pinned_metrics.py --record-pinned")
    moved = differences(recorded, measured, ONE_ITEM.get(key))
    assert not moved, (
        f"{key}: the smoke run's key numbers moved ({len(moved)} of {len(recorded)}):\n"
        + "\n".join(moved)
        + "\nIf the change is intended, re-record on purpose: ./run_tests.sh "
          f"tests/test_pinned_metrics.py --record-pinned -k '{name}' and commit the JSON.")


def test_comparison_rules():
    assert same_value(0.5123, 0.5127) and not same_value(0.512, 0.514)
    assert same_value(0.00148, 0.00152) and not same_value(0.00148, 0.00162)
    assert same_value(1234.5, 1235.5) and not same_value(1234.5, 1237.0)
    assert not same_value(4630, 4631) and not same_value(True, 1) and same_value("ok", "ok")
    assert differences({"a": 1, "b": 0.5}, {"b": 0.6, "c": 2}) == [
        "  a: recorded 1, no longer in the metrics",
        "  b: recorded 0.5, now 0.6",
        "  c: 2 is new (not recorded)"]
    # accuracies over 14 test items: one item (1/14) is tolerated, two are not; others exact
    one_item = (("*.accuracy",), "split.test")
    recorded = {"split.test": 14, "m.accuracy": 2 / 14, "m.loss": 1.0}
    assert differences(recorded, {"split.test": 14, "m.accuracy": 3 / 14, "m.loss": 1.0},
                       one_item) == []
    assert differences(recorded, {"split.test": 14, "m.accuracy": 4 / 14, "m.loss": 1.0},
                       one_item) == [f"  m.accuracy: recorded {2 / 14!r}, now {4 / 14!r} "
                                     "(more than one of 14 test items)"]
    assert differences(recorded, {"split.test": 15, "m.accuracy": 2 / 14, "m.loss": 1.0},
                       one_item) == ["  split.test: recorded 14, now 15"]
    assert set(ONE_ITEM) <= {run_key(n, p) for n, p, _, _ in PINNED_RUNS}
    metrics = {"runs": {"x": {"metrics": {"test": {"accuracy": 0.5}}, "seconds": 3.0}},
               "mp": {"n": 3}, "_run": {"seed": 1}}
    assert pinned_values(metrics, ("runs.*", "mp.*", "_run.*")) == {
        "runs.x.metrics.test.accuracy": 0.5}
