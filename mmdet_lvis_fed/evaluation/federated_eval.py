"""Federated LVIS evaluation in plain numpy: lvis-api 0.5.3's rules, vectorised.

The rules (lvis-api `LVISEval`, `LVISResults`), each of which is applied here in bulk:

* At most `max_dets` (300) detections per image across all categories, the highest scores kept; among
  equal scores the earlier result wins (lvis-api sorts with Python's stable sort).
* Ground truth and detections with area <= 0 are dropped (lvis-api's `get_ann_ids` keeps
  `0 < area < inf`). A detection's area is its box's when the results carry boxes, else its mask's
  (lvis-api's `LVISResults`); it also decides small / medium / large.
* Scores only rank: negative ones (logits, log-probabilities) are as good as any. faster-coco-eval keeps zero-area detections and counts them as false positives,
  one of the ways it differs from the official numbers.
* A detection of category c on image I is evaluated only if c is annotated on I (positive) or is in
  I's `neg_category_ids`. LVIS is federated: nobody checked the other categories on I, so a detection
  there is neither right nor wrong and is dropped.
* An unmatched detection of c on an image where c is in `not_exhaustive_category_ids` is ignored
  (some instances were left unannotated, so it may be a true object); a matched one is a true positive.
* Greedy matching per (image, category), highest score first: a detection takes the unmatched ground
  truth of highest IoU >= threshold, preferring ground truth that is not ignored for the area range; on
  equal IoU the later annotation in file order wins (lvis-api's `<` comparison).
* Precision is interpolated at 101 recall points; a category without ground truth in the evaluated
  images (or area range) is left out of the means, and a mean over nothing is -1.

Box IoU is computed with pycocotools' formula and operation order, so thresholds compare bit for bit
the same; mask IoU is pycocotools' own (`mask.iou`), one call per (image, category) pair.
"""
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from ..errors import field_error
from .lvis_data import (Detections, LVISFormatError, LVISGroundTruth, RLEColumn, check_rle,
                        check_rle_counts, in_sorted, index_of, pair_keys, sort_by)

# Same construction as lvis-api: np.arange drifts, linspace does not.
IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RNGS = np.array([[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2],
                      [96 ** 2, 1e5 ** 2]], np.float64)
AREA_LABELS = ('all', 'small', 'medium', 'large')
FREQ_GROUPS = ('r', 'c', 'f')
SUMMARY_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')
_PAIR_CHUNK = 1 << 18   # (detection, ground truth) pairs whose IoU is held at once


@dataclass
class EvalResult:
    """What one evaluation produced.

    Attributes:
        iou_type: 'bbox' or 'segm'.
        summary: lvis-api's keys (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ARs@300,
            ARm@300, ARl@300); -1 where nothing could be averaged.
        precision: (iou thresholds, recall points, categories, area ranges); -1 where undefined.
        recall: (iou thresholds, categories, area ranges); -1 where undefined.
        cat_ids, cat_names, cat_freq: the evaluated categories, in the order of the arrays.
        num_gt: ground-truth instances per evaluated category (area 'all').
    """
    iou_type: str
    summary: Dict[str, float]
    precision: np.ndarray
    recall: np.ndarray
    cat_ids: np.ndarray
    cat_names: List[str]
    cat_freq: List[str]
    num_gt: np.ndarray

    def per_category(self):
        """Per evaluated category: AP, AP at each IoU threshold (None where undefined)."""
        rows = []
        for k, cat_id in enumerate(self.cat_ids):
            p = self.precision[:, :, k, 0]
            defined = bool((p > -1).any())
            rows.append(dict(
                id=int(cat_id), name=self.cat_names[k], frequency=self.cat_freq[k],
                num_gt=int(self.num_gt[k]),
                ap=float(p.mean()) if defined else None,
                ap_per_iou=[float(v) for v in p.mean(axis=1)] if defined else None))
        return rows


def evaluate(gt: LVISGroundTruth, dets: Detections, iou_type: str = 'bbox',
             cat_ids=None, img_ids=None, max_dets: int = 300,
             mask_area: bool = False) -> EvalResult:
    """Evaluate detections against LVIS ground truth under the federated rules.

    Args:
        gt: ground truth (`LVISGroundTruth.from_file` / `from_dict`).
        dets: detections (`results_file.read_results`, `read_mmdet_dump`,
            `detections_from_records`, or built from arrays).
        iou_type: 'bbox' or 'segm'.
        cat_ids: LVIS category ids to evaluate (a subset); None evaluates every category in `gt`.
            APr/APc/APf average over the subset's categories, by their `frequency` in `gt`.
        img_ids: image ids to evaluate (a split, say); None evaluates every image in `gt`.
            Detections on other images are dropped, like lvis-api's `params.img_ids`.
        max_dets: detections kept per image across categories; < 0 keeps all. Defaults to 300.
        mask_area: segm only. By default a detection's area (which decides small / medium /
            large and the `area > 0` filter) is lvis-api's: its box's when the results carry
            boxes, its mask's when they do not. True takes every mask's own area under segm, as
            detectron2 does (it drops the boxes before calling lvis-api).
    """
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f'iou_type must be "bbox" or "segm", not {iou_type!r}')
    if iou_type == 'segm' and len(dets) and dets.segm is None:
        raise LVISFormatError(f'{dets.source or "detections"}: record 0: field "segmentation": '
                              'missing: segm evaluation needs a mask in every detection')
    num_cats = gt.num_cats
    eval_cats = gt.cat_indices(cat_ids)
    cat_sel = np.zeros(num_cats, bool)
    cat_sel[eval_cats] = True
    img_sel = np.ones(len(gt.img_ids), bool)
    if img_ids is not None:
        img_sel[:] = False
        img_ids = np.unique(np.asarray(img_ids, np.int64))
        img_sel[index_of(img_ids, gt.img_ids, lambda i: LVISFormatError(
            f'{gt.source or "ground truth"}: field "images": no image has the requested id '
            f'{img_ids[i]}'))] = True

    g = _select_ground_truth(gt, cat_sel, img_sel)
    d = _select_detections(gt, dets, cat_sel, img_sel, g['pos_keys'], iou_type, max_dets,
                           mask_area)
    pairs = _candidate_pairs(gt, dets, d, g, iou_type)
    # Rows of the matching state: area range a, IoU threshold t -> row a * T + t.
    gt_ig = _area_ignore(g['area'], g['ignore'])
    dt_m, dt_ig_m = _greedy_match(d, pairs, np.repeat(gt_ig, len(IOU_THRS), axis=0), len(g['area']))
    dt_out = _area_ignore(d['area'], np.zeros(len(d['area']), bool))
    dt_nel = in_sorted(d['key'], gt.nel_keys)
    # Unmatched detections are ignored outside the area range or where the category is not
    # exhaustive; a matched one is ignored when its ground truth is. So a true positive is matched
    # to a ground truth that is not ignored, and a false positive is unmatched and not ignored.
    # (In place: these are (area ranges x thresholds, detections) arrays, the largest here.)
    tps = np.logical_and(dt_m, ~dt_ig_m, out=dt_ig_m)
    fps = np.repeat(dt_out, len(IOU_THRS), axis=0)
    fps |= dt_nel[None, :]
    fps |= dt_m
    np.logical_not(fps, out=fps)
    del dt_m
    num_gt = np.stack([np.bincount(g['cat'][~gt_ig[a]], minlength=num_cats)
                       for a in range(len(AREA_RNGS))])
    precision, recall = _accumulate(d, tps, fps, num_gt, eval_cats)
    freq = [gt.cat_freq[k] for k in eval_cats]
    return EvalResult(iou_type, summarize(precision, recall, freq, max_dets), precision, recall,
                      gt.cat_ids[eval_cats], [gt.cat_names[k] for k in eval_cats], freq,
                      num_gt[0, eval_cats])


def _area_ignore(area, ignore):
    """(area ranges, n) bool: outside the range (or flagged `ignore`)."""
    return ignore[None, :] | (area[None, :] < AREA_RNGS[:, :1]) | (area[None, :] > AREA_RNGS[:, 1:])


def _valid_area(area):
    with np.errstate(invalid='ignore'):
        return (area > 0) & (area < np.inf)


def _select_ground_truth(gt, cat_sel, img_sel):
    keep = cat_sel[gt.ann_cat] & img_sel[gt.ann_img] & _valid_area(gt.ann_area)
    idx = np.nonzero(keep)[0]
    key = pair_keys(gt.ann_img[idx], gt.ann_cat[idx], gt.num_cats)
    order = np.argsort(key, kind='stable')          # by (image, category), file order inside
    idx, key = idx[order], key[order]
    return dict(idx=idx, key=key, cat=gt.ann_cat[idx], area=gt.ann_area[idx],
                ignore=gt.ann_ignore[idx], bbox=gt.ann_bbox[idx], pos_keys=np.unique(key))


def _select_detections(gt, dets, cat_sel, img_sel, pos_keys, iou_type, max_dets, mask_area):
    src = dets.source or 'detections'
    ann = f'the annotation file{f" {gt.source}" if gt.source else ""}'
    img = index_of(dets.image_id, gt.img_ids, lambda i: field_error(
        src, f'record {i}', 'image_id', f'{dets.image_id[i]} is not an image of {ann}'))
    cat = index_of(dets.category_id, gt.cat_ids, lambda i: field_error(
        src, f'record {i}', 'category_id', f'{dets.category_id[i]} is not a category of {ann}'))
    score = np.asarray(dets.score, np.float64)
    bad = np.isnan(score)
    if bad.any():
        raise field_error(src, f'record {int(np.argmax(bad))}', 'score', 'NaN cannot be ranked')
    bbox = np.asarray(dets.bbox, np.float64).reshape(-1, 4)
    with np.errstate(invalid='ignore'):
        bad = ~np.isfinite(bbox).all(axis=1) | (bbox[:, 2] < 0) | (bbox[:, 3] < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise field_error(src, f'record {i}', 'bbox', f'{bbox[i].tolist()} is not finite, or has '
                          'a negative width or height')
    box_area = dets.box_given and not (mask_area and iou_type == 'segm')
    segm = None
    if iou_type == 'segm' or not box_area:
        segm = _mask_column(dets.segm, gt.img_hw[img], src)

    keep = np.arange(len(score))
    per_image = np.bincount(img, minlength=len(gt.img_ids))
    if 0 <= max_dets and len(score) and per_image.max() > max_dets:
        # Only the images over the cap are sorted; ties keep the results' order.
        over = np.nonzero(per_image[img] > max_dets)[0]
        order = over[sort_by(img[over], score[over])]
        run_start = np.r_[0, np.nonzero(np.diff(img[order]))[0] + 1]
        rank = np.arange(len(order)) - np.repeat(run_start, np.diff(np.r_[run_start, len(order)]))
        drop = np.zeros(len(score), bool)
        drop[order[rank >= max_dets]] = True
        keep = np.nonzero(~drop)[0]

    key = pair_keys(img[keep], cat[keep], gt.num_cats)
    fed = cat_sel[cat[keep]] & img_sel[img[keep]] & (in_sorted(key, pos_keys) | in_sorted(key, gt.neg_keys))
    keep = keep[fed]
    if box_area:
        area = bbox[keep, 2] * bbox[keep, 3]
    else:
        check_rle_counts(segm, src, lambda i: f'record {i}', keep)
        area = _mask_areas([segm[i] for i in keep], src, keep)
    ok = _valid_area(area)
    keep, area = keep[ok], area[ok]

    key = pair_keys(img[keep], cat[keep], gt.num_cats)
    order = sort_by(key, score[keep])                # by (image, category), score, results' order
    keep, area, key = keep[order], area[order], key[order]
    group_start = np.r_[0, np.nonzero(np.diff(key))[0] + 1] if len(key) else np.zeros(0, np.int64)
    rank = np.arange(len(key)) - np.repeat(group_start, np.diff(np.r_[group_start, len(key)]))
    return dict(idx=keep, img=img[keep], cat=cat[keep], score=score[keep], bbox=bbox[keep],
                area=area, key=key, rank=rank, segm=segm)


def _mask_column(segm, hw, src):
    """The masks as an RLEColumn, every size checked against its image. Their counts are decoded
    and checked later, for the rows that pycocotools is about to read."""
    if isinstance(segm, RLEColumn):
        bad = (segm.heights != hw[:, 0]) | (segm.widths != hw[:, 1])
        if bad.any():
            i = int(np.argmax(bad))
            check_rle(segm[i], int(hw[i, 0]), int(hw[i, 1]), src, f'record {i}')
        return segm
    for i, rle in enumerate(segm):
        check_rle(rle, int(hw[i, 0]), int(hw[i, 1]), src, f'record {i}')
    return RLEColumn.from_rles(segm)


def _mask_areas(rles, src, rows):
    from pycocotools import mask as mask_utils
    if not rles:
        return np.zeros(0)
    try:
        # pycocotools' area() allocates its output as np.array((n,), dtype=np.uint8), which
        # overflows under numpy 2 for n > 255: ask for at most 255 masks at a time.
        return np.concatenate([np.asarray(mask_utils.area(rles[i:i + 255]), np.float64)
                               for i in range(0, len(rles), 255)])
    except Exception:
        for r, rle in zip(rows, rles):   # find the first record that does not decode
            try:
                mask_utils.area([rle])
            except Exception as e:
                raise field_error(src, f'record {int(r)}', 'segmentation',
                                  f'cannot be decoded ({e})') from e
        raise


def _candidate_pairs(gt, dets, d, g, iou_type):
    """(detection, ground truth) pairs in the same (image, category) with IoU >= the lowest threshold.

    Sorted by detection (in group order), then ground truth in file order.
    """
    gs = np.searchsorted(g['key'], d['key'], 'left')
    ng = np.searchsorted(g['key'], d['key'], 'right') - gs
    if iou_type == 'bbox':
        parts = [_box_pairs(d['bbox'], g['bbox'], gs, ng, lo, hi)
                 for lo, hi in _chunks(ng, _PAIR_CHUNK)]
    else:
        parts = [_mask_pairs(gt, dets, d, g, gs, ng)]
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate(x) for x in zip(*parts))


def _chunks(counts, limit):
    """Split rows into runs whose counts add up to about `limit`."""
    ends = np.searchsorted(np.cumsum(counts), np.arange(limit, counts.sum() + limit, limit), 'right')
    lo = 0
    for hi in np.unique(np.r_[ends, len(counts)]):
        hi = max(int(hi), lo + 1)
        if lo < len(counts):
            yield lo, min(hi, len(counts))
        lo = hi


def _box_pairs(dbox, gbox, gs, ng, lo, hi):
    n = ng[lo:hi]
    det = np.repeat(np.arange(lo, hi), n)
    offs = np.arange(len(det)) - np.repeat(np.cumsum(n) - n, n)
    gti = gs[det] + offs
    D, G = dbox[det], gbox[gti]
    # pycocotools bbIou, same operations in the same order: the >= threshold tests agree exactly.
    w = np.minimum(D[:, 2] + D[:, 0], G[:, 2] + G[:, 0]) - np.maximum(D[:, 0], G[:, 0])
    h = np.minimum(D[:, 3] + D[:, 1], G[:, 3] + G[:, 1]) - np.maximum(D[:, 1], G[:, 1])
    inter = w * h
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / (D[:, 2] * D[:, 3] + G[:, 2] * G[:, 3] - inter)
    ok = (w > 0) & (h > 0) & (iou >= IOU_THRS[0])
    return det[ok], gti[ok], iou[ok]


def _mask_pairs(gt, dets, d, g, gs, ng):
    from pycocotools import mask as mask_utils
    gt_rles = gt.rles()
    has = np.nonzero(ng)[0]
    if not len(has):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    # Runs of detections sharing one (image, category) group.
    brk = np.r_[0, np.nonzero(np.diff(d['key'][has]) | (np.diff(has) != 1))[0] + 1, len(has)]
    dets_out, gts_out, ious_out = [], [], []
    segm, idx = d['segm'], d['idx']
    check_rle_counts(segm, dets.source or 'detections', lambda i: f'record {i}', idx[has])
    for a, b in zip(brk[:-1], brk[1:]):
        d0, d1 = has[a], has[b - 1] + 1
        g0, n = gs[d0], ng[d0]
        iou = np.asarray(mask_utils.iou([segm[i] for i in idx[d0:d1]],
                                        [gt_rles[j] for j in g['idx'][g0:g0 + n]], [0] * n))
        r, c = np.nonzero(iou >= IOU_THRS[0])
        dets_out.append(r + d0)
        gts_out.append(c + g0)
        ious_out.append(iou[r, c])
    return np.concatenate(dets_out), np.concatenate(gts_out), np.concatenate(ious_out)


def _greedy_match(d, pairs, gt_ig_rows, num_gt):
    """lvis-api's greedy matching, for every (image, category) group, area range and threshold at once.

    A detection only competes with earlier detections of its own group, so all groups advance one
    score rank per step. Returns (matched, matched-to-an-ignored-gt), each (rows, detections).
    """
    rows = gt_ig_rows.shape[0]
    thr = np.tile(IOU_THRS, rows // len(IOU_THRS))[:, None]
    n_det = len(d['key'])
    dt_m = np.zeros((rows, n_det), bool)
    dt_ig = np.zeros((rows, n_det), bool)
    p_det, p_gt, p_iou = pairs
    if not len(p_det):
        return dt_m, dt_ig
    gt_taken = np.zeros((rows, num_gt), bool)
    order = np.argsort(d['rank'][p_det], kind='stable')
    p_det, p_gt, p_iou = p_det[order], p_gt[order], p_iou[order]
    ranks = d['rank'][p_det]
    bounds = np.r_[0, np.nonzero(np.diff(ranks))[0] + 1, len(ranks)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        det, gti, iou = p_det[lo:hi], p_gt[lo:hi], p_iou[lo:hi]
        seg = np.r_[0, np.nonzero(np.diff(det))[0] + 1]
        seg_of = np.repeat(np.arange(len(seg)), np.diff(np.r_[seg, len(det)]))
        avail = ~gt_taken[:, gti] & (iou[None, :] >= thr)
        keep_ig = gt_ig_rows[:, gti]
        nonig = avail & ~keep_ig
        # Once a detection can match a non-ignored gt it never takes an ignored one.
        elig = np.where(np.logical_or.reduceat(nonig, seg, axis=1)[:, seg_of], nonig, avail)
        val = np.where(elig, iou[None, :], -1.0)
        best = np.maximum.reduceat(val, seg, axis=1)[:, seg_of]
        pos = np.where(elig & (val == best), np.arange(len(det))[None, :], -1)
        choice = np.maximum.reduceat(pos, seg, axis=1)   # last of the best: lvis-api's tie rule
        r, s = np.nonzero(choice >= 0)
        p = choice[r, s]
        gt_taken[r, gti[p]] = True
        dt_m[r, det[p]] = True
        dt_ig[r, det[p]] = keep_ig[r, p]
    return dt_m, dt_ig


def _accumulate(d, tps, fps, num_gt, eval_cats):
    """Precision at 101 recall points and final recall, lvis-api's `accumulate` per category."""
    T, R, A = len(IOU_THRS), len(REC_THRS), len(AREA_RNGS)
    K = len(eval_cats)
    precision = -np.ones((T, R, K, A))
    recall = -np.ones((T, K, A))
    # Across images: score, then image id, then the results' order (lvis-api's stable sorts).
    # `d` is in (image, category), score, results' order: stable sorts keep image, then results'
    # order among equal scores.
    order = sort_by(d['cat'], d['score'])
    cats = d['cat'][order]
    tps, fps = tps[:, order], fps[:, order]     # each category's detections are now contiguous
    starts = np.searchsorted(cats, eval_cats, 'left')
    ends = np.searchsorted(cats, eval_cats, 'right')
    eps = np.spacing(1)
    for k, c in enumerate(eval_cats):
        ng = num_gt[:, c]                           # per area range
        if not ng.any():
            continue
        lo, hi = starts[k], ends[k]
        n = hi - lo
        rows = np.repeat(ng > 0, T)                 # (A*T,)
        ng_rows = np.repeat(ng, T)[rows]
        if n == 0:
            precision[:, :, k, ng > 0] = 0
            recall[:, k, ng > 0] = 0
            continue
        tp_i = np.cumsum(tps[:, lo:hi][rows], axis=1)
        tp = tp_i.astype(np.float64)
        fp = np.cumsum(fps[:, lo:hi][rows], axis=1).astype(np.float64)
        rc_last = tp[:, -1] / ng_rows
        pr = tp / (fp + tp + eps)
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        # First index with tp/ng >= r: the smallest tp count k_r with k_r/ng >= r (the same float
        # division lvis-api does), then a search on the integer cumulative counts, all rows at once.
        k_r = np.repeat(np.stack([np.searchsorted(np.arange(m + 1) / m, REC_THRS, 'left')
                                  for m in ng[ng > 0]]), T, axis=0)   # per area, for each IoU
        stride = n + 1
        flat = (tp_i + (np.arange(len(ng_rows)) * stride)[:, None]).ravel()
        target = k_r + (np.arange(len(ng_rows)) * stride)[:, None]
        pos = np.searchsorted(flat, target.ravel(), 'left').reshape(target.shape)
        col = pos - (np.arange(len(ng_rows)) * n)[:, None]   # n past the row's end: not reached
        q = np.where(col < n, np.take_along_axis(pr, np.minimum(col, n - 1), axis=1), 0.0)
        a_idx = np.nonzero(ng > 0)[0]
        precision[:, :, k, a_idx] = q.reshape(len(a_idx), T, R).transpose(1, 2, 0)
        recall[:, k, a_idx] = rc_last.reshape(len(a_idx), T).T
    return precision, recall


def summarize(precision, recall, cat_freq, max_dets=300):
    """lvis-api's summary numbers from the accumulated arrays."""
    def mean(s):
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    freq = np.asarray(cat_freq, dtype=object)
    out = dict(AP=mean(precision[..., 0]),
               AP50=mean(precision[IOU_THRS == 0.5][..., 0]),
               AP75=mean(precision[IOU_THRS == 0.75][..., 0]),
               APs=mean(precision[..., 1]), APm=mean(precision[..., 2]),
               APl=mean(precision[..., 3]))
    for f in FREQ_GROUPS:
        out['AP' + f] = mean(precision[:, :, freq == f, 0])
    out[f'AR@{max_dets}'] = mean(recall[..., 0])
    for a, label in ((1, 's'), (2, 'm'), (3, 'l')):
        out[f'AR{label}@{max_dets}'] = mean(recall[..., a])
    return out
