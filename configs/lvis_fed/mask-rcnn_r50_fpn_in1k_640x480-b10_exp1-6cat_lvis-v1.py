# Experiment 1, Baseline: ResNet-50 pretrained on ImageNet only, everything else from scratch.
# Categories: frequent coffee_maker, cowboy_hat; common monkey, cappuccino; rare chessboard,
# drumstick (LVIS v1 names). num_classes follows from `classes` when the run starts.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_lvis-fed.py',
    '../_base_/datasets/lvis-fed_640x480.py',
    '../_base_/schedules/sgd_lr5e-3_step3e.py',
    '../_base_/default_runtime.py',
]

classes = ('coffee_maker', 'cowboy_hat', 'monkey', 'cappuccino', 'chessboard', 'drumstick')
model = dict(
    # Offline: checkpoint='checkpoints/resnet50-0676ba61.pth' (torchvision's file, saved locally).
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
