"""LVISFile: the partial reader gives exactly what json.load gives, or falls back to it."""
import json
import re

import numpy as np
import pytest

from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.lvis_file import LVISFile
from mmdet_lvis_fed.errors import LVISFormatError


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
    # the benchmarks' generator (compact msgspec encoding, chunk boundaries inside the arrays)
    from mmdet_lvis_fed.testing.lvis_v1 import FULL_SIZE, write_lvis_v1
    path = tmp_path / 'big.json'
    write_lvis_v1(str(path), 50, chunk=7, **FULL_SIZE)
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


@pytest.mark.parametrize('mutate,fast,valid', [
    (lambda a: a.update(id=10 ** 17), True, True),             # 18 digits: scanned
    (lambda a: a.update(id=10 ** 18), False, True),            # 19: the full parse reads it
    (lambda a: a.update(image_id=-a['image_id']), True, True),   # a sign is part of an integer
    (lambda a: a.update(category_id=float(a['category_id'])), False, False),
], ids=['18-digits', '19-digits', 'negative', 'float'])
def test_the_byte_scan_reads_integers_as_json_does(tmp_path, mutate, fast, valid):
    gt = syn.make_ground_truth(5, num_cats=6, seed=1)
    mutate(gt['annotations'][1])
    path = tmp_path / 'ids.json'
    path.write_text(json.dumps(gt, indent=4))                  # pretty-printed: spaces, newlines
    with open(path) as f:
        data = json.load(f)
    lf = LVISFile.read(str(path))
    if valid:
        np.testing.assert_array_equal(lf.ann_id, [a['id'] for a in data['annotations']])
        np.testing.assert_array_equal(lf.ann_image_id,
                                      [a['image_id'] for a in data['annotations']])
    else:
        with pytest.raises(LVISFormatError, match=r'annotations\[1\]: field "(id|category_id)"'):
            lf.validate_ids()
    assert (lf._anns is None) == fast


def test_an_annotation_without_category_is_named(tmp_path):
    gt = syn.make_ground_truth(5, num_cats=6, seed=1)
    del gt['annotations'][2]['category_id']
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(gt))
    with pytest.raises(LVISFormatError, match=r'annotations\[2\]: field "category_id": missing'):
        LVISFile.read(str(path)).validate_ids()


def test_annotation_ids_are_scanned_and_checked_over_the_whole_file(tmp_path):
    # A duplicate id among annotations that a category subset never parses is still found.
    from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
    gt = syn.make_ground_truth(20, num_cats=6, seed=1)
    cats = [c['id'] for c in gt['categories']]
    k = [i for i, a in enumerate(gt['annotations']) if a['category_id'] != cats[0]]
    gt['annotations'][k[2]]['id'] = gt['annotations'][k[0]]['id']
    path = tmp_path / 'dup.json'
    path.write_text(json.dumps(gt))
    lf = LVISFile.read(str(path))
    np.testing.assert_array_equal(lf.ann_id, [a['id'] for a in gt['annotations']])
    assert lf._anns is None                              # still the byte scan
    message = (f'annotations[{k[2]}]: field "id": {gt["annotations"][k[0]]["id"]} is the id of '
               f'annotations[{k[0]}] too')
    for subset in (None, [cats[0]]):
        with pytest.raises(LVISFormatError, match=re.escape(message)):
            LVISGroundTruth.from_file(str(path), subset)


@pytest.mark.parametrize('where', ['images', 'categories', 'annotations', 'annotation_image'])
def test_ids_beyond_64_bits_are_refused(tmp_path, where):
    gt = syn.make_ground_truth(5, num_cats=4, seed=1)
    big = 2 ** 63
    if where == 'annotation_image':
        gt['annotations'][1]['image_id'] = big
        field = 'annotations[1]: field "image_id"'
    else:
        gt[where][1]['id'] = big
        field = f'{where}[1]: field "id"'
    path = tmp_path / 'big.json'
    path.write_text(json.dumps(gt))
    with pytest.raises(LVISFormatError, match=re.escape(f'{field}: {big} does not fit in 64 bits')):
        LVISFile.read(str(path)).validate_ids()
