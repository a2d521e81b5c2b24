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
