"""The per-class top-K accumulator of Fixed AP's pass 1 (engine/topk_per_class.py) on hand
numbers and against sorting every class's scores."""
import numpy as np
import pytest
import torch

from mmdet_lvis_fed.engine.topk_per_class import TopKPerClass


def kth_highest(labels, scores, num_classes, k):
    """The reference: sort each class's scores."""
    out = np.full(num_classes, -np.inf, np.float32)
    for c in range(num_classes):
        s = np.sort(scores[labels == c])[::-1]
        if len(s) >= k:
            out[c] = s[k - 1]
    return out


def test_thresholds_on_hand_numbers():
    topk = TopKPerClass(4, 2)
    topk.add([0, 0, 1, 2, 2], [0.9, 0.5, 0.3, 0.2, 0.2])
    topk.add([0, 2], [0.7, 0.1])
    # class 0: 0.9, 0.7, 0.5 -> 0.7; class 1: one score (fewer than k) -> -inf;
    # class 2: 0.2, 0.2, 0.1 -> 0.2 (a tie at the k-th place); class 3: none -> -inf
    np.testing.assert_array_equal(topk.threshold(),
                                  np.float32([0.7, -np.inf, 0.2, -np.inf]))
    np.testing.assert_array_equal(topk.count, [3, 1, 3, 0])


def test_ties_at_the_threshold_are_one_value():
    topk = TopKPerClass(1, 2)
    topk.add([0, 0, 0, 0], [0.5, 0.5, 0.5, 0.25])
    assert topk.threshold()[0] == np.float32(0.5)        # three detections reach it: all kept


def test_float32_scores_are_kept_exactly():
    score = np.nextafter(np.float32(0.3), np.float32(1))   # one ulp above 0.3 in float32
    topk = TopKPerClass(1, 1)
    topk.add(torch.tensor([0]).numpy(), torch.tensor([score]).numpy())
    assert topk.threshold()[0] == score and topk.threshold().dtype == np.float32


@pytest.mark.parametrize('buffer', [1, 7, None])
def test_any_buffer_gives_the_sorted_reference(buffer):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    scores = np.round(rng.random(400), 1).astype(np.float32)    # many ties
    labels[labels == 4] = 3                                    # class 4: none; class 3: many
    topk = TopKPerClass(5, 30, buffer=buffer)
    for i in range(0, 400, 13):
        topk.add(labels[i:i + 13], scores[i:i + 13])
        assert topk.top.shape == (5, 30) and topk._pending < topk.buffer + 13
    np.testing.assert_array_equal(topk.threshold(), kth_highest(labels, scores, 5, 30))


def test_two_ranks_merge_to_one():
    rng = np.random.default_rng(1)
    labels, scores = rng.integers(0, 3, 200), rng.random(200).astype(np.float32)
    labels[:5] = 2                  # class 2: 5 on rank a, the rest on rank b
    whole = TopKPerClass(3, 40)
    whole.add(labels, scores)
    a, b = TopKPerClass(3, 40), TopKPerClass(3, 40)
    a.add(labels[:120], scores[:120])
    b.add(labels[120:], scores[120:])
    merged = a.merge([b.state()])
    np.testing.assert_array_equal(merged.threshold(), whole.threshold())
    np.testing.assert_array_equal(merged.count, whole.count)
    np.testing.assert_array_equal(np.sort(merged.top, axis=1), np.sort(whole.top, axis=1))


def test_a_class_short_on_every_rank_but_full_merged():
    a, b = TopKPerClass(1, 3), TopKPerClass(1, 3)
    a.add([0, 0], [0.9, 0.1])
    b.add([0, 0], [0.5, 0.4])
    assert a.threshold()[0] == -np.inf
    assert a.merge([b.state()]).threshold()[0] == np.float32(0.4)


def test_a_huge_k_allocates_only_what_the_detections_need():
    rng = np.random.default_rng(3)
    topk = TopKPerClass(23, 1_000_000_000)
    assert topk.top.nbytes < 10_000                       # not 23 x 1e9 float32 (86 GiB)
    labels = rng.integers(0, 23, 5000)
    scores = rng.random(5000).astype(np.float32)
    for i in range(0, 5000, 700):
        topk.add(labels[i:i + 700], scores[i:i + 700])
    assert (topk.threshold() == -np.inf).all()            # no class reached k
    assert topk.top.shape[1] <= 2 * np.bincount(labels).max()
    # a k that is reached after widening: the k-th highest of each class, by hand
    small = TopKPerClass(23, 150)
    for i in range(0, 5000, 333):
        small.add(labels[i:i + 333], scores[i:i + 333])
    for c in range(23):
        mine = np.sort(scores[labels == c])[::-1]
        assert small.threshold()[c] == (mine[149] if len(mine) >= 150 else -np.inf)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match='k must be a whole number >= 1, not 0'):
        TopKPerClass(3, 0)
    with pytest.raises(ValueError, match=r'labels must be in 0\.\.2, got 0\.\.3'):
        TopKPerClass(3, 2).add([0, 3], [0.5, 0.5])
