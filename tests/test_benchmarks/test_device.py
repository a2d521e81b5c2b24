"""mmdet_lvis_fed.benchmarks.device and tools/benchmark_device.py on the CPU at a tiny size (the
figures themselves belong on a GPU machine: tools/README.md)."""
import os.path as osp
import re
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT

DEMO = 'configs/demo/mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py'
FULL = 'configs/lvis_v1/mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py'


def test_generated_batch():
    from mmdet_lvis_fed.benchmarks.device import make_batch
    batch = make_batch(2, (64, 48), 1203, 'cpu', instances=4)
    assert [tuple(x.shape) for x in batch['inputs']] == [(3, 48, 64)] * 2
    for sample in batch['data_samples']:
        gt = sample.gt_instances
        assert gt.labels.max() < 1203 and len(gt.labels) == 4
        boxes = gt.bboxes.numpy().astype(int)
        for mask, (x1, y1, x2, y2) in zip(gt.masks.masks, boxes):
            want = np.zeros((48, 64), np.uint8)
            want[y1:y2, x1:x2] = 1
            assert np.array_equal(mask, want)


def test_the_tool_measures_each_config_at_its_k():
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmark_device.py'), DEMO, FULL,
         '--device', 'cpu', '--size', '96', '64', '--batch', '1', '--train-iters', '1',
         '--test-iters', '1', '--warmup', '0', '--eval-images', '20'],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = re.findall(r'^\| (\S+\.py) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$',
                      res.stdout, re.M)
    assert [(r[0], r[1]) for r in rows] == [(osp.basename(DEMO), '24'),
                                          (osp.basename(FULL), '1203')], res.stdout
    assert all(float(x) > 0 for r in rows for x in r[2:]), res.stdout
    assert re.search(r'evaluator .*: 20 images, 6000 detections: [\d.]+ s', res.stdout)


def test_bad_option_is_one_line():
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmark_device.py'),
                          '--batch', '0'], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 2 and res.stderr.strip() == 'error: --batch: 0 is not a number >= 1'
