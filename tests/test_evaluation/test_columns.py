"""Array kernels (columns.py): the ordering the evaluator ranks by, against np.lexsort."""
import numpy as np

from mmdet_lvis_fed.evaluation.columns import sort_by


def test_sort_by_equals_lexsort():
    # primary ascending, then descending by score, ties in input order; small primaries (the
    # radix sort), large and negative ones, many equal scores, -0.0 beside 0.0, long runs
    rng = np.random.default_rng(0)
    for trial in range(40):
        n = int(rng.integers(0, 3000))
        primary = rng.integers(0, [3, 50, 40000, 10 ** 12][trial % 4], n)
        if trial % 5 == 0:
            primary = -primary
        score = rng.integers(0, 5, n) / 4.0 * rng.choice([1, -1], n)
        score[rng.random(n) < 0.1] = -0.0
        expect = np.lexsort((np.arange(n), -score, primary))
        assert np.array_equal(sort_by(primary, score), expect), trial
