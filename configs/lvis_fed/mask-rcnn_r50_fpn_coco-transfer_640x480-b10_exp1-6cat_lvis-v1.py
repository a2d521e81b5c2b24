# The seed report's Experiment 1, Baseline+ (the family base of this folder): Mask R-CNN R50-FPN on
# six LVIS v1 categories, frequent coffee_maker, cowboy_hat; common monkey, cappuccino; rare
# chessboard, drumstick. Backbone, FPN and RPN come from a COCO-trained Mask R-CNN through
# TransferWeightsHook (it logs every key it skips and why); the RoI heads, class-specific for
# COCO's 80 classes, start fresh. Download mmdet's mask_rcnn_r50_fpn_1x_coco checkpoint to
# `coco_checkpoint` (or put its URL there when online).
# The report's input: keep-ratio resize to fit 640 x 480, padded bottom and right to 640 x 480
# (mmdet's Pad adds pixels after the image, so boxes keep their coordinates), batch 10; its
# optimiser and validation-loss protocol are the schedule piece's.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_lvis-fed.py',
    '../_base_/datasets/lvis-fed_instance.py',
    '../_base_/schedules/sgd_lr5e-3_step3e.py',
    '../_base_/default_runtime.py',
]

classes = ('coffee_maker', 'cowboy_hat', 'monkey', 'cappuccino', 'chessboard', 'drumstick')
num_classes = len(classes)
metainfo = dict(classes=classes)
model = dict(
    backbone=dict(init_cfg=None),             # the transfer overwrites it: skip the download
    roi_head=dict(bbox_head=dict(num_classes=num_classes),
                  mask_head=dict(num_classes=num_classes)))

img_scale = (640, 480)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=0, masks=0, seg=255)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=_base_.fed_meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=0, masks=0, seg=255)),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=10,
                        dataset=dict(metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(metainfo=metainfo, pipeline=test_pipeline))

coco_checkpoint = 'checkpoints/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth'
custom_hooks = _base_.custom_hooks + [
    dict(type='TransferWeightsHook', checkpoint=coco_checkpoint,
         modules=('backbone', 'neck', 'rpn_head')),
]
