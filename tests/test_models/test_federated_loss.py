"""The federated sigmoid loss and EQL (models/federated_loss.py) on batches worked by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmdet_lvis_fed.models.federated_loss import EQLLoss, FederatedSigmoidLoss
from tests.test_models.test_class_weights import K, LABELS, NE, NEG, POS, ROI_IMG


def bce(x, y):
    """Binary cross-entropy of a logit x against target y, from its definition."""
    p = 1 / (1 + math.exp(-x))
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_federated_loss_by_hand_and_gradients():
    loss = FederatedSigmoidLoss(num_classes=K)
    logits = torch.zeros(4, K, requires_grad=True)
    w = loss.class_weights(LABELS, ROI_IMG, POS, NEG, NE)
    value = loss(logits, LABELS, class_weights=w)
    assert value.item() == pytest.approx(5 * math.log(2) / 4, abs=1e-7)     # 0.86643
    value.backward()
    assert (logits.grad[w == 0] == 0).all() and (logits.grad[w == 1] != 0).all()
    # 'include' is plain sigmoid BCE summed over every class, over N
    x = torch.randn(4, K)
    target = F.one_hot(LABELS, K + 1)[:, :K].float()
    full = FederatedSigmoidLoss(num_classes=K, unknown='include')
    assert full(x, LABELS).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(x, target, reduction='sum').item() / 4, rel=1e-6)
    # inference: the loss's own sigmoid, background column appended for multiclass_nms
    act = loss.get_activation(x)
    assert act.shape == (4, K + 1) and torch.equal(act[:, :K], x.sigmoid())
    assert (act[:, K] == 0).all()


def test_eql_loss_by_hand():
    loss = EQLLoss(num_classes=K, lambda_=0.05)
    with pytest.raises(RuntimeError, match='ClassFrequencyHook'):
        loss(torch.zeros(3, K), torch.tensor([0, 3, 1]))
    loss.set_class_frequency([0.5, 0.01, 0.0])          # tail: f < lambda = {1, 2}
    # weights [[1,0,0],[1,1,1],[1,1,0]]: 6 terms of ln 2 over 3 RoIs
    assert loss(torch.zeros(3, K), torch.tensor([0, 3, 1])).item() == pytest.approx(
        6 * math.log(2) / 3, abs=1e-7)


def test_a_hand_worked_batch():
    # K = 2; RoI 0 of class 0 with logits (2, -1); RoI 1 background (label K) with (0.5, 0).
    # Weights: RoI 1 does not count class 0 (say, unknown on its image).
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    labels = torch.tensor([0, 2])
    w = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    terms = bce(2, 1) + bce(-1, 0) + bce(0, 0)             # 0.12693 + 0.31326 + 0.69315
    loss = FederatedSigmoidLoss(num_classes=2)
    assert loss(logits, labels, class_weights=w).item() == pytest.approx(terms / 2, rel=1e-6)
    # loss_weight scales it; avg_factor replaces N
    heavy = FederatedSigmoidLoss(num_classes=2, loss_weight=2.0)
    assert heavy(logits, labels, avg_factor=3, class_weights=w).item() == pytest.approx(
        2 * terms / 3, rel=1e-6)
    # label_weights drop RoI 1
    assert loss(logits, labels, label_weights=torch.tensor([1.0, 0.0]),
                class_weights=w).item() == pytest.approx((bce(2, 1) + bce(-1, 0)) / 2, rel=1e-6)


def test_sampled_classes_without_per_image_lists():
    # unknown='sample' under a stock head: the batch's positive classes plus classes drawn up to
    # num_sampled; with num_sampled = 1 and one positive class, exactly that class counts.
    loss = FederatedSigmoidLoss(num_classes=3, unknown='sample', num_sampled=1)
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    got = loss(logits, torch.tensor([1, 3])).item()
    assert got == pytest.approx((bce(2, 1) + bce(-1, 0)) / 2, rel=1e-6)
    # the default size: CenterNet2 draws 50 of LVIS's 1,203 classes
    assert FederatedSigmoidLoss(num_classes=1203).num_sampled == 50
    assert FederatedSigmoidLoss(num_classes=6).num_sampled == 1


def test_accuracy_counts_no_firing_as_background():
    loss = FederatedSigmoidLoss(num_classes=2)
    logits = torch.tensor([[2.0, -1.0], [-0.5, -3.0]])      # RoI 1: no class above 0
    assert loss.get_accuracy(logits, torch.tensor([0, 2]))['acc'].item() == 100
    assert loss.get_accuracy(logits, torch.tensor([1, 2]))['acc'].item() == 50


def test_sizes_that_disagree_are_refused():
    loss = FederatedSigmoidLoss(num_classes=3)
    with pytest.raises(ValueError, match='2 logits per RoI for 3 classes'):
        loss(torch.zeros(1, 2), torch.tensor([0]))
    with pytest.raises(ValueError, match='under a head with num_classes=4: set both to the same K'):
        loss.get_cls_channels(4)
    with pytest.raises(ValueError, match='2 class frequencies for 3 classes'):
        loss.set_class_frequency([0.5, 0.5])
    with pytest.raises(ValueError, match='unknown must be one of'):
        FederatedSigmoidLoss(num_classes=3, unknown='all')
