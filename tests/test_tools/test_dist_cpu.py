"""tools/dist_cpu.py: mmdet's test.py as two gloo processes on a CPU-only torch gives the
predictions of one process, image for image."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import torch
from mmengine.config import Config

from mmdet.apis import init_detector
from mmdet_lvis_fed.dist_cpu import free_port
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
    port = str(free_port())
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


def test_start_local_ranks_gives_each_process_torchrun_s_variables(tmp_path):
    from mmdet_lvis_fed.dist_cpu import start_local_ranks
    code = ('import json, os, sys; print(json.dumps({k: os.environ[k] for k in ("RANK", '
            '"LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", '
            '"OMP_NUM_THREADS", "MINE")}, separators=(",", ":")), sys.argv[1])')
    logs = [open(tmp_path / f'{r}.log', 'w') for r in range(3)]
    procs = start_local_ranks(lambda r: [sys.executable, '-c', code, f'arg{r}'], 3,
                              env=dict(os.environ, MINE='x'),
                              rank_kwargs=lambda r: dict(stdout=logs[r]))
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    for log in logs:
        log.close()
    seen = [(tmp_path / f'{r}.log').read_text().split() for r in range(3)]
    envs = [json.loads(s[0]) for s in seen]
    assert [s[1] for s in seen] == ['arg0', 'arg1', 'arg2']
    assert [(e['RANK'], e['LOCAL_RANK']) for e in envs] == [('0', '0'), ('1', '1'), ('2', '2')]
    assert {(e['WORLD_SIZE'], e['LOCAL_WORLD_SIZE'], e['MASTER_ADDR'], e['OMP_NUM_THREADS'],
             e['MINE']) for e in envs} == {('3', '3', '127.0.0.1', '1', 'x')}
    assert len({e['MASTER_PORT'] for e in envs}) == 1 and int(envs[0]['MASTER_PORT']) > 0
