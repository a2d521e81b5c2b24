# Copy-paste (objects of one training image pasted onto another, FedCopyPaste keeping the
# federated lists true) with scale jitter (0.5-1.5, cropped and padded back to 128 x 128) and
# photometric distortion: rare objects appear in new contexts and at new scales. The report's
# Mosaic is refused on mask models (MaskMixingCheckHook): mmdet's Mosaic and MixUp move the boxes
# but leave gt_masks as they were, so the masks would no longer belong to their boxes.
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py', '../../_base_/longtail.py']

size = _base_.img_scale
load_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=size, ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=size, crop_type='absolute', recompute_bbox=True),
    # A crop can leave an object's box with no mask pixels: a zero-size box, whose regression
    # target is log(0) and a NaN loss. mmdet's own copy-paste recipe filters them here too.
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='Pad', size=size, pad_val=dict(img=0, masks=0, seg=255)),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='MultiImageMixDataset',
    pipeline=_base_.copy_paste_mix_pipeline + [
        dict(type='PackDetInputs', meta_keys=_base_.fed_meta_keys)],
    dataset=dict(_base_.train_dataloader.dataset, pipeline=load_pipeline)))
