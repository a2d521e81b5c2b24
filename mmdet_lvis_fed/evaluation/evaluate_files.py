"""The evaluation of two files, as tools/lvis_eval.py runs it: the annotation file and a results
file (LVIS results JSON or an mmdet test dump), scored by `federated_eval.evaluate` (numpy only)."""
import time

import numpy as np

from .federated_eval import evaluate
from .ground_truth import LVISGroundTruth
from .results_file import read_detections


def dump_label_ids(results, ann_file, gt, label_ids):
    """The category ids of a dump's labels 0..K-1. An mmdet dump holds labels, not names: without
    classes they are taken as the file's categories by id, which is right for a run on every
    category and wrong for a subset's, and the dump cannot tell which: say so."""
    if label_ids is not None:
        return label_ids
    print(f'warning: {results}: an mmdet dump carries labels 0..K-1 but not their class '
          f'names; without --classes label i is taken as the i-th of the {len(gt.cat_ids)} '
          f'categories of {ann_file} by id (a run on all of them). For a subset\'s dump give '
          '--classes with its config\'s classes', flush=True)
    return gt.cat_ids_of(None)


def evaluate_files(ann_file, results, iou_type='bbox', classes=None, subset=None, pickle=None,
                   result_images_only=False, **protocol):
    """(the evaluation, the detections, seconds spent reading the annotations, reading the
    results, evaluating). `classes`: a dump's label names (and the categories evaluated);
    `subset`: the categories evaluated; `result_images_only`: only the images the results cover
    (a dump: every image its run processed); `protocol`: evaluate's max_dets, max_dets_per_cat,
    mask_area, pooled, dilation_ratio. Bad input raises LVISFormatError naming the file."""
    t0 = time.perf_counter()
    gt = LVISGroundTruth.from_file(ann_file)
    t1 = time.perf_counter()
    label_ids = None if classes is None else gt.cat_ids_of(classes)
    evaluated = subset or classes
    cat_ids = None if evaluated is None else gt.cat_ids_of(evaluated)
    dets = read_detections(results, lambda: dump_label_ids(results, ann_file, gt, label_ids),
                           pickle=pickle)
    t2 = time.perf_counter()
    img_ids = None
    if result_images_only:
        img_ids = dets.images if dets.images is not None else np.unique(dets.image_id)
    res = evaluate(gt, dets, iou_type, cat_ids=cat_ids, img_ids=img_ids, **protocol)
    return res, dets, gt, (t1 - t0, t2 - t1, time.perf_counter() - t2)
