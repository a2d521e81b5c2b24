#!/usr/bin/env python
"""Write compact LVIS-format files for a federated category subset: train, val and test.

    python tools/make_subset.py --train-ann data/lvis_v1/annotations/lvis_v1_train.json \\
        --val-ann data/lvis_v1/annotations/lvis_v1_val.json --out-dir data/lvis_fed/exp1 \\
        --classes coffee_maker cowboy_hat monkey cappuccino chessboard drumstick
    python tools/make_subset.py ... --num-per-freq f=2 c=2 r=2 --seed 0 --exclude-coco

What is written and how (the split, the federated lists, the summary, the atomic folder):
mmdet_lvis_fed/datasets/subset_files.py, printed below. Bad input ends in one line,
`error: FILE: ...`, exit 2, with nothing written.
"""
import argparse
import os.path as osp
import time

from mmdet_lvis_fed.datasets import subset_files
from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.io import ToolParser, fail


def parse_freq(items):
    out = {}
    for item in items:
        key, _, value = item.partition('=')
        if key not in ('f', 'c', 'r') or not value.isdigit():
            fail(f'--num-per-freq takes f=N c=N r=N with N >= 0, got {item!r}')
        out[key] = int(value)
    return out


def main(argv=None):
    p = ToolParser(description=__doc__ + '\n' + subset_files.__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--train-ann', required=True, help='official LVIS train file (v1 or v0.5)')
    p.add_argument('--val-ann', required=True, help='official LVIS val file: becomes the test set')
    p.add_argument('--out-dir', required=True, help='where train.json, val.json, test.json and '
                                                    'the summary go')
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument('--classes', nargs='+', metavar='NAME', help='categories by name')
    group.add_argument('--num-per-freq', nargs='+', metavar='G=N',
                       help='categories drawn per frequency group, e.g. f=2 c=2 r=2')
    p.add_argument('--seed', type=int, default=0, help='seed of the --num-per-freq draw')
    p.add_argument('--exclude-coco', action='store_true',
                   help='skip categories that are also COCO categories')
    p.add_argument('--not-exhaustive', choices=['exclude', 'keep'], default='exclude',
                   help="drop images where a chosen category is not exhaustively annotated "
                        "('exclude', default) or keep them")
    p.add_argument('--val-fraction', type=float, default=0.1,
                   help='share of the train file in val, 0 to 1 (default 0.1)')
    p.add_argument('--split-seed', type=int, default=0)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    try:
        files, table, paste, written = subset_files.make_subset(
            args.train_ann, args.val_ann, args.out_dir, classes=args.classes,
            num_per_freq=parse_freq(args.num_per_freq) if args.num_per_freq else None,
            seed=args.seed, exclude_coco=args.exclude_coco, not_exhaustive=args.not_exhaustive,
            val_fraction=args.val_fraction, split_seed=args.split_seed)
    except CommandError as e:
        fail(e)
    print(table)
    print(f'\n{paste}')
    where = args.out_dir if osp.realpath(args.out_dir) == osp.abspath(args.out_dir) else \
        f'{args.out_dir} (-> {written})'
    print(f'\nwritten to {where}: train.json, val.json, test.json, summary.txt, '
          f'summary.json ({time.perf_counter() - t0:.1f} s)')
    return files


if __name__ == '__main__':
    main()
