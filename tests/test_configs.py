"""Every config under configs/ loads, builds its model and datasets; subset values derive at start."""
import copy
import glob
import math
import os
import os.path as osp
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdet.registry import DATA_SAMPLERS, DATASETS, MODELS
from mmdet.utils import register_all_modules
from mmdet_lvis_fed.engine import (ClassFrequencyHook, ValidationLossHook, apply_subset,
                                   check_mixing)
from mmdet_lvis_fed.engine.subset_config import LOADERS, dataset_chain

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
LONGTAIL = sorted(p for p in CONFIGS if osp.sep + 'longtail' + osp.sep in p)
EXP1 = osp.join(ROOT, 'configs', 'lvis_fed', 'mask-rcnn_r50_fpn_in1k_640x480-b10_exp1-6cat_lvis-v1.py')
EXP1_COCO = osp.join(ROOT, 'configs', 'lvis_fed',
                     'mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py')
DEMO = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py')


def test_there_are_configs():
    assert any('demo' in p for p in CONFIGS)
    assert len(LONGTAIL) == 9


def lvis_like_root(tmp_path, classes):
    """A generated LVIS v1 layout whose first categories carry the config's class names."""
    import json
    from mmdet_lvis_fed.testing import synthetic as syn
    os.makedirs(tmp_path / 'annotations', exist_ok=True)
    for name, seed in (('train', 0), ('val', 1)):
        gt = syn.make_ground_truth(120, num_cats=max(2 * len(classes), 30), seed=seed,
                                   mean_pos_cats=3)
        for cat, cls in zip(gt['categories'], classes):
            cat['name'] = cls
        (tmp_path / 'annotations' / f'lvis_v1_{name}.json').write_text(json.dumps(gt))
    return str(tmp_path) + '/'


def load(path):
    register_all_modules()
    cfg = Config.fromfile(path)
    apply_subset(cfg)
    check_mixing(cfg)
    return cfg


def heads_k(model):
    return (model.roi_head.bbox_head.num_classes, model.roi_head.mask_head.num_classes)


def build_dataset(cfg, split, root, check):
    ds_cfg = copy.deepcopy(cfg[split]['dataset'])
    dataset_chain(dict(dataset=ds_cfg))[-1].update(data_root=root, check_files=check)
    return DATASETS.build(ds_cfg)


def inner_meta(ds):
    while not hasattr(ds, 'parse_data_info'):
        ds = ds.dataset
    return ds.metainfo


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_builds_model_and_datasets(path, demo_root, tmp_path):
    cfg = load(path)
    assert cfg.custom_imports['imports'] == ['mmdet_lvis_fed']
    assert cfg.runner_type == 'LVISFedRunner'
    model = MODELS.build(cfg.model)
    classes = cfg.get('classes')
    # Real-LVIS configs read a generated file with their class names; images are not checked.
    root, check = (lvis_like_root(tmp_path, classes), False) if classes else (demo_root, True)
    for split in LOADERS:
        ds = build_dataset(cfg, split, root, check)
        assert len(ds) > 0
        assert len(inner_meta(ds)['classes']) == heads_k(model)[0] == heads_k(model)[1]
    train = dataset_chain(cfg.train_dataloader)[0]['pipeline']
    assert train[-1]['type'] == 'PackDetInputs'
    assert {'neg_labels', 'not_exhaustive_labels'} <= set(train[-1]['meta_keys'])


def write_child(tmp_path, base, body):
    path = tmp_path / 'child.py'
    path.write_text(f'_base_ = {base!r}\n' + body)
    return str(path)


def test_child_that_sets_only_classes_gets_its_head_size(tmp_path):
    path = write_child(tmp_path, EXP1_COCO,
                       "classes = _base_.classes + ('tennis_racket', 'skateboard')\n"
                       "model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(\n"
                       "    type='FedBBoxHead', loss_cls=dict(_delete_=True,\n"
                       "    type='FederatedSigmoidLoss', num_classes=None))))\n")
    cfg = load(path)
    model = MODELS.build(cfg.model)
    assert heads_k(model) == (8, 8) and model.roi_head.bbox_head.loss_cls.num_classes == 8
    assert model.roi_head.bbox_head.fc_cls.out_features == 8
    for split in LOADERS:
        assert dataset_chain(cfg[split])[-1]['metainfo']['classes'][-2:] == (
            'tennis_racket', 'skateboard')


def test_num_per_freq_from_the_experiment_config(tmp_path):
    path = write_child(tmp_path, EXP1, 'classes = None\n'
                       'subset = dict(num_per_freq=dict(f=2, c=1, r=1), seed=3)\n')
    cfg = load(path)
    model = MODELS.build(cfg.model)
    assert heads_k(model) == (4, 4)
    root = lvis_like_root(tmp_path, ())
    seen = set()
    for split in LOADERS:
        ds = build_dataset(cfg, split, root, False)
        assert ds.metainfo['frequencies'] == ('f', 'f', 'c', 'r')
        seen.add(ds.metainfo['classes'])
    assert len(seen) == 1           # the same draw in train, val and test


def test_classes_in_two_places_that_differ_are_refused(tmp_path):
    path = write_child(tmp_path, EXP1, "train_dataloader = dict(dataset=dict(metainfo=dict(\n"
                       "    classes=('monkey',))))\n")
    with pytest.raises(ValueError, match='differs from the top-level classes'):
        load(path)


def test_mosaic_with_masks_is_refused_at_config_time(tmp_path):
    path = write_child(tmp_path, DEMO, "train_dataloader = dict(dataset=dict(_delete_=True,\n"
                       "    type='MultiImageMixDataset', pipeline=[dict(type='Mosaic', "
                       "img_scale=(160, 160)), dict(type='PackDetInputs')],\n"
                       "    dataset=dict(type='LVISFedDataset', ann_file='x.json', pipeline=[\n"
                       "        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', "
                       "with_bbox=True, with_mask=True)])))\n")
    register_all_modules()
    with pytest.raises(ValueError, match='Mosaic with instance masks'):
        check_mixing(Config.fromfile(path))


def test_start_up_check_names_both_numbers(demo_root, tmp_path):
    from mmengine.registry import RUNNERS
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(tmp_path)
    cfg.model.roi_head.bbox_head.num_classes = 5
    cfg.visualizer.name = f'visualizer-{tmp_path.name}'      # not the process-wide default one
    for split in LOADERS:
        cfg[split].num_workers = 0
        cfg[split].persistent_workers = False
        cfg[split].dataset.data_root = demo_root
    runner = RUNNERS.build(cfg)
    with pytest.raises(ValueError, match=r'bbox_head.num_classes is 5 but the training dataset '
                                         r'has 24 classes.*Fix:'):
        runner.train()
    assert runner.iter == 0


def _buffers(model):
    return {k: v.clone() for k, v in model.roi_head.bbox_head.loss_cls.named_buffers()}


@pytest.mark.parametrize('path', LONGTAIL, ids=lambda p: osp.basename(p))
def test_longtail_config_train_step(path, demo_root):
    """One CPU training step of each long-tail demo config gives a finite loss; a validation-loss
    pass (eval mode, no gradient) then leaves the class loss's statistics unchanged."""
    from mmengine.optim import build_optim_wrapper
    # Seed 8 drew a crop that left a box without mask pixels in the copy-paste config (NaN box
    # loss before its FilterAnnotations step): the transforms draw from numpy and random.
    torch.manual_seed(0)
    np.random.seed(8)
    random.seed(8)
    cfg = load(path)
    ds = build_dataset(cfg, 'train_dataloader', demo_root, True)
    sampler_cfg = cfg.train_dataloader.sampler
    if sampler_cfg['type'] == 'RepeatFactorSampler':
        sampler = DATA_SAMPLERS.build(dict(sampler_cfg, dataset=ds, seed=0))
        assert len(sampler) == round(float(sampler.repeat_factors.sum()))
        assert (sampler.repeat_factors > 1).any()
    model = MODELS.build(cfg.model)
    model.init_weights()
    ClassFrequencyHook().before_train(SimpleNamespace(
        model=model, train_dataloader=SimpleNamespace(dataset=ds)))
    batch = pseudo_collate([ds[i] for i in range(2)])
    for sample in batch['data_samples']:
        assert 'neg_labels' in sample.metainfo and 'not_exhaustive_labels' in sample.metainfo
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log_vars = model.train_step(batch, optim)
    cls_terms = [float(v) for k, v in log_vars.items() if k.startswith('loss_cls')]
    assert math.isfinite(float(log_vars['loss'])) and cls_terms and min(cls_terms) > 0
    before = _buffers(model)
    ValidationLossHook.validation_loss(model, [batch])
    after = _buffers(model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_lists_reach_the_data_sample(demo_root):
    cfg = load(DEMO)
    ds = build_dataset(cfg, 'train_dataloader', demo_root, True)
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        if info['neg_labels'] or info['not_exhaustive_labels']:
            break
    meta = ds[i]['data_samples'].metainfo
    assert meta['neg_labels'] == info['neg_labels'] and len(meta['neg_labels']) > 0
    assert meta['not_exhaustive_labels'] == info['not_exhaustive_labels']
