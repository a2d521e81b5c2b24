"""The rehearsal's configs: children of the baseline with a small model, a small image scale and
a few iterations, and the test child with the Fixed AP piece; every value a Python literal."""
import os
import os.path as osp

from ..io import atomic_write_text
from ..wrappers import dataset_chain, unwrap_dataset


SMALL_MODEL = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=64),
                  bbox_head=dict(in_channels=64, fc_out_channels=256),
                  mask_roi_extractor=dict(out_channels=64),
                  mask_head=dict(in_channels=64, conv_out_channels=64)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))


def _scaled_pipeline(pipeline, scale):
    out = []
    for t in pipeline:
        t = dict(t)
        if 'scales' in t:
            t['scales'] = [tuple(scale)]
        if 'scale' in t:
            t['scale'] = tuple(scale)
        out.append(t)
    return out


def _dataset_dict(cfg_dataset, changes):
    """`changes` for the innermost dataset of a dataloader config, as a partial dict."""
    for _ in dataset_chain(cfg_dataset)[1:]:          # one `dataset=` level per wrapper
        changes = dict(dataset=changes)
    return changes


def write_configs(folder, baseline, data_root, iters, scale, val_images, max_dets_per_cat,
                  fixed_ap_piece):
    """(training config, test config) in `folder`: children of `baseline`, every value written
    with repr() (nothing from outside is pasted into Python)."""
    from mmengine.config import Config
    base = Config.fromfile(baseline)
    os.makedirs(folder, exist_ok=True)
    root = data_root.rstrip('/') + '/'
    train_ds = _dataset_dict(base.train_dataloader.dataset, dict(
        data_root=root, pipeline=_scaled_pipeline(
            unwrap_dataset(base.train_dataloader.dataset)['pipeline'], scale)))
    test_ds = _dataset_dict(base.test_dataloader.dataset, dict(
        data_root=root, indices=int(val_images), pipeline=_scaled_pipeline(
            unwrap_dataset(base.test_dataloader.dataset)['pipeline'], scale)))
    train = osp.join(folder, 'rehearsal_train.py')
    lines = [
        '# Written by mmdet_lvis_fed.benchmarks.rehearsal: the full-vocabulary baseline (K = 1203 as',
        '# it states), scaled down for a 2-core CPU: a small model, small images, a few iterations.',
        f'_base_ = {osp.abspath(baseline)!r}',
        f'model = {SMALL_MODEL!r}',
        f'train_dataloader = dict(batch_size=2, num_workers=2, dataset={train_ds!r})',
        f'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters={int(iters)!r}, '
        'val_interval=10**9)',
        'param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, '
        'end=10)]',
        '# no validation during the rehearsal: the val file is the test set',
        'val_dataloader = None',
        'val_cfg = None',
        'val_evaluator = None',
        f'default_hooks = dict(logger=dict(interval=5), checkpoint=dict(by_epoch=False, '
        f'interval={int(iters)!r}))',
        'log_processor = dict(by_epoch=False)',
        f'test_dataloader = dict(num_workers=2, dataset={test_ds!r})',
        '',
    ]
    atomic_write_text('\n'.join(lines), train)
    test = osp.join(folder, 'rehearsal_fixed-ap_test.py')
    cap = int(max_dets_per_cat)
    lines = [
        '# The rehearsal\'s test: the Fixed AP piece (two-pass TopKTestLoop) with a cap that binds',
        '# on the rehearsal\'s val images.',
        f'_base_ = [{osp.abspath(train)!r}, {osp.abspath(fixed_ap_piece)!r}]',
        f'test_cfg = dict(_base_.fixed_ap_test_loop, max_dets_per_cat={cap!r})',
        'model = dict(test_cfg=_base_.fixed_ap_test_cfg)',
        f'test_evaluator = dict(_base_.fixed_ap_evaluator, max_dets_per_cat={cap!r})',
        '',
    ]
    atomic_write_text('\n'.join(lines), test)
    return train, test
