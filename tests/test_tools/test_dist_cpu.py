"""tools/dist_cpu.py: mmdet's test.py as two gloo processes on a CPU-only torch gives the
predictions of one process, image for image."""
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import numpy as np
import torch
from mmengine.config import Config

from mmdet.apis import init_detector
from tests.conftest import ROOT

CONFIG = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')


def options(demo_root):
    # score_thr 0: a randomly initialised detector still returns boxes to compare
    return ['--cfg-options', f'test_dataloader.dataset.data_root={demo_root}',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
            'model.test_cfg.rcnn.score_thr=0.0', 'model.test_cfg.rcnn.max_per_img=20']


def run(cmd, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]


def test_two_gloo_processes_predict_what_one_does(tmp_path, demo_root):
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = init_detector(cfg, None, device='cpu')
    classes = cfg.test_dataloader.dataset.metainfo['classes']
    ckpt = str(tmp_path / 'random.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=classes))),
               ckpt)
    one, two = str(tmp_path / 'one.pkl'), str(tmp_path / 'two.pkl')
    test_py = osp.join(osp.dirname(sys.modules['mmdet'].__file__), '.mim', 'tools', 'test.py')
    run([sys.executable, test_py, CONFIG, ckpt, '--work-dir', str(tmp_path / 'w1'), '--out', one,
         *options(demo_root)], tmp_path)
    torchrun = osp.join(osp.dirname(sys.executable), 'torchrun')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    run([torchrun, '--nproc-per-node', '2', '--master-port', port,
         osp.join(ROOT, 'tools', 'dist_cpu.py'), 'test', CONFIG, ckpt,
         '--work-dir', str(tmp_path / 'w2'), '--out', two, *options(demo_root)], tmp_path)
    with open(one, 'rb') as f:
        a = pickle.load(f)
    with open(two, 'rb') as f:
        b = pickle.load(f)
    # every test image once, in the dataset's order (an odd count: the sampler pads rank 1)
    assert len(a) == len(b) > 1 and len({p['img_id'] for p in b}) == len(b)
    assert sum(len(p['pred_instances']['scores']) for p in a) > 0
    for p, q in zip(a, b):
        assert p['img_id'] == q['img_id']
        for key in ('bboxes', 'scores', 'labels'):
            np.testing.assert_allclose(p['pred_instances'][key].numpy(),
                                       q['pred_instances'][key].numpy(), rtol=1e-5, atol=1e-4)
