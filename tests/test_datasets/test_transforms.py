"""FedCopyPaste keeps the federated lists true; the lists reach the model through the pipeline."""
import numpy as np
import torch

from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmdet_lvis_fed.datasets.transforms import FedCopyPaste, merge_federated_lists


def test_merge_rules():
    # pasted 2 leaves the negatives; the source's not-exhaustive 5 joins and leaves them too
    assert merge_federated_lists([1, 2, 3, 5], [4], [2], [5]) == ([1, 3], [4, 5])
    assert merge_federated_lists([1], [], [], []) == ([1], [])


def results(labels, boxes, neg, ne, size=20):
    masks = np.zeros((len(labels), size, size), np.uint8)
    for m, (x1, y1, x2, y2) in zip(masks, boxes):
        m[y1:y2, x1:x2] = 1
    return dict(img=np.full((size, size, 3), 7 * len(labels), np.uint8),
                gt_bboxes=HorizontalBoxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
                gt_bboxes_labels=np.array(labels, np.int64),
                gt_masks=BitmapMasks(masks, size, size),
                gt_ignore_flags=np.zeros(len(labels), bool),
                neg_labels=list(neg), not_exhaustive_labels=list(ne))


def test_copy_paste_updates_the_lists():
    dst = results([0], [(0, 0, 8, 8)], neg=[1, 2, 3], ne=[4])
    src = results([1, 2], [(10, 10, 14, 14), (15, 15, 19, 19)], neg=[0], ne=[5])
    out = FedCopyPaste(selected=False)(dict(dst, mix_results=[src]))
    assert out['gt_bboxes_labels'].tolist() == [0, 1, 2]
    assert len(out['gt_masks']) == 3
    assert out['neg_labels'] == [3] and out['not_exhaustive_labels'] == [4, 5]
    # nothing pasted: the destination's lists stand
    empty = results([], [], neg=[0], ne=[])
    out = FedCopyPaste(selected=False)(dict(results([0], [(0, 0, 8, 8)], [1, 2], [4]),
                                            mix_results=[empty]))
    assert out['neg_labels'] == [1, 2] and out['not_exhaustive_labels'] == [4]


def test_copy_paste_index_in_range():
    fcp = FedCopyPaste()
    assert {fcp.get_indexes(range(3)) for _ in range(300)} == {0, 1, 2}
