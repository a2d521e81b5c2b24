#!/usr/bin/env python
"""Evaluate an LVIS results file as lvis-api 0.5.3 would, without lvis-api (which needs numpy < 1.24).

    python tools/lvis_eval.py ANN_FILE RESULTS_JSON --iou-type bbox|segm [--classes NAME ...]
                              [--out metrics.json] [--mask-area]

Prints the per-frequency table (and per category with --per-category) and writes the summary under
lvis-api's key names (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ...) to --out. The
numbers are lvis-api's to 1e-9: mask sizes are judged by box area when the results carry boxes,
as lvis-api does, unless --mask-area asks for the mask's own area.
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet_lvis_fed.evaluation.federated_eval import evaluate  # noqa: E402
from mmdet_lvis_fed.evaluation.lvis_data import (Detections, LVISFormatError,  # noqa: E402
                                                 LVISGroundTruth)
from mmdet_lvis_fed.evaluation.report import frequency_table, per_category_table  # noqa: E402
from mmdet_lvis_fed.io import atomic_write_json, fail  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann_file', help='LVIS annotation file (v0.5 or v1)')
    p.add_argument('results', help='results JSON: a list of {image_id, category_id, score, bbox '
                                   '[, segmentation]} (the official LVIS format)')
    p.add_argument('--iou-type', choices=['bbox', 'segm'], default='bbox')
    p.add_argument('--classes', nargs='+', metavar='NAME',
                   help='evaluate only these categories (APr/APc/APf over them)')
    p.add_argument('--out', help='write the summary numbers (lvis-api key names) to this JSON')
    p.add_argument('--per-category', action='store_true', help='also print AP per category')
    p.add_argument('--mask-area', action='store_true',
                   help='segm: judge small/medium/large by mask area, not box area (detectron2)')
    p.add_argument('--max-dets', type=int, default=300, help='detections per image (default 300)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        gt = LVISGroundTruth.from_file(args.ann_file)
        dets = Detections.from_file(args.results)
        cat_ids = None
        if args.classes:
            by_name = dict(zip(gt.cat_names, gt.cat_ids))
            missing = [n for n in args.classes if n not in by_name]
            if missing:
                raise LVISFormatError(f'{args.ann_file}: field "categories" has no category named '
                                      f'{missing[0]!r}')
            cat_ids = [by_name[n] for n in args.classes]
        res = evaluate(gt, dets, args.iou_type, cat_ids=cat_ids, max_dets=args.max_dets,
                       area_from_box=not args.mask_area)
    except LVISFormatError as e:
        fail(e)
    print(f'{len(dets)} detections on {len(gt.img_ids)} images, {len(res.cat_ids)} categories '
          f'({time.perf_counter() - t0:.2f} s)')
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
