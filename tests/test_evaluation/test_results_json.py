"""LVIS results JSON read from files (results_json.py), against lvis-api 0.5.3 reading the same
inputs: the reader's edge cases that lvis-api evaluates (negative scores, mask-only results)."""
import json
import os.path as osp
import re

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.detections import Detections
from mmdet_lvis_fed.evaluation.federated_eval import evaluate
from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
from mmdet_lvis_fed.evaluation.results_json import detections_from_records, read_results
from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.testing.reference import lvis_reference
from tests.conftest import synthetic_case

TOL = 1e-9
KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300')


@pytest.fixture(scope='module')
def case(tmp_path_factory):
    return synthetic_case(tmp_path_factory.mktemp('results'), 40, 80, seed=21)


def lvis_eval(*args):
    """tools/lvis_eval.py as users run it; its exit status."""
    import subprocess
    import sys
    from tests.conftest import ROOT
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'lvis_eval.py'),
                           *map(str, args)], timeout=300).returncode

def assert_equal_summary(summary, ref_results):
    for key in KEYS:
        assert summary[key] == pytest.approx(ref_results[key], abs=TOL), key


def evaluate_file(ann, path, iou_type, **kw):
    return evaluate(LVISGroundTruth.from_file(str(ann)), read_results(str(path)), iou_type, **kw)


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_file_with_negative_scores_equals_lvis_api(case, tmp_path, iou_type):
    # Logits / log-probabilities: lvis-api only ranks by them.
    gt, ann, cols, rles = case
    results = syn.to_results(cols, rles if iou_type == 'segm' else None)
    for r in results:
        r['score'] = r['score'] * 8 - 6
    assert min(r['score'] for r in results) < 0
    path = tmp_path / 'res.json'
    path.write_text(json.dumps(results))
    got = evaluate_file(ann, path, iou_type).summary
    assert_equal_summary(got, lvis_reference(gt, json.loads(path.read_text()), iou_type).results)


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_mask_only_results_take_the_mask_area_like_lvis_api(case, tmp_path, iou_type):
    gt, ann, cols, rles = case
    results = syn.to_results(cols, rles)
    for r in results:
        del r['bbox']
    path = tmp_path / 'res.json'
    path.write_text(json.dumps(results))
    dets = read_results(str(path))
    assert not dets.box_given
    np.testing.assert_array_equal(dets.bbox, mask_utils.toBbox([dict(r) for r in rles]))
    got = evaluate_file(ann, path, iou_type)
    assert_equal_summary(got.summary, lvis_reference(gt, results, iou_type).results)
    # The test can fail: with the same boxes taken as given, the areas (so APs/m/l) differ.
    boxed = Detections(dets.image_id, dets.category_id, dets.score, dets.bbox, dets.segm)
    by_box = evaluate(LVISGroundTruth.from_file(str(ann)), boxed, iou_type).summary
    assert any(abs(by_box[k] - got.summary[k]) > 1e-6 for k in ('APs', 'APm', 'APl'))


def test_segm_mask_area_option_is_detectron2s_rule(case, tmp_path):
    # detectron2 drops the boxes before calling lvis-api, so the areas come from the masks.
    gt, ann, cols, rles = case
    with_boxes = syn.to_results(cols, rles)
    path = tmp_path / 'res.json'
    path.write_text(json.dumps(with_boxes))
    got = evaluate_file(ann, path, 'segm', mask_area=True).summary
    no_boxes = [{k: v for k, v in r.items() if k != 'bbox'} for r in with_boxes]
    assert_equal_summary(got, lvis_reference(gt, no_boxes, 'segm').results)


def test_json_reader_equals_the_in_memory_records(case, tmp_path):
    gt, ann, cols, rles = case
    results = syn.to_results(cols, rles)
    path = tmp_path / 'res.json'
    path.write_text(json.dumps(results))
    a, b = read_results(str(path)), detections_from_records(results)
    for key in ('image_id', 'category_id', 'score', 'bbox'):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert getattr(a, key).dtype == getattr(b, key).dtype
    assert [a.segm[i] for i in range(len(a))] == [b.segm[i] for i in range(len(b))]
    assert a.segm[3]['counts'] == rles[3]['counts']


def test_annotation_id_zero_is_refused(case, tmp_path):
    # lvis-api stores a match as the matched annotation's id: a match to id 0 reads as no match.
    gt = json.loads(case[1].read_text())
    gt['annotations'][4]['id'] = 0
    with pytest.raises(LVISFormatError, match=r'annotations\[4\]: field "id": 0: annotation ids '
                                              r'start at 1'):
        LVISGroundTruth.from_dict(gt, source='gt.json')


# mmdet's dumps and mmdet's LVISMetric -------------------------------------------------------


# What is unpickled, and how a dump's errors are named ----------------------------------------


def test_ids_beyond_64_bits_in_results_json(case, tmp_path):
    gt, ann, cols, rles = case
    path = tmp_path / 'res.json'
    path.write_text(json.dumps([dict(image_id=1, category_id=1, score=0.5, bbox=[0, 0, 1, 1]),
                                dict(image_id=2 ** 63, category_id=1, score=0.5,
                                     bbox=[0, 0, 1, 1])]))
    with pytest.raises(LVISFormatError, match=re.escape(
            f'{path}: record 1: field "image_id": 9223372036854775808 does not fit in 64 bits')):
        read_results(str(path))
