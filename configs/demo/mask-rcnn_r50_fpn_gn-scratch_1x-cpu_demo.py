# Mask R-CNN R50-FPN on the embedded demo data (tools/make_demo_data.py), trained from scratch on a
# 2-core CPU: `make demo`. What differs from a real LVIS run, and why:
# - no pretrained weights can be downloaded here, so the backbone starts from random init: GroupNorm
#   everywhere (batch statistics of 4 small images are too noisy for BatchNorm, and frozen BN at
#   random init is just a fixed affine map), no frozen stages;
# - 160 x 160 images and a few short epochs, to fit minutes of CPU time;
# - anchors of 16 px at stride 4 (scales=[4]): the demo's smallest shapes are 8-18 px;
# - the RoI heads dominate CPU time (a 4-conv 256-channel mask head on every positive RoI costs
#   ~7x the backbone at this size): 64 sampled RoIs per image (not 512), a 128-channel mask head,
#   and at test time 300 proposals and up to 50 detections per image (LVIS allows at most 300; the
#   demo images hold about 5 objects).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/lvis-fed_demo.py',
    '../_base_/schedules/sgd_step.py',
    '../_base_/default_runtime.py',
]

num_classes = len(_base_.classes)          # the 24 demo categories the datasets name
norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    rpn_head=dict(anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_head=dict(num_classes=num_classes),
        mask_head=dict(norm_cfg=norm_cfg, num_classes=num_classes, conv_out_channels=128)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=300),
                  rcnn=dict(score_thr=0.0001, max_per_img=50)))

# `make demo` tests after training, so the training run itself does not validate (mmengine
# validates at the last epoch unless val_begin lies beyond it).
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[3], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=0.02, weight_decay=0.0001), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
env_cfg = dict(cudnn_benchmark=False)
