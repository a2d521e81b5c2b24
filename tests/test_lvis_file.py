"""LVISFile: the partial reader gives exactly what json.load gives, or falls back to it."""
import json

import numpy as np
import pytest

from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.lvis_file import LVISFile
from mmdet_lvis_fed.evaluation import LVISFormatError


def same_as_json(path):
    with open(path) as f:
        data = json.load(f)
    lf = LVISFile.read(str(path))
    assert lf.images == data['images'] and lf.categories == data['categories']
    np.testing.assert_array_equal(lf.ann_image_id, [a['image_id'] for a in data['annotations']])
    np.testing.assert_array_equal(lf.ann_category_id,
                                  [a['category_id'] for a in data['annotations']])
    idx = list(range(0, len(data['annotations']), 3))
    assert lf.annotations(idx) == [data['annotations'][i] for i in idx]
    return lf


def test_real_file_takes_the_fast_path(lvis_val_100):
    assert same_as_json(lvis_val_100)._anns is None


def test_generated_large_layout(tmp_path):
    path = tmp_path / 'big.json'
    syn.write_large_lvis(str(path), num_images=50, num_anns=400, num_cats=30)
    assert same_as_json(path)._anns is None


def test_nested_rle_segmentations_fall_back(tmp_path):
    gt = syn.make_ground_truth(5, num_cats=6, seed=1)
    gt['annotations'][0]['segmentation'] = {'size': [10, 10], 'counts': 'abc'}
    path = tmp_path / 'rle.json'
    path.write_text(json.dumps(gt, indent=1))       # whitespace and key order do not matter
    assert same_as_json(path)._anns is not None


def test_key_order_and_spacing(tmp_path):
    gt = syn.make_ground_truth(5, num_cats=6, seed=1)
    gt['annotations'] = [dict(reversed(list(a.items()))) for a in gt['annotations']]
    path = tmp_path / 'rev.json'
    path.write_text(json.dumps(dict(reversed(list(gt.items()))), separators=(',', ':')))
    assert same_as_json(path)._anns is None


def test_an_annotation_without_category_is_named(tmp_path):
    gt = syn.make_ground_truth(5, num_cats=6, seed=1)
    del gt['annotations'][2]['category_id']
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(gt))
    with pytest.raises(LVISFormatError, match=r'annotations\[2\] has no field "image_id" or '
                                              r'"category_id"'):
        LVISFile.read(str(path)).validate_ids()
