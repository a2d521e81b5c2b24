"""The RoI-head changes of pass 2 (engine/roi_head_filters.py) on mmdet's own mask head: RLE
masks equal to encoding mmdet's masks, boxes rescaled as mmdet rescales them, and masks only for
the detections asked for, the others empty."""
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from pycocotools import mask as mask_utils

from mmdet.models.roi_heads.mask_heads.fcn_mask_head import FCNMaskHead
from mmdet_lvis_fed.engine.roi_head_filters import evaluated_masks, rle_masks
from mmdet_lvis_fed.evaluation.masks import RLEColumn

H, W = 60, 80
META = dict(img_id=7, scale_factor=(2.0, 2.0), ori_shape=(H, W))
CFG = ConfigDict(mask_thr_binary=0.5)


def inputs(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * torch.tensor([2 * W - 40, 2 * H - 40])
    boxes = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 35], 1)
    return (torch.randn(n, 3, 28, 28, generator=g) * 2, boxes,
            torch.randint(0, 3, (n,), generator=g))


def test_rle_masks_are_mmdets_masks_encoded():
    head = FCNMaskHead(num_convs=0, in_channels=4, conv_out_channels=4, num_classes=3)
    for activate_map in (False, True):          # True: mmdet's own paste, then encoded
        preds, boxes, labels = inputs()
        if activate_map:
            preds = preds.sigmoid()
        want_boxes = boxes.clone()
        want = head._predict_by_feat_single(preds, want_boxes, labels, META, CFG, rescale=True,
                                            activate_map=activate_map)
        got_boxes = boxes.clone()
        with rle_masks(SimpleNamespace(mask_head=torch.nn.ModuleList([head]))):
            got = head._predict_by_feat_single(preds, got_boxes, labels, META, CFG,
                                               rescale=True, activate_map=activate_map)
        assert '_predict_by_feat_single' not in vars(head)       # put back after the block
        assert isinstance(got, RLEColumn) and torch.equal(got_boxes, want_boxes)
        encoded = mask_utils.encode(np.asfortranarray(want.numpy().transpose(1, 2, 0), np.uint8))
        assert [got[i]['counts'] for i in range(len(got))] == [r['counts'] for r in encoded]
        assert want.any()


def test_only_the_detections_asked_for_get_masks():
    head = FCNMaskHead(num_convs=0, in_channels=4, conv_out_channels=4, num_classes=3)
    preds, boxes, labels = inputs(seed=1)
    asked = []

    def predict_mask(x, metas, results_list, rescale=False):   # mmdet's, on what it is given
        out = []
        for res in results_list:
            asked.append(res.labels.tolist())
            res.masks = head._predict_by_feat_single(preds[res.keep], res.bboxes, res.labels,
                                                     META, CFG, rescale=rescale)
            out.append(res)
        return out
    roi_head = SimpleNamespace(predict_mask=predict_mask)
    res = InstanceData(bboxes=boxes.clone(), labels=labels, keep=torch.arange(len(labels)))
    computed = np.zeros(1, np.int64)
    with evaluated_masks(roi_head, lambda meta: [1] if meta['img_id'] == 7 else [], computed):
        out = roi_head.predict_mask(None, [META], [res], rescale=True)[0]
    need = (labels == 1).numpy()
    assert asked == [[1] * int(need.sum())] and computed[0] == need.sum() > 0
    full_boxes = boxes.clone()
    full = head._predict_by_feat_single(preds, full_boxes, labels, META, CFG, rescale=True)
    assert torch.equal(out.bboxes, full_boxes)                   # every box rescaled, once
    encoded = mask_utils.encode(np.asfortranarray(full.numpy().transpose(1, 2, 0), np.uint8))
    empty = mask_utils.encode(np.zeros((H, W, 1), np.uint8, order='F'))[0]['counts']
    assert [out.masks[i]['counts'] for i in range(len(labels))] == \
        [r['counts'] if k else empty for r, k in zip(encoded, need)]
