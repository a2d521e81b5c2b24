"""Memory of a launch as users run it (ranks x DataLoader workers): the PSS of a process tree
sampled while it runs (`TreeSampler`, for the rehearsal), and a node's launch of the dataset
(tools/benchmark_memory.py). The numbers are read from /proc by `mmdet_lvis_fed.procfs` (why PSS
and not RSS: its docstring).
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from ..dist_cpu import start_local_ranks
from ..procfs import children, command_of, own_peak_rss, pss_gib, smaps, tree_depths
from ..shared_buffer import PREFIX


class TreeSampler:
    """Samples the PSS of a process tree every `interval` seconds in a thread; keeps the peak
    total and, for that moment, each process's share; `snapshot()` gives the current one. A
    share is {pid: (depth in the tree, GiB)}: for a torchrun job depth 0 is the launcher, 1 a
    rank, 2 a DataLoader worker."""

    def __init__(self, root, interval=0.5, python_only=True):
        self.root, self.interval, self.python_only = root, interval, python_only
        self.peak_total, self.peak_parts, self.samples = 0.0, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def snapshot(self):
        parts = {}
        for pid, depth in tree_depths(self.root).items():
            if self.python_only and 'python' not in command_of(pid):
                continue          # torchrun's own launcher process is Python too; shells are not
            value = pss_gib(pid)
            if value is not None:
                parts[pid] = (depth, value)
        return parts

    def _run(self):
        while not self._stop.is_set():
            parts = self.snapshot()
            total = sum(gib for _, gib in parts.values())
            self.samples += 1
            if total > self.peak_total:
                self.peak_total, self.peak_parts = total, parts
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def wait_for(predicate, timeout, interval=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False


# --- a node's launch of the dataset: ranks x DataLoader workers (tools/benchmark_memory.py) -----
# Each case is its own launch: the ranks (torchrun's variables, a gloo group) build the dataset
# with all 1,203 categories, start forked DataLoader workers that fetch a few samples spread over
# the dataset and read every page of the data buffer (the state after an epoch); this process then
# sums the Pss of every rank and worker (a page shared by n processes counts 1/n in each).

CASES = {
    'LVISFedDataset shared': dict(type='LVISFedDataset', check_files=False,
                                  not_exhaustive='keep'),
    'LVISFedDataset per rank': dict(type='LVISFedDataset', check_files=False,
                                    not_exhaustive='keep', shared_memory=False),
    'mmdet LVISV1Dataset': dict(type='LVISV1Dataset'),
}
BASELINE = {'LVISFedDataset shared': 'LVISFedDataset per rank'}
SEGMENT = PREFIX
GIB = 2 ** 30
MARK = 'benchmark_memory: '            # the ranks' reports, among whatever else they print


RANK = """
import sys
from mmdet_lvis_fed.benchmarks.memory import rank
rank(sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def first_item(batch):
    return batch[0]['img_id']


def rank(name, ann_file, workers):
    """One rank of a launch: build, start the workers, report, wait to be measured."""
    import numpy as np
    import torch.distributed as dist
    from torch.utils.data import DataLoader

    import mmdet_lvis_fed.plugin  # noqa: F401  (registers LVISFedDataset)
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    dist.init_process_group('gloo')
    base = smaps(os.getpid(), SEGMENT)[0]
    t = time.perf_counter()
    ds = DATASETS.build(dict(CASES[name], ann_file=ann_file, data_prefix=dict(img=''),
                             pipeline=[]))
    secs = time.perf_counter() - t
    peak = own_peak_rss()
    child = own_peak_rss(children=True)         # the builder only
    print(MARK + json.dumps(dict(pid=os.getpid(), seconds=secs, peak=peak, child_peak=child,
                                 base=base, images=len(ds),
                                 segment=getattr(ds, 'shared_segment', None))), flush=True)
    sys.stdin.readline()                 # measured after the build
    samples = np.linspace(0, len(ds) - 1, 8 * max(workers, 1)).astype(int).tolist()
    loader = DataLoader(ds, batch_size=1, sampler=samples, num_workers=workers,
                        collate_fn=first_item, persistent_workers=workers > 0)
    fetched = list(loader)
    touched = int(ds.data_bytes[::4096].sum()) if hasattr(ds, 'data_bytes') else 0
    print(MARK + json.dumps(dict(fetched=len(fetched), touched=touched)), flush=True)
    sys.stdin.readline()                 # measured with the workers alive
    del loader
    dist.destroy_process_group()


def launch(name, ranks, workers, ann_file):
    """Run case `name` as `ranks` gloo processes; per rank its report, the Pss of its tree after
    the build and with its workers, and each worker's private memory."""
    logs = [tempfile.TemporaryFile('w+') for _ in range(ranks)]
    procs = start_local_ranks(
        [sys.executable, '-c', RANK, name, ann_file, str(workers)], ranks,
        rank_kwargs=lambda r: dict(stderr=logs[r]), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)

    def read_all():
        out = []
        for i, p in enumerate(procs):
            for line in p.stdout:
                if line.startswith(MARK):
                    out.append(json.loads(line[len(MARK):]))
                    break
            else:
                p.wait()
                logs[i].seek(0)
                raise RuntimeError(f'{name}: rank {i} failed\n{logs[i].read()[-3000:]}')
        return out

    def go():
        for p in procs:
            p.stdin.write('\n')
            p.stdin.flush()

    try:
        reports = read_all()
        built = sum(sum(smaps(pid, SEGMENT)[0] for pid in [r['pid']] + children(r['pid']))
                    for r in reports)
        go()
        read_all()
        trees = []
        for rep in reports:
            procs_of = [rep['pid']] + children(rep['pid'])
            got = {pid: smaps(pid, SEGMENT) for pid in procs_of}
            trees.append(dict(rep, built=built, pss=sum(g[0] for g in got.values()),
                              segment_pss=sum(g[2] for g in got.values()),
                              workers=[got[p][1] for p in procs_of[1:]]))
        go()
        for p in procs:
            p.wait(timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return trees


def summary(trees, ranks, workers, target_ranks, target_workers):
    """Totals for `ranks` ranks (scaled if fewer were run) and the projection."""
    run = len(trees)
    scale = ranks / run
    seg = sum(t['segment_pss'] for t in trees)
    shared = seg > 0
    rest = sum(t['pss'] - t['segment_pss'] for t in trees) / run
    all_workers = [w for t in trees for w in t['workers']]
    worker = sum(all_workers) / len(all_workers) if all_workers else 0
    total = seg + rest * run * scale if shared else sum(t['pss'] for t in trees) * scale
    built = trees[0]['built'] * (1 if shared else scale)
    projected = (seg if shared else 0) + target_ranks * (
        rest + (target_workers - workers) * worker)
    return dict(total=total, built=built, projected=projected, segment=seg, rest=rest,
                worker=worker, scaled=run != ranks)


def rank_line(name, i, t):
    """One rank of a launch: its build, peaks, Pss and its workers' private memory."""
    return (f'  {name:<24} rank {i}: build {t["seconds"]:6.1f} s, peak RSS '
            f'{t["peak"] / GIB:5.2f} GiB (builder child {t["child_peak"] / GIB:5.2f}), Pss '
            f'before the build {t["base"] / GIB:4.2f}, of rank + workers '
            f'{t["pss"] / GIB:5.2f} (data segment {t["segment_pss"] / GIB:4.2f}), worker '
            f'private {[round(w / 2**20) for w in t["workers"]]} MiB, {t["images"]} images')


def table(results, ranks_of, ranks, workers, project):
    """The report's lines: each case's Pss after the build and with its workers, the ratio to
    its baseline and the projection to `project` = (ranks, workers), with how it was made."""
    tr, tw = project
    lines = [f'\nPss of {ranks} ranks x {workers} workers, GiB: after the build (ranks only), '
             'then with the workers after a few samples and every page of the buffer read',
             f'{"case":<24} {"built":>6} {"workers":>8} {"x of":>5}  {f"{tr}x{tw} GiB":>9}  how']
    for name, s in results.items():
        ref = results.get(BASELINE.get(name))
        ratio = f'{s["total"] / ref["total"]:5.2f}' if ref else '     '
        how = (f'{tr} x (rank and workers {s["rest"] / GIB:.2f} + {tw - workers} x worker '
               f'{s["worker"] / GIB:.2f})')
        if s['segment']:
            how = f'segment {s["segment"] / GIB:.2f} once + ' + how.replace('and workers', 'rest')
        if s['scaled']:
            how += f'; {ranks_of[name]} rank run, x {ranks / ranks_of[name]:g}'
        lines.append(f'{name:<24} {s["built"] / GIB:6.2f} {s["total"] / GIB:8.2f} {ratio}  '
                     f'{s["projected"] / GIB:9.2f}  {how}')
    if BASELINE.get(next(iter(results), None)) in results:
        lines.append(f'("x of": against {BASELINE[next(iter(results))]})')
    return lines
