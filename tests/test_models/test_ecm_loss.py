"""ECMLoss against a hand computation of the effective class-margin rule (plain math, K = 3), its
inference activation in the box head, and what it refuses."""
import math

import numpy as np
import pytest
import torch

import mmdet_lvis_fed.plugin  # noqa: F401  (registers ECMLoss)
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet_lvis_fed.models.ecm_loss import ECMLoss

K = 3
FREQ = [0.5, 0.1, 0.02]                 # a frequent, a common and a rare class
RATIO = 6.3313
LABELS = [0, 2, 3, 1, 3]                # 3 = K: background RoIs
LOGITS = [[0.3, -1.2, 0.8, 2.0],
          [-0.5, 0.1, 1.5, -0.7],
          [1.1, 0.4, -2.2, 0.9],
          [-1.5, 2.5, 0.0, -0.3],
          [0.2, -0.6, -1.0, 3.1]]


def hand_ecm(logits, labels, freq, ratio=RATIO, loss_weight=1.0):
    """The loss and d loss / d logits written out with math, channel by channel."""
    n = list(freq) + [ratio * sum(freq)]
    total = sum(n)
    pos_w, neg_w, w = [], [], []
    for nj in n:
        mj = total - nj
        pos_w.append(math.log((nj ** 0.25 + mj ** 0.25) / mj ** 0.25))
        neg_w.append(math.log((nj ** 0.25 + mj ** 0.25) / nj ** 0.25))
        a = (total - nj) / nj
        w.append(a * math.log((1 + a) / a))
    b = len(labels)
    loss, grad = 0.0, np.zeros((b, len(n)))
    for i, label in enumerate(labels):
        for j in range(len(n)):
            z, y = logits[i][j], 1.0 if label == j else 0.0
            e_pos, e_neg = math.exp(z + pos_w[j]), math.exp(-z + neg_w[j])
            p = e_pos / (e_pos + e_neg)
            loss += w[j] * -(y * math.log(p) + (1 - y) * math.log(1 - p))
            # p = sigmoid(2z + pos_w - neg_w): d/dz of the BCE is 2 (p - y)
            grad[i, j] = w[j] * 2 * (p - y)
    return loss_weight * loss / b, loss_weight * grad / b


def ecm(freq=FREQ, **kwargs):
    loss = ECMLoss(num_classes=K, **kwargs)
    loss.set_class_frequency(freq)
    return loss


@pytest.mark.parametrize('logits', [np.zeros((5, K + 1)).tolist(), LOGITS],
                         ids=['zero-logits', 'logits'])
def test_loss_and_gradient_by_hand(logits):
    expected, expected_grad = hand_ecm(logits, LABELS, FREQ)
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    out = ecm()(z, torch.tensor(LABELS))
    out.backward()
    assert out.item() == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(z.grad.numpy(), expected_grad, rtol=1e-5, atol=1e-8)


def test_zero_logits_pinned_value():
    """A pinned number for zero logits, computed once from the other form of the margin
    (pos_w - neg_w = log(n^(1/4) / m^(1/4)), p = sigmoid of it), so that the hand reference and
    the loss cannot drift together."""
    z = torch.zeros(5, K + 1, dtype=torch.float64)
    assert ecm()(z, torch.tensor(LABELS)).item() == pytest.approx(1.7891650, abs=1e-6)


def test_counts_and_frequencies_give_the_same_loss():
    z = torch.tensor(LOGITS)
    labels = torch.tensor(LABELS)
    by_freq = ecm(FREQ)(z, labels)
    by_count = ecm([f * 1234 for f in FREQ])(z, labels)
    assert by_freq.item() == pytest.approx(by_count.item(), rel=1e-5)


def test_loss_weight_and_label_weights():
    z, labels = torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(LABELS)
    assert ecm(loss_weight=2.5)(z, labels).item() == pytest.approx(
        hand_ecm(LOGITS, LABELS, FREQ, loss_weight=2.5)[0], rel=1e-6)
    # mmdet's sampled RoIs all have weight 1: the authors' loss, which takes none
    assert ecm()(z, labels, torch.ones(5)).item() == pytest.approx(ecm()(z, labels).item())
    keep = [0, 1, 3]
    half = ecm()(z, labels, torch.tensor([1., 1., 0., 1., 0.])).item()
    expected = hand_ecm([LOGITS[i] for i in keep], [LABELS[i] for i in keep], FREQ)[0] * 3 / 5
    assert half == pytest.approx(expected, rel=1e-6)


def test_activation_by_hand():
    z = np.array(LOGITS)
    s = 1 / (1 + np.exp(-z))
    expected = np.concatenate([s[:, :K] * (1 - s[:, K:]), s[:, K:]], axis=1)
    got = ecm().get_activation(torch.tensor(LOGITS, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def ecm_head():
    torch.manual_seed(0)
    head = Shared2FCBBoxHead(in_channels=4, fc_out_channels=16, roi_feat_size=2, num_classes=K,
                             cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
                             loss_cls=dict(type='ECMLoss', num_classes=K))
    head.init_weights()
    return head.eval()


def test_head_scores_are_the_loss_activation_not_softmax():
    head = ecm_head()
    assert head.fc_cls.out_features == K + 1
    rois = torch.tensor([[0, 2., 2., 20., 30.], [0, 5., 5., 40., 40.], [0, 1., 8., 9., 30.]])
    cls_score, bbox_pred = head(torch.randn(3, 4, 2, 2))
    # rcnn_test_cfg=None: the head returns every RoI's scores, before NMS
    res = head.predict_by_feat((rois,), (cls_score,), (bbox_pred,),
                               [dict(img_shape=(64, 64), scale_factor=(1., 1.))])[0]
    assert torch.equal(res.scores, head.loss_cls.get_activation(cls_score))
    assert not torch.allclose(res.scores, cls_score.softmax(-1))


def test_accuracy():
    z = torch.tensor([[2., 0., 0., -1.],      # label 0, fg predicted, class 0: both right
                      [0., 3., 0., -1.],      # label 2, class 1: class wrong
                      [0., 0., 0., 2.],       # background, objectness > 0: right
                      [0., 0., 0., -2.]])     # background, objectness < 0: wrong
    acc = ecm().get_accuracy(z, torch.tensor([0, 2, 3, 3]))
    assert acc['acc_objectness'].item() == pytest.approx(75.0)
    assert acc['acc_classes'].item() == pytest.approx(50.0)


def test_refuses_a_loss_without_frequencies():
    with pytest.raises(RuntimeError, match='ClassFrequencyHook'):
        ECMLoss(num_classes=K)(torch.zeros(2, K + 1), torch.tensor([0, 3]))


@pytest.mark.parametrize('bad', [0.0, -0.1, float('nan')])
def test_refuses_a_class_without_images(bad):
    with pytest.raises(ValueError, match='class label 1 has frequency'):
        ECMLoss(num_classes=K).set_class_frequency([0.5, bad, 0.1])


def test_refuses_another_k():
    with pytest.raises(ValueError, match=r'ECMLoss\(num_classes=3\).*num_classes=5'):
        ECMLoss(num_classes=K).get_cls_channels(5)
    with pytest.raises(ValueError, match='4 class frequencies for 3 classes'):
        ECMLoss(num_classes=K).set_class_frequency([0.1] * 4)


def test_buffers_stay_out_of_the_state_dict():
    """A checkpoint of the softmax baseline head (same K+1 outputs) loads into the ECM head with
    no missing or unexpected keys, frequencies set or not."""
    head = ecm_head()
    head.loss_cls.set_class_frequency(FREQ)
    stock = Shared2FCBBoxHead(in_channels=4, fc_out_channels=16, roi_feat_size=2, num_classes=K)
    assert set(head.state_dict()) == set(stock.state_dict())
    res = head.load_state_dict(stock.state_dict(), strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    assert head.loss_cls.margin.numel() == K + 1       # the frequencies survive a load
