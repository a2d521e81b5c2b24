#!/usr/bin/env python
"""Evaluate detections on an LVIS annotation file as lvis-api 0.5.3 does, without lvis-api.

    python tools/lvis_eval.py ANN_FILE RESULTS --iou-type bbox|segm [--classes NAME ...]
                              [--out metrics.json] [--mask-area] [--per-category]

RESULTS is either
  * an LVIS results JSON (the official format): a list of {image_id, category_id, score, bbox
    [x, y, w, h], segmentation (compressed RLE)}; or
  * what `mim test CONFIG --checkpoint CKPT --out results.pkl` writes (mmdet's DumpDetResults):
    labels 0..K-1 are the --classes in that order or, without --classes, the file's categories
    sorted by id (mmdet's LVIS label order). --subset re-scores one inference run on any subset
    of them, and --result-images-only on the images the run processed (the metric's numbers).
    A pickle runs code when it is read: open only files you made.

Prints the per-frequency table (and per category with --per-category) and writes the summary under
lvis-api's key names (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ...) to --out. The
numbers are lvis-api's to 1e-9, mask sizes included: a detection's area is its box's when the
results carry boxes, its mask's when they do not, unless --mask-area asks for every mask's own
area under segm (detectron2's rule; LVISFedMetric's `mask_area=True`).

Malformed input ends with one line, `error: FILE: record N: field "F": what is wrong`, exit
status 2, and no --out written.
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet_lvis_fed.errors import LVISFormatError  # noqa: E402
from mmdet_lvis_fed.evaluation.federated_eval import evaluate  # noqa: E402
from mmdet_lvis_fed.evaluation.lvis_data import LVISGroundTruth  # noqa: E402
from mmdet_lvis_fed.evaluation.report import frequency_table, per_category_table  # noqa: E402
from mmdet_lvis_fed.evaluation.results_file import (is_pickle, read_mmdet_dump,  # noqa: E402
                                                    read_results)
from mmdet_lvis_fed.io import atomic_write_json, fail, keep_freed_memory  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann_file', help='LVIS annotation file (v0.5 or v1)')
    p.add_argument('results', help='LVIS results JSON, or mmdet test results .pkl (--out of '
                                   'mim test)')
    p.add_argument('--iou-type', choices=['bbox', 'segm'], default='bbox',
                   help='box or mask AP (default bbox)')
    p.add_argument('--classes', nargs='+', metavar='NAME',
                   help='evaluate only these categories (APr/APc/APf over them); for a .pkl also '
                        'the names of labels 0..K-1, in order (the config\'s classes)')
    p.add_argument('--subset', nargs='+', metavar='NAME',
                   help='evaluate only these categories, whatever --classes says the labels are: '
                        're-scores one test run on any subset')
    p.add_argument('--out', help='write the summary numbers (lvis-api key names) to this JSON')
    p.add_argument('--per-category', action='store_true', help='also print AP per category')
    p.add_argument('--mask-area', action='store_true',
                   help='segm: judge small/medium/large by each mask\'s own area, not its box\'s '
                        '(detectron2)')
    p.add_argument('--max-dets', type=int, default=300, help='detections per image (default 300)')
    p.add_argument('--result-images-only', action='store_true',
                   help='evaluate only the images the results cover, as LVISFedMetric does (for a '
                        '.pkl: every image the test run processed; for JSON: the images with a '
                        'detection). By default every image of ANN_FILE counts, as in lvis-api')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    keep_freed_memory()
    t0 = time.perf_counter()
    try:
        gt = LVISGroundTruth.from_file(args.ann_file)
        t1 = time.perf_counter()
        evaluated = args.subset or args.classes
        cat_ids = None if evaluated is None else gt.cat_ids_of(evaluated)
        if is_pickle(args.results):
            dets = read_mmdet_dump(args.results, gt.cat_ids_of(args.classes))
        else:
            dets = read_results(args.results)
        t2 = time.perf_counter()
        img_ids = None
        if args.result_images_only:
            img_ids = dets.images if dets.images is not None else np.unique(dets.image_id)
        res = evaluate(gt, dets, args.iou_type, cat_ids=cat_ids, img_ids=img_ids,
                       max_dets=args.max_dets, mask_area=args.mask_area)
    except LVISFormatError as e:
        fail(e)
    t3 = time.perf_counter()
    print(f'{len(dets)} detections on {len(gt.img_ids)} images, {len(res.cat_ids)} categories: '
          f'{t3 - t0:.2f} s (annotations {t1 - t0:.2f} s, results {t2 - t1:.2f} s, '
          f'evaluation {t3 - t2:.2f} s)')
    print(frequency_table([res]))
    if args.per_category:
        print(per_category_table(res))
    if args.out:
        try:
            atomic_write_json(res.summary, args.out)
        except OSError as e:
            fail(f'{args.out}: cannot write ({e.strerror or e})')
        print(f'summary written to {args.out}')
    return res.summary


if __name__ == '__main__':
    main()
