"""Shared fixtures: a private runs folder, the smoke-profile notebook runner, shared data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

from lib import config
from lib.metrics import read_metrics


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private ``PHASES_RUNS_DIR`` for the whole test session (kernels inherit it)."""
    root = tmp_path_factory.mktemp("runs")
    old = os.environ.get("PHASES_RUNS_DIR")
    os.environ["PHASES_RUNS_DIR"] = str(root)
    yield root
    if old is None:
        os.environ.pop("PHASES_RUNS_DIR", None)
    else:
        os.environ["PHASES_RUNS_DIR"] = old


@pytest.fixture(scope="session")
def run_notebook(runs_root: Path) -> Callable[..., dict[str, Any]]:
    """Execute ``notebooks/<name>.py`` with the smoke profile; return its metrics JSON.

    Keyword arguments are papermill parameters.  A failing cell fails the test with the
    notebook's error.
    """
    from lib.runner import execute_notebook

    def _run(name: str, **parameters: Any) -> dict[str, Any]:
        source = config.NOTEBOOKS_DIR / f"{name}.py"
        execute_notebook(source, "smoke", parameters)
        return read_metrics(config.metrics_dir("smoke") / f"{name}.json")

    return _run


@pytest.fixture(scope="session")
def smoke_data(run_notebook: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Run ``00_data`` once (smoke profile) for every test that needs its data sets."""
    return run_notebook("00_data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the team's real data); the test is skipped when it is absent."""
    path = config.shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent")
    return path
