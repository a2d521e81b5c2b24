# The long-tail ablation's baseline (the family base of this folder): softmax cross-entropy and
# uniform sampling, on the demo data, classes and test protocol of `make demo`
# (../mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py) with a smaller detector, so that the whole
# ablation fits its time budget on a 2-core CPU (about 3x less compute per iteration than the demo
# config): ResNet-18, 128-channel FPN, RPN and RoI heads, a 512-wide box head and a 2-conv mask
# head, 3 epochs. Every remedy here inherits this file and says only what differs;
# tools/ablate.py trains and tests them per seed and tabulates APr/APc/APf against it.
_base_ = [
    '../../_base_/models/mask-rcnn_r18_fpn_gn-128ch.py',
    '../../_base_/datasets/lvis-fed_demo.py',
    '../../_base_/schedules/sgd_step.py',
    '../../_base_/default_runtime.py',
]

num_classes = len(_base_.classes)          # the 24 demo categories the datasets name
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)),
             test_cfg=dict(rcnn=dict(max_per_img=50)))

# 3 epochs, the learning rate x0.1 after the second; the test follows training (no validation).
max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=0.02, weight_decay=0.0001), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
env_cfg = dict(cudnn_benchmark=False)
