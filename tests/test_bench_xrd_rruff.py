"""The input transforms of benchmarks/bench_xrd_rruff.py: the ln Q axis and the peak-intensity
jitter (benchmark code, so checked here rather than through a notebook)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from lib import config
from lib.xrd.patterns import CU_KA, Grid
from lib.xrd.simulate import PeakSet


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_xrd_rruff", config.ROOT / "benchmarks" / "bench_xrd_rruff.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cubic_pattern(a: float, grid: Grid) -> np.ndarray:
    """Gaussian lines (σ 0.05° 2θ, height 1) of a primitive cubic cell of edge ``a`` Å, Cu Kα."""
    n = np.array([1, 2, 3, 4, 5, 6, 8, 9])
    two_theta = np.degrees(2 * np.arcsin(CU_KA * np.sqrt(n) / (2 * a)))
    x = grid.two_theta[:, None]
    return np.exp(-0.5 * ((x - two_theta[None, :]) / 0.05) ** 2).max(axis=1)[None, :]


def test_log_q_axis_turns_a_cell_scale_into_a_shift(bench):
    grid = Grid(0.0, 90.0, 4500)
    small, large = (bench.log_q_axis(cubic_pattern(a, grid), grid)[0] for a in (4.0, 4.4))
    assert small.shape == (bench.LOG_Q_POINTS,)
    assert small.max() == pytest.approx(1.0, abs=0.02)      # the peaks' heights survive
    step = np.log(np.sin(np.radians(45.0)) / np.sin(np.radians(2.5))) / (bench.LOG_Q_POINTS - 1)
    shift = int(round(np.log(4.4 / 4.0) / step))             # Q ∝ 1/a: the larger cell lower
    peaks = lambda y: np.flatnonzero((y[1:-1] > 0.5) & (y[1:-1] >= y[:-2])  # noqa: E731
                                     & (y[1:-1] > y[2:])) + 1
    ps, pl = peaks(small), peaks(large)
    assert len(ps) == len(pl) == 8
    np.testing.assert_allclose(ps - pl, shift, atol=2)


def test_jitter_keeps_positions_and_scrambles_intensities(bench):
    peaks = PeakSet.from_lists([np.array([20.0, 30.0, 40.0])], [np.array([100.0, 50.0, 10.0])])
    assert bench.jitter_intensities(peaks, 0.0, 1) is peaks
    jittered = bench.jitter_intensities(peaks, 1.0, 1)
    np.testing.assert_array_equal(jittered.two_theta, peaks.two_theta)
    assert not np.allclose(jittered.intensity, peaks.intensity)
    assert np.all(jittered.intensity > 0)
    again = bench.jitter_intensities(peaks, 1.0, 1)
    np.testing.assert_array_equal(again.intensity, jittered.intensity)
