"""Masks pasted inside their boxes and encoded as RLE, with no image-sized array per mask.

mmdet's `FCNMaskHead._predict_by_feat_single` makes an (n, image height, image width) tensor for
an image's n detections; on CPU it fills each mask's own region, one mask at a time: the box's
pixels plus one around (`_do_paste_mask(skip_empty=True)`: from floor(x1) - 1 to ceil(x2) + 1,
clipped to the image), bilinearly sampled from the 28 x 28 prediction, thresholded; everything
else stays 0. The metric then encodes every full-image mask. `paste_rle` computes the same region
of every mask with the same operations (the same sample grid, element by element, so the same
values; tests/test_engine/test_box_local_masks.py compares them bit for bit with mmdet's) but
for many masks in one `grid_sample`, and writes each mask's RLE straight from its region
(`rle_kernels.encode_crops`, pycocotools' `encode` to the byte).
"""
import numpy as np
import torch
import torch.nn.functional as F

from ..evaluation.masks import RLEColumn
from ..evaluation.rle_kernels import encode_crops

_PIXELS = 1 << 21          # region pixels sampled at once (padding included): ~50 MB of grid


def paste_regions(bboxes, img_h, img_w):
    """Each mask's region as mmdet's CPU paste takes it: (x0, y0, width, height) int64 arrays,
    width and height 0 for a box outside the image."""
    x0y0 = torch.clamp(bboxes[:, :2].floor() - 1, min=0).to(torch.int32)
    x1 = torch.clamp(bboxes[:, 2].ceil() + 1, max=img_w).to(torch.int32)
    y1 = torch.clamp(bboxes[:, 3].ceil() + 1, max=img_h).to(torch.int32)
    x0, y0 = x0y0[:, 0].long().numpy(), x0y0[:, 1].long().numpy()
    return (x0, y0, np.maximum(x1.long().numpy() - x0, 0), np.maximum(y1.long().numpy() - y0, 0))


def _sample(probs, boxes, x0, y0, width, height):
    """`_do_paste_mask`'s values over each mask's region, padded to the largest: (n, H, W)."""
    n, h, w = len(boxes), int(height.max()), int(width.max())
    img_y = (torch.from_numpy(y0)[:, None] + torch.arange(h)[None]).to(torch.float32) + 0.5
    img_x = (torch.from_numpy(x0)[:, None] + torch.arange(w)[None]).to(torch.float32) + 0.5
    bx0, by0, bx1, by1 = torch.split(boxes, 1, dim=1)
    img_y = (img_y - by0) / (by1 - by0) * 2 - 1
    img_x = (img_x - bx0) / (bx1 - bx0) * 2 - 1
    img_x[torch.isinf(img_x)] = 0
    img_y[torch.isinf(img_y)] = 0
    gx = img_x[:, None, :].expand(n, h, w)
    gy = img_y[:, :, None].expand(n, h, w)
    grid = torch.stack([gx, gy], dim=3)
    return F.grid_sample(probs.to(dtype=torch.float32), grid, align_corners=False)[:, 0]


def paste_rle(probs, bboxes, img_h, img_w, threshold):
    """The masks of mmdet's CPU paste, thresholded (`>= threshold`), as an RLEColumn.

    Args:
        probs: (n, 1, M, M) mask probabilities of each detection's class, on CPU.
        bboxes: (n, 4) float32 x1, y1, x2, y2 in the original image.
        img_h, img_w: the original image's size.
        threshold: mmdet's `mask_thr_binary` (>= 0).
    """
    n = len(bboxes)
    x0, y0, width, height = paste_regions(bboxes, img_h, img_w)
    strings = [b''] * n
    order = np.argsort(width * height, kind='stable')
    lo = 0
    while lo < n:                        # groups of similar size: little padding
        hi, mw, mh = lo + 1, int(width[order[lo]]), int(height[order[lo]])
        while hi < n:
            w, h = max(mw, int(width[order[hi]])), max(mh, int(height[order[hi]]))
            if (hi + 1 - lo) * w * h > _PIXELS:
                break
            hi, mw, mh = hi + 1, w, h
        rows = order[lo:hi]
        idx = torch.from_numpy(rows)
        if int(width[rows].max()) > 0 and int(height[rows].max()) > 0:
            crops = (_sample(probs[idx], bboxes[idx], x0[rows], y0[rows], width[rows],
                             height[rows]) >= threshold).numpy()
        else:
            crops = np.zeros((len(rows), 1, 1), bool)
        chars, offsets = encode_crops(crops, y0[rows], x0[rows], height[rows], width[rows],
                                      int(img_h), int(img_w))
        for k, r in enumerate(rows):
            strings[r] = chars[offsets[k]:offsets[k + 1]].tobytes()
        lo = hi
    return RLEColumn(b''.join(strings), np.r_[0, np.cumsum([len(s) for s in strings])],
                     np.full(n, int(img_h)), np.full(n, int(img_w)))
