"""Boundary IoU against two independent implementations: the official definition transcribed with
cv2.erode on full-size masks (mmdet_lvis_fed/testing/reference.py), and faster-coco-eval 1.8's own
boundary (its C++ `toBoundary` and the IoU matrix of its `boundary` evaluation)."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.evaluation.boundary import boundary_ious, dilation
from mmdet_lvis_fed.evaluation.masks import RLEColumn
from mmdet_lvis_fed.testing.reference import mask_to_boundary


def random_mask(rng, h, w):
    """Noise, boxes, full image, one pixel, empty, or boxes with cut rows (several runs per
    column, runs that cross columns, masks on the image border)."""
    m = np.zeros((h, w), np.uint8)
    kind = rng.integers(0, 6)
    if kind == 0:
        m[:] = rng.uniform(size=(h, w)) < rng.uniform()
    elif kind == 1:
        y, x = rng.integers(0, h), rng.integers(0, w)
        m[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = 1
    elif kind == 2:
        m[:] = 1
    elif kind == 3:
        m[rng.integers(0, h), rng.integers(0, w)] = 1
    elif kind == 5:
        for _ in range(3):
            y, x = rng.integers(0, h), rng.integers(0, w)
            m[y:y + rng.integers(1, h // 2 + 2), x:x + rng.integers(1, w // 2 + 2)] = 1
            m[rng.integers(0, h), :] = 0
    return m


def encode(m):
    return mask_utils.encode(np.asfortranarray(m))


def all_pairs(n):
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing='ij')
    return a.ravel(), b.ravel()


def reference_ious(masks, ratio):
    """pycocotools' IoU of the official boundaries (cv2 on the full-size masks)."""
    bs = [encode(mask_to_boundary(m, ratio)) for m in masks]
    a, b = all_pairs(len(masks))
    return np.array(mask_utils.iou(bs, bs, [0] * len(bs))).reshape(len(bs), len(bs))[a, b]


def ours(masks, ratio):
    col = RLEColumn.from_rles([encode(m) for m in masks])
    a, b = all_pairs(len(masks))
    h, w = masks[0].shape
    return boundary_ious(col, a, col, b, np.tile([[h, w]], (len(a), 1)), ratio)


@pytest.mark.parametrize('ratio', [0.02, 0.0, 0.1, 0.3])
def test_equals_the_official_definition_with_cv2(ratio):
    # tiny images (d = 1), LVIS-sized ones and, with 0.3, d > 64 (erosion across 64-bit words)
    rng = np.random.default_rng(int(ratio * 100))
    for trial in range(40):
        h, w = (int(v) for v in rng.integers(1, 12 if trial % 3 == 0 else 260, 2))
        masks = [random_mask(rng, h, w) for _ in range(6)]
        np.testing.assert_array_equal(ours(masks, ratio), reference_ious(masks, ratio))


def test_the_square_window_definition_equals_cv2():
    # The module's reading of the definition: a mask pixel is inside when the (2d+1) square
    # around it lies in the image and is all mask. Checked here on its own, with cumulative sums.
    rng = np.random.default_rng(5)
    for _ in range(30):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        m = random_mask(rng, h, w)
        d = int(dilation(h, w, 0.1))
        p = np.zeros((h + 2 * d, w + 2 * d), np.int64)
        p[d:d + h, d:d + w] = m
        s = np.pad(p.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        k = 2 * d + 1
        window = s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]
        inside = window == k * k
        np.testing.assert_array_equal(m & ~inside, mask_to_boundary(m, 0.1))


def test_dilation_rounds_half_to_even_and_is_at_least_one():
    assert dilation(3, 4, 0.5) == 2                  # 2.5 -> 2 (Python's round)
    assert dilation(3, 4, 0.7) == 4                  # 3.5 -> 4
    assert dilation(2, 2, 0.02) == 1                 # 0.06 -> 0 -> 1
    assert dilation(480, 640, 0.02) == 16


def test_hand_computed_4x4():
    # d = 1. Whole image: 12 boundary pixels (the ring). Left 3 columns: 12 pixels of which the
    # 2 at rows 1-2, column 1 are inside: 10 boundary pixels, 8 of them on the ring.
    full = np.ones((4, 4), np.uint8)
    left = full.copy()
    left[:, 3] = 0
    assert ours([full, left], 0.02)[1] == pytest.approx(8 / 14, abs=0)


def test_equals_faster_coco_eval():
    from faster_coco_eval.core import mask as fce_mask
    rng = np.random.default_rng(11)
    for _ in range(15):
        h, w = (int(v) for v in rng.integers(2, 200, 2))
        masks = [random_mask(rng, h, w) for _ in range(5)]
        rles = [encode(m) for m in masks]
        bs = [fce_mask.rleToBoundary(r, 0.02) for r in rles]
        a, b = all_pairs(len(masks))
        theirs = np.array(fce_mask.iou(bs, bs, [0] * len(bs))).reshape(len(bs), len(bs))[a, b]
        np.testing.assert_array_equal(ours(masks, 0.02), theirs)


def test_equals_faster_coco_eval_boundary_evaluation_matrix():
    # The IoU matrix faster-coco-eval's `boundary` evaluation matches with: min(mask, boundary).
    from faster_coco_eval import COCO, COCOeval_faster
    from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
    from mmdet_lvis_fed.testing import synthetic as syn
    gt = syn.make_ground_truth(6, num_cats=4, seed=3)
    cols = syn.make_detections(gt, 40, seed=4, near_share=0.8)
    rles = syn.detection_masks(gt, cols)
    results = syn.to_results(cols, rles)
    fg = COCO(gt)
    ev = COCOeval_faster(fg, fg.loadRes(results), 'boundary', lvis_style=True,
                         print_function=lambda *a: None)
    ev.params.maxDets = [1000]
    ev.evaluate()
    g = LVISGroundTruth.from_dict(gt)
    col, gcol = RLEColumn.from_rles(rles), g.rle_column()
    checked = 0
    for (img_id, cat_id), ious in ev.ious.items():
        if not len(ious):
            continue
        rows = np.nonzero((cols['image_id'] == img_id) & (cols['category_id'] == cat_id))[0]
        rows = rows[np.argsort(-cols['score'][rows], kind='mergesort')]
        anns = np.array([k for k, a in enumerate(gt['annotations'])
                         if a['image_id'] == img_id and a['category_id'] == cat_id])
        a, b = (v.ravel() for v in np.meshgrid(np.arange(len(rows)), np.arange(len(anns)),
                                               indexing='ij'))
        hw = np.tile(g.img_hw[np.searchsorted(g.img_ids, img_id)], (len(a), 1))
        mask_iou = np.array(mask_utils.iou([col[i] for i in rows], [gcol[j] for j in anns],
                                           [0] * len(anns))).ravel()
        got = np.minimum(mask_iou, boundary_ious(col, rows[a], gcol, anns[b], hw))
        np.testing.assert_array_equal(got, np.asarray(ious).ravel())
        checked += int((got >= 0.5).sum())
    assert checked > 20
