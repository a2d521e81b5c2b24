#!/usr/bin/env python
"""Benchmark the Fixed AP test piece (TopKTestLoop's two passes) against a standard `mim test`.

    python tools/benchmark_fixed_ap.py                       # trains the demo baseline first
    python tools/benchmark_fixed_ap.py --checkpoint CKPT --images 40 --runs 2

Needs the demo data (`make demo`'s data/demo, or tools/make_demo_data.py --out data/demo).
Prints each run (seconds, peak memory, what pass 2 computed) and the ratio of the best of each.
What is timed and how: mmdet_lvis_fed/benchmarks/fixed_ap.py, printed below.
"""
import argparse

from mmdet_lvis_fed.benchmarks import fixed_ap
from mmdet_lvis_fed.io import ToolParser


def main():
    p = ToolParser(description=__doc__ + '\n' + fixed_ap.__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--checkpoint', help='a checkpoint of the demo baseline (default: train one '
                   'into WORK_DIR/baseline, about 3 minutes on 2 cores, once)')
    p.add_argument('--images', type=int, default=40, help='test images (default 40)')
    p.add_argument('--max-dets-per-cat', type=int, default=1000,
                   help='the piece\'s cap, in loop and metric (default 1000)')
    p.add_argument('--runs', type=int, default=2, help='runs of each test (default 2)')
    p.add_argument('--work-dir', default='work_dirs/bench/fixed_ap',
                   help='checkpoint, configs and logs (default work_dirs/bench/fixed_ap)')
    args = p.parse_args()
    for name in ('images', 'max_dets_per_cat', 'runs'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1')
    fixed_ap.compare(args.work_dir, args.checkpoint, args.images, args.max_dets_per_cat,
                          args.runs)


if __name__ == '__main__':
    main()
