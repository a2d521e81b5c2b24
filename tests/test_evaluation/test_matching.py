"""Candidate pairs and lvis-api's greedy matching (evaluation/matching.py) on hand-made pairs whose
IoUs are worked out by hand, ties and ignored ground truth included."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.evaluation import matching
from mmdet_lvis_fed.evaluation.masks import RLEColumn, check_rle_counts
from mmdet_lvis_fed.evaluation.matching import candidate_pairs, greedy_match
from mmdet_lvis_fed.evaluation.params import IOU_THRS

T = len(IOU_THRS)                       # 0.50, 0.55, ..., 0.95


def columns(keys, boxes):
    return dict(key=np.array(keys, np.int64), bbox=np.array(boxes, np.float64).reshape(-1, 4))


def test_box_pairs_by_hand():
    # Group (key) 0: one detection, three ground truths; group 1: one of each; group 2: a
    # detection with no ground truth.
    d = columns([0, 1, 2], [[0, 0, 10, 10], [20, 20, 4, 4], [0, 0, 5, 5]])
    g = columns([0, 0, 0, 1], [[0, 0, 10, 10],     # IoU 100 / 100 = 1
                               [5, 0, 10, 10],     # 50 / (100 + 100 - 50) = 1/3: below 0.5
                               [0, 0, 10, 5],      # 50 / (100 + 50 - 50) = 0.5: kept (>=)
                               [22, 22, 4, 4]])    # 4 / (16 + 16 - 4) = 1/7
    det, gt, iou = candidate_pairs(d, g, 'bbox')
    assert det.tolist() == [0, 0] and gt.tolist() == [0, 2]
    assert iou.tolist() == [1.0, 0.5]
    # boxes that only touch have no pair (pycocotools: w > 0 and h > 0)
    det, gt, iou = candidate_pairs(columns([0], [[0, 0, 10, 10]]), columns([0], [[10, 0, 5, 5]]),
                                   'bbox')
    assert len(det) == 0


def test_box_pairs_the_same_in_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    keys = np.sort(rng.integers(0, 30, 400))
    d = columns(keys, np.c_[rng.uniform(0, 5, (400, 2)), rng.uniform(5, 10, (400, 2))])
    gk = np.sort(rng.integers(0, 30, 200))
    g = columns(gk, np.c_[rng.uniform(0, 5, (200, 2)), rng.uniform(5, 10, (200, 2))])
    whole = candidate_pairs(d, g, 'bbox')
    monkeypatch.setattr(matching, '_PAIR_CHUNK', 7)
    for a, b in zip(whole, candidate_pairs(d, g, 'bbox')):
        np.testing.assert_array_equal(a, b)
    assert len(whole[0]) > 100


def test_mask_pairs_by_hand():
    # 4 x 4 image. Detection: the top-left 2 x 2 block (4 pixels). Ground truth: the top two rows
    # (8 pixels, IoU 4 / 8 = 0.5), the left column (4 pixels, IoU 2 / 6 = 1/3: below 0.5).
    def rle(mask):
        return mask_utils.encode(np.asfortranarray(np.array(mask, np.uint8)))
    block = np.zeros((4, 4)); block[:2, :2] = 1
    rows = np.zeros((4, 4)); rows[:2] = 1
    col = np.zeros((4, 4)); col[:, 0] = 1
    d = dict(key=np.array([5]), idx=np.array([0]), img=np.array([0]))
    g = dict(key=np.array([5, 5]), idx=np.array([1, 0]))      # file order: rows, then column
    det, gt, iou = candidate_pairs(d, g, 'segm', checked([rle(block)]),
                                   checked([rle(col), rle(rows)]))
    assert det.tolist() == [0] and gt.tolist() == [0] and iou.tolist() == [0.5]


def checked(rles):
    """Masks as the evaluator holds them: a column whose counts were checked."""
    column = RLEColumn.from_rles(rles)
    check_rle_counts(column, 'test', lambda i: (f'mask {i}', 'segmentation'))
    return column


def test_mask_pairs_are_pycocotools_pairs_at_half_or_more(monkeypatch):
    # Random masks in groups of one image size: the pairs kept (the areas and pixel boxes skip
    # most pairs before any IoU) are exactly those where pycocotools' mask.iou is >= 0.5, with
    # its IoU, in chunks of any size.
    rng = np.random.default_rng(5)
    h, w = 30, 26

    def mask():
        m = np.zeros((h, w), np.uint8)
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        m[y:y + rng.integers(2, 14), x:x + rng.integers(2, 14)] = 1
        if rng.uniform() < 0.3:
            m[rng.integers(0, h), :] = 1             # a stripe: a box far larger than the mask
        return mask_utils.encode(np.asfortranarray(m))
    dk, gk = np.sort(rng.integers(0, 6, 600)), np.sort(rng.integers(0, 6, 90))
    dm, gm = [mask() for _ in dk], [mask() for _ in gk]
    d = dict(key=dk, idx=np.arange(len(dk)), img=np.zeros(len(dk), np.int64))
    g = dict(key=gk, idx=np.arange(len(gk)))
    expect = []
    for i, k in enumerate(dk):
        js = np.flatnonzero(gk == k)
        iou = mask_utils.iou([dm[i]], [gm[j] for j in js], [0] * len(js))[0]
        expect += [(i, int(j), v) for j, v in zip(js, iou) if v >= IOU_THRS[0]]
    assert len(expect) > 40
    for chunk in (1 << 18, 7):
        monkeypatch.setattr(matching, '_PAIR_CHUNK', chunk)
        det, gt, iou = candidate_pairs(d, g, 'segm', checked(dm), checked(gm))
        assert list(zip(det.tolist(), gt.tolist(), iou.tolist())) == expect


def match(ranks, pairs, ignored, num_gt):
    det, gt, iou = (np.array(x) for x in zip(*pairs))
    gt_ig = np.repeat(np.array([ignored], bool), T, axis=0)    # one area range
    return greedy_match(np.array(ranks), (det, gt, iou), gt_ig, num_gt)


def row(matched_at):
    """The T thresholds as a bool row: matched at the given threshold indices."""
    out = np.zeros(T, bool)
    out[list(matched_at)] = True
    return out.tolist()


def test_the_higher_score_takes_the_better_ground_truth_first():
    # det 0 (rank 0): gt 0 at 0.82, gt 1 at 0.62; det 1 (rank 1): gt 0 at 0.92, gt 1 at 0.57.
    m, ig = match([0, 1], [(0, 0, 0.82), (0, 1, 0.62), (1, 0, 0.92), (1, 1, 0.57)],
                  [False, False], 2)
    # det 0 takes gt 0 up to threshold 0.80 (index 6); above, neither IoU reaches.
    assert m[:, 0].tolist() == row(range(7))
    # det 1: gt 0 is taken up to 0.80, so gt 1 (0.57) at 0.50 and 0.55 only; at 0.85 and 0.90
    # gt 0 is free again and 0.92 reaches; at 0.95 nothing.
    assert m[:, 1].tolist() == row([0, 1, 7, 8])
    assert not ig.any()


def test_equal_ious_go_to_the_later_annotation():
    # det 0 reaches gt 0 and gt 1 at the same 0.7; det 1 reaches only gt 1. lvis-api compares
    # with `<`, so the later annotation of equal IoU wins: det 0 takes gt 1 and leaves det 1
    # nothing (had it taken gt 0, det 1 would match gt 1).
    m, _ = match([0, 1], [(0, 0, 0.7), (0, 1, 0.7), (1, 1, 0.7)], [False, False], 2)
    assert m[:, 0].tolist() == row(range(5))               # up to 0.70 (index 4)
    assert not m[:, 1].any()
    # the other way round: det 1 reaches only gt 0, which det 0 left free
    m, _ = match([0, 1], [(0, 0, 0.7), (0, 1, 0.7), (1, 0, 0.7)], [False, False], 2)
    assert m[:, 0].tolist() == m[:, 1].tolist() == row(range(5))


def test_a_detection_prefers_ground_truth_that_is_not_ignored():
    # gt 0 is ignored (IoU 0.9), gt 1 is not (IoU 0.6): up to 0.60 the detection takes gt 1 and
    # is a true positive; from 0.65 to 0.90 only gt 0 reaches: matched, but to an ignored one.
    m, ig = match([0], [(0, 0, 0.9), (0, 1, 0.6)], [True, False], 2)
    assert m[:, 0].tolist() == row(range(9))
    assert ig[:, 0].tolist() == row(range(3, 9))


def test_no_pairs_no_matches():
    m, ig = greedy_match(np.array([0, 0]), matching._NONE, np.zeros((T, 3), bool), 3)
    assert m.shape == ig.shape == (T, 2) and not m.any() and not ig.any()


@pytest.mark.parametrize('iou', [0.5, 0.95])
def test_an_iou_on_a_threshold_reaches_it(iou):
    m, _ = match([0], [(0, 0, iou)], [False], 1)
    assert m[:, 0].tolist() == row(range(int(np.searchsorted(IOU_THRS, iou, 'right'))))
