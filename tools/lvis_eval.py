#!/usr/bin/env python
"""Evaluate detections on an LVIS annotation file as lvis-api 0.5.3 does, without lvis-api; or
under the LVIS challenge 2021 protocol (Boundary AP, Fixed AP), or with AP-pool.

    python tools/lvis_eval.py ANN_FILE RESULTS [--iou-type bbox|segm|boundary] [--classes NAME ...]
                              [--max-dets N] [--max-dets-per-cat N] [--pooled] [--challenge2021]
                              [--out metrics.json] [--mask-area] [--per-category]

RESULTS is either
  * an LVIS results JSON (the official format): a list of {image_id, category_id, score, bbox
    [x, y, w, h], segmentation (compressed RLE)}; or
  * what `mim test CONFIG --checkpoint CKPT --out results.pkl` writes (mmdet's DumpDetResults):
    labels 0..K-1 are the --classes in that order or, without --classes, the file's categories
    sorted by id (mmdet's LVIS label order). --subset re-scores one inference run on any subset
    of them, and --result-images-only on the images the run processed (the metric's numbers).
    Only a file whose name ends in .pkl or .pickle is unpickled (or any file with --pickle):
    unpickling runs code, so open only pickles you made. Any other file is read as JSON, and
    one that is really a pickle is refused without being unpickled.
  The file is read once, so a pipe works: `lvis_eval.py ANN <(gunzip -c res.json.gz)`.

Protocols:
  * default: lvis-api 0.5.3, the LVIS v1 val numbers: at most 300 detections per image.
  * --challenge2021: the LVIS challenge since 2021: Boundary AP (--iou-type boundary), Fixed AP
    (at most 10,000 detections per category over the whole results, no per-image cap).
  * --max-dets-per-cat N and --max-dets -1 give Fixed AP for box or mask AP (Dave et al. 2021);
    --pooled adds AP-pool per frequency group (AP-pool, APr-pool, APc-pool, APf-pool).
  The table's first line says which protocol ran.

Prints the per-frequency table (and per category with --per-category) and writes the summary under
the official key names (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ...; AR@10000/cat
under the challenge protocol) to --out, before printing. The numbers are lvis-api's to 1e-9, mask
sizes included: a detection's area is its box's when the results carry boxes, its mask's when they
do not, unless --mask-area asks for every mask's own area under segm (detectron2's rule;
LVISFedMetric's `mask_area=True`).

Malformed input ends with one line, `error: FILE: record N: field "F": what is wrong`, exit
status 2, and no --out written.
"""
import argparse
import os
import sys

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.evaluate_files import evaluate_files
from mmdet_lvis_fed.evaluation.federated_eval import IOU_TYPES
from mmdet_lvis_fed.evaluation.report import frequency_table, per_category_table
from mmdet_lvis_fed.io import ToolParser, atomic_write_json, fail

CHALLENGE_2021 = dict(iou_type='boundary', max_dets=-1, max_dets_per_cat=10000)
DEFAULTS = dict(iou_type='bbox', max_dets=300, max_dets_per_cat=-1)


def parse_args(argv=None):
    p = ToolParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann_file', help='LVIS annotation file (v0.5 or v1)')
    p.add_argument('results', help='LVIS results JSON, or an mmdet test dump named .pkl or '
                                   '.pickle (--out of mim test)')
    p.add_argument('--iou-type', choices=IOU_TYPES,
                   help='box, mask or Boundary AP (default bbox; boundary with --challenge2021)')
    p.add_argument('--classes', nargs='+', metavar='NAME',
                   help='evaluate only these categories (APr/APc/APf over them); for a .pkl also '
                        'the names of labels 0..K-1, in order (the config\'s classes)')
    p.add_argument('--subset', nargs='+', metavar='NAME',
                   help='evaluate only these categories, whatever --classes says the labels are: '
                        're-scores one test run on any subset')
    p.add_argument('--out', help='write the summary numbers (official key names) to this JSON, '
                                 'before the table is printed')
    p.add_argument('--per-category', action='store_true', help='also print AP per category')
    p.add_argument('--mask-area', action='store_true',
                   help='segm/boundary: judge small/medium/large by each mask\'s own area, not '
                        'its box\'s (detectron2)')
    p.add_argument('--max-dets', type=int, metavar='N',
                   help='detections kept per image, the highest scores (default 300; -1: no '
                        'per-image cap)')
    p.add_argument('--max-dets-per-cat', type=int, metavar='N',
                   help='detections kept per category over all images, after the per-image cap '
                        '(default -1: no cap; Fixed AP: 10000 with --max-dets -1)')
    p.add_argument('--pooled', action='store_true',
                   help='also report AP-pool (all, r, c, f), Dave et al. 2021')
    p.add_argument('--dilation-ratio', type=float, default=0.02, metavar='R',
                   help='boundary: d = max(1, round(ratio x image diagonal)) (default 0.02)')
    p.add_argument('--challenge2021', action='store_true',
                   help='the LVIS challenge 2021 protocol: --iou-type boundary --max-dets -1 '
                        '--max-dets-per-cat 10000')
    p.add_argument('--pickle', action='store_true',
                   help='RESULTS is an mmdet test dump whatever its name (it is unpickled: '
                        'unpickling runs code)')
    p.add_argument('--result-images-only', action='store_true',
                   help='evaluate only the images the results cover, as LVISFedMetric does (for a '
                        '.pkl: every image the test run processed; for JSON: the images with a '
                        'detection). By default every image of ANN_FILE counts, as in lvis-api')
    args = p.parse_args(argv)
    for key, default in DEFAULTS.items():
        given = getattr(args, key)
        if args.challenge2021:
            if given is not None and given != CHALLENGE_2021[key]:
                p.error(f'--challenge2021 sets --{key.replace("_", "-")} '
                        f'{CHALLENGE_2021[key]}, not {given}')
            setattr(args, key, CHALLENGE_2021[key])
        elif given is None:
            setattr(args, key, default)
    for key in ('max_dets', 'max_dets_per_cat'):
        if getattr(args, key) < -1:
            p.error(f'--{key.replace("_", "-")}: {getattr(args, key)} is neither -1 (no cap) nor '
                    'a number >= 0')
    # d = ratio x the image diagonal: above 1 the whole mask is boundary (and the dilation
    # kernel outgrows the image)
    if not 0 <= args.dilation_ratio <= 1:
        p.error(f'--dilation-ratio: {args.dilation_ratio} is not a number from 0 to 1 '
                '(official 0.02)')
    return args


def main(argv=None):
    args = parse_args(argv)
    # Category names are data: print them whatever the terminal's encoding (PYTHONIOENCODING).
    if hasattr(sys.stdout, 'reconfigure'):
        sys.stdout.reconfigure(errors='backslashreplace')
    try:
        res, dets, gt, (ann_s, res_s, eval_s) = evaluate_files(
            args.ann_file, args.results, args.iou_type, classes=args.classes, subset=args.subset,
            pickle=True if args.pickle else None, result_images_only=args.result_images_only,
            max_dets=args.max_dets, mask_area=args.mask_area,
            max_dets_per_cat=args.max_dets_per_cat, pooled=args.pooled,
            dilation_ratio=args.dilation_ratio)
    except LVISFormatError as e:
        fail(e)
    if args.out:        # first: a closed stdout (`| head`) must not lose it
        try:
            atomic_write_json(res.summary, args.out)
        except OSError as e:
            fail(f'{args.out}: cannot write ({e.strerror or e})')
    try:
        print(f'{len(dets)} detections on {len(gt.img_ids)} images, {len(res.cat_ids)} '
              f'categories: {ann_s + res_s + eval_s:.2f} s (annotations {ann_s:.2f} s, results '
              f'{res_s:.2f} s, evaluation {eval_s:.2f} s)')
        print(frequency_table([res]))
        if args.per_category:
            print(per_category_table(res))
        if args.out:
            print(f'summary written to {args.out}')
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head`): no more output. Python flushes stdout again at exit;
        # point it at /dev/null so that does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail('standard output was closed before the table was printed (broken pipe)'
             + (f'; the summary is in {args.out}' if args.out else ''))
    return res.summary


if __name__ == '__main__':
    main()
