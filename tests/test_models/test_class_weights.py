"""Federated and EQL class weights (models/class_weights.py), against hand computation."""

import pytest
import torch

from mmdet_lvis_fed.models.class_weights import eql_weights, federated_class_weights, sampled_classes

# K = 3; image 0: positive {0}, verified negative {2}; image 1: positive {1}, not exhaustive {1}.
# RoIs: a foreground and a background RoI on each image.
K = 3
LABELS = torch.tensor([0, 3, 1, 3])
ROI_IMG = torch.tensor([0, 0, 1, 1])
POS, NEG, NE = [[0], [1]], [[2], []], [[], [1]]


def test_federated_weights_by_hand():
    w = federated_class_weights(LABELS, ROI_IMG, POS, NEG, NE, K)
    # image 0 knows {0, 2}; image 1 knows {1}, whose negative term goes (not exhaustive) while the
    # positive RoI keeps it.
    assert w.tolist() == [[1, 0, 1], [1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert federated_class_weights(LABELS, ROI_IMG, POS, NEG, NE, K, 'include').tolist() == [
        [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 0, 1]]
    assert federated_class_weights(LABELS, ROI_IMG, POS, NEG, NE, K, 'sample',
                                   sampled=torch.tensor([False, False, True])).tolist() == [
        [1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 0, 1]]


def test_weights_reject_bad_input():
    with pytest.raises(ValueError, match='unknown must be one of'):
        federated_class_weights(LABELS, ROI_IMG, POS, NEG, NE, K, 'all')
    with pytest.raises(ValueError, match='one list per image'):
        federated_class_weights(LABELS, ROI_IMG, POS, NEG[:1], NE, K)


def test_eql_weights_by_hand():
    freq = torch.tensor([0.5, 0.01, 0.001])       # lambda 0.05: classes 1 and 2 are the tail
    w = eql_weights(torch.tensor([0, 3, 1]), K, freq, 0.05)
    assert w.tolist() == [[1, 0, 0], [1, 1, 1], [1, 1, 0]]


def test_sampled_classes():
    pos = torch.tensor([1, 4])
    freq = torch.tensor([1.0, 0, 4.0, 9.0, 1.0, 0, 16.0])
    g = torch.Generator().manual_seed(0)
    hits = torch.zeros(7)
    for _ in range(4000):
        s = sampled_classes(pos, 7, 3, freq, 0.5, generator=g)
        assert s.sum() == 3 and s[1] and s[4] and not s[5]     # class 5: frequency 0
        hits += s.float()
    # one extra class per draw, p ~ sqrt(freq) over {0, 2, 3, 6}: 1, 2, 3, 4 (sum 10)
    share = hits[[0, 2, 3, 6]] / 4000
    assert torch.allclose(share, torch.tensor([0.1, 0.2, 0.3, 0.4]), atol=0.03)
    # never fewer than the positives
    assert sampled_classes(torch.tensor([0, 1, 2]), 7, 2, freq).sum() == 3
