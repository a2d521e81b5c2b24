"""Repeat factors and one epoch's copies (datasets/repeat_factors.py), worked by hand."""
import math

import numpy as np
import pytest

from mmdet_lvis_fed.datasets.repeat_factors import draw_copies, repeat_factors


def test_factors_by_hand():
    # 5 images; labels counted over them: f(0) = 3/5, f(1) = 1/5, f(2) = 1/5. t = 0.8:
    # r(0) = max(1, sqrt(0.8 / 0.6)) = 1.1547, r(1) = r(2) = sqrt(4) = 2; an image takes its
    # largest, an image without labels 1.
    labels = [[0], [0, 1], [2, 2], [], [0]]
    got = repeat_factors(labels, 0.8)
    assert got.tolist() == pytest.approx([math.sqrt(0.8 / 0.6), 2, 2, 1, math.sqrt(0.8 / 0.6)])
    # frequencies given (LVIS's own, from the file): f = 0.5, 0.02, 0.0008 at t = 0.001
    got = repeat_factors(labels, 0.001, cat_freq=[0.5, 0.02, 0.0008])
    assert got.tolist() == pytest.approx([1, 1, math.sqrt(1.25), 1, 1])
    # a class of K nobody has is never used (f = 0 would be an infinite factor)
    # (f(0) = 1/2 at t = 1: sqrt(2))
    assert repeat_factors([[0], []], 1.0, num_classes=3).tolist() == [math.sqrt(2), 1.0]


@pytest.mark.parametrize('thr', [0, -1e-3, float('nan'), float('inf'), True, '1e-3'])
def test_thresholds_that_are_not_finite_and_positive_are_refused(thr):
    with pytest.raises(ValueError, match='repeat_thr must be a finite number > 0'):
        repeat_factors([[0]], thr)


def test_copies_are_floor_plus_a_coin_of_the_fraction():
    factors = np.array([1.0, 2.0, 1.25, 3.5])

    class Fixed:                                  # a generator that draws these uniforms
        def random(self, n):
            return np.array([0.99, 0.0, 0.2, 0.6])[:n]
    # 1 + (0.99 < 0) = 1; 2 + (0.0 < 0) = 2; 1 + (0.2 < 0.25) = 2; 3 + (0.6 < 0.5) = 3
    assert draw_copies(factors, Fixed()).tolist() == [1, 2, 2, 3]
    many = np.array([draw_copies(factors, np.random.default_rng(s)) for s in range(4000)])
    assert many.mean(axis=0) == pytest.approx(factors, abs=0.03)
