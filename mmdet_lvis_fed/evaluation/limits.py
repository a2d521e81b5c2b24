"""The detection budget: how many detections count, per image and per category.

lvis-api's `LVISResults` applies the caps to the whole results list before anything else:

* per image (`max_dets`, 300 in LVIS v1): each image keeps its `max_dets` highest scores. The list
  is regrouped image by image (images in order of first appearance), each image over the cap
  sorted by score with Python's stable sort, so equal scores keep the results' order.
* per category (`max_dets_per_cat`, the LVIS challenge's Fixed AP: 10,000, Dave et al. 2021):
  then, over the list as the per-image step left it, each category keeps its `max_dets_per_cat`
  highest scores, again by a stable sort. Among equal scores at the cut, the detection earlier in
  that list stays: with a per-image cap, the one whose image appeared first in the results, then
  the earlier one in the results; without, simply the earlier one in the results.

Both caps come before the federated filter: a detection on an image where its category is
neither annotated nor verified absent uses up its image's and its category's budget, and is
dropped afterwards (lvis-api filters in `LVISEval._prepare`).
"""
import numpy as np

from .columns import rank_in_group, sort_by


def limit_per_image(img, score, max_dets):
    """Rows (ascending) kept by the per-image cap; `max_dets` < 0 keeps all."""
    n = len(score)
    keep = np.arange(n)
    if max_dets < 0 or not n:
        return keep
    per_image = np.bincount(img)
    if per_image.max() <= max_dets:
        return keep
    # Only the images over the cap are sorted; ties keep the results' order.
    over = np.nonzero(per_image[img] > max_dets)[0]
    order = over[sort_by(img[over], score[over])]
    drop = np.zeros(n, bool)
    drop[order[rank_in_group(img[order]) >= max_dets]] = True
    return np.nonzero(~drop)[0]


def limit_per_category(rows, img, cat, score, max_dets_per_cat, regrouped):
    """The subset of `rows` (ascending) kept by the per-category cap; `max_dets_per_cat` < 0
    keeps all. `regrouped`: the per-image step ran, so the list is in image order (see above)."""
    if max_dets_per_cat < 0 or not len(rows):
        return rows
    if regrouped:
        # position in the regrouped list: (first appearance of the image, results' order)
        _, first, inverse = np.unique(img, return_index=True, return_inverse=True)
        position = first[inverse][rows] * len(img) + rows
        by_position = np.argsort(position, kind='stable')
    else:
        by_position = np.arange(len(rows))           # `rows` ascending: the results' order
    r = rows[by_position]
    order = by_position[sort_by(cat[r], score[r])]
    kept = order[rank_in_group(cat[rows[order]]) < max_dets_per_cat]
    return rows[np.sort(kept)]


def short_categories(cat, rows, eval_cats, max_dets_per_cat):
    """How many of the categories `eval_cats` have fewer than `max_dets_per_cat` detections
    after the caps (the official code warns about them: a model that ranks fewer than K per
    category is judged on a shorter list)."""
    if max_dets_per_cat < 0 or not len(eval_cats):
        return 0
    counts = np.bincount(cat[rows], minlength=int(np.max(eval_cats)) + 1)
    return int((counts[eval_cats] < max_dets_per_cat).sum())
