"""Masks pasted inside their boxes (engine/box_local_masks.py) against mmdet's own CPU paste
(`FCNMaskHead._predict_by_feat_single`), encoded by pycocotools: the same strings, byte for byte."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from pycocotools import mask as mask_utils

from mmdet.models.roi_heads.mask_heads.fcn_mask_head import FCNMaskHead
from mmdet_lvis_fed.engine import box_local_masks
from mmdet_lvis_fed.engine.box_local_masks import paste_rle


def boxes_in(n, h, w, rng):
    """Boxes as mmdet's box head gives them (clipped to the image), some of zero width or
    height, some a single point, some the whole image."""
    xy = torch.from_numpy(rng.uniform(-10, 1.1 * max(h, w), (n, 2))).float()
    wh = torch.from_numpy(rng.uniform(0, 0.8 * max(h, w), (n, 2))).float()
    b = torch.cat([xy, xy + wh], 1)
    b[:, 0::2] = b[:, 0::2].clamp(0, w)
    b[:, 1::2] = b[:, 1::2].clamp(0, h)
    b[:4, 2] = b[:4, 0]
    b[4:8, 3] = b[4:8, 1]
    b[8:10] = torch.tensor([3.3, 4.7, 3.3, 4.7])
    b[10] = torch.tensor([0, 0, w, h])
    return b


@pytest.mark.parametrize('size, scale, threshold', [((97, 131), (1.25, 0.8), 0.5),
                                                    ((40, 23), (1.0, 1.0), 0.3),
                                                    ((300, 200), (0.5, 0.5), 0.5)])
def test_the_masks_are_mmdets_byte_for_byte(size, scale, threshold, monkeypatch):
    h, w = size
    rng = np.random.default_rng(h)
    head = FCNMaskHead(num_convs=0, in_channels=8, conv_out_channels=8, num_classes=5)
    n = 200
    logits = torch.from_numpy(rng.normal(0, 3, (n, 5, 28, 28))).float()
    labels = torch.from_numpy(rng.integers(0, 5, n))
    # boxes at the network's scale, as the mask head gets them
    scaled = boxes_in(n, h, w, rng) * torch.tensor(scale * 2)
    meta = dict(scale_factor=scale, ori_shape=size)
    cfg = ConfigDict(mask_thr_binary=threshold)
    full = head._predict_by_feat_single(logits.clone(), scaled.clone(), labels, meta, cfg,
                                        rescale=True)
    want = mask_utils.encode(np.asfortranarray(full.numpy().transpose(1, 2, 0), np.uint8))
    assert 0 < full.sum() < full.numel()                  # masks neither all empty nor full

    boxes = scaled.clone()
    boxes /= boxes.new_tensor(scale).repeat((1, 2))         # mmdet's rescale, in place
    probs = logits[range(n), labels][:, None].sigmoid()
    monkeypatch.setattr(box_local_masks, '_PIXELS', 5000)  # many groups, each padded
    got = paste_rle(probs, boxes, h, w, threshold)
    assert len(got) == n and (got.heights == h).all() and (got.widths == w).all()
    assert [got[i]['counts'] for i in range(n)] == [r['counts'] for r in want]


def test_regions_are_mmdets_skip_empty_regions():
    # `_do_paste_mask(skip_empty=True)` on one box: floor - 1 and ceil + 1, clipped
    boxes = torch.tensor([[0.2, 0.7, 5.5, 3.0], [10.0, 4.0, 12.0, 9.9], [0, 0, 20, 10]])
    x0, y0, width, height = box_local_masks.paste_regions(boxes, 10, 20)
    assert x0.tolist() == [0, 9, 0] and y0.tolist() == [0, 3, 0]
    assert width.tolist() == [7, 4, 20] and height.tolist() == [4, 7, 10]
