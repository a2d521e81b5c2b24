"""Independent references for the LVIS metrics, written from their specification on top of
lvis-api 0.5.3 (with a numpy shim) and faster-coco-eval, never from the code under test. The tests
compare exact numbers with them and the evaluation benchmark times them; neither the runtime
package nor its evaluator imports this module (lvis, pycocotools, cv2 and faster_coco_eval are
imported only when a reference is called).

* `lvis_reference`: lvis-api 0.5.3 as it is (LVISResults' cap of 300 per image).
* `cap_results`: the caps of the official `LVISResults` (branch `lvis_challenge_2021`): per image
  (when >= 0) with the list regrouped image by image, then per category over the whole list,
  each by Python's stable `sorted(..., reverse=True)`.
* `mask_to_boundary`, `boundary_rle`: the official boundary of a mask, with cv2 on the full-size
  mask.
* `challenge_eval`: lvis-api 0.5.3's `LVISEval` whose `compute_iou` gives min(mask IoU,
  boundary IoU) for every pair (the branch's 'boundary' IoU type), and whose `accumulate` also
  computes AP-pool as large-vocab-devil's `LVISPooledEval` does.
* `lvis_api_eval`: the same evaluator as its users run it at scale (the boundaries of every
  annotation precomputed in a process pool, as the branch does), for the benchmark.
* `fce_eval`: faster-coco-eval's `lvis_style` evaluation under lvis-api's key names.
"""
import copy
import logging

import numpy as np


def lvis_api():
    """The lvis package, with the shim it needs: lvis-api 0.5.3 calls np.float, gone since numpy
    1.24."""
    np.float = float
    import lvis
    return lvis


def in_memory_lvis(dataset):
    """lvis-api's LVIS over an annotation dict already in memory (its constructor reads a file)."""
    lvis = lvis_api()

    class InMemory(lvis.LVIS):
        def __init__(self, dataset):
            self.logger = logging.getLogger('lvis')
            self.dataset = dataset
            self._create_index()

    return InMemory(dataset)


def lvis_reference(gt, results, iou_type, cat_ids=None, img_ids=None):
    """lvis-api 0.5.3 on in-memory data (its own LVISResults cap of 300 per image): the
    independent reference for exact numbers. Returns the evaluator after `run()`."""
    lvis = lvis_api()
    g = in_memory_lvis(copy.deepcopy(gt))
    ev = lvis.LVISEval(g, lvis.LVISResults(g, copy.deepcopy(results)), iou_type)
    if cat_ids is not None:
        ev.params.cat_ids = sorted(cat_ids)
    if img_ids is not None:
        ev.params.img_ids = sorted(img_ids)
    ev.run()
    return ev


def cap_results(results, max_dets_per_im=300, max_dets_per_cat=-1):
    if max_dets_per_im >= 0:
        by_img = {}
        for r in results:
            by_img.setdefault(r['image_id'], []).append(r)
        results = []
        for rs in by_img.values():
            if len(rs) > max_dets_per_im:
                rs = sorted(rs, key=lambda r: r['score'], reverse=True)[:max_dets_per_im]
            results.extend(rs)
    if max_dets_per_cat >= 0:
        by_cat = {}
        for r in results:
            by_cat.setdefault(r['category_id'], []).append(r)
        results = [r for rs in by_cat.values()
                   for r in sorted(rs, key=lambda r: r['score'], reverse=True)[:max_dets_per_cat]]
    return results


def mask_to_boundary(mask, dilation_ratio=0.02):
    """The boundary of an h x w uint8 mask: the mask, padded with one pixel of zeros, eroded d
    times by a 3x3 square, cropped back, subtracted from the mask."""
    import cv2
    h, w = mask.shape
    d = max(1, int(round(dilation_ratio * np.sqrt(h ** 2 + w ** 2))))
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=d)[1:h + 1, 1:w + 1]
    return mask - eroded


def boundary_rle(rle, dilation_ratio=0.02):
    from pycocotools import mask as mask_utils
    b = mask_to_boundary(mask_utils.decode(rle), dilation_ratio)
    return mask_utils.encode(np.asfortranarray(b[:, :, None]))[0]


def mask_boundaries(rles, dilation_ratio=0.02):
    """`boundary_rle` of every RLE (one part of a process pool's work)."""
    return [boundary_rle(rle, dilation_ratio) for rle in rles]


def lvis_api_eval(gt, results, iou_type, max_dets=300, max_dets_per_cat=-1, dilation_ratio=0.02):
    """lvis-api 0.5.3 as its users run it, and for boundary the algorithm of lvis-api's branch
    `lvis_challenge_2021`, written from its description (the branch is not on PyPI and its code
    is not copied): the results capped as its `LVISResults` caps them; for boundary, the boundary
    of every ground-truth and detected mask precomputed at full image size with cv2 in a process
    pool of cpu_count workers (the annotations split in cpu_count parts), then lvis-api's
    evaluation with IoU = min(mask IoU, boundary IoU) for every pair. `gt`: an annotation file
    path or dict. Returns the summary."""
    import multiprocessing
    lvis = lvis_api()
    from pycocotools import mask as mask_utils
    g = lvis.LVIS(gt) if isinstance(gt, str) else in_memory_lvis(gt)
    dt = lvis.LVISResults(g, cap_results(results, max_dets, max_dets_per_cat), max_dets=-1)
    boundary = iou_type == 'boundary'
    if boundary:
        workers = multiprocessing.cpu_count()
        with multiprocessing.Pool(workers) as pool:
            for data in (g, dt):
                anns = data.dataset['annotations']
                rles = []
                for a in anns:
                    segm, im = a['segmentation'], data.imgs[a['image_id']]
                    if isinstance(segm, list):
                        segm = mask_utils.merge(mask_utils.frPyObjects(segm, im['height'],
                                                                       im['width']))
                    rles.append(segm)
                parts = [pool.apply_async(mask_boundaries, (list(part), dilation_ratio))
                         for part in np.array_split(np.array(rles, dtype=object), workers)]
                for a, b in zip(anns, (b for p in parts for b in p.get())):
                    a['boundary'] = b
    ev = _challenge_class()(g, dt, iou_type, dilation_ratio=dilation_ratio)
    ev.params.max_dets = max_dets
    ev.run()
    return dict(ev.results)


# faster-coco-eval's names of lvis-api's summary keys (evaluation.summary.AP_KEYS, in order)
FCE_KEYS = ('AP_all', 'AP_50', 'AP_75', 'AP_small', 'AP_medium', 'AP_large', 'APr', 'APc', 'APf')


def fce_eval(gt, results, iou_type, max_dets=300):
    """faster-coco-eval's `lvis_style` evaluation of results already capped; its summary under
    lvis-api's key names."""
    from faster_coco_eval import COCO, COCOeval_faster
    from ..evaluation.summary import AP_KEYS
    g = COCO(gt)
    g.createIndex()
    dt = g.loadRes(results)
    ev = COCOeval_faster(g, dt, iou_type, lvis_style=True, print_function=lambda *a: None)
    # its maxDets cuts each (image, category): no cut beyond what the capped results hold
    per_image = np.bincount(np.unique([a['image_id'] for a in dt.dataset['annotations']],
                                      return_inverse=True)[1])
    ev.params.maxDets = [max_dets if max_dets >= 0 else int(per_image.max(initial=1))]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    s = ev.stats_as_dict
    return {k: s.get(k2, float('nan')) for k, k2 in zip(AP_KEYS, FCE_KEYS)}


def challenge_eval(gt, results, iou_type, max_dets_per_im=300, max_dets_per_cat=-1,
                   pooled=False, dilation_ratio=0.02, cat_ids=None, img_ids=None):
    """lvis-api 0.5.3 on in-memory data under the challenge rules: the results capped by
    `cap_results`, then `LVISResults(max_dets=-1)` (which then caps nothing) and
    `ChallengeEval`. Returns the evaluator after `run()`."""
    lvis = lvis_api()
    g = in_memory_lvis(copy.deepcopy(gt))
    capped = cap_results(copy.deepcopy(results), max_dets_per_im, max_dets_per_cat)
    dt = lvis.LVISResults(g, capped, max_dets=-1)
    ev = _challenge_class()(g, dt, iou_type, dilation_ratio=dilation_ratio, pooled=pooled)
    ev.params.max_dets = max_dets_per_im
    if cat_ids is not None:
        ev.params.cat_ids = sorted(cat_ids)
    if img_ids is not None:
        ev.params.img_ids = sorted(img_ids)
    ev.run()
    if pooled:
        for name, p in zip(('AP-pool', 'APr-pool', 'APc-pool', 'APf-pool'), range(4)):
            s = ev.pool_precision[:, :, p]
            ev.results[name] = float(np.mean(s[s > -1])) if (s > -1).any() else -1
    return ev


def pool_precision(ev):
    """AP-pool of an evaluated lvis-api `LVISEval` `ev` (the branch's algorithm): per pool (all,
    r, c, f), the per-(image, category) records of area 'all' concatenated image by image and
    category by category, a stable sort by score, one curve over the pool's ground truth."""
    p = ev.params
    num_imgs, num_areas = len(p.img_ids), len(p.area_rng)
    pools = [list(range(len(p.cat_ids)))] + [ev.freq_groups[p.img_count_lbl.index(f)]
                                             for f in ('r', 'c', 'f')]
    out = -np.ones((len(p.iou_thrs), len(p.rec_thrs), len(pools)))
    for k, cats in enumerate(pools):
        E = [ev.eval_imgs[c * num_areas * num_imgs + i]
             for i in range(num_imgs) for c in cats]
        E = [e for e in E if e is not None]
        if not E:
            continue
        scores = np.concatenate([e['dt_scores'] for e in E])
        order = np.argsort(-scores, kind='mergesort')
        dt_m = np.concatenate([e['dt_matches'] for e in E], axis=1)[:, order]
        dt_ig = np.concatenate([e['dt_ignore'] for e in E], axis=1)[:, order]
        num_gt = np.count_nonzero(np.concatenate([e['gt_ignore'] for e in E]) == 0)
        if num_gt == 0:
            continue
        tps = np.logical_and(dt_m, np.logical_not(dt_ig))
        fps = np.logical_and(np.logical_not(dt_m), np.logical_not(dt_ig))
        for t in range(len(p.iou_thrs)):
            tp = np.cumsum(tps[t]).astype(float)
            fp = np.cumsum(fps[t]).astype(float)
            rc = tp / num_gt
            pr = (tp / (fp + tp + np.spacing(1))).tolist()
            for i in range(len(pr) - 1, 0, -1):
                if pr[i] > pr[i - 1]:
                    pr[i - 1] = pr[i]
            at = np.searchsorted(rc, p.rec_thrs, side='left')
            out[t, :, k] = [pr[i] if i < len(pr) else 0.0 for i in at]
    return out


def _challenge_class():
    """lvis-api 0.5.3's LVISEval with the branch's boundary IoU type and AP-pool (made on first
    use: lvis is imported only then)."""
    lvis = lvis_api()
    from pycocotools import mask as mask_utils

    class ChallengeEval(lvis.LVISEval):
        def __init__(self, gt, dt, iou_type, dilation_ratio=0.02, pooled=False):
            self.boundary = iou_type == 'boundary'
            super().__init__(gt, dt, 'segm' if self.boundary else iou_type)
            self.dilation_ratio, self.pooled = dilation_ratio, pooled
            self._boundaries = {}

        def _boundary(self, ann, which):
            if 'boundary' in ann:              # precomputed (`lvis_api_eval`)
                return ann['boundary']
            key = (which, ann['id'])
            if key not in self._boundaries:
                self._boundaries[key] = boundary_rle(ann['segmentation'], self.dilation_ratio)
            return self._boundaries[key]

        def compute_iou(self, img_id, cat_id):
            if not self.boundary:
                return super().compute_iou(img_id, cat_id)
            gt, dt = self._get_gt_dt(img_id, cat_id)
            if len(gt) == 0 and len(dt) == 0:
                return []
            idx = np.argsort([-d['score'] for d in dt], kind='mergesort')
            dt = [dt[i] for i in idx]
            iscrowd = [0] * len(gt)
            mask_ious = np.array(mask_utils.iou([d['segmentation'] for d in dt],
                                                [g['segmentation'] for g in gt], iscrowd))
            if not (len(gt) and len(dt)):
                return mask_ious
            boundary_ious = np.array(mask_utils.iou([self._boundary(d, 'dt') for d in dt],
                                                    [self._boundary(g, 'gt') for g in gt],
                                                    iscrowd))
            return np.minimum(mask_ious, boundary_ious)

        def accumulate(self):
            super().accumulate()
            if self.pooled:
                self.pool_precision = pool_precision(self)

    return ChallengeEval

