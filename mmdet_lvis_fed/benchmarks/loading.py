"""Loading a full-size LVIS v1 train file (the command line is tools/benchmark_loading.py):
LVISFedDataset against mmdet's LVISV1Dataset, and the subset files (`datasets.subset_files`)
against lvis-api's `LVIS(path)` load alone, each case built in its own process (so each peak
memory is its own), with wall time, peak RSS and the ratios printed.

Both datasets run with their default train-time filtering and no image-file checks; LVISFedDataset
loads a 2/2/2 subset (its use case) and all 1,203 categories (the same work as mmdet's), the
latter both ways: its default, the list built by a child process into shared memory, and
mmengine's (`shared_memory=False`). Where a child built the list, its peak RSS is printed too, and
the memory ratio is of the two peaks added (the process waits, holding its own, while the child
runs).
"""
import json
import subprocess
import sys
import time

from ..procfs import own_peak_rss

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


WORKER = """
import sys
from mmdet_lvis_fed.benchmarks.loading import worker
worker(*sys.argv[1:])
"""


def worker(name, ann_file, val_file, out_dir):
    """One case, in a process of its own: prints its JSON record."""
    import mmdet_lvis_fed.plugin  # noqa: F401  (registers LVISFedDataset)
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    base = own_peak_rss() / 1024
    t = time.perf_counter()
    if name == 'lvis.LVIS(path)':
        from lvis import LVIS
        lv = LVIS(ann_file)
        n, classes = len(lv.imgs), len(lv.cats)
    elif name == 'make_subset f2/c2/r2':
        from mmdet_lvis_fed.datasets.subset_files import make_subset
        files = make_subset(ann_file, val_file, out_dir, num_per_freq=dict(f=2, c=2, r=2))[0]
        n, classes = sum(len(f['images']) for f in files.values()), 6
    else:
        cfg = dict(CASES[name], ann_file=ann_file, data_prefix=dict(img=''), pipeline=[])
        ds = DATASETS.build(cfg)
        n, classes = len(ds), len(ds.metainfo['classes'])
    secs = time.perf_counter() - t
    peak = own_peak_rss() / 1024
    child = own_peak_rss(children=True) / 1024   # the list's builder, if any
    print(json.dumps(dict(seconds=secs, peak_mb=peak / 1024, child_peak_mb=child / 1024,
                          base_mb=base / 1024, images=n, classes=classes)))


def run(cases, ann_file, val_file, out_dir):
    """Each case in its own process, then the table against the baselines."""
    runs = {}
    for name in cases:
        out = subprocess.run([sys.executable, '-c', WORKER, name, ann_file, val_file, out_dir],
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

