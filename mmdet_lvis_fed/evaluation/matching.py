"""IoUs of the (detection, ground truth) pairs that can match, and lvis-api's greedy matching.

Only pairs in the same (image, category) whose IoU reaches the lowest threshold (0.5) can match:
box IoU is computed for every pair in bulk with pycocotools' formula and operation order, so the
threshold tests agree bit for bit; mask IoU as pycocotools' `mask.iou` computes it (the same
doubles, `rle_kernels.group_pair_ious`), only for the pairs that can reach 0.5 by their areas
and the boxes of their pixels; boundary IoU (`boundary.py`) only for the mask pairs at 0.5 or
more, since the IoU it enters is min(mask IoU, boundary IoU).
"""
import numpy as np
from numba import njit

from .params import IOU_THRS
from .rle_kernels import decode_rows, group_pair_ious
from .threads import map_ranges

_PAIR_CHUNK = 1 << 18   # (detection, ground truth) pairs whose box IoU is held at once
_NONE = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def candidate_pairs(d, g, iou_type, det_masks=None, gt_masks=None, img_hw=None,
                    dilation_ratio=0.02):
    """(detection, ground truth, IoU) of the pairs with IoU >= the lowest threshold.

    `d`, `g`: detections and ground truth sorted by (image, category) key (`d` then by score),
    with 'key', 'bbox' and, for masks, 'idx' (rows of `det_masks` / `gt_masks`, RLEColumns) and
    'img'. Sorted by detection, then ground truth in file order."""
    gs = np.searchsorted(g['key'], d['key'], 'left')
    ng = np.searchsorted(g['key'], d['key'], 'right') - gs
    if iou_type == 'bbox':
        parts = [_box_pairs(d['bbox'], g['bbox'], gs, ng, lo, hi)
                 for lo, hi in _chunks(ng, _PAIR_CHUNK)]
    else:
        parts = [_mask_pairs(d, g, gs, ng, det_masks, gt_masks)]
        if iou_type == 'boundary':
            from .boundary import boundary_ious
            det, gti, iou = parts[0]
            b = boundary_ious(det_masks, d['idx'][det], gt_masks, g['idx'][gti],
                              img_hw[d['img'][det]], dilation_ratio)
            iou = np.minimum(iou, b)
            ok = iou >= IOU_THRS[0]
            parts = [(det[ok], gti[ok], iou[ok])]
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _NONE
    return tuple(np.concatenate(x) for x in zip(*parts))


def _chunks(counts, limit):
    """Split rows into runs whose counts add up to about `limit`."""
    ends = np.searchsorted(np.cumsum(counts), np.arange(limit, counts.sum() + limit, limit),
                           'right')
    lo = 0
    for hi in np.unique(np.r_[ends, len(counts)]):
        hi = max(int(hi), lo + 1)
        if lo < len(counts):
            yield lo, min(hi, len(counts))
        lo = hi


def _group_pairs(gs, ng, lo, hi):
    """(detection, ground truth) of every pair in the same (image, category), for detections
    lo..hi-1: by detection, then ground truth in file order."""
    n = ng[lo:hi]
    det = np.repeat(np.arange(lo, hi), n)
    offs = np.arange(len(det)) - np.repeat(np.cumsum(n) - n, n)
    return det, gs[det] + offs


def _box_pairs(dbox, gbox, gs, ng, lo, hi):
    det, gti = _group_pairs(gs, ng, lo, hi)
    D, G = dbox[det], gbox[gti]
    # pycocotools bbIou, same operations in the same order: the >= threshold tests agree exactly.
    w = np.minimum(D[:, 2] + D[:, 0], G[:, 2] + G[:, 0]) - np.maximum(D[:, 0], G[:, 0])
    h = np.minimum(D[:, 3] + D[:, 1], G[:, 3] + G[:, 1]) - np.maximum(D[:, 1], G[:, 1])
    inter = w * h
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / (D[:, 2] * D[:, 3] + G[:, 2] * G[:, 3] - inter)
    ok = (w > 0) & (h > 0) & (iou >= IOU_THRS[0])
    return det[ok], gti[ok], iou[ok]


def _mask_pairs(d, g, gs, ng, det_masks, gt_masks):
    """Mask IoU >= 0.5 of the pairs in the same (image, category). Both columns were checked
    (`masks.check_rle_counts`), which kept each mask's area and pixel box: a pair whose
    intersection cannot reach 0.5 x its union by those (i <= min(box overlap, both areas),
    u = area + area - i) is skipped, exactly, before any string is decoded
    (`rle_kernels.group_pair_ious`, detections in threads)."""
    gt_runs, gt_starts = decode_rows(gt_masks.chars, gt_masks.offsets, g['idx'])
    g_area, g_box = gt_masks.areas[g['idx']], gt_masks.boxes[g['idx']]
    rows = d['idx']
    d_area, d_box = det_masks.areas[rows], det_masks.boxes[rows]
    chars = det_masks.chars

    def pairs(lo, hi):
        k, j, iou = group_pair_ious(chars, det_masks.offsets, rows[lo:hi], d_area[lo:hi],
                                    d_box[lo:hi], gs[lo:hi], ng[lo:hi], gt_runs, gt_starts,
                                    g_area, g_box, IOU_THRS[0], True)
        return k + lo, j, iou

    return tuple(np.concatenate(x) for x in zip(*map_ranges(pairs, len(rows),
                                                            weights=ng + 1)))


def greedy_match(det_rank, pairs, gt_ig_rows, num_gt):
    """lvis-api's greedy matching, for every (image, category) group, area range and threshold:
    a detection takes the unmatched ground truth of highest IoU >= the threshold, preferring
    ground truth that is not ignored; on equal IoU the later annotation in file order wins
    (lvis-api's `<` comparison).

    `pairs` (from `candidate_pairs`) are sorted by detection, and detections by (image,
    category) group then score rank (`det_rank`): taking them in that order takes each group's
    detections in lvis-api's order, and groups share no ground truth. Returns (matched,
    matched-to-an-ignored-gt), each (rows, detections): row a * T + t for area range a and
    threshold t."""
    rows = gt_ig_rows.shape[0]
    n_det = len(det_rank)
    dt_m = np.zeros((rows, n_det), bool)
    dt_ig = np.zeros((rows, n_det), bool)
    p_det, p_gt, p_iou = pairs
    if len(p_det):
        # each group's detections in rank order, one group after another
        assert det_rank[0] == 0 and ((det_rank[1:] == 0)
                                     | (det_rank[1:] == det_rank[:-1] + 1)).all()
        assert (np.diff(p_det) >= 0).all(), 'pairs must be sorted by detection'
        bounds = np.zeros(n_det + 1, np.int64)
        np.cumsum(np.bincount(p_det, minlength=n_det), out=bounds[1:])
        _greedy(bounds, p_gt, p_iou, np.ascontiguousarray(gt_ig_rows), IOU_THRS, num_gt,
                dt_m, dt_ig)
    return dt_m, dt_ig


@njit(cache=True, nogil=True)
def _greedy(bounds, p_gt, p_iou, gt_ig_rows, thrs, num_gt, dt_m, dt_ig):
    """The matching loop: detection i's pairs are p_gt/p_iou[bounds[i]:bounds[i + 1]]."""
    rows = gt_ig_rows.shape[0]
    taken = np.zeros((rows, num_gt), np.bool_)
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        if lo == hi:
            continue
        for r in range(rows):
            thr = thrs[r % len(thrs)]
            best, best_iou = -1, -1.0           # among ground truth that is not ignored
            best_ig, best_ig_iou = -1, -1.0     # among ignored ground truth
            for j in range(lo, hi):
                g = p_gt[j]
                iou = p_iou[j]
                if taken[r, g] or iou < thr:
                    continue
                if not gt_ig_rows[r, g]:
                    if iou >= best_iou:
                        best, best_iou = g, iou
                elif iou >= best_ig_iou:
                    best_ig, best_ig_iou = g, iou
            if best < 0:
                best = best_ig
            if best >= 0:
                taken[r, best] = True
                dt_m[r, i] = True
                dt_ig[r, i] = gt_ig_rows[r, best]
