"""Test-time calibration: each head layout's scores against NorCal's rule computed by hand with
numpy, gamma = 0 as the plain model bit for bit, the stock state dict, and where the frequencies
come from."""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import mmdet_lvis_fed.plugin  # noqa: F401  (registers the heads and losses)
from mmdet.apis import init_detector
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import DATASETS, MODELS
from mmdet_lvis_fed.datasets.frequency import class_frequency
from mmdet_lvis_fed.engine.class_frequency import ClassFrequencyHook, frequency_users
from mmdet_lvis_fed.models.calibration import CalibratedBBoxHead, ScoreCalibration
from tests.conftest import ROOT

K = 3
FREQ = np.array([0.4, 0.05, 0.002])
CONFIGS = osp.join(ROOT, 'tests', 'data', 'configs')
BASELINE = osp.join(CONFIGS, 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
BASELINE_CALIB = osp.join(CONFIGS, 'mask-rcnn_r18_fpn_gn-scratch_calib_demo.py')
BEST = osp.join(CONFIGS, 'mask-rcnn_r18_fpn_gn-scratch_rfs-fed-loss_demo.py')
BEST_CALIB = osp.join(CONFIGS, 'mask-rcnn_r18_fpn_gn-scratch_rfs-fed-loss-calib_demo.py')


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# NorCal by hand, per layout: the scores a calibrated head must give for logits z (numpy).
def softmax_ref(z, gamma):
    p = softmax(z)
    q = np.concatenate([p[:, :K] / FREQ ** gamma, p[:, K:]], axis=1)
    return q / q.sum(axis=1, keepdims=True)


def federated_ref(z, gamma):
    odds = np.exp(z) / FREQ ** gamma
    return np.concatenate([odds / (1 + odds), np.zeros((len(z), 1))], axis=1)


def objectness_ref(z, gamma):           # EQLv2, ECM: sigmoid classes times 1 - objectness
    s = sigmoid(z[:, :K] - gamma * np.log(FREQ))
    obj = sigmoid(z[:, K:])
    return np.concatenate([s * (1 - obj), obj], axis=1)


def seesaw_ref(z, gamma):               # softmax over the K classes times the objectness softmax
    p = softmax(z[:, :K])
    q = p / FREQ ** gamma
    obj = softmax(z[:, K:])
    return np.concatenate([q / q.sum(axis=1, keepdims=True) * obj[:, :1], obj[:, 1:]], axis=1)


LAYOUTS = {
    'softmax': ('CalibratedBBoxHead', dict(type='CrossEntropyLoss'), K + 1, softmax_ref),
    'federated': ('FedBBoxHead', dict(type='FederatedSigmoidLoss', num_classes=K), K,
                  federated_ref),
    'eqlv2': ('CalibratedBBoxHead', dict(type='FixedEQLV2Loss', num_classes=K), K + 1,
              objectness_ref),
    'ecm': ('CalibratedBBoxHead', dict(type='ECMLoss', num_classes=K), K + 1, objectness_ref),
    'seesaw': ('CalibratedBBoxHead', dict(type='FixedSeesawLoss', num_classes=K), K + 2,
               seesaw_ref),
}


def head_of(layout, gamma, freq=FREQ):
    kind, loss, _, _ = LAYOUTS[layout]
    torch.manual_seed(0)
    head = MODELS.build(dict(type=kind, in_channels=4, fc_out_channels=16, roi_feat_size=2,
                             num_classes=K, loss_cls=loss,
                             calibration=dict(gamma=gamma, freq_source='file')))
    head.init_weights()
    if freq is not None:
        head.calibration.set_class_frequency(freq)
    return head.eval()


def raw_scores(head, cls_score):
    """The head's scores of every RoI (rcnn_test_cfg=None: mmdet returns them before NMS)."""
    rois = torch.tensor([[0, 2., 2., 20., 30.]]).repeat(len(cls_score), 1)
    bbox_pred = torch.zeros(len(cls_score), 4 * K)
    res = head.predict_by_feat((rois,), (cls_score,), (bbox_pred,),
                               [dict(img_shape=(64, 64), scale_factor=(1., 1.))])[0]
    return res.scores


@pytest.mark.parametrize('gamma', [0.3, 1.0])
@pytest.mark.parametrize('layout', list(LAYOUTS))
def test_scores_follow_norcal_by_hand(layout, gamma):
    head = head_of(layout, gamma)
    channels, reference = LAYOUTS[layout][2], LAYOUTS[layout][3]
    z = np.random.default_rng(1).normal(0, 2, (6, channels))
    got = raw_scores(head, torch.tensor(z, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(got, reference(z, gamma), rtol=2e-5, atol=1e-7)
    # and the uncalibrated reference differs, so the check above is not vacuous
    assert not np.allclose(reference(z, gamma), reference(z, 0.0), rtol=1e-3)


@pytest.mark.parametrize('layout', list(LAYOUTS))
def test_gamma_zero_returns_the_logits_untouched(layout):
    head = head_of(layout, 0.0)
    z = torch.randn(5, LAYOUTS[layout][2])
    assert head.calibrate(z) is z
    assert head_of(layout, 0.0, freq=None).calibrate(z) is z      # needs no frequencies


def test_sigmoid_classes_keep_their_order():
    """K sigmoid logits: within a class the detections' order is the uncalibrated one, so only
    the cross-class cap and the score threshold can move that class's AP."""
    z = torch.tensor(np.random.default_rng(3).normal(0, 2, (50, K)), dtype=torch.float32)
    plain = raw_scores(head_of('federated', 0.0), z)[:, :K]
    calibrated = raw_scores(head_of('federated', 1.0), z)[:, :K]
    for c in range(K):
        assert torch.equal(plain[:, c].argsort(), calibrated[:, c].argsort())
    assert (calibrated[:, 2] > plain[:, 2]).all()          # the rarest class moves up


def test_softmax_equals_the_shifted_logits_rule():
    """The docstring's identity: softmax with the K foreground logits shifted by -gamma log f is
    p_c / f_c^gamma renormalised with the background kept."""
    z = np.random.default_rng(2).normal(0, 1, (4, K + 1))
    shifted = np.concatenate([z[:, :K] - 0.7 * np.log(FREQ), z[:, K:]], axis=1)
    np.testing.assert_allclose(softmax(shifted), softmax_ref(z, 0.7), rtol=1e-12)


def test_refuses_to_predict_without_frequencies():
    head = head_of('softmax', 0.5, freq=None)
    with pytest.raises(RuntimeError, match='ClassFrequencyHook.*checkpoint'):
        raw_scores(head, torch.zeros(2, K + 1))


@pytest.mark.parametrize('bad', [0.0, -1.0, float('inf')])
def test_refuses_a_frequency_that_cannot_divide(bad):
    with pytest.raises(ValueError, match='class label 2 has frequency'):
        ScoreCalibration(gamma=0.5).set_class_frequency([0.5, 0.1, bad])


@pytest.mark.parametrize('kwargs', [dict(gamma=-0.1), dict(gamma=float('nan')),
                                    dict(freq_source='test')])
def test_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ScoreCalibration(**kwargs)


def test_state_dict_is_the_stock_heads():
    stock = Shared2FCBBoxHead(in_channels=4, fc_out_channels=16, roi_feat_size=2, num_classes=K)
    head = head_of('softmax', 0.5)
    assert set(head.state_dict()) == set(stock.state_dict())
    res = head.load_state_dict(stock.state_dict(), strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    assert head.calibration.log_freq.numel() == K          # a load keeps the frequencies


def test_frequency_users_only_when_calibrating():
    plain = MODELS.build(dict(type='FedBBoxHead', in_channels=4, fc_out_channels=16,
                              roi_feat_size=2, num_classes=K,
                              loss_cls=dict(type='FederatedSigmoidLoss', num_classes=K)))
    assert not any(isinstance(m, ScoreCalibration) for m in frequency_users(plain))
    assert [type(m) for m in frequency_users(head_of('softmax', 0.5, freq=None))] == \
        [ScoreCalibration]


# --- whole models of the demo configs --------------------------------------------------------

def demo_config(path, demo_root):
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = demo_root
    return cfg


def test_a_stock_checkpoint_loads_into_the_calibrated_model(demo_root, tmp_path):
    torch.manual_seed(0)
    stock = init_detector(demo_config(BASELINE, demo_root), None, device='cpu')
    calibrated = init_detector(demo_config(BASELINE_CALIB, demo_root), None, device='cpu')
    assert isinstance(calibrated.roi_head.bbox_head, CalibratedBBoxHead)
    torch.save(dict(state_dict=stock.state_dict()), str(tmp_path / 'stock.pth'))
    state = torch.load(str(tmp_path / 'stock.pth'))['state_dict']
    res = calibrated.load_state_dict(state, strict=True)
    assert not res.missing_keys and not res.unexpected_keys


def training_meta(train):
    """The training dataset's metainfo as a checkpoint keeps it. The 40-image demo has categories
    in no training image (image_count 0, whose frequency is refused): each count is raised by 1."""
    return dict(train.metainfo, image_count=tuple(c + 1 for c in train.metainfo['image_count']))


def frequencies_from_checkpoint(model, dataset_meta):
    """What `mim test` does: ClassFrequencyHook reads the checkpoint's meta.dataset_meta."""
    ClassFrequencyHook().after_load_checkpoint(SimpleNamespace(model=model),
                                               dict(meta=dict(dataset_meta=dataset_meta)))


@pytest.mark.parametrize('plain_path,calib_path', [(BASELINE, BASELINE_CALIB), (BEST, BEST_CALIB)],
                         ids=['softmax', 'federated'])
def test_gamma_zero_is_the_plain_model_bit_for_bit(plain_path, calib_path, demo_root):
    plain_cfg = demo_config(plain_path, demo_root)
    train = DATASETS.build(dict(plain_cfg.train_dataloader.dataset))
    test = DATASETS.build(dict(plain_cfg.test_dataloader.dataset))
    batch = pseudo_collate([test[i] for i in range(3)])
    torch.manual_seed(0)
    plain = init_detector(plain_cfg, None, device='cpu')
    calib_cfg = demo_config(calib_path, demo_root)
    calib_cfg.model.roi_head.bbox_head.calibration.gamma = 0.0
    calibrated = init_detector(calib_cfg, None, device='cpu')
    calibrated.load_state_dict(plain.state_dict(), strict=True)
    meta = training_meta(train)
    frequencies_from_checkpoint(calibrated, meta)
    log_f = np.log(class_frequency(meta, 'file'))
    np.testing.assert_allclose(calibrated.roi_head.bbox_head.calibration.log_freq.numpy(), log_f,
                               rtol=1e-6)
    with torch.no_grad():
        want = plain.test_step(batch)
        got = calibrated.test_step(batch)
        calibrated.roi_head.bbox_head.calibration.gamma = 1.0
        moved = calibrated.test_step(batch)
    assert sum(len(s.pred_instances) for s in want) > 0
    for a, b in zip(want, got):
        for key in ('bboxes', 'scores', 'labels', 'masks'):
            assert torch.equal(a.pred_instances[key], b.pred_instances[key]), key
    assert any(not torch.equal(a.pred_instances.scores, c.pred_instances.scores)
               for a, c in zip(want, moved))
