"""The start-up checks the runtime base names: heads against datasets, checkpoints against
classes, mask models against image mixing. Each stops the run before its first iteration."""
import glob
import os.path as osp
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmdet.registry import DATASETS, TRANSFORMS
from mmdet_lvis_fed.engine.checks import MaskMixingCheckHook
from tests.conftest import ROOT

BASE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
init_default_scope('mmdet')            # pipelines resolve mmdet's transforms, as in a run


def runner_cfg(tmp_path, demo_root, classes=None, k=None, path=BASE):
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.visualizer.name = f'visualizer-{tmp_path.name}'      # not the process-wide default one
    for loader in LOADERS:
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].dataset.data_root = demo_root
        if classes is not None:
            cfg[loader].dataset.metainfo = dict(classes=classes)
    if k is not None:
        cfg.model.roi_head.bbox_head.num_classes = k
        cfg.model.roi_head.mask_head.num_classes = k
    return cfg


def log_text(work_dir):
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    return ''.join(open(p).read() for p in logs)


def test_heads_that_disagree_with_the_classes_stop_training(tmp_path, demo_root):
    # A child that changes the classes but forgets K.
    cfg = runner_cfg(tmp_path, demo_root, classes=('red_circle', 'blue_ring'))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'bbox_head.num_classes is 24 but the training dataset '
                                         r'has 2 classes \(red_circle, blue_ring\).*Fix:.*'
                                         r'num_classes=2'):
        runner.train()
    assert runner.iter == 0


def save_checkpoint(path, cfg, classes):
    """A checkpoint of the config's model (random weights) that says what it was trained on."""
    from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    meta = {} if classes is None else dict(dataset_meta=dict(classes=tuple(classes)))
    torch.save(dict(state_dict=model.state_dict(), meta=meta), str(path))
    return str(path)


@pytest.mark.parametrize('trained_on', [('red_circle', 'red_star'), ('green_cross', 'blue_ring'),
                                        ('blue_ring', 'green_cross', 'red_star')],
                         ids=['other-names', 'other-order', 'other-count'])
def test_testing_a_checkpoint_under_other_classes_stops(tmp_path, demo_root, trained_on):
    classes = ('blue_ring', 'green_cross')
    ckpt_cfg = runner_cfg(tmp_path, demo_root, trained_on, len(trained_on))
    ckpt = save_checkpoint(tmp_path / 'model.pth', ckpt_cfg, trained_on)
    cfg = runner_cfg(tmp_path, demo_root, classes, 2)
    cfg.load_from = ckpt
    runner = Runner.from_cfg(cfg)
    processed = []
    runner.test_evaluator.metrics[0].process = lambda *a: processed.append(1)
    with pytest.raises(ValueError) as e:
        runner.test()
    msg = str(e.value)
    assert f'trained on {len(trained_on)} classes ({", ".join(trained_on)})' in msg
    assert 'the test dataset has 2 classes (blue_ring, green_cross)' in msg
    assert 'TransferWeightsHook' in msg and not processed


def test_load_from_under_other_classes_stops_training(tmp_path, demo_root):
    ckpt_cfg = runner_cfg(tmp_path, demo_root, ('red_circle', 'red_star'), 2)
    cfg = runner_cfg(tmp_path, demo_root, ('blue_ring', 'green_cross'), 2)
    cfg.load_from = save_checkpoint(tmp_path / 'model.pth', ckpt_cfg, ('red_circle', 'red_star'))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='trained on 2 classes'):
        runner.train()
    assert runner.iter == 0


def test_a_checkpoint_with_its_own_classes_tests(tmp_path, demo_root):
    classes = ('blue_ring', 'green_cross')
    cfg = runner_cfg(tmp_path, demo_root, classes, 2)
    cfg.load_from = save_checkpoint(tmp_path / 'model.pth', cfg, classes)
    metrics = Runner.from_cfg(cfg).test()
    assert 'lvis_fed/bbox_AP' in metrics


def test_a_checkpoint_without_classes_is_a_warning_in_the_log_file(tmp_path, demo_root):
    classes = ('blue_ring', 'green_cross')
    cfg = runner_cfg(tmp_path, demo_root, classes, 2)
    cfg.load_from = save_checkpoint(tmp_path / 'model.pth', cfg, None)
    Runner.from_cfg(cfg).test()
    assert 'has no meta.dataset_meta.classes' in log_text(cfg.work_dir)


def test_resume_does_not_warn_about_equal_metainfo(tmp_path, demo_root):
    # mmengine compares the pickled metainfo: equal values must pickle the same after a
    # checkpoint round trip (JSON strings against the unpickler's shared one-letter strings).
    cfg = Config.fromfile(BASE)
    ds_cfg = dict(cfg.train_dataloader.dataset, data_root=demo_root)
    meta = DATASETS.build(ds_cfg).metainfo
    path = tmp_path / 'meta.pth'
    torch.save(dict(meta=dict(dataset_meta=meta)), str(path))
    back = torch.load(str(path), weights_only=False)['meta']['dataset_meta']
    assert back == meta and pickle.dumps(back) == pickle.dumps(meta)
    assert 'r' in meta['frequencies']


# --- image mixing with masks ------------------------------------------------------------------

def masked_results(demo_root, n=4):
    """Loaded training samples with several instances and their masks (BitmapMasks)."""
    cfg = Config.fromfile(BASE)
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=demo_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=True)]))
    out = [ds[i] for i in range(len(ds)) if len(ds[i]['gt_bboxes']) >= 2]
    return out[:n]


def masks_follow_boxes(results):
    """Every box is the box of its mask (the instances stayed together)."""
    masks, boxes = results['gt_masks'], results['gt_bboxes']
    if len(masks) != len(boxes):
        return False
    mask_boxes = masks.get_bboxes(type(boxes)).tensor.numpy()
    keep = masks.areas > 0
    return np.allclose(mask_boxes[keep], boxes.tensor.numpy()[keep], atol=2)


@pytest.mark.parametrize('name,kwargs,moves_masks', [
    ('Mosaic', dict(img_scale=(160, 160), prob=1.0), False),
    ('MixUp', dict(img_scale=(160, 160), ratio_range=(1.0, 1.0), flip_ratio=0.0), False),
    ('CachedMosaic', dict(img_scale=(160, 160), prob=1.0, max_cached_images=4), True),
    ('CachedMixUp', dict(img_scale=(160, 160), ratio_range=(1.0, 1.0), flip_ratio=0.0, prob=1.0,
                         max_cached_images=4), True),
])
def test_what_mmdet_mixing_does_with_masks(demo_root, name, kwargs, moves_masks):
    """The premise of the guard, on real masked samples: mmdet 3.3's Mosaic and MixUp leave the
    destination's gt_masks as they were, the cached variants move them with the boxes."""
    import copy
    import random
    random.seed(0)
    np.random.seed(0)
    samples = masked_results(demo_root)
    t = TRANSFORMS.build(dict(type=name, **kwargs))
    ok = []
    for trial in range(3):
        results = copy.deepcopy(samples[trial % len(samples)])
        if name in ('Mosaic', 'MixUp'):
            results['mix_results'] = copy.deepcopy(samples[1:4] if name == 'Mosaic' else samples[1:2])
        else:
            for s in samples:            # fill the cache first
                t.transform(copy.deepcopy(s))
        out = t.transform(results)
        ok.append(masks_follow_boxes(out))
    assert all(ok) == moves_masks, (name, ok)


def mixing_runner(demo_root, pipeline):
    cfg = Config.fromfile(BASE)
    inner = dict(cfg.train_dataloader.dataset, data_root=demo_root)
    ds = DATASETS.build(dict(type='MultiImageMixDataset', dataset=inner, pipeline=pipeline))
    model = SimpleNamespace(roi_head=SimpleNamespace(with_mask=True))
    return SimpleNamespace(model=model, train_dataloader=SimpleNamespace(dataset=ds))


@pytest.mark.parametrize('kind', ['Mosaic', 'mmdet.Mosaic', 'MixUp', 'mmdet.MixUp'])
def test_mixing_without_masks_is_refused_by_any_name(demo_root, kind):
    extra = dict(img_scale=(160, 160))
    runner = mixing_runner(demo_root, [dict(type=kind, **extra), dict(type='PackDetInputs')])
    with pytest.raises(ValueError, match=r'train_dataloader: (Mosaic|MixUp) with instance masks'):
        MaskMixingCheckHook().before_train(runner)


@pytest.mark.parametrize('kind', ['CachedMosaic', 'mmdet.CachedMixUp', 'FedCopyPaste'])
def test_mixing_that_moves_masks_passes(demo_root, kind):
    extra = {} if kind == 'FedCopyPaste' else dict(img_scale=(160, 160))
    runner = mixing_runner(demo_root, [dict(type=kind, **extra), dict(type='PackDetInputs')])
    MaskMixingCheckHook().before_train(runner)


# --- options that would do nothing ------------------------------------------------------------

def _child(tmp_path, body):
    path = tmp_path / 'child.py'
    path.write_text(f'_base_ = {BASE!r}\n{body}')
    return Config.fromfile(str(path))


def test_a_child_that_sets_only_classes_is_refused(tmp_path):
    from mmdet_lvis_fed.engine.checks import UnusedVariablesCheckHook, unused_variables
    cfg = _child(tmp_path, "classes = ('red_circle', 'red_square')\n")
    [(name, how, have, fix)] = unused_variables(cfg)
    assert name == 'classes' and how == f'the config file {cfg.filename}'
    assert len(have['train_dataloader']) == 24             # the base's 24 demo classes
    with pytest.raises(ValueError) as e:
        UnusedVariablesCheckHook().before_run(SimpleNamespace(cfg=cfg))
    text = str(e.value)
    assert text.startswith("classes = (red_circle, red_square) is set by the config file")
    assert 'no dataset uses it' in text and 'metainfo=dict(classes=classes)' in text


@pytest.mark.parametrize('option, name', [
    ({'classes': ('red_circle', 'red_square')}, 'classes'),
    ({'data_root': '/elsewhere/'}, 'data_root'),
    ({'metainfo': dict(classes=('red_circle', ))}, 'metainfo'),
])
def test_options_that_would_do_nothing_are_refused(option, name):
    from mmdet_lvis_fed.engine.checks import unused_variables
    cfg = Config.fromfile(BASE)
    cfg.merge_from_dict(option)                   # what mim's --cfg-options does
    problems = unused_variables(cfg)
    assert [(p[0], p[1]) for p in problems] == [(name, '--cfg-options')]


def test_options_that_apply_pass(tmp_path):
    from mmdet_lvis_fed.engine.checks import unused_variables
    cfg = Config.fromfile(BASE)
    cfg.merge_from_dict({'data_root': '/elsewhere/',
                         **{f'{loader}.dataset.data_root': '/elsewhere/' for loader in LOADERS}})
    assert unused_variables(cfg) == []
    cfg = Config.fromfile(BASE)                   # a dataset's root changed alone: applied
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': '/elsewhere/'})
    assert unused_variables(cfg) == []
    classes = ('red_circle', 'red_square')
    cfg = _child(tmp_path, f'classes = {classes!r}\nmetainfo = dict(classes=classes)\n' + ''.join(
        f'{loader} = dict(dataset=dict(metainfo=metainfo))\n' for loader in LOADERS))
    assert unused_variables(cfg) == []


@pytest.mark.parametrize('path', sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p))
def test_no_committed_config_sets_a_variable_it_does_not_use(path):
    from mmdet_lvis_fed.engine.checks import unused_variables
    assert unused_variables(Config.fromfile(path)) == []
