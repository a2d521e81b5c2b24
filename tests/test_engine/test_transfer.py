"""Transfer from an 80-class (COCO-shaped) Mask R-CNN checkpoint that the test creates."""
import logging

import torch
from mmengine.config import Config

from mmdet.registry import HOOKS, MODELS
from mmdet.utils import register_all_modules

CFG = 'configs/lvis_fed/mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'
SMALL = ('configs/lvis_fed/mask-rcnn_r50_fpn_coco-transfer_small-anchors_640x480-b10_'
         'exp2-small-objects_lvis-v1.py')


def build(cfg_path, num_classes=None, seed=0):
    register_all_modules()
    cfg = Config.fromfile(cfg_path)
    cfg.model.backbone.init_cfg = None
    if num_classes:
        cfg.model.roi_head.bbox_head.num_classes = num_classes
        cfg.model.roi_head.mask_head.num_classes = num_classes
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


class FakeRunner:
    def __init__(self, model):
        self.model, self.iter = model, 0
        self.logger = logging.getLogger('transfer-test')


def test_transfer_loads_backbone_neck_rpn_and_reinitialises_heads(tmp_path, caplog):
    _, coco = build(CFG, num_classes=80, seed=1)
    path = tmp_path / 'coco.pth'
    torch.save(dict(state_dict=coco.state_dict(), meta={}), str(path))
    cfg, model = build(CFG, seed=2)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    hook_cfg = next(h for h in cfg.custom_hooks if h['type'] == 'TransferWeightsHook')
    hook = HOOKS.build(dict(hook_cfg, checkpoint=str(path)))
    with caplog.at_level(logging.INFO):
        hook.before_train(FakeRunner(model))
    state, src = model.state_dict(), coco.state_dict()
    for k, v in state.items():
        if k.startswith(('backbone.', 'neck.', 'rpn_head.')):
            assert torch.equal(v, src[k]), k
        elif k.startswith('roi_head.'):
            assert torch.equal(v, fresh[k]), k        # untouched: fresh initialisation
    skipped = hook.report['skipped']
    assert 'roi_head.bbox_head.fc_cls.weight' in skipped
    assert all(k.startswith('roi_head.') for k in skipped)
    assert 'skipped' in caplog.text and 'roi_head.bbox_head.fc_cls.weight' in caplog.text


def test_transfer_with_roi_head_skips_only_class_specific_layers(tmp_path):
    from mmdet_lvis_fed.engine.transfer import transfer_state_dict
    _, coco = build(CFG, num_classes=80, seed=1)
    _, model = build(CFG, seed=2)
    out = transfer_state_dict(model, coco.state_dict(),
                              ('backbone', 'neck', 'rpn_head', 'roi_head'))
    assert sorted(out['skipped']) == sorted([
        'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_cls.bias',
        'roi_head.bbox_head.fc_reg.weight', 'roi_head.bbox_head.fc_reg.bias',
        'roi_head.mask_head.conv_logits.weight', 'roi_head.mask_head.conv_logits.bias'])
    assert all('class-specific, re-initialised' in why for why in out['skipped'].values())


def test_small_anchors_rpn_layers_do_not_transfer(tmp_path):
    from mmdet_lvis_fed.engine.transfer import transfer_state_dict
    _, coco = build(CFG, num_classes=80, seed=1)
    _, model = build(SMALL, seed=2)
    assert model.rpn_head.num_base_priors == 6
    out = transfer_state_dict(model, coco.state_dict())
    assert set(k for k in out['skipped'] if k.startswith('rpn_head.')) == {
        'rpn_head.rpn_cls.weight', 'rpn_head.rpn_cls.bias',
        'rpn_head.rpn_reg.weight', 'rpn_head.rpn_reg.bias'}
    assert 'rpn_head.rpn_conv.weight' in out['loaded']


class LabelledRunner(FakeRunner):
    """A runner whose training dataset names its classes, as LVISFedDataset's metainfo does."""
    def __init__(self, model, classes):
        from types import SimpleNamespace
        super().__init__(model)
        self.train_dataloader = SimpleNamespace(
            dataset=SimpleNamespace(metainfo=dict(classes=tuple(classes))))


ROI = ('backbone', 'neck', 'rpn_head', 'roi_head')
CLASS_KEYS = {'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_cls.bias',
              'roi_head.bbox_head.fc_reg.weight', 'roi_head.bbox_head.fc_reg.bias',
              'roi_head.mask_head.conv_logits.weight', 'roi_head.mask_head.conv_logits.bias'}


def _two_class_checkpoint(tmp_path, classes):
    _, src = build(CFG, num_classes=2, seed=1)
    path = tmp_path / 'two.pth'
    torch.save(dict(state_dict=src.state_dict(), meta=dict(dataset_meta=dict(classes=classes))),
               str(path))
    return src, path


def test_equal_k_other_classes_keeps_the_class_layers_fresh(tmp_path, caplog):
    src, path = _two_class_checkpoint(tmp_path, ('red_circle', 'red_star'))
    _, model = build(CFG, num_classes=2, seed=2)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    hook = HOOKS.build(dict(type='TransferWeightsHook', checkpoint=str(path), modules=ROI))
    with caplog.at_level(logging.INFO):
        hook.before_train(LabelledRunner(model, ('blue_ring', 'green_cross')))
    state = model.state_dict()
    assert set(hook.report['skipped']) == CLASS_KEYS
    for k in CLASS_KEYS:
        assert torch.equal(state[k], fresh[k]), k
        assert "checkpoint's classes are not this model's" in hook.report['skipped'][k]
    assert torch.equal(state['roi_head.bbox_head.shared_fcs.0.weight'],
                       src.state_dict()['roi_head.bbox_head.shared_fcs.0.weight'])
    assert 'trained on 2 classes (red_circle, red_star)' in caplog.text
    assert hook.report['share'] == 1.0 and 'only' not in caplog.text


def test_the_same_classes_load_the_class_layers(tmp_path):
    src, path = _two_class_checkpoint(tmp_path, ('red_circle', 'red_star'))
    _, model = build(CFG, num_classes=2, seed=2)
    hook = HOOKS.build(dict(type='TransferWeightsHook', checkpoint=str(path), modules=ROI))
    hook.before_train(LabelledRunner(model, ('red_circle', 'red_star')))
    assert hook.report['skipped'] == {}
    for k in CLASS_KEYS:
        assert torch.equal(model.state_dict()[k], src.state_dict()[k]), k


def test_a_checkpoint_without_classes_loads_no_class_layer(tmp_path):
    from mmdet_lvis_fed.engine.transfer import transfer_state_dict
    _, src = build(CFG, num_classes=2, seed=1)
    _, model = build(CFG, num_classes=2, seed=2)
    out = transfer_state_dict(model, src.state_dict(), ROI, same_classes=None)
    assert set(out['skipped']) == CLASS_KEYS
    assert all('checkpoint names no classes' in why for why in out['skipped'].values())


def test_another_backbone_is_not_called_class_specific_and_warns(tmp_path, caplog):
    _, r50 = build(CFG, seed=1)
    path = tmp_path / 'r50.pth'
    torch.save(dict(state_dict=r50.state_dict(), meta={}), str(path))
    cfg = Config.fromfile(CFG)
    cfg.model.backbone.depth = 18
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    register_all_modules()
    model = MODELS.build(cfg.model)
    hook = HOOKS.build(dict(type='TransferWeightsHook', checkpoint=str(path)))
    with caplog.at_level(logging.INFO):
        hook.before_train(FakeRunner(model))
    backbone = {k: why for k, why in hook.report['skipped'].items() if k.startswith('backbone.')}
    assert backbone and all('another architecture' in why or why == 'not in this model'
                            for why in backbone.values())
    assert sum('another architecture' in why for why in backbone.values()) > 10
    assert not any('class-specific' in why for why in hook.report['skipped'].values())
    # loaded share by hand: the elements of the keys that loaded over all of backbone+neck+rpn
    own = model.state_dict()
    wanted = [k for k in own if k.startswith(('backbone.', 'neck.', 'rpn_head.'))
              and own[k].is_floating_point()]
    loaded = [k for k in hook.report['loaded'] if own[k].is_floating_point()]
    share = sum(own[k].numel() for k in loaded) / sum(own[k].numel() for k in wanted)
    assert abs(hook.report['share'] - share) < 1e-12 and share < 0.9
    assert f'only {share:.1%}' in caplog.text and 'WARNING' in caplog.text
