"""The seed report's study configs (configs/demo/study/) on the study data: the transfer from a
checkpoint with other classes, the small anchors, one training step of each experiment."""
import glob
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdet.registry import DATASETS, HOOKS, MODELS, TASK_UTILS
from tests.conftest import ROOT
from tests.test_engine.test_transfer import FakeRunner

STUDY = osp.join(ROOT, 'configs', 'demo', 'study')
PRETRAIN = osp.join(STUDY, 'mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.py')
EXPERIMENTS = sorted(p for p in glob.glob(osp.join(STUDY, '*.py')) if p != PRETRAIN)
SMALL_ANCHORS = [osp.join(STUDY, 'mask-rcnn_r18_fpn_gn_base-transfer_small-anchors_'
                                 'exp2-small-objects_study.py'),
                 osp.join(ROOT, 'configs', 'lvis_fed', 'mask-rcnn_r50_fpn_coco-transfer_'
                          'small-anchors_640x480-b10_exp2-small-objects_lvis-v1.py')]


def build_model(path, seed=0):
    cfg = Config.fromfile(path)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


@pytest.mark.parametrize('name,modules', [
    ('mask-rcnn_r18_fpn_gn_base-backbone_exp1-6cat_study.py', ('backbone',)),
    ('mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat_study.py', ('backbone', 'neck', 'rpn_head')),
], ids=['ImageNet-only stand-in', 'COCO stand-in'])
def test_transfer_from_the_pretrained_detector(tmp_path, name, modules):
    """From a real checkpoint of the base-set detector (16 other classes): exactly the named
    modules' tensors load; everything else keeps its fresh initialisation, the class-specific
    layers included."""
    _, pretrained = build_model(PRETRAIN, seed=1)
    path = tmp_path / 'pretrain.pth'
    torch.save(dict(state_dict=pretrained.state_dict(), meta={}), str(path))
    cfg, model = build_model(osp.join(STUDY, name), seed=2)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    hook_cfg = next(h for h in cfg.custom_hooks if h['type'] == 'TransferWeightsHook')
    assert tuple(hook_cfg['modules']) == modules
    hook = HOOKS.build(dict(hook_cfg, checkpoint=str(path)))
    hook.before_train(FakeRunner(model))
    src = pretrained.state_dict()
    for k, v in model.state_dict().items():
        if k.startswith(tuple(m + '.' for m in modules)):
            assert torch.equal(v, src[k]), k
        else:
            assert torch.equal(v, fresh[k]), k
    assert 'roi_head.bbox_head.fc_cls.weight' in hook.report['skipped']
    assert len(hook.report['loaded']) == sum(k.startswith(tuple(m + '.' for m in modules))
                                             for k in src)


@pytest.mark.parametrize('path', SMALL_ANCHORS, ids=['study', 'lvis_fed'])
def test_small_anchors_are_2_to_64_px_on_the_levels_the_config_says(path):
    cfg = Config.fromfile(path)
    gen = TASK_UTILS.build(cfg.model.rpn_head.anchor_generator)
    assert gen.strides == [(4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]
    sizes = []
    for level, base in enumerate(gen.base_anchors):
        w = base[:, 2] - base[:, 0]
        h = base[:, 3] - base[:, 1]
        square = sorted({round(float(x)) for x, y in zip(w, h) if abs(float(x - y)) < 1e-6})
        assert square == [2 ** (level + 1), 2 ** (level + 2)], (level, square)
        sizes += square
        assert len(base) == 6                        # 2 scales x 3 ratios per position
    assert sorted(set(sizes)) == [2, 4, 8, 16, 32, 64]


@pytest.mark.parametrize('path', [PRETRAIN] + EXPERIMENTS, ids=osp.basename)
def test_each_study_config_trains_one_step(path, study_root):
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=study_root))
    assert ds.metainfo['classes'] == tuple(cfg.train_dataloader.dataset.metainfo['classes'])
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = pseudo_collate([ds[i] for i in range(2)])
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log_vars = model.train_step(batch, optim)
    assert math.isfinite(float(log_vars['loss'])) and float(log_vars['loss']) > 0


def test_baseline_plus_plus_plus_has_about_ten_times_the_training_images(study_root):
    def train_images(name):
        cfg = Config.fromfile(osp.join(STUDY, name))
        return len(DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=study_root)))
    base = train_images('mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat_study.py')
    more = train_images('mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat-2freq_study.py')
    assert 7 <= more / base <= 13, (base, more)
