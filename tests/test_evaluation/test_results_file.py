"""Results read from files, against lvis-api 0.5.3 reading the same inputs: the JSON reader's
edge cases that lvis-api evaluates (negative scores, mask-only results), and mmdet's test dumps
against mmdet's own LVISMetric (lvis-api with the numpy shim)."""
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation import Detections, LVISGroundTruth, evaluate
from mmdet_lvis_fed.evaluation.results_file import (detections_from_records, read_mmdet_dump,
                                                    read_results)
from mmdet_lvis_fed.testing import synthetic as syn
from tests.conftest import lvis_reference, mmdet_lvis_metric, synthetic_case

TOL = 1e-9
KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300')


@pytest.fixture(scope='module')
def case(tmp_path_factory):
    return synthetic_case(tmp_path_factory.mktemp('results'), 40, 80, seed=21)


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


def test_mmdet_dump_equals_mmdet_lvis_metric(case, tmp_path):
    import pickle

    import torch
    from mmdet.evaluation import DumpDetResults

    from tests.test_evaluation.test_lvis_fed_metric import data_samples
    gt, ann, cols, rles = case
    dump = tmp_path / 'results.pkl'
    dumper = DumpDetResults(out_file_path=str(dump))
    dumper.process({}, data_samples(gt, cols, rles))
    dumper.compute_metrics(dumper.results)
    with open(dump, 'rb') as f:
        first = pickle.load(f)[0]['pred_instances']
    assert isinstance(first['bboxes'], torch.Tensor) and isinstance(first['masks'][0], dict)

    prefix = str(tmp_path / 'mmdet')
    theirs = mmdet_lvis_metric(ann, data_samples(gt, cols, rles), prefix)
    lvis_gt = LVISGroundTruth.from_file(str(ann))
    dets = read_mmdet_dump(str(dump), lvis_gt.cat_ids_of())      # labels: categories by id
    for iou_type in ('bbox', 'segm'):
        with open(f'{prefix}.{iou_type}.json') as f:
            their_records = json.load(f)               # mmdet's own conversion of the same
        ref = lvis_reference(gt, their_records, iou_type)
        got = evaluate(lvis_gt, dets, iou_type).summary
        assert_equal_summary(got, ref.results)
        for key in ('AP', 'APr', 'APc', 'APf'):
            assert theirs[f'{iou_type}_{key}'] == float(f'{got[key]:.3f}'), (iou_type, key)


def test_mmdet_dump_labels_follow_the_classes(case, tmp_path):
    # Labels 0..K-1 of a model trained on a subset are the subset's classes in config order.
    import pickle
    gt, ann, cols, rles = case
    chosen = [gt['categories'][i] for i in (7, 2, 19)]
    rows = [i for i, c in enumerate(cols['category_id']) if c in {c['id'] for c in chosen}]
    label = {c['id']: k for k, c in enumerate(chosen)}
    by_img = {}
    for i in rows:
        by_img.setdefault(int(cols['image_id'][i]), []).append(i)
    dump = [dict(img_id=img, pred_instances=dict(
        bboxes=np.array([np.r_[cols['bbox'][i][:2], cols['bbox'][i][:2] + cols['bbox'][i][2:]]
                         for i in idx], np.float32),
        scores=cols['score'][idx].astype(np.float32),
        labels=np.array([label[cols['category_id'][i]] for i in idx])))
        for img, idx in by_img.items()]
    path = tmp_path / 'subset.pkl'
    path.write_bytes(pickle.dumps(dump))
    from tools import lvis_eval
    out = tmp_path / 'm.json'
    lvis_eval.main([str(ann), str(path), '--classes', *[c['name'] for c in chosen],
                    '--out', str(out)])
    records = [dict(image_id=d['img_id'], category_id=chosen[int(lab)]['id'], score=float(s),
                    bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])])
               for d in dump for b, s, lab in zip(d['pred_instances']['bboxes'],
                                                   d['pred_instances']['scores'],
                                                   d['pred_instances']['labels'])]
    ref = lvis_reference(gt, records, 'bbox', cat_ids=[c['id'] for c in chosen])
    assert_equal_summary(json.loads(out.read_text()), ref.results)


def test_one_dump_rescored_on_a_subset_of_categories_and_its_images(case, tmp_path):
    # A test run on every category and half the images: --subset and --result-images-only give
    # lvis-api's numbers with params.cat_ids / params.img_ids set to the same.
    import pickle
    from tools import lvis_eval
    gt, ann, cols, rles = case
    label = {c['id']: k for k, c in enumerate(sorted(gt['categories'], key=lambda c: c['id']))}
    images = [im['id'] for im in gt['images']][::2]
    dump = []
    for img in images:
        idx = np.nonzero(cols['image_id'] == img)[0]
        b = cols['bbox'][idx].astype(np.float32)
        dump.append(dict(img_id=img, pred_instances=dict(
            bboxes=np.c_[b[:, :2], b[:, :2] + b[:, 2:]], scores=cols['score'][idx],
            labels=np.array([label[c] for c in cols['category_id'][idx]]))))
    dump.append(dict(img_id=gt['images'][1]['id'], pred_instances=dict(     # no detections
        bboxes=np.zeros((0, 4), np.float32), scores=np.zeros(0), labels=np.zeros(0, int))))
    path = tmp_path / 'all.pkl'
    path.write_bytes(pickle.dumps(dump))
    subset = [gt['categories'][i] for i in (3, 11, 17, 25)]
    out = tmp_path / 'm.json'
    lvis_eval.main([str(ann), str(path), '--subset', *[c['name'] for c in subset],
                    '--result-images-only', '--out', str(out)])
    records = [dict(image_id=d['img_id'], category_id=int(cols_cat), score=float(s),
                    bbox=[float(v) for v in (bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1])])
               for d in dump for bb, s, cols_cat in zip(
                   d['pred_instances']['bboxes'], d['pred_instances']['scores'],
                   [sorted(label)[k] for k in d['pred_instances']['labels']])]
    ref = lvis_reference(gt, records, 'bbox', cat_ids=[c['id'] for c in subset],
                         img_ids=images + [gt['images'][1]['id']])
    assert_equal_summary(json.loads(out.read_text()), ref.results)
