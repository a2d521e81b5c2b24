"""mmdet's test dumps (mmdet_dump.py), against mmdet's own LVISMetric (lvis-api with the numpy
shim) on the same predictions, and the messages that name the image record and the detection."""
import json
import re

import numpy as np
import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.federated_eval import evaluate
from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
from mmdet_lvis_fed.evaluation.mmdet_dump import read_mmdet_dump
from mmdet_lvis_fed.testing.reference import lvis_reference
from tests.conftest import mmdet_lvis_metric, synthetic_case
from tests.test_evaluation.test_results_json import assert_equal_summary, lvis_eval


@pytest.fixture(scope='module')
def case(tmp_path_factory):
    return synthetic_case(tmp_path_factory.mktemp('results'), 40, 80, seed=21)



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
    out = tmp_path / 'm.json'
    assert lvis_eval(ann, path, '--classes', *[c['name'] for c in chosen], '--out', out) == 0
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
    assert lvis_eval(ann, path, '--subset', *[c['name'] for c in subset],
                     '--result-images-only', '--out', out) == 0
    records = [dict(image_id=d['img_id'], category_id=int(cols_cat), score=float(s),
                    bbox=[float(v) for v in (bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1])])
               for d in dump for bb, s, cols_cat in zip(
                   d['pred_instances']['bboxes'], d['pred_instances']['scores'],
                   [sorted(label)[k] for k in d['pred_instances']['labels']])]
    ref = lvis_reference(gt, records, 'bbox', cat_ids=[c['id'] for c in subset],
                         img_ids=images + [gt['images'][1]['id']])
    assert_equal_summary(json.loads(out.read_text()), ref.results)


def dump_of(cols, rows_per_image, label_of):
    """mmdet's DumpDetResults records (numpy arrays), one per image of `rows_per_image`."""
    out = []
    for img, rows in rows_per_image.items():
        b = cols['bbox'][rows].astype(np.float32)
        out.append(dict(img_id=img, pred_instances=dict(
            bboxes=np.c_[b[:, :2], b[:, :2] + b[:, 2:]], scores=cols['score'][rows],
            labels=np.array([label_of[c] for c in cols['category_id'][rows]]))))
    return out


def test_a_protocol_0_pickle_named_pkl_is_read(case, tmp_path):
    import pickle
    gt, ann, cols, rles = case
    label = {c['id']: k for k, c in enumerate(sorted(gt['categories'], key=lambda c: c['id']))}
    rows = {im['id']: np.nonzero(cols['image_id'] == im['id'])[0] for im in gt['images'][:5]}
    dump = dump_of(cols, rows, label)
    for protocol in (0, 4):
        path = tmp_path / f'p{protocol}.pkl'
        path.write_bytes(pickle.dumps(dump, protocol=protocol))
        dets = read_mmdet_dump(str(path), sorted(label))
        assert len(dets) == sum(len(r) for r in rows.values())


@pytest.mark.parametrize('content, message', [
    (b'', 'empty file, not a pickle of mmdet test results'),
    (b'\x80\x04]\x94.', r'no predictions \(an empty list: the test run processed no images\)'),
])
def test_empty_dumps_are_refused(tmp_path, content, message):
    path = tmp_path / 'results.pkl'
    path.write_bytes(content)
    with pytest.raises(LVISFormatError, match=f'{path}: {message}'):
        read_mmdet_dump(str(path), [1])


def test_dump_errors_name_the_image_record_and_the_detection(case, tmp_path):
    # x2 < x1 in the first detection of record 1 of 3
    import pickle
    gt, ann, cols, rles = case
    label = {c['id']: k for k, c in enumerate(sorted(gt['categories'], key=lambda c: c['id']))}
    rows = {im['id']: np.nonzero(cols['image_id'] == im['id'])[0][:4] for im in gt['images'][:3]}
    dump = dump_of(cols, rows, label)
    dump[1]['pred_instances']['bboxes'][0] = [5, 0, 4, 10]
    path = tmp_path / 'results.pkl'
    path.write_bytes(pickle.dumps(dump))
    img = dump[1]['img_id']
    with pytest.raises(LVISFormatError, match=re.escape(
            f'{path}: record 1 (img_id {img}): field "pred_instances.bboxes[0]": '
            '[5.0, 0.0, 4.0, 10.0] (x1, y1, x2, y2) is not finite, or has x2 < x1 or y2 < y1')):
        evaluate(LVISGroundTruth.from_file(str(ann)), read_mmdet_dump(str(path), sorted(label)))
    dump[1]['pred_instances']['bboxes'][0] = [4, 0, 5, 10]
    dump[2]['pred_instances']['scores'][3] = np.nan
    path.write_bytes(pickle.dumps(dump))
    with pytest.raises(LVISFormatError, match=re.escape(
            f'record 2 (img_id {dump[2]["img_id"]}): field "pred_instances.scores[3]": NaN')):
        evaluate(LVISGroundTruth.from_file(str(ann)), read_mmdet_dump(str(path), sorted(label)))
    dump[2]['pred_instances']['scores'][3] = 0.5
    dump[2]['img_id'] = 2 ** 63
    path.write_bytes(pickle.dumps(dump))
    with pytest.raises(LVISFormatError, match=re.escape(
            'record 2: field "img_id": 9223372036854775808 does not fit in 64 bits')):
        read_mmdet_dump(str(path), sorted(label))


def test_float32_boxes_are_converted_as_mmdet_converts_them(tmp_path):
    # [0.1, 0, 5.1, 10] in float32 against a ground truth [0, 0, 10, 10]: mmdet takes the values
    # to float64 and subtracts there (w = 4.99999990), so its JSON matches at no threshold;
    # subtracting in float32 gives w = 5.0 and a match at 0.5.
    import pickle

    import torch
    from mmdet.evaluation import DumpDetResults
    gt = dict(images=[dict(id=1, width=20, height=20, neg_category_ids=[],
                           not_exhaustive_category_ids=[])],
              annotations=[dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 10, 10], area=100,
                                segmentation=[[0, 0, 10, 0, 10, 10, 0, 10]])],
              categories=[dict(id=1, name='a', frequency='f')])
    ann = tmp_path / 'gt.json'
    ann.write_text(json.dumps(gt))
    masks = torch.zeros((1, 20, 20), dtype=torch.bool)
    masks[0, :10, :5] = True
    samples = [dict(img_id=1, ori_shape=(20, 20), pred_instances=dict(
        bboxes=torch.tensor([[0.1, 0, 5.1, 10]], dtype=torch.float32),
        scores=torch.tensor([0.9]), labels=torch.tensor([0]), masks=masks))]
    prefix = str(tmp_path / 'mmdet')
    mmdet_lvis_metric(ann, samples, prefix)          # writes mmdet's own results JSON
    with open(f'{prefix}.bbox.json') as f:
        theirs = lvis_reference(gt, json.load(f), 'bbox').results
    assert theirs['AP50'] == 0.0
    dumper = DumpDetResults(out_file_path=str(tmp_path / 'r.pkl'))
    dumper.process({}, samples)
    dumper.compute_metrics(dumper.results)
    got = evaluate(LVISGroundTruth.from_file(str(ann)),
                   read_mmdet_dump(str(tmp_path / 'r.pkl'), [1])).summary
    assert got['AP50'] == theirs['AP50'] and got['AP'] == theirs['AP']
    with open(tmp_path / 'r.pkl', 'rb') as f:
        assert pickle.load(f)[0]['pred_instances']['bboxes'].dtype == torch.float32
    from mmdet_lvis_fed.evaluation.lvis_fed_metric import LVISFedMetric
    metric = LVISFedMetric(ann_file=str(ann), metric='bbox', out_dir=str(tmp_path))
    metric.process({}, samples)
    assert metric.evaluate(1)['lvis_fed/bbox_AP50'] == theirs['AP50']
