"""Precision and recall curves from matched detections: lvis-api's `accumulate`, per category and
per pool of categories (AP-pool).

A curve is lvis-api's: the group's detections in score order (ties: image, then category, then
the order inside each (image, category) pair, as lvis-api's stable sorts leave them), cumulative
true and false positives, precision made monotone from the right, read at 101 recall points;
-1 where the group has no ground truth, 0 where it has ground truth but no detection.
"""
import numpy as np
from numba import njit

from .columns import sort_by
from .params import AREA_RNGS, FREQ_GROUPS, IOU_THRS, REC_THRS
from .threads import map_ranges


def curves(tps, fps, ng):
    """One group's curves. `tps`, `fps`: (areas x thresholds, n) bool, rows a * T + t, columns in
    score order; `ng`: (areas,) ground truth counted per area range. Returns precision (T, R,
    areas) and recall (T, areas)."""
    T, R, A = len(IOU_THRS), len(REC_THRS), len(ng)
    precision = -np.ones((T, R, A))
    recall = -np.ones((T, A))
    if not ng.any():
        return precision, recall
    n = tps.shape[1]
    a_idx = np.nonzero(ng > 0)[0]
    if n == 0:
        precision[:, :, a_idx] = 0
        recall[:, a_idx] = 0
        return precision, recall
    rows = np.repeat(ng > 0, T)                 # (A*T,)
    ng_rows = np.repeat(ng, T)[rows]
    tp_i = np.cumsum(tps[rows], axis=1)
    tp = tp_i.astype(np.float64)
    fp = np.cumsum(fps[rows], axis=1).astype(np.float64)
    rc_last = tp[:, -1] / ng_rows
    pr = tp / (fp + tp + np.spacing(1))
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
    # First index with tp/ng >= r: the smallest tp count k_r with k_r/ng >= r (the same float
    # division lvis-api does), then a search on the integer cumulative counts, all rows at once.
    k_r = np.repeat(np.stack([np.searchsorted(np.arange(m + 1) / m, REC_THRS, 'left')
                              for m in ng[a_idx]]), T, axis=0)   # per area, for each IoU
    stride = n + 1
    flat = (tp_i + (np.arange(len(ng_rows)) * stride)[:, None]).ravel()
    target = k_r + (np.arange(len(ng_rows)) * stride)[:, None]
    pos = np.searchsorted(flat, target.ravel(), 'left').reshape(target.shape)
    col = pos - (np.arange(len(ng_rows)) * n)[:, None]   # n past the row's end: not reached
    q = np.where(col < n, np.take_along_axis(pr, np.minimum(col, n - 1), axis=1), 0.0)
    precision[:, :, a_idx] = q.reshape(len(a_idx), T, R).transpose(1, 2, 0)
    recall[:, a_idx] = rc_last.reshape(len(a_idx), T).T
    return precision, recall


def accumulate(det_cat, det_score, tps, fps, num_gt, eval_cats):
    """Per evaluated category: precision (T, R, K, A) and recall (T, K, A).

    `det_cat`, `det_score`, `tps`, `fps`: the detections in (image, category), score, results'
    order; `num_gt`: (A, categories) ground truth per area range."""
    T, R, A = len(IOU_THRS), len(REC_THRS), len(AREA_RNGS)
    # Across images: score, then image, then the results' order (lvis-api's stable sorts).
    order = sort_by(det_cat, det_score)
    cats = det_cat[order]
    starts = np.searchsorted(cats, eval_cats, 'left')
    ends = np.searchsorted(cats, eval_cats, 'right')
    precision = np.empty((len(eval_cats), A, T, R))
    recall = np.empty((len(eval_cats), A, T))
    # a detection's rows side by side: the categories read their detections in score order,
    # scattered over the columns, one cache line each instead of one per row
    tps_t, fps_t = np.ascontiguousarray(tps.T), np.ascontiguousarray(fps.T)
    num_gt = np.ascontiguousarray(num_gt[:, eval_cats].T)
    # categories in threads: each fills its own rows of precision and recall
    map_ranges(lambda lo, hi: _curves(tps_t, fps_t, order, starts[lo:hi], ends[lo:hi],
                                      num_gt[lo:hi], REC_THRS, T, precision[lo:hi],
                                      recall[lo:hi]), len(eval_cats), min_rows=64,
               weights=ends - starts + 1)
    return precision.transpose(2, 3, 0, 1).copy(), recall.transpose(2, 0, 1).copy()


@njit(cache=True, nogil=True)
def _curves(tps_t, fps_t, order, starts, ends, num_gt, rec_thrs, T, precision, recall):
    """`curves` for every category k at once, in compiled loops with the same floating-point
    operations: its detections are rows order[starts[k]:ends[k]] of tps_t/fps_t (detections x
    (a * T + t)), num_gt[k] its ground truth per area range. Fills precision (K, A, T, R) and
    recall (K, A, T)."""
    eps = np.spacing(1.0)
    rows = tps_t.shape[1]
    n_max = 0
    for k in range(len(starts)):
        n_max = max(n_max, ends[k] - starts[k])
    tp_c = np.empty((rows, n_max), np.int64)
    pr = np.empty((rows, n_max))
    tp = np.empty(rows, np.int64)
    fp = np.empty(rows, np.int64)
    for k in range(len(starts)):
        lo, n = starts[k], ends[k] - starts[k]
        tp[:] = 0
        fp[:] = 0
        r0, r1 = rows, 0                        # the rows of area ranges with ground truth
        for a in range(num_gt.shape[1]):
            if num_gt[k, a]:
                r0, r1 = min(r0, a * T), max(r1, (a + 1) * T)
        for j in range(n):                      # cumulative counts and precision
            col = order[lo + j]
            for row in range(r0, r1):
                tp[row] += tps_t[col, row]
                fp[row] += fps_t[col, row]
                tp_c[row, j] = tp[row]
                pr[row, j] = tp[row] / (fp[row] + tp[row] + eps)
        for a in range(num_gt.shape[1]):
            m = num_gt[k, a]
            if m == 0:
                precision[k, a] = -1.0
                recall[k, a] = -1.0
                continue
            if n == 0:
                precision[k, a] = 0.0
                recall[k, a] = 0.0
                continue
            for t in range(T):
                row = a * T + t
                recall[k, a, t] = tp[row] / m
                for j in range(n - 2, -1, -1):          # precision made monotone
                    pr[row, j] = max(pr[row, j], pr[row, j + 1])
                # per recall point r: the first detection whose tp count k_r reaches it, k_r
                # the smallest count with k_r / m >= r (lvis-api's float division)
                j = 0
                for i in range(len(rec_thrs)):
                    k_r = max(int(rec_thrs[i] * m) - 2, 0)
                    while k_r <= m and k_r / m < rec_thrs[i]:
                        k_r += 1
                    while j < n and tp_c[row, j] < k_r:
                        j += 1
                    precision[k, a, t, i] = pr[row, j] if j < n else 0.0


def accumulate_pools(det_cat, det_score, tps, fps, num_gt, eval_cats, cat_freq):
    """AP-pool (Dave et al. 2021, large-vocab-devil's `LVISPooledEval`): per pool of evaluated
    categories (all, r, c, f), one curve over the pool's detections and ground truth, area
    'all'. Matching is per category as always; only the ranking is shared, so a pool's AP
    rewards scores that are comparable across its categories. Returns precision (T, R, pools)."""
    T = len(IOU_THRS)
    pools = [np.ones(len(eval_cats), bool)] + [np.asarray(cat_freq, object) == f
                                                for f in FREQ_GROUPS]
    precision = -np.ones((T, len(REC_THRS), len(pools)))
    in_eval = np.zeros(num_gt.shape[1], bool)
    for p, members in enumerate(pools):
        in_eval[:] = False
        in_eval[eval_cats[members]] = True
        sel = np.nonzero(in_eval[det_cat])[0]
        # lvis-api's pooled order: image by image, category by category inside an image, then
        # a stable sort by score: the detections' order here, stably sorted.
        sel = sel[np.argsort(-det_score[sel], kind='stable')]
        ng = np.array([num_gt[0, eval_cats[members]].sum()])
        precision[:, :, p] = curves(tps[:T, sel], fps[:T, sel], ng)[0][:, :, 0]
    return precision
