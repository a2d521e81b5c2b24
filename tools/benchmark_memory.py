#!/usr/bin/env python
"""Memory of a node's launch: gloo ranks x DataLoader workers on a full-size LVIS v1 train file,
LVISFedDataset's shared-memory data list against mmengine's copy per rank and mmdet's
LVISV1Dataset.

    python tools/benchmark_memory.py [--ann-file data/bench/lvis_v1-shaped_train.json]
        [--ranks 2] [--workers 2] [--cases ...] [--ranks-of "mmdet LVISV1Dataset=1"]

Generates the default file once if missing, as benchmark_loading.py does (100,170 images,
about 1.27M polygon annotations, 0.80 GiB, all 1,203 categories); a file named with --ann-file
must exist.
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
import os
import os.path as osp
import signal
import sys

from mmdet_lvis_fed.benchmarks import memory
from mmdet_lvis_fed.io import ToolParser, fail

DEFAULT_ANN = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'bench',
                       'lvis_v1-shaped_train.json')


def main():
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ann-file', default=DEFAULT_ANN,
                   help='an LVIS v1 train file (default: the synthetic one under data/bench/, '
                        'generated there when missing; a file given here must exist)')
    p.add_argument('--cases', nargs='+', default=list(memory.CASES), choices=list(memory.CASES))
    p.add_argument('--ranks', type=int, default=2)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--ranks-of', nargs='*', default=[], metavar='CASE=N',
                   help='run CASE with N ranks (fewer where --ranks copies would not fit)')
    p.add_argument('--project', type=int, nargs=2, default=(8, 4), metavar=('RANKS', 'WORKERS'))
    args = p.parse_args()
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
        if case not in memory.CASES or not n.isdigit() or not 1 <= int(n) <= args.ranks:
            p.error(f'--ranks-of {item!r}: give CASE=N with a case of {list(memory.CASES)} and '
                    f'1 <= N <= --ranks')
        ranks_of[case] = int(n)
    if not osp.exists(args.ann_file):
        if osp.abspath(args.ann_file) != osp.abspath(DEFAULT_ANN):
            fail(f'--ann-file {args.ann_file}: no such file (only the default '
                 f'{osp.relpath(DEFAULT_ANN)} is generated when missing)')
        from mmdet_lvis_fed.testing.lvis_v1 import write_full_size
        print(f'generating {args.ann_file} ...', flush=True)
        try:
            write_full_size(args.ann_file, progress=lambda m: print(m, flush=True))
        except OSError as e:
            fail(f'--ann-file {args.ann_file}: cannot write it ({e.strerror or e})')
    elif not osp.isfile(args.ann_file) or not os.access(args.ann_file, os.R_OK):
        fail(f'--ann-file {args.ann_file}: not a readable file')
    size = osp.getsize(args.ann_file) / memory.GIB
    print(f'file: {args.ann_file} ({size:.2f} GiB); {args.ranks} '
          f'gloo ranks x {args.workers} DataLoader workers each', flush=True)
    results, failed = {}, []
    for name in args.cases:
        try:
            trees = memory.launch(name, ranks_of.get(name, args.ranks), args.workers,
                                  args.ann_file)
        except Exception as e:
            print(f'{name}: failed: {e}', flush=True)
            failed.append(name)
            continue
        results[name] = memory.summary(trees, args.ranks, args.workers, *args.project)
        for i, t in enumerate(trees):
            print(memory.rank_line(name, i, t), flush=True)
    print('\n'.join(memory.table(results, ranks_of, args.ranks, args.workers, args.project)))
    if failed:      # figures of a partial run are printed above, but the run is not a success
        fail(f'{len(failed)} of {len(args.cases)} cases failed ({", ".join(failed)}); their '
             'errors are printed above')


if __name__ == '__main__':
    main()
