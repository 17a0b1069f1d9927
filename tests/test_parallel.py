"""The Dask cluster lib.parallel starts: its workers' environment."""

from __future__ import annotations

import os

import pytest

from lib.parallel import dask_client


def _environment() -> dict[str, str | None]:
    return {key: os.environ.get(key) for key in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS",
                                                 "OPENBLAS_NUM_THREADS")}


def test_workers_keep_glibc_adaptive_mmap_threshold(monkeypatch):
    """The workers run one BLAS/OpenMP thread each, as Dask sets them, but without Dask's
    MALLOC_TRIM_THRESHOLD_ (it turns glibc's adaptive mmap threshold off, and NumPy's large
    temporaries made the indexing about 1.6× slower in a worker)."""
    pytest.importorskip("distributed")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask_client(1) as client:
        (env,) = client.run(_environment).values()
    assert env["MALLOC_TRIM_THRESHOLD_"] is None
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
