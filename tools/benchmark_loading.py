#!/usr/bin/env python
"""Loading a full-size LVIS v1 train file: LVISFedDataset against mmdet's LVISV1Dataset, and
tools/make_subset.py against lvis-api's `LVIS(path)` load alone.

    python tools/benchmark_loading.py [--ann-file data/bench/lvis_v1-shaped_train.json]

Generates the file once if missing (`mmdet_lvis_fed.testing.lvis_v1.write_full_size`: LVIS v1
train's 100,170 images and 1,203 categories, about 1.27M polygon annotations, 0.80 GiB), then
builds each dataset in its own process and prints wall time, peak RSS and the ratios
(mmdet_lvis_fed/benchmarks/loading.py says what each case does). The node's memory with
several ranks and DataLoader workers is benchmark_memory.py's.
"""
import argparse
import os
import os.path as osp
import time

from mmdet_lvis_fed.benchmarks import loading
from mmdet_lvis_fed.io import ToolParser

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main():
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ann-file', default=osp.join(ROOT, 'data', 'bench',
                                                  'lvis_v1-shaped_train.json'))
    p.add_argument('--val-ann-file', default=osp.join(ROOT, 'data', 'bench',
                                                      'lvis_v1-shaped_val.json'),
                   help='val-sized file for make_subset\'s test split (generated if missing)')
    p.add_argument('--cases', nargs='+', default=list(loading.CASES), choices=list(loading.CASES))
    args = p.parse_args()
    out_dir = osp.join(ROOT, 'work_dirs', 'benchmark_subset')
    from mmdet_lvis_fed.testing.lvis_v1 import write_full_size
    for path, split in ((args.ann_file, 'train'), (args.val_ann_file, 'val')):
        if not osp.exists(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            print(f'generating {path} ...', flush=True)
            t = time.perf_counter()
            write_full_size(path, split, progress=lambda m: print(m, flush=True))
            print(f'generated in {time.perf_counter() - t:.0f} s', flush=True)
    size = osp.getsize(args.ann_file) / 2 ** 30
    print(f'file: {args.ann_file} ({size:.2f} GiB)', flush=True)
    loading.run(args.cases, args.ann_file, args.val_ann_file, out_dir)


if __name__ == '__main__':
    main()
