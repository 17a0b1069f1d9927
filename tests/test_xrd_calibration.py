"""Temperature scaling, expected calibration error, reliability data and accuracy vs coverage
(lib.xrd.calibration) on hand-made logits."""

from __future__ import annotations

import numpy as np
import pytest

from lib.xrd import calibration as cal


def overconfident(n: int, seed: int, classes: int = 7, sharpen: float = 3.0):
    """Labels drawn from softmax(z) (a calibrated model), reported as logits sharpen · z
    (an over-confident model, its right temperature being ``sharpen``)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.2, (n, classes))
    z[np.arange(n), rng.integers(0, classes, n)] += 1.5
    p = cal.softmax(z)
    labels = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return sharpen * z, labels


def test_temperature_one_changes_nothing():
    z = np.random.default_rng(0).normal(size=(50, 5))
    p = cal.softmax(z)
    assert np.allclose(cal.softmax(z, 1.0), p)
    assert np.allclose(p.sum(axis=1), 1)
    assert np.allclose(cal.softmax(cal.logits_from_probabilities(p)), p)


def test_temperature_scaling_lowers_ece_on_held_out_data():
    z_val, y_val = overconfident(4000, seed=1)
    z_test, y_test = overconfident(4000, seed=2)
    t = cal.fit_temperature(z_val, y_val)
    assert t == pytest.approx(3.0, rel=0.1)                  # the over-confidence it undoes
    before = cal.expected_calibration_error(cal.softmax(z_test), y_test)
    after = cal.expected_calibration_error(cal.softmax(z_test, t), y_test)
    assert after < before / 3 and after < 0.03
    assert cal.nll(z_test, y_test, t) < cal.nll(z_test, y_test)
    # the accuracy does not change
    assert np.array_equal(cal.softmax(z_test, t).argmax(1), z_test.argmax(1))


def test_calibrated_model_keeps_temperature_one():
    z, y = overconfident(6000, seed=3, sharpen=1.0)
    assert cal.fit_temperature(z, y) == pytest.approx(1.0, abs=0.08)


def test_ece_and_reliability_by_hand():
    # two patterns at 0.9 (one right), two at 0.6 (both right): ECE = ½·0.4 + ½·0.4
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 1, 0, 1])
    rel = cal.reliability_diagram(p, y, bins=10)
    assert len(rel.edges) == 11 and rel.count.sum() == 4
    assert rel.count[8] == 2 and rel.count[5] == 2             # bins (0.8, 0.9], (0.5, 0.6]
    assert rel.accuracy[8] == pytest.approx(0.5) and rel.confidence[5] == pytest.approx(0.6)
    assert cal.expected_calibration_error(p, y, bins=10) == pytest.approx(0.4)
    assert np.isnan(rel.accuracy[0])


def test_coverage_curve_is_monotone_and_threshold_reaches_target():
    z, y = overconfident(3000, seed=4, sharpen=1.0)
    p = cal.softmax(z)
    curve = cal.coverage_curve(p, y)
    assert curve.coverage[0] == 1.0
    assert np.all(np.diff(curve.coverage) <= 0)
    assert curve.accuracy[0] == pytest.approx(np.mean(p.argmax(1) == y))
    # confident answers are more often right
    assert np.nanmean(curve.accuracy[-200:]) > curve.accuracy[0] + 0.2
    thr, cov, acc = cal.threshold_for_accuracy(p, y, 0.9)
    answered = p.max(1) >= thr
    assert acc >= 0.9 and cov == pytest.approx(answered.mean())
    assert np.mean(p.argmax(1)[answered] == y[answered]) == pytest.approx(acc)
    fixed = cal.coverage_curve(p, y, thresholds=np.linspace(0, 1, 11))
    assert np.all(np.diff(fixed.coverage) <= 0) and len(fixed.threshold) == 11
    thr, cov, acc = cal.threshold_for_accuracy(p, y, 1.01)     # unreachable: answer nothing
    assert thr > 1 and cov == 0 and np.isnan(acc)
    # one lucky confident answer is not a threshold: at least min_answered patterns answered
    q = np.full((50, 3), 1 / 3)
    q[0] = [0.9, 0.05, 0.05]
    labels = np.ones(50, dtype=int)
    labels[0] = 0
    thr, cov, acc = cal.threshold_for_accuracy(q, labels, 0.8, min_answered=20)
    assert thr > 1 and cov == 0 and np.isnan(acc)
    thr, cov, acc = cal.threshold_for_accuracy(q, labels, 0.8, min_answered=1)
    assert thr == pytest.approx(0.9) and cov == pytest.approx(1 / 50) and acc == 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="labels"):
        cal.nll(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="temperature"):
        cal.softmax(np.zeros((1, 2)), 0.0)


def test_any_confidence_score_gives_a_coverage_curve_and_a_threshold():
    # de Wolff's M as the score: 0 = unindexed (answered only at threshold 0)
    score = np.array([0.0, 0.0, 12.0, 15.0, 40.0, 80.0])
    correct = np.array([True, False, False, True, True, True])
    curve = cal.score_coverage(score, correct)
    assert curve.threshold.tolist() == [0.0, 12.0, 15.0, 40.0, 80.0]
    assert curve.coverage.tolist() == pytest.approx([1, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert curve.accuracy.tolist() == pytest.approx([4 / 6, 3 / 4, 1, 1, 1])
    assert cal.threshold_on_curve(curve, 6, 0.8, min_answered=2) == (15.0, 0.5, 1.0)
    threshold, coverage, acc = cal.threshold_on_curve(curve, 6, 0.8, min_answered=4)
    assert np.isinf(threshold) and coverage == 0 and acc != acc
    with pytest.raises(ValueError, match="scores for"):
        cal.score_coverage(score, correct[:3])
