"""The LVIS v1 category list and the one LVIS-v1-shaped generator (testing/lvis_v1.py): the
shipped list against LVIS v1's published sizes, every category drawn, the streamed writer equal
to the in-memory one."""
import json
from collections import defaultdict

import numpy as np
import pytest

from mmdet_lvis_fed.testing import lvis_v1

# LVIS v1 (lvisdataset.org, Gupta et al. 2019, and the v1 train and val files), written here
# independently of the module's constants.
K = 1203
NUM_TRAIN_IMAGES = 100170


def test_the_sizes_are_lvis_v1s():
    cats = lvis_v1.lvis_v1_categories()
    assert lvis_v1.NUM_CLASSES == len(cats) == K
    assert lvis_v1.TRAIN_IMAGES == lvis_v1.num_train_images() == NUM_TRAIN_IMAGES
    assert (lvis_v1.VAL_IMAGES, lvis_v1.TRAIN_ANNOTATIONS, lvis_v1.VAL_ANNOTATIONS) == (
        19809, 1270141, 244707)
    assert dict(lvis_v1.GROUP_SIZES) == {f: sum(c['frequency'] == f for c in cats) for f in 'fcr'}
    # INSTANCES_PER_PAIR: annotations over the (image, category) pairs the image counts sum to
    assert sum(c['image_count'] for c in cats) == 360952
    assert lvis_v1.INSTANCES_PER_PAIR == pytest.approx(1270141 / 360952)


def test_full_size_draws_lvis_v1_train_counts():
    # the columns write_full_size writes (drawing them is fast; writing ~0.9 GiB is not)
    cols = lvis_v1.draw_lvis_v1(lvis_v1.TRAIN_IMAGES, seed=0, **lvis_v1.FULL_SIZE)
    per_cat = np.bincount(np.unique(cols['ann_img'] * K + cols['ann_cat']) % K, minlength=K)
    assert per_cat.tolist() == [c['image_count'] for c in lvis_v1.lvis_v1_categories()]
    assert abs(len(cols['ann_img']) / 1270141 - 1) < 0.01
    assert (cols['width'], cols['height'], cols['poly_points']) == (640, 480, 40)
    with pytest.raises(ValueError, match="split must be 'train' or 'val', not 'test'"):
        lvis_v1.write_full_size('unused.json', 'test')


def test_shipped_categories():
    data = lvis_v1.read_categories_file()
    cats = lvis_v1.lvis_v1_categories()
    assert 'CC BY 4.0' in data['description'] and data['num_train_images'] == NUM_TRAIN_IMAGES
    assert [c['id'] for c in cats] == list(range(1, K + 1))
    assert [sum(c['frequency'] == f for c in cats) for f in 'fcr'] == [405, 461, 337]
    assert cats[30]['name'] == 'baboon' and cats[30]['image_count'] == 1


def test_generated_file_has_every_category(tmp_path):
    d = lvis_v1.make_lvis_v1(20, seed=3)
    assert [c['id'] for c in d['categories']] == list(range(1, K + 1))
    assert {a['category_id'] for a in d['annotations']} == set(range(1, K + 1))
    assert all({'neg_category_ids', 'not_exhaustive_category_ids'} <= set(im) for im in d['images'])
    assert d['info']['image_count_images'] == NUM_TRAIN_IMAGES
    # the streamed writer writes the same file
    path = lvis_v1.write_lvis_v1(str(tmp_path / 'a.json'), 20, seed=3, chunk=7)
    with open(path) as f:
        assert json.load(f) == json.loads(json.dumps(d))
    own = lvis_v1.make_lvis_v1(20, seed=3, lvis_counts=False)
    on = defaultdict(set)
    for a in own['annotations']:
        on[a['category_id']].add(a['image_id'])
    assert [c['image_count'] for c in own['categories']] == [len(on[i]) for i in range(1, K + 1)]
    assert 'image_count_images' not in own['info']
