# Experiment 1, Baseline+: backbone, FPN and RPN from a COCO-trained Mask R-CNN R50-FPN; the RoI
# heads (class-specific for COCO's 80 classes) start fresh. TransferWeightsHook logs every key it
# skips and why. Download mmdet's mask_rcnn_r50_fpn_1x_coco checkpoint to this local path (or put
# its URL here when online).
_base_ = './mask-rcnn_r50_fpn_in1k_640x480-b10_exp1-6cat_lvis-v1.py'

coco_checkpoint = 'checkpoints/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth'
model = dict(backbone=dict(init_cfg=None))     # the transfer overwrites it: skip the download
custom_hooks = _base_.custom_hooks + [
    dict(type='TransferWeightsHook', checkpoint=coco_checkpoint,
         modules=('backbone', 'neck', 'rpn_head')),
]
