"""What `TopKTestLoop` changes in an mmdet RoI head for the length of a block: masks off (pass 1),
a score threshold per class between the box head and the mask head, and the mask head in chunks
(pass 2). Each replaces one method of the head object (`predict_bbox` or `predict_mask`, which
mmdet's `StandardRoIHead`, `CascadeRoIHead`, ... call in turn) and puts it back after the block.
"""
from contextlib import contextmanager

import numpy as np
import torch


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
