"""What `TopKTestLoop` changes in an mmdet RoI head for the length of a block: masks off (pass 1),
a score threshold per class between the box head and the mask head, the mask head in chunks, only
on the detections the metric compares, and its masks as RLE pasted inside their boxes (pass 2).
Each replaces one method of the head object (`predict_bbox` or `predict_mask`, which mmdet's
`StandardRoIHead`, `CascadeRoIHead`, ... call in turn, or the mask head's
`_predict_by_feat_single`) and puts it back after the block.
"""
from contextlib import contextmanager, nullcontext

import numpy as np
import torch

from ..evaluation.masks import RLEColumn
from ..evaluation.rle_kernels import encode_crops
from .box_local_masks import paste_rle


@contextmanager
def _replaced(obj, name, wrap):
    """`obj.name` is `wrap(obj.name)` inside the block (an instance attribute, removed after)."""
    own = vars(obj).get(name)
    setattr(obj, name, wrap(getattr(obj, name)))
    try:
        yield
    finally:
        if own is None:
            delattr(obj, name)
        else:
            setattr(obj, name, own)


def masks_off(roi_head):
    """Inside the block the RoI head returns its box results without running the mask head."""
    def no_masks(x, batch_img_metas, results_list, rescale=False):
        return results_list
    return _replaced(roi_head, 'predict_mask', lambda _: no_masks)


def score_thresholds(roi_head, thresholds, kept):
    """Inside the block each image keeps the detections whose score is >= its class's threshold,
    between the box head and the mask head; `kept` (int64, one per class) counts them."""
    thresholds = torch.as_tensor(thresholds, dtype=torch.float32)

    def wrap(predict_bbox):
        def thresholded(*args, **kwargs):
            results_list = predict_bbox(*args, **kwargs)
            out = []
            for res in results_list:
                thr = thresholds.to(res.scores.device)[res.labels]
                res = res[res.scores.float() >= thr]
                labels = res.labels.cpu().numpy()
                np.add(kept, np.bincount(labels, minlength=len(kept)), out=kept)
                out.append(res)
            return out
        return thresholded
    return _replaced(roi_head, 'predict_bbox', wrap)


def chunked_masks(roi_head, chunk):
    """Inside the block the mask head runs on at most `chunk` detections of an image at a time.

    mmdet's FCNMaskHead computes a 28 x 28 mask for every class of every RoI before keeping the
    RoI's own (at 1,203 classes 3.8 MB per RoI, so 600 detections of one image hold 2.3 GB), and
    Fixed AP keeps hundreds per image: chunks bound that. A RoI's mask does not depend on the
    other RoIs (per-RoI convolutions and normalisation), so the masks are the same."""
    def wrap(predict_mask):
        def chunked(x, batch_img_metas, results_list, rescale=False):
            if all(len(res) <= chunk for res in results_list):
                return predict_mask(x, batch_img_metas, results_list, rescale=rescale)
            out = []
            for i, res in enumerate(results_list):
                parts = []
                for lo in range(0, max(len(res), 1), chunk):
                    alone = [r[:0] for r in results_list]     # the other images: no RoIs
                    alone[i] = res[lo:lo + chunk]
                    parts.append(predict_mask(x, batch_img_metas, alone, rescale=rescale)[i])
                out.append(parts[0] if len(parts) == 1 else parts[0].cat(parts))
            return out
        return chunked
    return _replaced(roi_head, 'predict_mask', wrap)


def rle_masks(roi_head):
    """Inside the block the mask head gives each image's masks as an RLEColumn (compressed RLE,
    what `LVISFedMetric` keeps) instead of an (n, height, width) tensor. On CPU they are pasted
    inside their boxes and encoded from there (`box_local_masks.paste_rle`: mmdet's masks, bit
    for bit); elsewhere (a GPU's paste covers the whole image) and for merged test-time masks
    (`activate_map`, a cascade's last stage) mmdet's tensor is encoded. The boxes are rescaled
    in place as mmdet's `_predict_by_feat_single` does. A head without that method (not an
    `FCNMaskHead`) is left as it is."""
    head = roi_head.mask_head
    if isinstance(head, torch.nn.ModuleList):          # a cascade: the last stage pastes
        head = head[-1]
    if not hasattr(head, '_predict_by_feat_single'):
        return nullcontext()

    def wrap(predict_single):
        def single(mask_preds, bboxes, labels, img_meta, rcnn_test_cfg, rescale=False,
                   activate_map=False):
            threshold = rcnn_test_cfg.mask_thr_binary
            if bboxes.device.type != 'cpu' or not rescale or activate_map or threshold < 0:
                return RLEColumn.from_masks(predict_single(
                    mask_preds, bboxes, labels, img_meta, rcnn_test_cfg, rescale=rescale,
                    activate_map=activate_map).cpu().numpy())
            h, w = (int(v) for v in img_meta['ori_shape'][:2])
            _rescale(bboxes, img_meta)
            if not head.class_agnostic:
                mask_preds = mask_preds[range(len(mask_preds)), labels][:, None]
            return paste_rle(mask_preds.sigmoid(), bboxes, h, w, threshold)
        return single
    return _replaced(head, '_predict_by_feat_single', wrap)


def _rescale(bboxes, img_meta):
    """Boxes from the network's scale to the original image's, in place, as mmdet's mask head
    does it (`FCNMaskHead._predict_by_feat_single` with rescale=True)."""
    bboxes /= bboxes.new_tensor(img_meta['scale_factor']).repeat((1, 2))


def evaluated_masks(roi_head, positives, computed):
    """Inside the block the mask head runs only on the detections whose class is annotated on
    their image (`positives(img_meta)`: that image's labels); every other detection gets an
    empty mask. Use it with `rle_masks` inside, and only where nothing but `LVISFedMetric` reads
    the masks: under the federated rules a detection of a class that is not annotated on its
    image is either dropped (not verified either way) or a false positive (verified absent), its
    mask never compared with anything, so the metric's numbers do not change (with the area taken
    from the box, lvis-api's rule: `mask_area=False`). Boxes are rescaled in place as mmdet's
    mask head does. `computed` (int64, one element) counts the masks computed."""
    def wrap(predict_mask):
        def only_evaluated(x, batch_img_metas, results_list, rescale=False):
            if not rescale:
                return predict_mask(x, batch_img_metas, results_list, rescale=rescale)
            need = [torch.from_numpy(np.isin(res.labels.cpu().numpy(), positives(meta)))
                    for res, meta in zip(results_list, batch_img_metas)]
            computed[0] += sum(int(n.sum()) for n in need)
            done = predict_mask(x, batch_img_metas,
                                [res[n.to(res.labels.device)] for res, n in zip(results_list, need)],
                                rescale=rescale)
            for res, meta, n, sub in zip(results_list, batch_img_metas, need, done):
                h, w = (int(v) for v in meta['ori_shape'][:2])
                if len(res):
                    _rescale(res.bboxes, meta)
                masks = sub.masks if isinstance(sub.masks, RLEColumn) else \
                    RLEColumn.from_masks(sub.masks.cpu().numpy())
                res.masks = _fill(masks, n.numpy(), h, w)
            return results_list
        return only_evaluated
    return _replaced(roi_head, 'predict_mask', wrap)


def _fill(masks, need, h, w):
    """An RLEColumn with `masks` at the rows where `need` is set, an empty h x w mask elsewhere."""
    zero = np.zeros(1, np.int64)
    chars, _ = encode_crops(np.zeros((1, 1, 1), bool), zero, zero, zero, zero, h, w)
    strings = [chars.tobytes()] * len(need)
    for k, row in enumerate(np.flatnonzero(need)):
        strings[row] = masks.counts[masks.offsets[k]:masks.offsets[k + 1]]
    return RLEColumn(b''.join(strings), np.r_[0, np.cumsum([len(s) for s in strings])],
                     np.full(len(need), h), np.full(len(need), w))
