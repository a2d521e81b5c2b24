"""AP-pool against the large-vocab-devil rules transcribed on lvis-api 0.5.3 (testing/reference.py), and
a hand-computed pool."""
import pytest

from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.testing.reference import challenge_eval
from tests.test_evaluation.test_federated_eval import det, make_gt
from tests.test_evaluation.test_limits import ours

TOL = 1e-9
POOL_KEYS = ('AP-pool', 'APr-pool', 'APc-pool', 'APf-pool')


def test_pooled_ap_hand_computed():
    # cat 1: a true positive at 0.9. cat 2: a false positive at 0.95, a true positive at 0.5.
    # Per category AP 1 and 0.5. Pooled: FP, TP, TP over 2 ground truths: precision 2/3 at
    # recall 1, which the interpolation carries to every recall point.
    gt = make_gt([(1, 100, 100, [], []), (2, 100, 100, [], [])],
                 [(1, 1, (0, 0, 10, 10)), (2, 2, (0, 0, 10, 10))], [(1, 'f'), (2, 'r')])
    results = [det(1, 1, 0.9, (0, 0, 10, 10)), det(2, 2, 0.95, (50, 50, 10, 10)),
               det(2, 2, 0.5, (0, 0, 10, 10))]
    res = ours(gt, results, pooled=True)
    assert res.summary['AP'] == pytest.approx(0.75, abs=TOL)
    assert res.summary['AP-pool'] == pytest.approx(2 / 3, abs=TOL)
    assert res.summary['APf-pool'] == pytest.approx(1.0, abs=TOL)
    assert res.summary['APr-pool'] == pytest.approx(0.5, abs=TOL)
    assert res.summary['APc-pool'] == -1                   # no common category
    ref = challenge_eval(gt, results, 'bbox', pooled=True)
    for key in POOL_KEYS:
        assert res.summary[key] == pytest.approx(ref.results[key], abs=TOL), key


@pytest.mark.parametrize('iou_type, max_dets, per_cat', [('bbox', 300, -1), ('bbox', -1, 80),
                                                         ('segm', -1, 80)])
def test_pooled_ap_matches_the_reference(iou_type, max_dets, per_cat):
    gt = syn.make_ground_truth(40, num_cats=30, seed=9)
    cols = syn.make_detections(gt, 100, seed=10)
    results = syn.to_results(cols, syn.detection_masks(gt, cols) if iou_type == 'segm' else None)
    res = ours(gt, results, iou_type, max_dets=max_dets, max_dets_per_cat=per_cat, pooled=True)
    ref = challenge_eval(gt, results, iou_type, max_dets, per_cat, pooled=True)
    for key in ('AP', 'APr', 'APc', 'APf') + POOL_KEYS:
        assert res.summary[key] == pytest.approx(ref.results[key], abs=TOL), key
    assert abs(res.summary['AP-pool'] - res.summary['AP']) > 1e-3     # a different number


def test_pooled_ap_on_a_category_subset():
    # The pools are the evaluated categories' (params.cat_ids), grouped by frequency.
    gt = syn.make_ground_truth(30, num_cats=30, seed=12)
    results = syn.to_results(syn.make_detections(gt, 80, seed=13))
    cats = [c['id'] for c in gt['categories']][::2]
    res = ours(gt, results, pooled=True, cat_ids=cats)
    ref = challenge_eval(gt, results, 'bbox', pooled=True, cat_ids=cats)
    for key in POOL_KEYS:
        assert res.summary[key] == pytest.approx(ref.results[key], abs=TOL), key


def test_compiled_curves_equal_the_array_curves_bit_for_bit():
    """accumulate's compiled loops against `curves` (numpy, whole rows at once: cumulative sums,
    a reversed running maximum, searchsorted recall points), category by category, on random
    matches with tied scores, categories without detections and areas without ground truth."""
    import numpy as np

    from mmdet_lvis_fed.evaluation.accumulation import accumulate, curves
    from mmdet_lvis_fed.evaluation.params import AREA_RNGS, IOU_THRS
    rng = np.random.default_rng(5)
    n, cats = 4000, 40
    det_cat = np.sort(rng.integers(0, cats - 5, n))            # the last 5: no detections
    det_score = rng.integers(0, 30, n) / 30.0                   # many ties
    rows = len(AREA_RNGS) * len(IOU_THRS)
    tps = rng.random((rows, n)) < 0.4
    fps = ~tps & (rng.random((rows, n)) < 0.8)
    num_gt = rng.integers(0, 60, (len(AREA_RNGS), cats))
    num_gt[:, ::7] = 0
    eval_cats = np.arange(cats)[rng.random(cats) < 0.9]
    precision, recall = accumulate(det_cat, det_score, tps, fps, num_gt, eval_cats)
    order = np.lexsort((-det_score, det_cat))                   # category, score, input order
    for k, c in enumerate(eval_cats):
        cols = order[det_cat[order] == c]
        p, r = curves(tps[:, cols], fps[:, cols], num_gt[:, c])
        assert precision[:, :, k].tobytes() == p.tobytes(), c
        assert recall[:, k].tobytes() == r.tobytes(), c
