"""Federated LVIS evaluation in plain numpy: lvis-api 0.5.3's rules, vectorised, and the LVIS
challenge's (Fixed AP, Boundary AP) and AP-pool on top.

The rules (lvis-api `LVISEval`, `LVISResults`), each of which is applied here in bulk:

* The detection budget (`limits.py`): at most `max_dets` (300) detections per image across all
  categories, and with `max_dets_per_cat` at most that many per category over the whole results
  (the LVIS challenge 2021: 10,000 per category and no per-image cap, "Fixed AP"), the highest
  scores kept; equal scores keep the results' order (lvis-api sorts with Python's stable sort).
* Ground truth and detections with area <= 0 are dropped (lvis-api's `get_ann_ids` keeps
  `0 < area < inf`), after the caps. A detection's area is its box's when the results carry boxes,
  else its mask's (lvis-api's `LVISResults`); it also decides small / medium / large.
* Scores only rank: negative ones (logits, log-probabilities) are as good as any. faster-coco-eval
  keeps zero-area detections and counts them as false positives, one of the ways it differs from
  the official numbers.
* A detection of category c on image I is evaluated only if c is annotated on I (positive) or is
  in I's `neg_category_ids`. LVIS is federated: nobody checked the other categories on I, so a
  detection there is neither right nor wrong and is dropped (after it used up the budget).
* An unmatched detection of c on an image where c is in `not_exhaustive_category_ids` is ignored
  (some instances were left unannotated, so it may be a true object); a matched one is a true
  positive.
* Greedy matching per (image, category), highest score first (`matching.py`). The IoU is the box's,
  the mask's, or for Boundary AP (Cheng et al. 2021, the challenge's mask metric) min(mask IoU,
  boundary IoU), where a mask's boundary is its pixels within d of its outside or of the image
  border, d = max(1, round(dilation_ratio x the image diagonal)) (`boundary.py`).
* Precision is interpolated at 101 recall points (`accumulation.py`); a category without ground
  truth in the evaluated images (or area range) is left out of the means, and a mean over nothing
  is -1. AP-pool ranks the detections of a pool of categories together (Dave et al. 2021).
"""
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from ..errors import LVISFormatError
from .accumulation import accumulate, accumulate_pools
from .columns import in_sorted, index_of, pair_keys, rank_in_group, sort_by
from .detections import Detections, check_detections
from .ground_truth import LVISGroundTruth
from .limits import limit_per_category, limit_per_image, short_categories
from .masks import check_rle_counts, mask_areas
from .matching import candidate_pairs, greedy_match
from .params import AREA_RNGS, IOU_THRS
from .summary import summarize

IOU_TYPES = ('bbox', 'segm', 'boundary')


@dataclass
class EvalResult:
    """What one evaluation produced.

    Attributes:
        iou_type: 'bbox', 'segm' or 'boundary'.
        summary: the numbers named by `summary.summary_keys` (AP, AP50, ..., AR@300, ...);
            -1 where nothing could be averaged.
        precision: (iou thresholds, recall points, categories, area ranges); -1 where undefined.
        recall: (iou thresholds, categories, area ranges); -1 where undefined.
        cat_ids, cat_names, cat_freq: the evaluated categories, in the order of the arrays.
        num_gt: ground-truth instances per evaluated category (area 'all').
        protocol: the options that decided the numbers (max_dets, max_dets_per_cat, pooled,
            dilation_ratio, mask_area).
        short_categories: evaluated categories with fewer detections than max_dets_per_cat
            after the caps (0 without a per-category cap).
    """
    iou_type: str
    summary: Dict[str, float]
    precision: np.ndarray
    recall: np.ndarray
    cat_ids: np.ndarray
    cat_names: List[str]
    cat_freq: List[str]
    num_gt: np.ndarray
    protocol: Dict[str, object]
    short_categories: int = 0

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
             mask_area: bool = False, max_dets_per_cat: int = -1, pooled: bool = False,
             dilation_ratio: float = 0.02) -> EvalResult:
    """Evaluate detections against LVIS ground truth under the federated rules.

    Args:
        gt: ground truth (`LVISGroundTruth.from_file` / `from_dict`).
        dets: detections (`results_json.read_results`, `mmdet_dump.read_mmdet_dump`,
            `results_json.detections_from_records`, `detections.detections_from_predictions`,
            or built from arrays).
        iou_type: 'bbox', 'segm' or 'boundary' (Boundary AP: min(mask IoU, boundary IoU)).
        cat_ids: LVIS category ids to evaluate (a subset); None evaluates every category in `gt`.
            APr/APc/APf average over the subset's categories, by their `frequency` in `gt`.
        img_ids: image ids to evaluate (a split, say); None evaluates every image in `gt`.
            Detections on other images are dropped, like lvis-api's `params.img_ids`.
        max_dets: detections kept per image across categories; < 0 keeps all. Defaults to 300.
        mask_area: segm and boundary only. By default a detection's area (which decides small /
            medium / large and the `area > 0` filter) is lvis-api's: its box's when the results
            carry boxes, its mask's when they do not. True takes every mask's own area, as
            detectron2 does (it drops the boxes before calling lvis-api).
        max_dets_per_cat: detections kept per category over all images (after the per-image
            cap), the highest scores; < 0 keeps all. Defaults to -1. The LVIS challenge 2021
            (Fixed AP) uses 10,000 with `max_dets=-1`.
        pooled: also compute AP-pool (keys AP-pool, APr-pool, APc-pool, APf-pool). Defaults to
            False.
        dilation_ratio: boundary only: d = max(1, round(dilation_ratio x image diagonal)).
            Defaults to 0.02 (the official value).
    """
    _check_options(iou_type, dilation_ratio)
    with_masks = iou_type != 'bbox'
    box_area = dets.box_given and not (mask_area and with_masks)
    checked = check_detections(gt, dets, with_masks or not box_area)
    eval_cats = gt.cat_indices(cat_ids)
    cat_sel = np.zeros(gt.num_cats, bool)
    cat_sel[eval_cats] = True
    img_sel = _image_selection(gt, img_ids)

    g = _select_ground_truth(gt, cat_sel, img_sel)
    keep = limit_per_image(checked.img, checked.score, max_dets)
    keep = limit_per_category(keep, checked.img, checked.cat, checked.score, max_dets_per_cat,
                              regrouped=max_dets >= 0)
    d = _select_detections(gt, dets, checked, keep, cat_sel, img_sel, g['pos_keys'], box_area)
    gt_ig = _area_ignore(g['area'], g['ignore'])
    tps, fps = _true_and_false_positives(gt, dets, checked, d, g, gt_ig, iou_type,
                                         dilation_ratio)
    num_gt = np.stack([np.bincount(g['cat'][~gt_ig[a]], minlength=gt.num_cats)
                       for a in range(len(AREA_RNGS))])
    precision, recall = accumulate(d['cat'], d['score'], tps, fps, num_gt, eval_cats)
    freq = [gt.cat_freq[k] for k in eval_cats]
    pool_precision = None
    if pooled:
        pool_precision = accumulate_pools(d['cat'], d['score'], tps, fps, num_gt, eval_cats,
                                          freq)
    short = 0
    if max_dets_per_cat >= 0:
        short = short_categories(checked.cat, keep, eval_cats, max_dets_per_cat)
    return EvalResult(iou_type, summarize(precision, recall, freq, max_dets, max_dets_per_cat,
                                          pool_precision),
                      precision, recall, gt.cat_ids[eval_cats],
                      [gt.cat_names[k] for k in eval_cats], freq, num_gt[0, eval_cats],
                      _protocol(iou_type, max_dets, max_dets_per_cat, pooled, mask_area,
                                dilation_ratio), short)


def _check_options(iou_type, dilation_ratio):
    if iou_type not in IOU_TYPES:
        raise ValueError(f'iou_type must be one of {IOU_TYPES}, not {iou_type!r}')
    if not 0 <= dilation_ratio < float('inf'):
        raise ValueError(f'dilation_ratio must be a finite number >= 0, not {dilation_ratio!r}')


def _image_selection(gt, img_ids):
    """(images,) bool: the images evaluated (every one where `img_ids` is None)."""
    img_sel = np.ones(len(gt.img_ids), bool)
    if img_ids is not None:
        img_sel[:] = False
        img_ids = np.unique(np.asarray(img_ids, np.int64))
        img_sel[index_of(img_ids, gt.img_ids, lambda i: LVISFormatError(
            f'{gt.source or "ground truth"}: field "images": no image has the requested id '
            f'{img_ids[i]}'))] = True
    return img_sel


def _protocol(iou_type, max_dets, max_dets_per_cat, pooled, mask_area, dilation_ratio):
    """The options that decided the numbers, as `EvalResult.protocol` records them."""
    protocol = dict(max_dets=max_dets, max_dets_per_cat=max_dets_per_cat, pooled=pooled,
                    mask_area=mask_area and iou_type != 'bbox')
    if iou_type == 'boundary':
        protocol['dilation_ratio'] = dilation_ratio
    return protocol


def _true_and_false_positives(gt, dets, checked, d, g, gt_ig, iou_type, dilation_ratio):
    """(area ranges x IoU thresholds, detections) bool arrays, row a * T + t for area range a and
    threshold t: each evaluated detection (`d`) a true positive, a false positive, or neither
    (ignored), after greedy matching to the ground truth `g` (`gt_ig`: ignored per area range)."""
    det_masks = gt_masks = None
    if iou_type != 'bbox':
        # the masks of detections whose (image, category) has ground truth are read: checked
        # first, their areas and pixel boxes kept (`matching._mask_pairs` uses them)
        check_rle_counts(checked.segm, dets.source or 'detections', dets.names.mask_name,
                         d['idx'][in_sorted(d['key'], g['pos_keys'])])
        det_masks = checked.segm
        gt_masks = gt.rle_column()
    pairs = candidate_pairs(d, g, iou_type, det_masks, gt_masks, gt.img_hw, dilation_ratio)
    dt_m, dt_ig_m = greedy_match(d['rank'], pairs, np.repeat(gt_ig, len(IOU_THRS), axis=0),
                                 len(g['area']))
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
    return tps, fps


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


def _select_detections(gt, dets, checked, keep, cat_sel, img_sel, pos_keys, box_area):
    """The detections that are evaluated, in (image, category), score, results' order."""
    img, cat, score, bbox = checked.img, checked.cat, checked.score, checked.bbox
    key = pair_keys(img[keep], cat[keep], gt.num_cats)
    fed = cat_sel[cat[keep]] & img_sel[img[keep]] & (in_sorted(key, pos_keys)
                                                     | in_sorted(key, gt.neg_keys))
    keep = keep[fed]
    if box_area:
        area = bbox[keep, 2] * bbox[keep, 3]
    else:
        area = mask_areas(checked.segm, keep, dets.source or 'detections', dets.names.mask_name)
    ok = _valid_area(area)
    keep, area = keep[ok], area[ok]

    key = pair_keys(img[keep], cat[keep], gt.num_cats)
    order = sort_by(key, score[keep])                # by (image, category), score, results' order
    keep, area, key = keep[order], area[order], key[order]
    return dict(idx=keep, img=img[keep], cat=cat[keep], score=score[keep], bbox=bbox[keep],
                area=area, key=key, rank=rank_in_group(key))
