# Experiment 1, Baseline: ResNet-50 pretrained on ImageNet only, everything else from scratch (no
# transfer from a COCO detector).
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'

model = dict(
    # Offline: checkpoint='checkpoints/resnet50-0676ba61.pth' (torchvision's file, saved locally).
    backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained',
                                checkpoint='torchvision://resnet50')))
custom_hooks = [dict(type='ValidationLossHook', patience=3)]
