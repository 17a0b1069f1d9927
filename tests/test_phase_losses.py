"""Sign losses and metrics against hand-computed values; origin awareness; chance levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.phases import losses as pl
from lib.phases.reflections import index_set, origin_shift_signs


@pytest.fixture(scope="module")
def hkl() -> np.ndarray:
    return index_set(709)


@pytest.fixture(scope="module")
def true_sign(hkl: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.where(rng.random((5, len(hkl))) < 0.5, 1, -1).astype(np.int8)


def test_hand_computed_weighted_cross_entropy_and_accuracy():
    sign = np.array([[1, -1, 1, -1]])
    prob = np.array([[0.9, 0.2, 0.4, 0.5]])          # P(F > 0)
    w = np.array([[1.0, 0.0, 2.0, 1.0]])
    per = [-math.log(0.9), -math.log(0.8), -math.log(0.4), -math.log(0.5)]
    assert pl.binary_cross_entropy(prob, sign)[0] == pytest.approx(np.mean(per))
    weighted = (per[0] * 1 + per[2] * 2 + per[3] * 1) / 4.0
    assert pl.binary_cross_entropy(prob, sign, w)[0] == pytest.approx(weighted)
    pred = np.array([[1, -1, -1, 1]])                  # right, right, wrong, wrong
    assert pl.sign_accuracy(pred, sign)[0] == pytest.approx(0.5)
    assert pl.sign_accuracy(pred, sign, w)[0] == pytest.approx(1 / 4)


def test_weights_follow_their_definitions():
    intensity = np.array([[1.0, 0.5, 0.0, np.nan]])
    assert np.array_equal(pl.reflection_weights(intensity, "none"), np.ones((1, 4)))
    assert np.allclose(pl.reflection_weights(intensity, "intensity"), [[1.0, 0.5, 0.0, 0.0]])
    assert np.allclose(pl.reflection_weights(intensity, "exp_intensity"),
                       [[math.e, math.exp(0.5), 1.0, 1.0]])
    with pytest.raises(ValueError, match="normalise"):
        pl.reflection_weights(np.array([[1e4, 1.0]]), "exp_intensity")
    with pytest.raises(ValueError, match="unknown weight type"):
        pl.reflection_weights(intensity, "sqrt")


def test_weights_change_the_loss(hkl, true_sign):
    rng = np.random.default_rng(1)
    prob = rng.random(true_sign.shape)
    intensity = rng.random(true_sign.shape)
    losses = {wt: pl.binary_cross_entropy(prob, true_sign,
                                          pl.reflection_weights(intensity, wt)).mean()
              for wt in pl.WEIGHT_TYPES}
    assert len({round(v, 6) for v in losses.values()}) == 3
    # A reflection of zero intensity does not count under intensity weights.
    w = pl.reflection_weights(intensity, "intensity")
    w[:, 0] = 0.0
    flipped = prob.copy()
    flipped[:, 0] = 1 - flipped[:, 0]
    assert np.allclose(pl.binary_cross_entropy(prob, true_sign, w),
                       pl.binary_cross_entropy(flipped, true_sign, w))


@pytest.mark.parametrize("shift", range(8))
def test_prediction_equal_to_the_truth_under_any_origin_shift(hkl, true_sign, shift):
    shifted = true_sign * origin_shift_signs(hkl)[shift]
    assert np.allclose(pl.origin_aware_accuracy(shifted, true_sign, hkl), 1.0)
    plain = pl.sign_accuracy(shifted, true_sign)
    assert np.allclose(plain, 1.0) if shift == 0 else np.all(plain < 0.8)
    # A confident prediction of the shifted signs: same invariant loss as of the true signs.
    prob_shifted = np.where(shifted > 0, 0.9, 0.1)
    prob_true = np.where(true_sign > 0, 0.9, 0.1)
    perfect = pl.binary_cross_entropy(prob_true, true_sign)
    assert np.allclose(perfect, -math.log(0.9))
    assert np.allclose(pl.origin_invariant_cross_entropy(prob_shifted, true_sign, hkl), perfect)
    weights = pl.reflection_weights(np.random.default_rng(2).random(true_sign.shape),
                                    "intensity")
    assert np.allclose(pl.origin_aware_accuracy(shifted, true_sign, hkl, weights), 1.0)


def test_chance_levels_best_of_8_is_above_one_half(hkl, true_sign):
    chance = pl.chance_levels(true_sign, hkl, n_trials=20, seed=0)
    assert abs(chance["accuracy"] - 0.5) < 0.01
    assert 0.51 < chance["origin_accuracy"] < 0.56
    assert chance["loss"] == pytest.approx(math.log(2))
    assert 0.0 <= chance["always_positive_accuracy"] <= 1.0


def test_keras_loss_and_metrics_equal_the_numpy_definitions(hkl, true_sign):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    logits = rng.normal(size=true_sign.shape).astype(np.float32)
    weights = pl.reflection_weights(rng.random(true_sign.shape), "exp_intensity")
    y = pl.pack_targets(true_sign, weights)
    expected = pl.evaluate_predictions(logits, true_sign, hkl, weights)
    plain = pl.make_sign_loss()
    invariant = pl.make_sign_loss(hkl, origin_invariant=True)
    assert float(plain(y, logits)) == pytest.approx(expected["loss"], rel=1e-5)
    assert float(invariant(y, logits)) == pytest.approx(expected["origin_invariant_loss"],
                                                        rel=1e-5)
    for metric in pl.keras_metrics(hkl):
        metric.update_state(y, logits)
        key = {"bce": "loss", "origin_invariant_bce": "origin_invariant_loss"}.get(
            metric.name, metric.name)
        assert float(keras.ops.convert_to_numpy(metric.result())) == pytest.approx(
            expected[key], rel=1e-5), metric.name


def test_keras_invariant_loss_of_a_shifted_prediction(hkl, true_sign):
    pytest.importorskip("keras")
    shifted = true_sign * origin_shift_signs(hkl)[5]
    logits = np.where(shifted > 0, 3.0, -3.0).astype(np.float32)
    perfect = np.where(true_sign > 0, 3.0, -3.0).astype(np.float32)
    y = pl.pack_targets(true_sign, np.ones(true_sign.shape, np.float32))
    invariant = pl.make_sign_loss(hkl, origin_invariant=True)
    assert float(invariant(y, logits)) == pytest.approx(float(invariant(y, perfect)), rel=1e-6)
    assert float(pl.make_sign_loss()(y, logits)) > float(invariant(y, logits))


# -- best constant, ceiling, subset accuracies (issue 8, findings 1–2) ---------------------------

def test_best_constant_sign_and_its_accuracy():
    train = np.array([[1, -1, -1], [-1, -1, 1]])         # 2 of 6 positive: "always −"
    assert pl.best_constant_sign(train) == -1
    assert pl.best_constant_sign(np.array([1, -1])) == 1                    # tie: +
    assert pl.constant_accuracy(-1, np.array([[1, -1, -1, -1]])) == pytest.approx(0.75)
    assert pl.constant_accuracy(1, np.array([[1, -1, -1, -1]])) == pytest.approx(0.25)
    assert math.isnan(pl.constant_accuracy(1, np.zeros((2, 0))))
    with pytest.raises(ValueError, match="no training signs"):
        pl.best_constant_sign(np.zeros((3, 0)))


def test_plain_accuracy_ceiling_formula():
    # 89 seminvariants of 709: a perfect seminvariant predictor scores 0.5628 at most
    assert pl.plain_accuracy_ceiling(1.0, 89, 709) == pytest.approx(0.5 + 89 / 1418)
    assert pl.plain_accuracy_ceiling(0.5, 89, 709) == 0.5
    assert pl.plain_accuracy_ceiling(0.6, 1, 4) == pytest.approx(0.525)
    # hand-made: 1 seminvariant right, 3 others at ½ on average → (1 + 1.5) / 4
    assert pl.plain_accuracy_ceiling(1.0, 1, 4) == pytest.approx(2.5 / 4)
    with pytest.raises(ValueError):
        pl.plain_accuracy_ceiling(0.5, 10, 5)


def test_standard_error_from_moments():
    values = np.array([0.4, 0.5, 0.7, 0.6])
    se = pl.standard_error_from_moments(values.mean(), np.mean(values**2), len(values))
    assert se == pytest.approx(values.std(ddof=1) / 2)
    assert pl.standard_error_from_moments(0.5, 0.25, 1) == 0.0


def test_evaluate_predictions_splits_seminvariants_and_the_others():
    hkl = np.array([[0, 0, 2], [1, 0, 0], [0, 1, 0], [1, 1, 1]])          # 1 seminvariant
    true = np.array([[1, 1, -1, 1], [-1, 1, 1, 1]])
    logits = np.array([[2.0, 1.0, 1.0, -1.0], [2.0, 1.0, 1.0, 1.0]])  # + + + −, + + + +
    m = pl.evaluate_predictions(logits, true, hkl)
    assert m["seminvariant_accuracy"] == pytest.approx(0.5)
    others = np.array([1 / 3, 1.0])
    assert m["non_seminvariant_accuracy"] == pytest.approx(others.mean())
    assert m["non_seminvariant_accuracy_mean_square"] == pytest.approx(np.mean(others**2))
    assert m["accuracy"] == pytest.approx(np.mean([2 / 4, 3 / 4]))
