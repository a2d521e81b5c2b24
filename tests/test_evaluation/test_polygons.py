"""Ground-truth polygons to RLE (polygons.py) against pycocotools itself (frPyObjects, then
merge, as lvis-api calls them): the same strings, byte for byte, on real LVIS polygons and on
polygons made to be awkward (self-crossing, outside the image, negative, repeated and collinear
vertices, slivers, odd coordinate counts, several per annotation)."""
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
from mmdet_lvis_fed.evaluation.polygons import encode_polygons, polygon_rows
from tests.conftest import ROOT


def pycocotools_strings(segms, hw):
    return [mask_utils.merge(mask_utils.frPyObjects(s, int(h), int(w)))['counts']
            for s, (h, w) in zip(segms, hw)]


def ours(segms, hw):
    hw = np.asarray(hw, np.int64).reshape(-1, 2)
    chars, offsets = encode_polygons(segms, hw[:, 0], hw[:, 1])
    return [chars[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(segms))]


def awkward_polygons(rng, n):
    segms, hw = [], []
    for _ in range(n):
        h, w = int(rng.integers(1, 90)), int(rng.integers(1, 90))
        polys = []
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(3, 12))
            kind = rng.integers(0, 5)
            if kind == 0:                                  # anywhere, partly outside
                p = rng.uniform(-20, 110, 2 * k)
            elif kind == 1:                                # on the pixel grid and half-grid
                p = rng.integers(-2, 95, 2 * k) / 2.0
            elif kind == 2:                                # a sliver: collinear-ish
                x0, y0 = rng.uniform(0, 60, 2)
                t = rng.uniform(0, 30, k)
                p = np.ravel(np.c_[x0 + t, y0 + 0.5 * t + rng.normal(0, 0.05, k)])
            elif kind == 3:                                # repeated vertices
                p = np.repeat(rng.uniform(0, 80, (k, 2)), 2, axis=0).ravel()[:2 * k + 2]
            else:                                          # integers, some negative
                p = rng.integers(-5, 100, 2 * k).astype(float)
            p = [float(v) for v in p]
            if rng.random() < 0.2:
                p.append(float(rng.uniform(0, 50)))       # odd count: the last is not read
            if rng.random() < 0.3:
                p = [int(v) if v == int(v) else v for v in p]
            polys.append(p)
        segms.append(polys)
        hw.append((h, w))
    return segms, hw


def test_awkward_polygons_give_pycocotools_strings():
    rng = np.random.default_rng(0)
    segms, hw = awkward_polygons(rng, 3000)
    assert polygon_rows(segms).all()
    assert ours(segms, hw) == pycocotools_strings(segms, hw)


def test_real_lvis_polygons_give_pycocotools_strings():
    with open(osp.join(ROOT, 'tests', 'data', 'lvis_val_100.json')) as f:
        data = json.load(f)
    hw = {i['id']: (i['height'], i['width']) for i in data['images']}
    anns = data['annotations']
    segms = [a['segmentation'] for a in anns]
    sizes = [hw[a['image_id']] for a in anns]
    assert sum(len(s) > 1 for s in segms) > 10                 # several polygons, merged
    assert ours(segms, sizes) == pycocotools_strings(segms, sizes)


def test_which_rows_take_the_compiled_path():
    segms = [[[0, 0, 5, 0, 5, 5]],                          # yes
             [[0, 0, 5, 0, 5, 5], [1, 1, 2, 1, 2, 2.5]],    # yes
             [[0, 0, 5, 5]],                                # 4 numbers: pycocotools reads a box
             [[0, 0, 5, 0, 5, 5], [1, 1, 2, 2]],            # a 2-point polygon among others
             [[0, 0, 5, 0, 5, True]],                       # not JSON's numbers
             [[0, 0, 5, 0, 5, '5']],
             [[0, 0, 5, 0, 5, float('nan')]],
             [[0, 0, 5, 0, 5, 1e300]],
             {'size': [4, 4], 'counts': 'a'},               # RLE
             [],
             [[]]]
    assert polygon_rows(segms).tolist() == [True, True] + [False] * 9


@pytest.mark.parametrize('mixed', [False, True])
def test_ground_truth_column_equals_pycocotools(mixed):
    """LVISGroundTruth.rle_column: polygons compiled, anything else (RLE given as a string or
    as counts) through pycocotools, in file order."""
    rng = np.random.default_rng(1)
    segms, _ = awkward_polygons(rng, 60)
    images = [dict(id=1, height=70, width=50, neg_category_ids=[],
                   not_exhaustive_category_ids=[])]
    if mixed:
        rle = mask_utils.encode(np.asfortranarray(rng.random((70, 50)) < 0.3, np.uint8))
        segms[5] = dict(size=[70, 50], counts=rle['counts'].decode())
        segms[11] = dict(size=[70, 50], counts=[100, 20, 3380])      # uncompressed RLE
    anns = [dict(id=i + 1, image_id=1, category_id=1, segmentation=s, area=10.0,
                 bbox=[0, 0, 5, 5]) for i, s in enumerate(segms)]
    data = dict(images=images, annotations=anns,
                categories=[dict(id=1, name='a', frequency='f')])
    gt = LVISGroundTruth.from_dict(data)
    col = gt.rle_column()
    ref = LVISGroundTruth.from_dict(data).rles()
    assert [col[i]['counts'] for i in range(len(col))] == [
        r['counts'] if isinstance(r['counts'], bytes) else r['counts'].encode() for r in ref]
