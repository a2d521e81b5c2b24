"""The detection budget (per image, per category), by hand-computed cases through `evaluate`
and against the official rules transcribed in testing/reference.py."""
import numpy as np
import pytest

from mmdet_lvis_fed.evaluation.federated_eval import evaluate
from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
from mmdet_lvis_fed.evaluation.limits import limit_per_category, limit_per_image
from mmdet_lvis_fed.evaluation.results_json import detections_from_records
from mmdet_lvis_fed.testing.reference import cap_results, challenge_eval
from tests.test_evaluation.test_federated_eval import det, make_gt

TOL = 1e-9


def ours(gt, results, iou_type='bbox', **kw):
    return evaluate(LVISGroundTruth.from_dict(gt), detections_from_records(results), iou_type,
                    **kw)


def test_ties_at_the_category_cap_follow_the_regrouped_list():
    # Three detections of cat 1 with equal scores: r0 (image 1, true positive), r1 (image 2,
    # true positive), r2 (image 1, false positive); 2 per category.
    gt = make_gt([(1, 100, 100, [], []), (2, 100, 100, [], [])],
                 [(1, 1, (0, 0, 10, 10)), (2, 1, (50, 50, 10, 10))], [(1, 'f')])
    results = [det(1, 1, 0.5, (0, 0, 10, 10)), det(2, 1, 0.5, (50, 50, 10, 10)),
               det(1, 1, 0.5, (80, 80, 10, 10))]
    # Without a per-image cap the results' order decides: r0 and r1 stay, both true: AP 1.
    res = ours(gt, results, max_dets=-1, max_dets_per_cat=2)
    assert res.summary['AP'] == pytest.approx(1.0, abs=TOL)
    assert res.summary['AR@2/cat'] == pytest.approx(1.0, abs=TOL)
    # A per-image cap (even one that cuts nothing) regroups the list image by image first:
    # r0, r2, r1; r0 and r2 stay: recall 1/2 at precision 1.
    res = ours(gt, results, max_dets=300, max_dets_per_cat=2)
    assert res.summary['AP'] == pytest.approx(51 / 101, abs=TOL)
    assert res.summary['AR@300/im,2/cat'] == pytest.approx(0.5, abs=TOL)
    for max_dets in (-1, 300):
        ref = challenge_eval(gt, results, 'bbox', max_dets, 2)
        assert ours(gt, results, max_dets=max_dets, max_dets_per_cat=2).summary['AP'] == \
            pytest.approx(ref.results['AP'], abs=TOL)


def test_detections_where_the_category_is_not_federated_use_the_budget():
    # Image 2 neither has cat 1 nor lists it as verified absent: a detection there is dropped,
    # but only after the per-category cap, so with a budget of 1 it pushes the true positive
    # on image 1 out.
    gt = make_gt([(1, 100, 100, [], []), (2, 100, 100, [], [])],
                 [(1, 1, (0, 0, 10, 10)), (2, 2, (0, 0, 10, 10))], [(1, 'f'), (2, 'f')])
    results = [det(2, 1, 0.9, (0, 0, 10, 10)), det(1, 1, 0.8, (0, 0, 10, 10))]
    cat1 = {r['id']: r for r in ours(gt, results, max_dets_per_cat=1).per_category()}[1]
    assert cat1['ap'] == 0
    cat1 = {r['id']: r for r in ours(gt, results, max_dets_per_cat=2).per_category()}[1]
    assert cat1['ap'] == pytest.approx(1.0, abs=TOL)
    ref = challenge_eval(gt, results, 'bbox', 300, 1)
    assert ours(gt, results, max_dets_per_cat=1).summary['AP'] == \
        pytest.approx(ref.results['AP'], abs=TOL)


def test_short_categories_are_counted():
    gt = make_gt([(1, 100, 100, [], [])], [(1, 1, (0, 0, 10, 10)), (1, 2, (0, 0, 10, 10))],
                 [(1, 'f'), (2, 'f')])
    results = [det(1, 1, 0.9, (0, 0, 10, 10)), det(1, 1, 0.8, (0, 0, 10, 10)),
               det(1, 2, 0.7, (0, 0, 10, 10))]
    assert ours(gt, results, max_dets_per_cat=2).short_categories == 1
    assert ours(gt, results).short_categories == 0


def test_caps_equal_the_official_rules_on_random_ties():
    # Many images and categories, scores on a coarse grid (ties everywhere), both caps binding:
    # the kept rows are those of the transcribed LVISResults rules.
    rng = np.random.default_rng(3)
    n = 3000
    img = rng.integers(0, 40, n)
    cat = rng.integers(0, 7, n)
    score = np.round(rng.uniform(size=n), 1)
    for max_dets, per_cat in ((50, 30), (-1, 30), (60, -1), (-1, -1), (0, 5), (20, 0)):
        keep = limit_per_image(img, score, max_dets)
        keep = limit_per_category(keep, img, cat, score, per_cat, regrouped=max_dets >= 0)
        records = [dict(row=i, image_id=int(img[i]), category_id=int(cat[i]),
                        score=float(score[i])) for i in range(n)]
        expect = sorted(r['row'] for r in cap_results(records, max_dets, per_cat))
        assert keep.tolist() == expect, (max_dets, per_cat)
