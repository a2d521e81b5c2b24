"""Seesaw and EQLv2 as mmdet 3.3 ships them, and as fixed here: scoring and statistics."""
import pytest
import torch

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

import mmdet_lvis_fed.plugin  # noqa: F401

K = 3
SEESAW = dict(p=0.8, q=2.0, num_classes=K, loss_weight=1.0)
EQLV2 = dict(num_classes=K)


def head(loss_cfg, head_type='Shared2FCBBoxHead'):
    register_all_modules(init_default_scope=False)
    return MODELS.build(dict(type=head_type, num_classes=K, in_channels=4, roi_feat_size=1,
                             fc_out_channels=8, loss_cls=loss_cfg))


def head_scores(h, n=5, seed=0):
    """What the head predicts per class for n RoIs (no NMS: rcnn_test_cfg=None)."""
    g = torch.Generator().manual_seed(seed)
    cls_score = torch.randn(n, h.fc_cls.out_features, generator=g)
    rois = torch.cat([torch.zeros(n, 1), torch.tensor([[10., 10., 50., 50.]]).repeat(n, 1)], 1)
    bbox_pred = torch.zeros(n, 4 * K)
    res = h._predict_by_feat_single(rois, cls_score, bbox_pred,
                                    dict(img_shape=(100, 100), scale_factor=(1., 1.)),
                                    rescale=False, rcnn_test_cfg=None)
    return cls_score, res.scores


@pytest.mark.parametrize('loss_cfg,head_type', [
    (dict(type='FixedSeesawLoss', **SEESAW), 'Shared2FCBBoxHead'),
    (dict(type='FixedEQLV2Loss', **EQLV2), 'Shared2FCBBoxHead'),
    (dict(type='FederatedSigmoidLoss', num_classes=K), 'FedBBoxHead'),
    (dict(type='EQLLoss', num_classes=K), 'FedBBoxHead'),
])
def test_head_scores_with_the_loss_activation(loss_cfg, head_type):
    h = head(loss_cfg, head_type)
    cls_score, scores = head_scores(h)
    assert torch.allclose(scores, h.loss_cls.get_activation(cls_score.clone()))
    soft = cls_score.softmax(-1)
    assert soft.shape != scores.shape or not torch.allclose(scores, soft)


def test_mmdet_eqlv2_is_scored_with_softmax():
    """The bug the fix is for: mmdet 3.3's EQLV2Loss head scores are a softmax."""
    h = head(dict(type='EQLV2Loss', **EQLV2))
    cls_score, scores = head_scores(h)
    assert torch.allclose(scores, cls_score.softmax(-1))
    assert not torch.allclose(scores, h.loss_cls.get_activation(cls_score.clone()))


def forward_twice(loss, train):
    loss.train(train)
    g = torch.Generator().manual_seed(1)
    x, labels = torch.randn(6, loss.num_classes + (2 if 'Seesaw' in type(loss).__name__ else 1),
                            generator=g), torch.tensor([0, 1, 2, 3, 0, 3])
    buffers = {k: v.clone() for k, v in loss.named_buffers()}
    with torch.no_grad():
        loss(x, labels, torch.ones(6), avg_factor=6)
        loss(x, labels, torch.ones(6), avg_factor=6)
    return {k: not torch.equal(v, dict(loss.named_buffers())[k]) for k, v in buffers.items()}


@pytest.mark.parametrize('fixed,stock,cfg,stat', [
    ('FixedSeesawLoss', 'SeesawLoss', SEESAW, 'cum_samples'),
    ('FixedEQLV2Loss', 'EQLV2Loss', EQLV2, 'pos_grad'),
])
def test_statistics_change_in_training_only(fixed, stock, cfg, stat):
    register_all_modules(init_default_scope=False)
    assert not forward_twice(MODELS.build(dict(type=fixed, **cfg)), train=False)[stat]
    assert forward_twice(MODELS.build(dict(type=fixed, **cfg)), train=True)[stat]
    # mmdet's own counts the evaluation pass too
    assert forward_twice(MODELS.build(dict(type=stock, **cfg)), train=False)[stat]
