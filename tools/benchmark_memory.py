#!/usr/bin/env python
"""Memory of a node's launch: gloo ranks x DataLoader workers on a full-size LVIS v1 train file,
LVISFedDataset's shared-memory data list against mmengine's copy per rank and mmdet's
LVISV1Dataset.

    python tools/benchmark_memory.py [--ann-file data/bench/lvis_v1_train_synthetic.json]
        [--ranks 2] [--workers 2] [--cases ...] [--ranks-of "mmdet LVISV1Dataset=1"]

Generates the default file once if missing, as benchmark_loading.py does (100,170 images,
1,270,141 polygon annotations, all 1,203 categories); a file named with --ann-file must exist.
A case that fails is reported and the run ends in an error line (exit 2) after the table of the
others. Each case is its own launch, all in this run: `--ranks`
processes with torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR/PORT) join a gloo
group, build the dataset with all 1,203 categories, start `--workers` forked DataLoader workers
that fetch a few samples spread over the dataset, and read every page of the data buffer (the
state after an epoch: every page has been used by some process). Then this process sums, over
every rank and worker, the proportional set size (Pss of /proc/PID/smaps_rollup: a page shared by
n processes counts 1/n in each, so the sum is the memory the launch holds) and prints it with
each rank's build time and peak RSS (its own, and that of the child that built the list where
there is one).

Projection to 8 ranks x 4 workers: the data segment (the shared-memory case) once per node, plus
8 times one rank's share of the rest (its tree's Pss minus its share of the segment) plus, per
added worker, a worker's private memory (Private_Clean + Private_Dirty, measured). Pages shared
by all ranks (libraries) are counted at their 1/2 share per rank: a slight overestimate.
`--ranks-of CASE=N` runs a case with fewer ranks where two copies would not fit in memory; its
figure for `--ranks` ranks is then the measured tree times --ranks / N (its ranks hold independent
copies), and the table says so.
"""
import argparse
import json
import os
import os.path as osp
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from mmdet_lvis_fed.io import ToolParser, fail  # noqa: E402

DEFAULT_ANN = osp.join(ROOT, 'data', 'bench', 'lvis_v1_train_synthetic.json')
CASES = {
    'LVISFedDataset shared': dict(type='LVISFedDataset', check_files=False,
                                  not_exhaustive='keep'),
    'LVISFedDataset per rank': dict(type='LVISFedDataset', check_files=False,
                                    not_exhaustive='keep', shared_memory=False),
    'mmdet LVISV1Dataset': dict(type='LVISV1Dataset'),
}
BASELINE = {'LVISFedDataset shared': 'LVISFedDataset per rank'}
SEGMENT = 'mmdet_lvis_fed_'            # shared_buffer.PREFIX, without importing the package here
GIB = 2 ** 30
MARK = 'benchmark_memory: '            # the ranks' reports, among whatever else they print


def smaps(pid):
    """(Pss, private, Pss of the data segment) of process `pid`, bytes."""
    pss = private = seg = 0
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key == 'Pss':
                pss = int(rest.split()[0]) * 1024
            elif key in ('Private_Clean', 'Private_Dirty'):
                private += int(rest.split()[0]) * 1024
    with open(f'/proc/{pid}/smaps') as f:
        in_segment = False
        for line in f:
            first = line.split(None, 6)
            if '-' in first[0] and len(first) >= 5 and ':' in first[3]:       # a mapping's line
                in_segment = len(first) >= 6 and SEGMENT in first[5]
            elif in_segment and first[0] == 'Pss:':
                seg += int(first[1]) * 1024
    return pss, private, seg


def children(pid):
    out = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


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
    base = smaps(os.getpid())[0]
    t = time.perf_counter()
    ds = DATASETS.build(dict(CASES[name], ann_file=ann_file, data_prefix=dict(img=''),
                             pipeline=[]))
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024   # the builder only
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
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    procs, logs = [], []
    for r in range(ranks):
        env = dict(os.environ, MASTER_ADDR='127.0.0.1', MASTER_PORT=port, WORLD_SIZE=str(ranks),
                   RANK=str(r), LOCAL_RANK=str(r), LOCAL_WORLD_SIZE=str(ranks),
                   OMP_NUM_THREADS='1')
        logs.append(tempfile.TemporaryFile('w+'))
        procs.append(subprocess.Popen(
            [sys.executable, __file__, '--rank', name, '--ann-file', ann_file, '--workers',
             str(workers)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=logs[-1], text=True))

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
        built = sum(sum(smaps(pid)[0] for pid in [r['pid']] + children(r['pid']))
                    for r in reports)
        go()
        read_all()
        trees = []
        for rep in reports:
            procs_of = [rep['pid']] + children(rep['pid'])
            got = {pid: smaps(pid) for pid in procs_of}
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


def main():
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ann-file', default=DEFAULT_ANN,
                   help='an LVIS v1 train file (default: the synthetic one under data/bench/, '
                        'generated there when missing; a file given here must exist)')
    p.add_argument('--cases', nargs='+', default=list(CASES), choices=list(CASES))
    p.add_argument('--ranks', type=int, default=2)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--ranks-of', nargs='*', default=[], metavar='CASE=N',
                   help='run CASE with N ranks (fewer where --ranks copies would not fit)')
    p.add_argument('--project', type=int, nargs=2, default=(8, 4), metavar=('RANKS', 'WORKERS'))
    p.add_argument('--rank', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank:
        return rank(args.rank, args.ann_file, args.workers)
    for name, low in (('ranks', 1), ('workers', 0)):
        if getattr(args, name) < low:
            fail(f'--{name} {getattr(args, name)}: give a number >= {low}')
    if min(args.project) < 1:
        fail(f'--project {args.project[0]} {args.project[1]}: give numbers >= 1')
    # SIGTERM ends the tool as SystemExit: a file being generated leaves no temporary behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ranks_of = {}
    for item in args.ranks_of:
        case, _, n = item.rpartition('=')
        if case not in CASES or not n.isdigit() or not 1 <= int(n) <= args.ranks:
            p.error(f'--ranks-of {item!r}: give CASE=N with a case of {list(CASES)} and '
                    f'1 <= N <= --ranks')
        ranks_of[case] = int(n)
    if not osp.exists(args.ann_file):
        if osp.abspath(args.ann_file) != osp.abspath(DEFAULT_ANN):
            fail(f'--ann-file {args.ann_file}: no such file (only the default '
                 f'{osp.relpath(DEFAULT_ANN)} is generated when missing)')
        from mmdet_lvis_fed.testing.synthetic import write_large_lvis
        print(f'generating {args.ann_file} ...', flush=True)
        try:
            write_large_lvis(args.ann_file, progress=lambda m: print(m, flush=True))
        except OSError as e:
            fail(f'--ann-file {args.ann_file}: cannot write it ({e.strerror or e})')
    elif not osp.isfile(args.ann_file) or not os.access(args.ann_file, os.R_OK):
        fail(f'--ann-file {args.ann_file}: not a readable file')
    print(f'file: {args.ann_file} ({osp.getsize(args.ann_file) / GIB:.2f} GiB); {args.ranks} '
          f'gloo ranks x {args.workers} DataLoader workers each', flush=True)
    results, failed = {}, []
    for name in args.cases:
        n = ranks_of.get(name, args.ranks)
        try:
            trees = launch(name, n, args.workers, args.ann_file)
        except Exception as e:
            print(f'{name}: failed: {e}', flush=True)
            failed.append(name)
            continue
        results[name] = s = summary(trees, args.ranks, args.workers, *args.project)
        for i, t in enumerate(trees):
            print(f'  {name:<24} rank {i}: build {t["seconds"]:6.1f} s, peak RSS '
                  f'{t["peak"] / GIB:5.2f} GiB (builder child {t["child_peak"] / GIB:5.2f}), Pss '
                  f'before the build {t["base"] / GIB:4.2f}, of rank + workers '
                  f'{t["pss"] / GIB:5.2f} (data segment {t["segment_pss"] / GIB:4.2f}), worker private '
                  f'{[round(w / 2**20) for w in t["workers"]]} MiB, {t["images"]} images',
                  flush=True)
    tr, tw = args.project
    print(f'\nPss of {args.ranks} ranks x {args.workers} workers, GiB: after the build (ranks '
          'only), then with the workers after a few samples and every page of the buffer read')
    print(f'{"case":<24} {"built":>6} {"workers":>8} {"x of":>5}  {f"{tr}x{tw} GiB":>9}  how')
    for name, s in results.items():
        ref = results.get(BASELINE.get(name))
        ratio = f'{s["total"] / ref["total"]:5.2f}' if ref else '     '
        how = (f'{tr} x (rank and workers {s["rest"] / GIB:.2f} + {tw - args.workers} x worker '
               f'{s["worker"] / GIB:.2f})')
        if s['segment']:
            how = f'segment {s["segment"] / GIB:.2f} once + ' + how.replace('and workers', 'rest')
        if s['scaled']:
            how += f'; {ranks_of[name]} rank run, x {args.ranks / ranks_of[name]:g}'
        print(f'{name:<24} {s["built"] / GIB:6.2f} {s["total"] / GIB:8.2f} {ratio}  '
              f'{s["projected"] / GIB:9.2f}  {how}')
    if BASELINE.get(next(iter(results), None)) in results:
        print(f'("x of": against {BASELINE[next(iter(results))]})')
    if failed:      # figures of a partial run are printed above, but the run is not a success
        fail(f'{len(failed)} of {len(args.cases)} cases failed ({", ".join(failed)}); their '
             'errors are printed above')


if __name__ == '__main__':
    main()
