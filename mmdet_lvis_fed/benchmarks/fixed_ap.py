"""The Fixed AP test piece (`configs/_base_/lvis-fixed-ap_test.py`, TopKTestLoop's two passes)
against a standard `mim test`, on the same checkpoint and images.

The checkpoint is the long-tail demo baseline (`tests/data/configs/mask-rcnn_r18_fpn_gn-scratch_
demo.py`: R18 from scratch, 24 classes, 160 x 160 images), trained by `mim train` (300
iterations, seed 0) unless one is given. Both tests run `mim test` on the first N test images
with one CPU thread (OMP_NUM_THREADS=1), each a fresh process timed from start to end (imports,
model, data, both passes, evaluation), alternating, so that both see the same machine; peak =
the largest resident set of the process tree. The piece's cap is `max_dets_per_cat` (1,000 by
default: on 40 images of 24 classes it keeps 600 detections per image, as 10,000 per class do
at LVIS-val scale: 12.0M over 19,809 images). The standard test is the config as it is (up to
50 detections per image).

(Usage: tools/benchmark_fixed_ap.py.)
"""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

from .evaluation_end_to_end import timed_process

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASELINE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
PIECE = osp.join(ROOT, 'configs', '_base_', 'lvis-fixed-ap_test.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def checkpoint(work_dir):
    """The baseline's `mim train` checkpoint in work_dir/baseline (trained here if missing)."""
    out = osp.join(work_dir, 'baseline')
    ckpt = osp.join(out, 'iter_300.pth')
    if not osp.exists(ckpt):
        print(f'training the demo baseline (300 iterations, seed 0) into {out}', flush=True)
        subprocess.run([MIM, 'train', 'mmdet', BASELINE, '--work-dir', out,
                        '--cfg-options', 'randomness.seed=0'], check=True,
                       stdout=subprocess.DEVNULL)
    return ckpt


def child_config(work_dir):
    """The piece applied to the baseline in its three lines (the piece's header)."""
    path = osp.join(work_dir, 'fixed-ap_child.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{BASELINE!r}, {PIECE!r}]\n'
                'test_cfg = _base_.fixed_ap_test_loop\n'
                'model = dict(test_cfg=_base_.fixed_ap_test_cfg)\n'
                'test_evaluator = _base_.fixed_ap_evaluator\n')
    return path


def mim_test(config, ckpt, work_dir, images, caps=()):
    """One `mim test` on one thread: (seconds, peak MB, its log's text)."""
    cmd = [MIM, 'test', 'mmdet', config, '--checkpoint', ckpt, '--work-dir', work_dir,
           '--cfg-options', f'test_dataloader.dataset.indices={images}', *caps]
    secs, peak, _ = timed_process(cmd, extra_env=dict(OMP_NUM_THREADS='1'))
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')), key=osp.getmtime)
    with open(logs[-1]) as f:
        return secs, peak, f.read()


def compare(work_dir, ckpt=None, images=40, max_dets_per_cat=1000, runs=2):
    """Standard test and the piece, alternating `runs` times each; prints every run and the
    ratio of the best of each."""
    os.makedirs(work_dir, exist_ok=True)
    ckpt = ckpt or checkpoint(work_dir)
    child = child_config(work_dir)
    caps = [f'test_cfg.max_dets_per_cat={max_dets_per_cat}',
            f'test_evaluator.max_dets_per_cat={max_dets_per_cat}']
    best = {}
    print(f'checkpoint {ckpt}; first {images} test images; one thread; the piece with '
          f'max_dets_per_cat={max_dets_per_cat}', flush=True)
    for run in range(runs):
        for name, config, extra in (('standard test', BASELINE, ()), ('Fixed AP piece', child,
                                                                      caps)):
            secs, peak, log = mim_test(config, ckpt, osp.join(work_dir, f'{name[:8]}-{run}'),
                                       images, extra)
            best[name] = min(best.get(name, (secs, peak)), (secs, peak))
            print(f'  run {run + 1}: {name:<15} {secs:7.1f} s  peak {peak / 1024:5.2f} GiB'
                  f'{pass_two(log)}', flush=True)
    (s, sp), (f, fp) = best['standard test'], best['Fixed AP piece']
    print(f'\nFixed AP test piece / standard test (best of {runs} each): {f:.1f} s / {s:.1f} s '
          f'= {f / s:.2f}x; peaks {fp / 1024:.2f} and {sp / 1024:.2f} GiB\n', flush=True)
    return f / s


def pass_two(log):
    """What the piece's log says of pass 2: detections kept, masks computed, seconds."""
    m = re.search(r'pass 2 of 2: (\d+) detections kept(?:, (\d+) masks computed \([^)]*\))?'
                  r'(?: with masks)?, ([\d.]+) s', log)
    if not m:
        return ''
    kept, masks, secs = m.groups()
    return f'  (pass 2: {kept} kept, {masks or kept} masks, {secs} s)'
