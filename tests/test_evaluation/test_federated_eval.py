"""The evaluator core against lvis-api 0.5.3: every summary number and the whole precision array."""
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.detections import Detections
from mmdet_lvis_fed.evaluation.federated_eval import evaluate
from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
from mmdet_lvis_fed.evaluation.results_json import detections_from_records
from mmdet_lvis_fed.testing.reference import lvis_reference
from mmdet_lvis_fed.testing.reference import challenge_eval

TOL = 1e-9


def assert_same(res, ref):
    for key, value in ref.results.items():
        assert res.summary[key] == pytest.approx(value, abs=TOL), key
    np.testing.assert_allclose(res.precision, ref.eval['precision'], atol=TOL, rtol=0)
    np.testing.assert_allclose(res.recall, ref.eval['recall'], atol=TOL, rtol=0)


def ours(gt, results, iou_type, **kw):
    return evaluate(LVISGroundTruth.from_dict(gt), detections_from_records(results), iou_type,
                    **kw)


def box_poly(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def make_gt(images, anns, cats):
    """images: (id, w, h, neg, not_exhaustive); anns: (image, cat, box); cats: (id, freq)."""
    return dict(
        images=[dict(id=i, width=w, height=h, neg_category_ids=neg,
                     not_exhaustive_category_ids=nel) for i, w, h, neg, nel in images],
        annotations=[dict(id=k + 1, image_id=im, category_id=c, bbox=list(b),
                          area=float(b[2] * b[3]), segmentation=box_poly(*b))
                     for k, (im, c, b) in enumerate(anns)],
        categories=[dict(id=c, name=f'cat{c}', frequency=f) for c, f in cats])


def det(im, c, score, box):
    return dict(image_id=im, category_id=c, score=score, bbox=list(box))


CATS = [(1, 'f'), (2, 'c'), (3, 'r'), (4, 'f'), (5, 'c')]


@pytest.fixture(scope='module')
def synthetic():
    gt = syn.make_ground_truth(60, num_cats=40, seed=7)
    cols = syn.make_detections(gt, 120, seed=8)
    return gt, cols


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_synthetic_matches_lvis_api(synthetic, iou_type):
    gt, cols = synthetic
    results = syn.to_results(cols, syn.detection_masks(gt, cols) if iou_type == 'segm' else None)
    assert_same(ours(gt, results, iou_type),
                lvis_reference(gt, results, iou_type))


def test_segm_mask_area_rule_matches_lvis_api_on_mask_only_results(synthetic):
    # lvis-api takes the area from the mask when the results carry no box: our default rule.
    gt, cols = synthetic
    results = syn.to_results(cols, syn.detection_masks(gt, cols))
    for r in results:
        del r['bbox']
    assert_same(ours(gt, results, 'segm'), lvis_reference(gt, results, 'segm'))


def test_segm_area_rule_changes_small_medium_large():
    # An unmatched detection whose mask is 20x20 (small) but whose box is 40x40 (medium): by mask
    # area it is a small false positive, by box area (lvis-api) it is ignored for APs.
    gt = make_gt([(1, 100, 100, [], [])], [(1, 1, (10, 10, 20, 20))], CATS[:1])

    def rle_of(y0, x0):
        m = np.zeros((100, 100), np.uint8, order='F')
        m[y0:y0 + 20, x0:x0 + 20] = 1
        rle = mask_utils.encode(m)
        rle['counts'] = rle['counts'].decode()
        return rle

    results = [dict(image_id=1, category_id=1, score=0.9, bbox=[50, 50, 40, 40],
                    segmentation=rle_of(60, 60)),
               dict(image_id=1, category_id=1, score=0.5, bbox=[10, 10, 20, 20],
                    segmentation=rle_of(10, 10))]
    by_box = ours(gt, results, 'segm').summary
    by_mask = ours(gt, results, 'segm', mask_area=True).summary
    assert by_box['APs'] == pytest.approx(lvis_reference(gt, results, 'segm').results['APs'],
                                          abs=TOL)
    assert by_box['APs'] == pytest.approx(1.0, abs=TOL)
    assert by_mask['APs'] == pytest.approx(0.5, abs=TOL)


def federated_case():
    """Each federated rule in one small file (cat 1: f, 2: c, 3: r, 4: f, 5: c)."""
    images = [
        (1, 200, 200, [2], [1]),          # cat 1 not exhaustive; cat 2 verified absent
        (2, 200, 200, [1, 3], []),        # negatives only for cats 1 and 3
        (3, 200, 200, [], []),            # cat 4 positive; 5 unverified
        (4, 200, 200, [4], [3]),
    ]
    anns = [(1, 1, (10, 10, 50, 50)), (1, 1, (100, 100, 40, 30)), (3, 4, (0, 0, 199, 199)),
            (3, 4, (5, 5, 1, 1)), (4, 3, (20, 20, 10, 10)), (4, 3, (60, 60, 100, 100)),
            (1, 2 + 0, (0, 0, 0, 0))]   # zero-area ground truth: dropped, cat 2 stays negative
    dets = [
        det(1, 1, 0.9, (11, 11, 50, 50)), det(1, 1, 0.8, (150, 150, 20, 20)),   # tp, unmatched-nel
        det(1, 2, 0.7, (10, 10, 50, 50)),                                        # fp on a negative
        det(1, 5, 0.95, (10, 10, 50, 50)),                                       # unverified: drop
        det(2, 1, 0.6, (0, 0, 30, 30)), det(2, 3, 0.99, (0, 0, 30, 30)),          # fps on negatives
        det(3, 4, 0.5, (0, 0, 198, 199)), det(3, 4, 0.5, (5, 5, 1, 1)),           # tied scores
        det(3, 4, 0.5, (4, 4, 2, 2)), det(3, 4, 0.3, (0, 0, 0, 10)),             # zero-area det
        det(4, 3, 0.4, (20, 20, 10, 11)), det(4, 3, 0.45, (150, 0, 5, 5)),       # nel fp ignored
        det(4, 4, 0.2, (60, 60, 100, 100)),                                       # fp on negative
    ]
    return make_gt(images, anns, CATS), dets


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_federated_rules_match_lvis_api(iou_type):
    gt, dets = federated_case()
    if iou_type == 'segm':
        for d in dets:
            x, y, w, h = d['bbox']
            rle = mask_utils.merge(mask_utils.frPyObjects(box_poly(x, y, w, h), 200, 200))
            rle['counts'] = rle['counts'].decode()
            d['segmentation'] = rle
    res = ours(gt, dets, iou_type)
    assert_same(res, lvis_reference(gt, dets, iou_type))


def test_federated_rules_exact_values():
    # Hand-checked expectations, independent of lvis-api.
    gt, dets = federated_case()
    res = ours(gt, dets, 'bbox')
    per = {r['id']: r for r in res.per_category()}
    # cat 1: two gts on image 1; one tp at 0.9; the 0.8 miss is ignored (not exhaustive); the fp on
    # image 2 (negative) comes after the tp: recall 1/2, precision 1 up to it.
    assert per[1]['ap_per_iou'][0] == pytest.approx(51 / 101)
    # cat 2: no ground truth left (its only one has zero area): left out of every mean.
    assert per[2]['ap'] is None and per[2]['num_gt'] == 0
    # cat 5: no ground truth and no verified image: absent.
    assert per[5]['ap'] is None
    assert res.summary['APc'] == -1     # cats 2 and 5 are the common ones: group missing, not 0


def test_more_than_300_detections_per_image_and_ties():
    gt = make_gt([(1, 500, 500, [2], []), (2, 500, 500, [], [])],
                 [(1, 1, (i * 10, i * 10, 30, 30)) for i in range(40)] + [(2, 1, (0, 0, 50, 50))],
                 CATS[:2])
    rng = np.random.default_rng(0)
    dets = []
    for i in range(450):   # image 1: 450 detections across two categories, many tied scores
        b = rng.uniform(0, 400, 2).tolist() + rng.uniform(5, 60, 2).tolist()
        dets.append(det(1, 1 + (i % 2), float(np.round(rng.uniform(), 1)), b))
    dets.append(det(2, 1, 0.5, (0, 0, 50, 50)))
    assert_same(ours(gt, dets, 'bbox'), lvis_reference(gt, dets, 'bbox'))
    res_all = ours(gt, dets, 'bbox', max_dets=-1)
    assert res_all.summary['AP'] != ours(gt, dets, 'bbox').summary['AP']


def test_tiny_and_huge_objects():
    gt = make_gt([(1, 4000, 3000, [], [])],
                 [(1, 1, (1, 1, 1.5, 1.2)), (1, 1, (0, 0, 3999, 2999)), (1, 4, (10, 10, 32, 32)),
                  (1, 4, (100, 100, 96, 96)), (1, 4, (300, 300, 96.01, 96))], CATS)
    dets = [det(1, 1, 0.9, (1, 1, 1.5, 1.3)), det(1, 1, 0.8, (0, 0, 3998, 2999)),
            det(1, 4, 0.7, (10, 10, 32, 32)), det(1, 4, 0.6, (100, 100, 95, 96)),
            det(1, 4, 0.65, (300, 300, 96, 96)), det(1, 4, 0.1, (1000, 1000, 3, 3))]
    assert_same(ours(gt, dets, 'bbox'), lvis_reference(gt, dets, 'bbox'))


def test_category_and_image_subsets_match_lvis_api(synthetic):
    gt, cols = synthetic
    results = syn.to_results(cols)
    cats = [c['id'] for c in gt['categories']][::3]
    imgs = [im['id'] for im in gt['images']][5:40]
    assert_same(ours(gt, results, 'bbox', cat_ids=cats, img_ids=imgs),
                lvis_reference(gt, results, 'bbox', cat_ids=cats, img_ids=imgs))


def real_detections(gt, seed=0):
    """Detections around the real file's boxes (jittered, some on other categories) plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    cat_ids = [c['id'] for c in gt['categories']]
    for a in gt['annotations']:
        for _ in range(3):
            b = np.array(a['bbox']) * (1 + rng.normal(0, 0.1, 4))
            c = a['category_id'] if rng.uniform() < 0.8 else int(rng.choice(cat_ids))
            out.append(det(a['image_id'], c, float(np.round(rng.uniform(), 2)),
                           np.abs(b).tolist()))
    for im in gt['images']:
        for c in list(im['neg_category_ids'])[:3] + [int(rng.choice(cat_ids))]:
            out.append(det(im['id'], c, float(rng.uniform()), [10, 10, 40, 40]))
    return out


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_real_lvis_val_100_matches_lvis_api(lvis_val_100, iou_type):
    with open(lvis_val_100) as f:
        gt = json.load(f)
    dets = real_detections(gt)
    if iou_type == 'segm':
        hw = {im['id']: (im['height'], im['width']) for im in gt['images']}
        for d in dets:
            x, y, w, h = d['bbox']
            rle = mask_utils.merge(mask_utils.frPyObjects(box_poly(x, y, w, h), *hw[d['image_id']]))
            rle['counts'] = rle['counts'].decode()
            d['segmentation'] = rle
    res = ours(gt, dets, iou_type)
    ref = lvis_reference(gt, dets, iou_type)
    assert_same(res, ref)
    assert res.summary['APr'] > -1 and res.summary['APf'] > -1


def test_empty_detections_give_zero_ap():
    gt, _ = federated_case()
    res = evaluate(LVISGroundTruth.from_dict(gt), Detections.empty(), 'bbox')
    assert res.summary['AP'] == 0 and res.summary['APf'] == 0 and res.summary['AR@300'] == 0
    assert res.summary['APc'] == -1
    res = evaluate(LVISGroundTruth.from_dict(gt), detections_from_records([]), 'segm')
    assert res.summary['AP'] == 0


@pytest.mark.parametrize('bad, message', [
    (dict(image_id=99), 'record 1: field "image_id": 99 is not an image of the annotation file'),
    (dict(category_id=42), 'record 1: field "category_id": 42 is not a category of the'),
    (dict(score=float('nan')), 'record 1: field "score": NaN cannot be ranked'),
    (dict(bbox=[0, 0, -1, 5]), 'record 1: field "bbox": [0.0, 0.0, -1.0, 5.0] is not finite, or '
                               'has a negative width'),
])
def test_malformed_detections_name_the_record(bad, message):
    gt, dets = federated_case()
    dets = [dict(d) for d in dets[:3]]
    dets[1].update(bad)
    with pytest.raises(LVISFormatError, match=message.replace('[', r'\[').replace(']', r'\]')):
        ours(gt, dets, 'bbox')


def test_malformed_masks_name_the_record():
    gt, dets = federated_case()
    rle = mask_utils.encode(np.zeros((200, 200), np.uint8, order='F'))
    dets = [dict(d, segmentation=dict(rle)) for d in dets[:3]]
    dets[1]['segmentation'] = dict(size=[100, 200], counts=rle['counts'])
    with pytest.raises(LVISFormatError, match=r'record 1: field "segmentation": size \[100, 200\] '
                                              r'does not match the image size \[200, 200\]'):
        ours(gt, dets, 'segm')
    dets[1]['segmentation'] = dict(size=[200, 200], counts=[0, 40000])
    with pytest.raises(LVISFormatError, match='record 1: field "segmentation.counts": expected str, '
                                              'got array'):
        ours(gt, dets, 'segm')


def test_ground_truth_errors_name_the_field(tmp_path):
    path = tmp_path / 'gt.json'
    path.write_text('{"images": []')
    with pytest.raises(LVISFormatError, match=f'{path}: not valid JSON'):
        LVISGroundTruth.from_file(str(path))
    gt, _ = federated_case()
    gt['annotations'][0]['image_id'] = 77
    with pytest.raises(LVISFormatError, match=r'annotations\[0\] \(id 1\): field "image_id": 77 is '
                                              r'not in "images"'):
        LVISGroundTruth.from_dict(gt)
    gt, _ = federated_case()
    gt['categories'][0]['frequency'] = 'x'
    with pytest.raises(LVISFormatError, match='categories\\[0\\]: field "frequency": "x" is not one '):
        LVISGroundTruth.from_dict(gt)


# The LVIS challenge metrics: Fixed AP (per-category cap), Boundary AP ------------------------


def challenge_keys(res, ref):
    """Our summary keys beside lvis-api's: the recall keys differ only in their names (0.5.3
    names them after params.max_dets alone)."""
    ours_ar = [k for k in res.summary if k.startswith('AR')]
    theirs_ar = [k for k in ref.results if k.startswith('AR')]
    return [(k, theirs_ar[ours_ar.index(k)] if k in ours_ar else k) for k in res.summary]


def assert_same_challenge(res, ref):
    for key, ref_key in challenge_keys(res, ref):
        assert res.summary[key] == pytest.approx(ref.results[ref_key], abs=TOL), key
    np.testing.assert_allclose(res.precision, ref.eval['precision'], atol=TOL, rtol=0)
    np.testing.assert_allclose(res.recall, ref.eval['recall'], atol=TOL, rtol=0)


@pytest.mark.parametrize('iou_type, max_dets, per_cat', [
    ('bbox', -1, 100), ('segm', -1, 100), ('bbox', 100, 150), ('segm', 80, -1)])
def test_fixed_ap_matches_lvis_api_on_precapped_results(synthetic, iou_type, max_dets, per_cat):
    # lvis-api 0.5.3 with the results capped beforehand by the official rules and
    # LVISResults(max_dets=-1): Fixed AP for boxes and masks is exactly that.
    gt, cols = synthetic
    results = syn.to_results(cols, syn.detection_masks(gt, cols) if iou_type == 'segm' else None)
    per_cat_counts = np.bincount(cols['category_id'])
    assert per_cat < 0 or (per_cat_counts > per_cat).sum() > 5       # the cap binds
    res = ours(gt, results, iou_type, max_dets=max_dets, max_dets_per_cat=per_cat)
    assert_same_challenge(res, challenge_eval(gt, results, iou_type, max_dets, per_cat))
    suffix = {(-1, 100): '100/cat', (100, 150): '100/im,150/cat', (80, -1): '80'}
    assert f'AR@{suffix[max_dets, per_cat]}' in res.summary


@pytest.fixture(scope='module')
def small_synthetic():
    gt = syn.make_ground_truth(24, num_cats=12, seed=17)
    return gt, syn.make_detections(gt, 90, seed=18, near_share=0.5)


@pytest.mark.parametrize('max_dets, per_cat, ratio', [(80, -1, 0.02), (-1, 60, 0.05)])
def test_boundary_ap_matches_the_reference(small_synthetic, max_dets, per_cat, ratio):
    # lvis-api 0.5.3 whose compute_iou takes min(mask IoU, boundary IoU), boundaries by cv2 on
    # the full-size masks (testing/reference.py): the official branch's algorithm.
    gt, cols = small_synthetic
    assert (np.bincount(cols['category_id']) > 60).sum() > 3
    results = syn.to_results(cols, syn.detection_masks(gt, cols))
    res = ours(gt, results, 'boundary', max_dets=max_dets, max_dets_per_cat=per_cat,
               dilation_ratio=ratio)
    assert_same_challenge(res, challenge_eval(gt, results, 'boundary', max_dets, per_cat,
                                              dilation_ratio=ratio))
    segm = ours(gt, results, 'segm', max_dets=max_dets, max_dets_per_cat=per_cat)
    assert res.summary['AP'] < segm.summary['AP']          # the boundary is stricter


def rle_of(mask):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode()
    return rle


def test_boundary_ap_hand_computed_on_a_4x4_image():
    # d = max(1, round(0.02 x 5.66)) = 1. Ground truth: the whole image (boundary: the ring of
    # 12). Detection: the left 3 columns (mask IoU 12/16; boundary: 10 pixels, 8 on the ring,
    # boundary IoU 8/14). Boundary AP: matched at IoU 0.5 and 0.55 only: 2 of 10 thresholds.
    gt = dict(images=[dict(id=1, width=4, height=4, neg_category_ids=[],
                           not_exhaustive_category_ids=[])],
              annotations=[dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 4, 4], area=16,
                                segmentation=[[0, 0, 4, 0, 4, 4, 0, 4]])],
              categories=[dict(id=1, name='a', frequency='f')])
    left = np.ones((4, 4), bool)
    left[:, 3] = False
    results = [dict(image_id=1, category_id=1, score=0.9, bbox=[0, 0, 3, 4],
                    segmentation=rle_of(left))]
    assert ours(gt, results, 'boundary').summary['AP'] == pytest.approx(0.2, abs=TOL)
    assert ours(gt, results, 'segm').summary['AP'] == pytest.approx(0.6, abs=TOL)
    assert_same_challenge(ours(gt, results, 'boundary'),
                          challenge_eval(gt, results, 'boundary'))


def test_boundary_ap_of_one_pixel_empty_and_border_masks():
    # 1-pixel masks are their own boundary (a perfect 1-pixel detection scores 1); an empty
    # mask matches nothing; masks along the image border are boundary along it.
    h, w = 30, 20
    one = np.zeros((h, w), bool)
    one[5, 7] = True
    border = np.zeros((h, w), bool)
    border[:, :6] = True
    border_det = border.copy()
    border_det[-1, :] = False
    gt = dict(images=[dict(id=i, width=w, height=h, neg_category_ids=[],
                           not_exhaustive_category_ids=[]) for i in (1, 2, 3)],
              annotations=[dict(id=1, image_id=1, category_id=1, bbox=[7, 5, 1, 1], area=1,
                                segmentation=rle_of(one)),
                           dict(id=2, image_id=2, category_id=1, bbox=[0, 0, 6, 30], area=180,
                                segmentation=rle_of(border))],
              categories=[dict(id=1, name='a', frequency='f')])
    results = [dict(image_id=1, category_id=1, score=0.9, bbox=[7, 5, 1, 1],
                    segmentation=rle_of(one)),
               dict(image_id=2, category_id=1, score=0.8, bbox=[0, 0, 6, 29],
                    segmentation=rle_of(border_det)),
               dict(image_id=1, category_id=1, score=0.7, bbox=[0, 0, 1, 1],
                    segmentation=rle_of(np.zeros((h, w), bool)))]
    res = ours(gt, results, 'boundary')
    assert_same_challenge(res, challenge_eval(gt, results, 'boundary'))
    assert res.summary['AP50'] == pytest.approx(1.0, abs=TOL)

