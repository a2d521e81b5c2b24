"""Ground truth in columns (evaluation/ground_truth.py) from a hand-written file: images and
categories by ascending id, the federated lists as (image, category) keys, annotations in file
order, a category subset, and the id and name lookups."""
import json
import re

import numpy as np
import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth


def square(x, y, s):
    return [[x, y, x + s, y, x + s, y + s, x, y + s]]


# Images and categories out of id order on purpose; image 30 names a category (99) the file
# does not have in its neg_category_ids.
DATA = dict(
    images=[dict(id=30, height=40, width=50, neg_category_ids=[2, 99],
                 not_exhaustive_category_ids=[]),
            dict(id=10, height=20, width=30, neg_category_ids=[], not_exhaustive_category_ids=[7]),
            dict(id=20, height=60, width=70, neg_category_ids=[5, 7],
                 not_exhaustive_category_ids=[])],
    categories=[dict(id=7, name='seven', frequency='r'), dict(id=2, name='two', frequency='f'),
                dict(id=5, name='five', frequency='c')],
    annotations=[dict(id=3, image_id=20, category_id=2, bbox=[1, 2, 3, 4], area=12,
                      segmentation=square(1, 2, 3)),
                 dict(id=1, image_id=10, category_id=7, bbox=[0, 0, 5, 5], area=25, ignore=1,
                      segmentation=square(0, 0, 5)),
                 dict(id=2, image_id=30, category_id=5, bbox=[2, 2, 2, 2], area=4,
                      segmentation=square(2, 2, 2))])


@pytest.fixture(scope='module')
def gt():
    return LVISGroundTruth.from_dict(json.loads(json.dumps(DATA)), source='hand.json')


def test_images_and_categories_in_ascending_id(gt):
    assert gt.img_ids.tolist() == [10, 20, 30]
    assert gt.img_hw.tolist() == [[20, 30], [60, 70], [40, 50]]          # height, width
    assert gt.cat_ids.tolist() == [2, 5, 7] and gt.num_cats == 3
    assert gt.cat_names == ['two', 'five', 'seven'] and gt.cat_freq.tolist() == ['f', 'c', 'r']


def test_federated_lists_as_keys(gt):
    # key = image index * 3 + category index. neg: image 20 (index 1) lists 5 (1) and 7 (2):
    # 4, 5; image 30 (index 2) lists 2 (0): 6, and 99, which no category has, is dropped.
    assert gt.neg_keys.tolist() == [4, 5, 6]
    # not exhaustive: image 10 (index 0), category 7 (index 2): 2
    assert gt.nel_keys.tolist() == [2]


def test_annotations_keep_the_file_order(gt):
    assert gt.ann_ids.tolist() == [3, 1, 2]
    assert gt.ann_img.tolist() == [1, 0, 2] and gt.ann_cat.tolist() == [0, 2, 1]
    assert gt.ann_bbox.tolist() == [[1, 2, 3, 4], [0, 0, 5, 5], [2, 2, 2, 2]]
    assert gt.ann_area.tolist() == [12, 25, 4] and gt.ann_ignore.tolist() == [False, True, False]


def test_a_category_subset_reads_only_its_annotations(tmp_path):
    path = tmp_path / 'hand.json'
    path.write_text(json.dumps(DATA))
    sub = LVISGroundTruth.from_file(str(path), cat_ids=[5, 7])
    assert sub.ann_ids.tolist() == [1, 2] and sub.ann_cat.tolist() == [2, 1]
    # images, categories and the federated lists are the whole file's
    assert sub.cat_ids.tolist() == [2, 5, 7] and sub.neg_keys.tolist() == [4, 5, 6]


def test_lookups(gt):
    assert gt.cat_indices().tolist() == [0, 1, 2]
    assert gt.cat_indices([7, 2]).tolist() == [0, 2]
    with pytest.raises(LVISFormatError, match=re.escape(
            'hand.json: field "categories": no category has the requested id 4')):
        gt.cat_indices([4])
    assert gt.cat_ids_of().tolist() == [2, 5, 7]
    assert gt.cat_ids_of(('seven', 'two')).tolist() == [7, 2]        # label order = the names'


def test_masks_of_polygons_and_rles(gt):
    from pycocotools import mask as mask_utils
    rles = gt.rles()
    # polygons rasterised at their image's size (height, width)
    assert [r['size'] for r in rles] == [[60, 70], [20, 30], [40, 50]]
    assert gt.rles() is rles                                          # decoded once
    data = json.loads(json.dumps(DATA))
    given = mask_utils.encode(np.asfortranarray(np.eye(20, 30, dtype=np.uint8)))
    data['annotations'][1]['segmentation'] = dict(size=[20, 30],
                                                  counts=given['counts'].decode())
    assert LVISGroundTruth.from_dict(data).rles()[1]['counts'] == given['counts'].decode()
    data['annotations'][1]['segmentation']['size'] = [21, 30]
    with pytest.raises(LVISFormatError, match='annotation id 1'):
        LVISGroundTruth.from_dict(data, source='hand.json').rles()
