"""The record rules shared by the annotation reader and the detections (records.py)."""
import re

import numpy as np
import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.records import (INT64, bad_boxes, categories_named, check_category,
                                    check_image, id_column, is_id, not_id)


def test_an_id_is_a_json_integer_in_64_bits():
    assert [is_id(v) for v in (1, 0, -5, INT64[0], INT64[1], INT64[1] + 1, INT64[0] - 1, True,
                               1.0, '1', None)] == [True] * 5 + [False] * 6
    assert not_id(2 ** 63) == '9223372036854775808 does not fit in 64 bits'
    assert not_id(1.5) == '1.5 is not an integer id'
    assert not_id('3', 'an integer') == '"3" is not an integer'
    assert id_column([3, 1, 2 ** 62], 'f.json', 'images', 'id').tolist() == [3, 1, 2 ** 62]
    with pytest.raises(LVISFormatError, match=re.escape(
            'f.json: images[1]: field "id": true is not an integer id')):
        id_column([3, True], 'f.json', 'images', 'id')


def test_image_and_category_rules_name_the_field():
    image = dict(id=1, height=4, width=5, neg_category_ids=[], not_exhaustive_category_ids=[2])
    check_image(image, 'f.json', 'images[0]')
    with pytest.raises(LVISFormatError, match=re.escape(
            'f.json: images[0]: field "width": 0 is not a positive size')):
        check_image(dict(image, width=0), 'f.json', 'images[0]')
    with pytest.raises(LVISFormatError, match=re.escape(
            'f.json: images[0]: field "neg_category_ids": missing: this looks like a COCO file')):
        check_image({k: v for k, v in image.items() if k != 'neg_category_ids'}, 'f.json',
                    'images[0]')
    with pytest.raises(LVISFormatError, match=re.escape(
            'images[0]: field "not_exhaustive_category_ids": [1.0] is not a list of category ids')):
        check_image(dict(image, not_exhaustive_category_ids=[1.0]), 'f.json', 'images[0]')
    check_category(dict(id=2, name='a', frequency='r'), 'f.json', 'categories[0]')
    with pytest.raises(LVISFormatError, match=re.escape(
            'categories[0]: field "frequency": "x" is not one of \'r\', \'c\', \'f\'')):
        check_category(dict(id=2, name='a', frequency='x'), 'f.json', 'categories[0]')


def test_one_box_rule_for_ground_truth_and_detections():
    boxes = [[0, 0, 1, 1], [0, 0, 0, 0], [0, 0, -1, 1], [0, 0, 1, -0.5], [np.inf, 0, 1, 1],
             [0, np.nan, 1, 1], [1e300, 1e300, 1e300, 1e300]]
    assert bad_boxes(boxes).tolist() == [False, False, True, True, True, True, False]


# --- the one name lookup -----------------------------------------------------------------------

def test_the_name_lookup_refuses_empty_and_ambiguous_class_lists():
    cats = [dict(id=1, name='a'), dict(id=2, name='b'), dict(id=3, name='b')]
    assert [c['id'] for c in categories_named(cats, ('a',))] == [1]
    with pytest.raises(LVISFormatError, match=r'^classes is empty: name at least one category'):
        categories_named(cats, ())
    with pytest.raises(LVISFormatError, match=re.escape(
            "f.json: field \"categories\": 2 categories are named 'b' (ids [2, 3]): the name "
            "cannot choose between them")):
        categories_named(cats, ('a', 'b'), 'f.json')
