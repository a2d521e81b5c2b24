"""The seed report's protocol end to end on demo data: validation loss, early stopping, curves."""
import os.path as osp
import subprocess
import sys

import pytest
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdet.utils import register_all_modules
from mmdet_lvis_fed.engine.validation_loss import ValidationLossHook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_r50_fpn_gn-scratch_val-loss-stop_demo.py')


def tiny_cfg(demo_root, work_dir, **hook):
    register_all_modules()
    cfg = Config.fromfile(CFG)
    cfg.work_dir = str(work_dir)
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].num_workers = 0
        cfg[split].persistent_workers = False
        cfg[split].dataset.data_root = demo_root
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.indices = 4
    cfg.val_dataloader.dataset.indices = 3
    cfg.train_cfg.max_epochs = 5
    cfg.model.test_cfg.rcnn.max_per_img = 20     # an untrained model's 300 boxes make it slow
    cfg.custom_hooks = [dict(type='ValidationLossHook', **hook)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook', draw=False)
    # mmdet names its visualizer 'visualizer', a process-wide instance: an earlier test's runner
    # would keep it, and these scalars would be logged into that runner's folder
    cfg.visualizer.name = f'visualizer-{osp.basename(str(work_dir))}'
    return cfg


def test_early_stopping_fires_and_curves_plot(demo_root, tmp_path):
    # min_delta so large that no epoch after the first counts as an improvement: with patience 1
    # training must stop after epoch 2 of 5.
    cfg = tiny_cfg(demo_root, tmp_path, patience=1, min_delta=1e9)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.train_loop.epoch == 2
    hook = next(h for h in runner.hooks if isinstance(h, ValidationLossHook))
    assert [e for e, _ in hook.history] == [1, 2]
    assert osp.exists(tmp_path / 'best_val_loss.pth')
    best = torch.load(str(tmp_path / 'best_val_loss.pth'), map_location='cpu')
    assert best['meta']['epoch'] == 1 and best['meta']['val_loss'] == hook.history[0][1]
    assert list(tmp_path.glob('best_lvis_fed_segm_AP_epoch_*.pth'))
    from mmdet_lvis_fed.experiments.logs import read_curves
    train, val, unit = read_curves(str(tmp_path))
    assert unit == 'epoch' and sorted(train) == [1, 2]
    assert sorted(val) == [1, 2] and val[1] == pytest.approx(hook.history[0][1])
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'plot_curves.py'), str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    assert (tmp_path / 'loss_curves.png').read_bytes()[:4] == b'\x89PNG'


def test_validation_loss_leaves_the_model_untouched(demo_root, tmp_path):
    cfg = tiny_cfg(demo_root, tmp_path, patience=None)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hook = ValidationLossHook()
    loader = hook._build_loader(runner)
    loss = hook.validation_loss(model, loader)
    again = hook.validation_loss(model, loader)
    assert loss > 0 and model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # deterministic apart from the samplers' randomness: same order of magnitude twice
    assert abs(loss - again) < 0.5 * loss


def test_validation_split_is_unwrapped_from_dataset_wrappers(demo_root, tmp_path):
    """Under ClassBalancedDataset (RFS the mmengine way) and MultiImageMixDataset (copy-paste) the
    hook measures the plain validation split: no wrapper, no random augmentation."""
    from mmdet.registry import DATASETS
    from mmdet_lvis_fed.engine.validation_loss import unwrapped_val_dataset
    cfg = tiny_cfg(demo_root, tmp_path)
    inner = cfg.train_dataloader.dataset
    wrapped = dict(type='MultiImageMixDataset',
                   pipeline=[dict(type='FedCopyPaste'), dict(type='PhotoMetricDistortion'),
                             dict(type='PackDetInputs')],
                   dataset=dict(type='ClassBalancedDataset', oversample_thr=0.1,
                                dataset=dict(inner, pipeline=[
                                    dict(type='LoadImageFromFile'),
                                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                                    dict(type='RandomResize', scale=(160, 160),
                                         ratio_range=(0.5, 1.5), keep_ratio=True),
                                    dict(type='mmdet.RandomFlip', prob=0.5)])))
    val = unwrapped_val_dataset(wrapped)
    assert val['type'] == 'LVISFedDataset' and val['split'] == 'val'
    assert [t['type'] for t in val['pipeline']] == ['LoadImageFromFile', 'LoadAnnotations',
                                                    'Resize', 'PackDetInputs']
    assert val['pipeline'][2] == dict(type='Resize', scale=(160, 160), keep_ratio=True)
    ds = DATASETS.build(val)
    # Each validation sample carries its image's instances, unmoved (no random transform left):
    # boxes at 160 / 160 = scale 1 equal the annotation file's.
    i = next(i for i in range(len(ds)) if ds.get_data_info(i)['instances'])
    info, sample = ds.get_data_info(i), ds[i]['data_samples']
    boxes = np.array([inst['bbox'] for inst in info['instances']], np.float32)
    assert len(ds) > 0 and len(sample.gt_instances) == len(boxes) > 0
    assert np.allclose(sample.gt_instances.bboxes.tensor.numpy(), boxes)
    # and the hook runs on a ClassBalancedDataset training config
    cfg.train_dataloader.dataset = dict(type='ClassBalancedDataset', oversample_thr=0.1,
                                        dataset=inner)
    runner = Runner.from_cfg(cfg)
    loader = ValidationLossHook()._build_loader(runner)
    assert ValidationLossHook.validation_loss(runner.model, loader) > 0


def test_early_stopping_on_a_scripted_sequence_and_the_best_checkpoint_is_tested(
        demo_root, tmp_path, monkeypatch):
    """Validation losses 3.0, 2.0, 2.5, 2.1, 1.0 with patience 2: the best is epoch 2, epochs 3 and
    4 do not improve, so training stops after epoch 4 (never seeing the 1.0 of epoch 5), and the
    checkpoint tools/ablate.py tests is best_val_loss.pth, the model of epoch 2."""
    from mmdet_lvis_fed.experiments.runs import Run
    losses = iter([3.0, 2.0, 2.5, 2.1, 1.0])
    monkeypatch.setattr(ValidationLossHook, 'validation_loss',
                        staticmethod(lambda model, loader: next(losses)))
    cfg = tiny_cfg(demo_root, tmp_path, patience=2)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.train_loop.epoch == 4
    hook = next(h for h in runner.hooks if isinstance(h, ValidationLossHook))
    assert hook.history == [(1, 3.0), (2, 2.0), (3, 2.5), (4, 2.1)]
    best = torch.load(str(tmp_path / 'best_val_loss.pth'), map_location='cpu')
    assert best['meta']['epoch'] == 2 and best['meta']['val_loss'] == 2.0
    epoch2 = torch.load(str(tmp_path / 'epoch_2.pth'), map_location='cpu')['state_dict']
    assert all(torch.equal(best['state_dict'][k], v) for k, v in epoch2.items())
    run = Run.__new__(Run)
    run.dir, run.source = str(tmp_path), None        # a training run, not a test-time variant
    assert run.test_checkpoint() == str(tmp_path / 'best_val_loss.pth')
