"""The report's reflection index sets and the origin shifts of P-1."""

import numpy as np

from lib.phases import reflections as refl


def test_full_and_small_sets_have_the_reports_counts():
    assert refl.index_set(4630).shape == (4630, 3)
    assert refl.index_set(709).shape == (709, 3)
    assert np.all(refl.squared_index_norm(refl.index_set(709)) < 50)


def test_friedel_reduction_keeps_exactly_one_of_each_pair():
    hkl = refl.index_set(4630)
    keys = {tuple(h) for h in hkl}
    assert len(keys) == 4630
    assert (0, 0, 0) not in keys
    for h in hkl:
        assert tuple(-h) not in keys
    assert np.abs(hkl).max() == 10


def test_report_order_small_set_is_a_prefix():
    full, small = refl.index_set(4630), refl.index_set(709)
    np.testing.assert_array_equal(full[:709], small)
    r2 = refl.squared_index_norm(full)
    assert np.all(np.diff(r2) >= 0)


def test_origin_shift_signs():
    hkl = refl.index_set(709)
    signs = refl.origin_shift_signs(hkl)
    assert signs.shape == (8, 709)
    assert np.all(signs[0] == 1)
    p = refl.origin_shift_parities()
    for i in range(8):
        expected = 1 - 2 * ((hkl @ p[i]) % 2)
        np.testing.assert_array_equal(signs[i], expected)
    # all 8 shifts are distinct on the 709 set
    assert len({tuple(s) for s in signs}) == 8
