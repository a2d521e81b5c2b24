#!/usr/bin/env python
"""Benchmark the federated evaluator against lvis-api 0.5.3, faster-coco-eval (lvis_style) and,
for Boundary AP, lvis-api's challenge branch algorithm.

    python tools/benchmark_eval.py --images 5000 --dets-per-image 300 --iou-types bbox segm
    python tools/benchmark_eval.py --end-to-end --images 5000 --dets-per-image 300 --iou-types bbox
    python tools/benchmark_eval.py --end-to-end --images 1000 --iou-types boundary \\
        --max-dets -1 --max-dets-per-cat 10000 --tools ours fce branch
    python tools/benchmark_eval.py --end-to-end --images 20000 --dets-per-cat 10000 \\
        --max-dets -1 --max-dets-per-cat 10000 --iou-types bbox --tools ours --no-readers

In memory (default) or --end-to-end (each tool a fresh process reading the files; ours is
tools/lvis_eval.py). Prints per tool: seconds, peak RSS, the peak above the loaded inputs,
speed-up of ours over it, and the largest difference of the summary numbers from the reference.
What is timed and how: mmdet_lvis_fed/benchmarks/evaluation.py, printed below.
"""
import argparse
import os.path as osp

from mmdet_lvis_fed.benchmarks import evaluation, evaluation_end_to_end
from mmdet_lvis_fed.io import ToolParser
from mmdet_lvis_fed.testing.lvis_v1 import NUM_CLASSES


def main():
    p = ToolParser(description=__doc__ + '\n' + evaluation.__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', type=int, default=500, help='number of images (default 500)')
    p.add_argument('--dets-per-image', type=int, default=100,
                   help='detections per image before any cap (default 100)')
    p.add_argument('--dets-per-cat', type=int,
                   help='instead: this many detections for every category (Fixed AP data)')
    p.add_argument('--cats', type=int, default=NUM_CLASSES,
                   help=f'number of categories (default {NUM_CLASSES}, LVIS v1\'s)')
    p.add_argument('--iou-types', nargs='+', default=['bbox', 'segm'],
                   choices=['bbox', 'segm', 'boundary'])
    p.add_argument('--max-dets', type=int, default=300,
                   help='per-image cap (default 300; -1: none)')
    p.add_argument('--max-dets-per-cat', type=int, default=-1,
                   help='per-category cap (default -1: none; the challenge: 10000)')
    p.add_argument('--tools', nargs='+', default=['ours', 'ours-list', 'lvis', 'fce'],
                   choices=evaluation.TOOLS, help='evaluators to run (default: all but branch)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--end-to-end', action='store_true',
                   help='time whole processes reading annotation and results files (see above)')
    p.add_argument('--no-readers', action='store_true',
                   help='end to end: skip timing json.load against our reader on the results')
    args = p.parse_args()
    if args.end_to_end:
        return evaluation_end_to_end.end_to_end(args, osp.join(osp.dirname(osp.abspath(__file__)),
                                                    'lvis_eval.py'))
    evaluation.in_memory(args)


if __name__ == '__main__':
    main()
