#!/usr/bin/env python
"""Loading a full-size LVIS v1 train file: LVISFedDataset against mmdet's LVISV1Dataset, and
tools/make_subset.py against lvis-api's `LVIS(path)` load alone.

    python tools/benchmark_loading.py [--ann-file data/bench/lvis_v1_train_synthetic.json]

Generates the file once if missing (100,170 images, 1,270,141 polygon annotations, 1,203
categories, about 1 GB, like LVIS v1 train), then builds each dataset in its own process (so each
peak memory is its own) and prints wall time, peak RSS and the ratios. Both run with their default
train-time filtering and no image-file checks; LVISFedDataset loads a 2/2/2 subset (its use case)
and all 1,203 categories (the same work as mmdet's), the latter both ways: its default, the list
built by a child process into shared memory, and mmengine's (`shared_memory=False`). Where a
child built the list, its peak RSS is printed too, and the memory ratio is of the two peaks added
(the process waits, holding its own, while the child runs). The node's memory with several ranks
and DataLoader workers is benchmark_memory.py's.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from mmdet_lvis_fed.io import ToolParser  # noqa: E402

CASES = {
    'mmdet LVISV1Dataset': dict(type='LVISV1Dataset'),
    'LVISFedDataset f2/c2/r2': dict(type='LVISFedDataset', num_per_freq=dict(f=2, c=2, r=2),
                                    check_files=False),
    'LVISFedDataset all 1,203': dict(type='LVISFedDataset', check_files=False,
                                     not_exhaustive='keep'),
    'LVISFedDataset all, per rank': dict(type='LVISFedDataset', check_files=False,
                                         not_exhaustive='keep', shared_memory=False),
    'lvis.LVIS(path)': None,
    'make_subset f2/c2/r2': None,
}
BASELINE = {'LVISFedDataset f2/c2/r2': 'mmdet LVISV1Dataset',
            'LVISFedDataset all 1,203': 'mmdet LVISV1Dataset',
            'LVISFedDataset all, per rank': 'mmdet LVISV1Dataset',
            'make_subset f2/c2/r2': 'lvis.LVIS(path)'}


def worker(name, ann_file, val_file, out_dir):
    import mmdet_lvis_fed.plugin  # noqa: F401  (registers LVISFedDataset)
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    if name == 'lvis.LVIS(path)':
        from lvis import LVIS
        lv = LVIS(ann_file)
        n, classes = len(lv.imgs), len(lv.cats)
    elif name == 'make_subset f2/c2/r2':
        from tools import make_subset
        files = make_subset.main(['--train-ann', ann_file, '--val-ann', val_file, '--out-dir',
                                  out_dir, '--num-per-freq', 'f=2', 'c=2', 'r=2'])
        n, classes = sum(len(f['images']) for f in files.values()), 6
    else:
        cfg = dict(CASES[name], ann_file=ann_file, data_prefix=dict(img=''), pipeline=[])
        ds = DATASETS.build(cfg)
        n, classes = len(ds), len(ds.metainfo['classes'])
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss   # the list's builder, if any
    print(json.dumps(dict(seconds=secs, peak_mb=peak / 1024, child_peak_mb=child / 1024,
                          base_mb=base / 1024, images=n, classes=classes)))


def main():
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ann-file', default=osp.join(ROOT, 'data', 'bench',
                                                  'lvis_v1_train_synthetic.json'))
    p.add_argument('--val-ann-file', default=osp.join(ROOT, 'data', 'bench',
                                                      'lvis_v1_val_synthetic.json'),
                   help='val-sized file for make_subset\'s test split (generated if missing)')
    p.add_argument('--cases', nargs='+', default=list(CASES), choices=list(CASES))
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args()
    out_dir = osp.join(ROOT, 'work_dirs', 'benchmark_subset')
    if args.worker:
        return worker(args.worker, args.ann_file, args.val_ann_file, out_dir)
    from mmdet_lvis_fed.testing.synthetic import write_large_lvis
    for path, size in ((args.ann_file, {}), (args.val_ann_file, dict(num_images=19_809,
                                                                      num_anns=244_707, seed=1))):
        if not osp.exists(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            print(f'generating {path} ...', flush=True)
            t = time.perf_counter()
            write_large_lvis(path, progress=lambda m: print(m, flush=True), **size)
            print(f'generated in {time.perf_counter() - t:.0f} s', flush=True)
    size = osp.getsize(args.ann_file) / 2 ** 30
    print(f'file: {args.ann_file} ({size:.2f} GiB)', flush=True)
    runs = {}
    for name in args.cases:
        out = subprocess.run([sys.executable, __file__, '--worker', name, '--ann-file',
                              args.ann_file, '--val-ann-file', args.val_ann_file],
                             capture_output=True, text=True)
        if out.returncode:
            print(f'{name}: failed\n{out.stderr[-3000:]}')
            continue
        runs[name] = r = json.loads(out.stdout.strip().splitlines()[-1])
        r['build_mb'] = r['peak_mb'] + r['child_peak_mb']
        print(f'  {name:<28} {r["seconds"]:7.1f} s  peak {r["peak_mb"] / 1024:6.2f} GiB  '
              f'(child {r["child_peak_mb"] / 1024:5.2f})  {r["images"]} images, '
              f'{r["classes"]} classes', flush=True)
    print(f'\n{"case":<28} {"seconds":>8} {"peak GiB":>9} {"child GiB":>10} {"baseline":<20} '
          f'{"x faster":>9} {"memory ratio":>13}')
    for name, r in runs.items():
        ref = runs.get(BASELINE.get(name))
        row = (f'{name:<28} {r["seconds"]:8.1f} {r["peak_mb"] / 1024:9.2f} '
               f'{r["child_peak_mb"] / 1024:10.2f}')
        if ref is None:
            print(f'{row} (baseline)')
            continue
        print(f'{row} {BASELINE[name]:<20} {ref["seconds"] / r["seconds"]:9.2f} '
              f'{r["build_mb"] / ref["build_mb"]:13.2f}')


if __name__ == '__main__':
    main()
