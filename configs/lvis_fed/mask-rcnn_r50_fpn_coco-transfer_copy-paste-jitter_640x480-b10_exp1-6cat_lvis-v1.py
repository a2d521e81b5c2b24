# Experiment 1 (Baseline+) with scale jitter (0.5-1.5, cropped and padded back to 640 x 480),
# copy-paste that keeps the federated lists true (FedCopyPaste) and photometric distortion.
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

size = _base_.img_scale
load_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=size, ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=size, crop_type='absolute', recompute_bbox=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),   # boxes a crop left maskless
    dict(type='Pad', size=size, pad_val=dict(img=0, masks=0, seg=255)),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='MultiImageMixDataset',
    pipeline=_base_.copy_paste_mix_pipeline + [
        dict(type='PackDetInputs', meta_keys=_base_.fed_meta_keys)],
    dataset=dict(_base_.train_dataloader.dataset, pipeline=load_pipeline)))
