# The long-tail ablation's baseline: the demo config (softmax cross-entropy, uniform sampling)
# with a smaller detector. Every remedy in this folder inherits this file and says only what
# differs; tools/ablate.py trains and tests them per seed and tabulates APr/APc/APf against it.
#
# Scaled down so that the whole ablation fits its time budget on a 2-core CPU (about 3x less
# compute per iteration than the demo config): ResNet-18, 128-channel FPN, RPN and RoI heads, a
# 512-wide box head and a 2-conv mask head, 3 epochs. Data, classes and test protocol are the demo's.
_base_ = '../mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py'

ch = 128
model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=ch),
    rpn_head=dict(in_channels=ch, feat_channels=ch),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=ch),
        bbox_head=dict(in_channels=ch, fc_out_channels=512),
        mask_roi_extractor=dict(out_channels=ch),
        mask_head=dict(in_channels=ch, num_convs=2)))

# 3 epochs instead of 4, the learning rate x0.1 after the second.
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
