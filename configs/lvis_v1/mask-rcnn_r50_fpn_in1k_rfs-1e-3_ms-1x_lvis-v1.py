# The LVIS v1 baseline, the family base of this folder: mmdet's
# configs/lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py on this plugin's dataset, sampler and
# metric. Mask R-CNN R50-FPN with ResNet-50 from ImageNet (torchvision://resnet50, mmdet's model
# base), all 1,203 categories, repeat-factor sampling t = 1e-3 on LVIS's frequencies, multi-scale
# training (../_base_/datasets/lvis-v1_instance.py); mmdet's 1x schedule: SGD lr 0.02 at batch 16
# (8 GPUs x 2), 500-iteration linear warmup, 12 epochs, lr x0.1 after epochs 8 and 11; at test up
# to 300 detections per image with score >= 1e-4.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_lvis-fed.py',
    '../_base_/datasets/lvis-v1_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]

num_classes = 1203          # every category of the LVIS v1 files: the datasets name none
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)))
