#!/usr/bin/env python
"""A full-scale rehearsal on this machine (`make rehearsal`): LVIS-v1-shaped data with LVIS v1's
real long tail, `mim train` of the full-vocabulary baseline (scaled down, K = 1203 kept) with 2
gloo processes, then `mim test` with the two-pass Fixed AP piece; prints start-up time, memory
(PSS) per process and in all, seconds per iteration, test and evaluation time and rank 0's peak
memory. mmdet_lvis_fed/benchmarks/rehearsal.py says what is full scale and what is scaled down.

    python tools/rehearsal.py [--work-dir work_dirs/rehearsal] [--iters 40] [--test-images 100]

The data is generated once under WORK_DIR/rehearsal_data (about 300 MB) and reused; the tool
removes that folder only when it made it (it holds `.written-by-rehearsal`) and refuses any other
folder of that name. `--timeout` ends the whole process group of a launch (torchrun, its ranks,
their DataLoader workers), as does Ctrl-C or SIGTERM to this tool. Errors end in one line,
`error: ...`, exit status 2.
"""
import argparse

from mmdet_lvis_fed.io import ToolParser, fail
from mmdet_lvis_fed.testing.lvis_v1 import TRAIN_IMAGES, VAL_IMAGES

BASELINE = 'configs/lvis_v1/mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py'
PIECE = 'configs/_base_/lvis-fixed-ap_test.py'


def main(argv=None):
    p = ToolParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/rehearsal', help='default work_dirs/rehearsal')
    p.add_argument('--config', default=BASELINE, help=f'the config rehearsed (default {BASELINE})')
    p.add_argument('--train-images', type=int, default=TRAIN_IMAGES,
                   help=f'train records (default {TRAIN_IMAGES:,}: LVIS v1 train)')
    p.add_argument('--val-images', type=int, default=VAL_IMAGES,
                   help=f'val records (default {VAL_IMAGES:,}: LVIS v1 val)')
    p.add_argument('--test-images', type=int, default=100,
                   help='val images tested (default 100)')
    p.add_argument('--iters', type=int, default=40, help='training iterations (default 40)')
    p.add_argument('--max-dets-per-cat', type=int, default=20,
                   help='the Fixed AP cap of the test, small enough to bind (default 20)')
    p.add_argument('--timeout', type=int, default=1500,
                   help='seconds each of training and test may take (default 1500)')
    args = p.parse_args(argv)
    for name in ('train_images', 'val_images', 'test_images', 'iters', 'max_dets_per_cat',
                 'timeout'):
        if getattr(args, name) < 1:
            fail(f'--{name.replace("_", "-")}: {getattr(args, name)} is not a number >= 1')
    if args.test_images > args.val_images:
        fail(f'--test-images {args.test_images} is more than --val-images {args.val_images}')
    import signal
    import sys
    # SIGTERM ends the tool as SystemExit, so that the running launch's process group is stopped
    # on the way out (benchmarks.rehearsal.Launch.run) instead of being orphaned.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    from mmdet_lvis_fed.benchmarks.rehearsal import rehearse
    try:
        rehearse(args.work_dir, args.config, PIECE, args.train_images, args.val_images,
                 args.iters, args.test_images, args.max_dets_per_cat, timeout=args.timeout)
    except ValueError as e:         # a bad input, found before anything was generated
        fail(e)
    except RuntimeError as e:       # a launch failed: its last log lines, then the error line
        first, *tail = str(e).splitlines()
        print('\n'.join(tail))
        fail(first)


if __name__ == '__main__':
    main()
