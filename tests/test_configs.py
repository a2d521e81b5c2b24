"""Every config under configs/ is complete: mmdet's own APIs read it as it is and build the right
model, datasets and metric; K of every head and class loss equals the classes its datasets name."""
import copy
import glob
import math
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdet.apis import init_detector
from mmdet.registry import DATA_SAMPLERS, DATASETS, MODELS
from mmdet_lvis_fed import wrappers
from mmdet_lvis_fed.testing import lvis_v1

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
LONGTAIL = sorted(p for p in CONFIGS if osp.sep + 'longtail' + osp.sep in p)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
DEMO = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py')
LVIS_V1_NAMES = tuple(c['name'] for c in lvis_v1.lvis_v1_categories())


def dataset_chain(loader_cfg):
    """A dataloader's dataset configs from the outermost wrapper to the innermost dataset."""
    return wrappers.dataset_chain(loader_cfg.get('dataset'))


def named_classes(cfg):
    """The classes each dataloader's dataset names in its metainfo. A dataset that names none
    takes every category of its file: the configs that do so (configs/lvis_v1/) read LVIS v1's
    files, whose categories are the shipped list's."""
    out = {}
    for loader in LOADERS:
        classes = (dataset_chain(cfg[loader])[-1].get('metainfo') or {}).get('classes')
        out[loader] = tuple(classes) if classes is not None else LVIS_V1_NAMES
    return out


def class_counts(model):
    """K of the RoI heads and of their class losses."""
    roi = model.roi_head
    out = [roi.bbox_head.num_classes, roi.mask_head.num_classes]
    loss = roi.bbox_head.loss_cls
    if getattr(loss, 'num_classes', None) is not None:
        out.append(loss.num_classes)
    return out


def test_there_are_configs():
    assert any('demo' in p for p in CONFIGS) and len(LONGTAIL) >= 9


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_init_detector_builds_the_config_as_it_is(path):
    """mmdet's init_detector on the file (random weights, CPU): the heads' and class losses' K is
    the number of classes every dataloader names, and all dataloaders name the same classes."""
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmdet_lvis_fed.plugin']
    classes = named_classes(cfg)
    assert len(set(classes.values())) == 1, classes
    k = len(classes['train_dataloader'])
    cfg.model.backbone.init_cfg = None                   # no download
    model = init_detector(cfg, None, device='cpu')
    assert class_counts(model) == [k] * len(class_counts(model)), path
    cls_out = model.roi_head.bbox_head.fc_cls.out_features
    assert cls_out in (k, k + 1, k + 2)                  # sigmoid, softmax, Seesaw / EQLv2 layouts
    assert model.roi_head.mask_head.conv_logits.out_channels == k


def lvis_like_root(tmp_path, cfg, classes):
    """A generated LVIS layout, one file under each annotation name the config's loaders read,
    whose first categories carry the config's class names."""
    import json
    from mmdet_lvis_fed.testing import synthetic as syn
    names = sorted({dataset_chain(cfg[loader])[-1]['ann_file'] for loader in LOADERS})
    if classes == LVIS_V1_NAMES:            # the whole vocabulary: a file of LVIS v1's categories
        for seed, name in enumerate(names):
            lvis_v1.write_lvis_v1(str(tmp_path / name), 40, seed=seed)
        return str(tmp_path) + '/'
    for seed, name in enumerate(names):
        gt = syn.make_ground_truth(120, num_cats=max(2 * len(classes), 30), seed=seed,
                                   mean_pos_cats=3)
        for cat, cls in zip(gt['categories'], classes):
            cat['name'] = cls
        os.makedirs(osp.dirname(tmp_path / name), exist_ok=True)
        (tmp_path / name).write_text(json.dumps(gt))
    return str(tmp_path) + '/'


def build_dataset(cfg, loader, root, check):
    ds_cfg = copy.deepcopy(cfg[loader]['dataset'])
    dataset_chain(dict(dataset=ds_cfg))[-1].update(data_root=root, check_files=check)
    return DATASETS.build(ds_cfg)


def inner_meta(ds):
    while not hasattr(ds, 'parse_data_info'):
        ds = ds.dataset
    return ds.metainfo


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_datasets_build_with_the_named_classes(path, demo_root, tmp_path):
    cfg = Config.fromfile(path)
    classes = named_classes(cfg)['train_dataloader']
    demo = cfg.train_dataloader.dataset.get('data_root', '').startswith('data/demo')
    # Real-LVIS configs read a generated file with their class names; images are not checked.
    root, check = (demo_root, True) if demo else (lvis_like_root(tmp_path, cfg, classes), False)
    for loader in LOADERS:
        ds = build_dataset(cfg, loader, root, check)
        assert len(ds) > 0 and inner_meta(ds)['classes'] == classes
    train = dataset_chain(cfg.train_dataloader)[0]['pipeline']
    assert train[-1]['type'] == 'PackDetInputs'
    assert {'neg_labels', 'not_exhaustive_labels'} <= set(train[-1]['meta_keys'])


def test_det_inferencer_reads_a_checkpoint_of_the_demo_config(tmp_path, demo_root):
    """mmdet's DetInferencer with the demo config and a checkpoint saved from it: the labels it
    returns are the config's 24 classes."""
    from mmdet.apis import DetInferencer
    cfg = Config.fromfile(DEMO)
    classes = named_classes(cfg)['test_dataloader']
    torch.manual_seed(0)
    model = init_detector(cfg, None, device='cpu')
    ckpt = tmp_path / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=classes))),
               str(ckpt))
    image = sorted(glob.glob(osp.join(demo_root, 'val2017', '*.jpg')))[0]
    inferencer = DetInferencer(model=DEMO, weights=str(ckpt), device='cpu', show_progress=False)
    out = inferencer(image, return_vis=False, no_save_pred=True)
    labels = out['predictions'][0]['labels']
    assert inferencer.model.dataset_meta['classes'] == classes
    assert len(labels) > 0 and max(labels) < len(classes)


# Test-time variants (retest_of: a trained config's checkpoint, calibrated) are not trained.
TRAINED_LONGTAIL = [p for p in LONGTAIL if not Config.fromfile(p).get('retest_of')]


@pytest.mark.parametrize('path', TRAINED_LONGTAIL, ids=lambda p: osp.basename(p))
def test_longtail_config_train_step(path, study_root):
    """One CPU training step of each long-tail config on the study data gives a finite loss; a
    validation-loss pass (eval mode, no gradient) then leaves the class loss's statistics
    unchanged."""
    from mmengine.optim import build_optim_wrapper
    from mmdet_lvis_fed.engine.class_frequency import ClassFrequencyHook
    from mmdet_lvis_fed.engine.validation_loss import ValidationLossHook
    from types import SimpleNamespace
    # Seed 8 drew a crop that left a box without mask pixels in the copy-paste config (NaN box
    # loss before its FilterAnnotations step): the transforms draw from numpy and random.
    torch.manual_seed(0)
    np.random.seed(8)
    random.seed(8)
    cfg = Config.fromfile(path)
    ds = build_dataset(cfg, 'train_dataloader', study_root, True)
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
    loss = model.roi_head.bbox_head.loss_cls
    before = {k: v.clone() for k, v in loss.named_buffers()}
    ValidationLossHook.validation_loss(model, [batch])
    assert all(torch.equal(before[k], v) for k, v in loss.named_buffers())


def test_lists_reach_the_data_sample(demo_root):
    cfg = Config.fromfile(DEMO)
    ds = build_dataset(cfg, 'train_dataloader', demo_root, True)
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        if info['neg_labels'] or info['not_exhaustive_labels']:
            break
    meta = ds[i]['data_samples'].metainfo
    assert meta['neg_labels'] == info['neg_labels'] and len(meta['neg_labels']) > 0
    assert meta['not_exhaustive_labels'] == info['not_exhaustive_labels']
