#!/usr/bin/env python
"""Training and test throughput and peak device memory of detector configs, from random weights
and generated images, and the evaluator's time at LVIS-val scale: the figures to take on the
first GPU machine (mmdet_lvis_fed/benchmarks/device.py says what is measured and how).

    python tools/benchmark_device.py                       # GPU: 1333 x 800, batch 2, LVIS val
    python tools/benchmark_device.py --device cpu --size 128 96 --train-iters 1 --test-iters 1 \\
        --warmup 0 --eval-images 50                        # what the test suite runs

Prints one table row per config (K, train images/s, peak GiB, test images/s, peak GiB) and the
evaluator's seconds for --eval-images images x 300 detections (box AP, in memory). Under 10
minutes on one modern GPU at the defaults. Errors end in one line, `error: ...`, exit status 2.
"""
import argparse
import os.path as osp

from mmdet_lvis_fed.io import ToolParser, fail

DEFAULT_CONFIGS = (
    'configs/demo/mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py',
    'configs/lvis_v1/mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py',
)


def parse_args(argv=None):
    p = ToolParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='*', default=list(DEFAULT_CONFIGS),
                   help='configs to measure (default: the R50 demo config and the LVIS v1 '
                        'full-vocabulary baseline)')
    p.add_argument('--size', nargs=2, type=int, default=(1333, 800), metavar=('W', 'H'),
                   help='image width and height (default 1333 800)')
    p.add_argument('--batch', type=int, default=2, help='training images per step (default 2, '
                   'the per-GPU batch of the 8 x 2 LVIS recipe)')
    p.add_argument('--train-iters', type=int, default=20, help='timed training steps (default 20)')
    p.add_argument('--test-iters', type=int, default=50, help='timed test images (default 50)')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps first (default 3)')
    p.add_argument('--eval-images', type=int, default=19809,
                   help='images of the evaluator run, 300 detections each (default 19,809: '
                        'LVIS v1 val; 0 skips it)')
    p.add_argument('--device', help='default cuda:0 when available, else cpu')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name, value, low in (('--batch', args.batch, 1), ('--train-iters', args.train_iters, 1),
                             ('--test-iters', args.test_iters, 1), ('--warmup', args.warmup, 0),
                             ('--eval-images', args.eval_images, 0)):
        if value < low:
            fail(f'{name}: {value} is not a number >= {low}')
    if min(args.size) < 32:
        fail(f'--size: {args.size[0]} x {args.size[1]} is below 32 pixels')
    for path in args.configs:
        if not osp.isfile(path):
            fail(f'{path}: no such config file')
    import torch
    from mmdet_lvis_fed.benchmarks import device as bench
    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    name = torch.cuda.get_device_name(device) if device.startswith('cuda') else 'CPU'
    print(f'device: {device} ({name}), torch {torch.__version__}; images {args.size[0]} x '
          f'{args.size[1]}, training batch {args.batch}, random weights', flush=True)
    header = ('config', 'K', 'train img/s', 'train peak GiB', 'test img/s', 'test peak GiB')
    rows = []
    for path in args.configs:
        try:
            cfg = bench.load_config(path)
        except Exception as e:
            fail(f'{path}: cannot load the config ({type(e).__name__}: {e})')
        r = bench.measure_model(cfg, tuple(args.size), args.batch, args.train_iters,
                                args.test_iters, args.warmup, device)
        rows.append((osp.basename(path), str(r['K']), f"{r['train img/s']:.2f}",
                     f"{r['train peak GiB']:.2f}", f"{r['test img/s']:.2f}",
                     f"{r['test peak GiB']:.2f}"))
        print(f'measured {path}', flush=True)
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    if args.eval_images:
        seconds, n, _ = bench.measure_evaluator(args.eval_images)
        print(f'evaluator (box AP, 300 per image, in memory, CPU): {args.eval_images} images, '
              f'{n} detections: {seconds:.1f} s')


if __name__ == '__main__':
    main()
