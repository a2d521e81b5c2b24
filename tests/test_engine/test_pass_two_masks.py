"""Which masks TopKTestLoop's pass 2 makes (engine/pass_two_masks.py): RLE for LVISFedMetric
alone, full-image masks for any other reader, and with masks='evaluated' only the detections of a
class annotated on their image, those being read from the metric's annotation file."""
import json
from types import SimpleNamespace

import pytest
from mmdet.evaluation import DumpDetResults

from mmdet_lvis_fed.engine.pass_two_masks import plan
from mmdet_lvis_fed.evaluation.lvis_fed_metric import LVISFedMetric
from tests.test_datasets.test_subset import ANNS, CATS, IMAGES


@pytest.fixture
def ann_file(tmp_path):
    path = tmp_path / 'hand.json'
    path.write_text(json.dumps(dict(images=IMAGES, annotations=ANNS, categories=CATS)))
    return str(path)


def metric(ann_file, lvis_cat_ids=None, **kw):
    m = LVISFedMetric(ann_file=ann_file, metric=['bbox', 'segm'], max_dets=-1,
                      max_dets_per_cat=10, **kw)
    m.dataset_meta = dict(lvis_cat_ids=lvis_cat_ids) if lvis_cat_ids else {}
    return m


def evaluator(*metrics):
    return SimpleNamespace(metrics=list(metrics))


def test_the_annotated_classes_of_each_image(ann_file):
    # labels 0..4 are categories 1..5 (sorted by id); for a subset (LVISFedDataset's
    # lvis_cat_ids), its order
    rle, annotated, why = plan(evaluator(metric(ann_file)), [], 'evaluated')
    assert rle and "masks='evaluated'" in why
    assert {k: v.tolist() for k, v in annotated.items()} == {10: [0], 11: [2], 13: [0],
                                                            14: [1, 4]}
    _, annotated, _ = plan(evaluator(metric(ann_file, lvis_cat_ids=(2, 1))), [], 'evaluated')
    assert {k: list(v) for k, v in annotated.items()} == {10: [1], 13: [1], 14: [0]}


def test_every_detection_gets_a_mask_where_something_else_reads_them(ann_file, tmp_path):
    dump = DumpDetResults(out_file_path=str(tmp_path / 'x.pkl'))
    rle, annotated, why = plan(evaluator(metric(ann_file), dump), [], 'evaluated')
    assert (rle, annotated) == (False, None) and 'DumpDetResults reads them' in why
    hook = SimpleNamespace(draw=True)
    rle, annotated, _ = plan(evaluator(metric(ann_file)), [hook], 'evaluated')
    assert (rle, annotated) == (False, None)
    for m, masks in ((metric(ann_file, mask_area=True), 'evaluated'),
                     (metric(ann_file), 'all')):
        rle, annotated, _ = plan(evaluator(m), [SimpleNamespace(draw=False)], masks)
        assert (rle, annotated) == (True, None)


def test_no_masks_where_no_metric_reads_them(ann_file):
    boxes_only = LVISFedMetric(ann_file=ann_file, metric='bbox', max_dets=-1, max_dets_per_cat=10)
    assert plan(evaluator(boxes_only), [], 'evaluated')[:2] == (True, {})
    assert plan(evaluator(boxes_only), [], 'all')[:2] == (True, None)
