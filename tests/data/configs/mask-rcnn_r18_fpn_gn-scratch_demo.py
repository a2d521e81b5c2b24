# A small Mask R-CNN on the demo data for the tests: ResNet-18 from scratch with GroupNorm,
# 128-channel FPN, RPN and RoI heads, the 24 demo categories, 32 RoIs per training image, 300
# iterations of 2 images (the long-tail ablation's baseline until it moved to the pretrained
# detector; tests override the data root and shorten the schedule).
_base_ = [
    '../../../configs/_base_/models/mask-rcnn_r18_fpn_gn-128ch.py',
    '../../../configs/_base_/datasets/lvis-fed_demo.py',
    '../../../configs/_base_/schedules/sgd_step.py',
    '../../../configs/_base_/default_runtime.py',
]

num_classes = len(_base_.classes)          # the 24 demo categories the datasets name
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)),
             train_cfg=dict(rcnn=dict(sampler=dict(num=32))),
             test_cfg=dict(rcnn=dict(max_per_img=50)))

train_dataloader = dict(batch_size=2)
max_iters = 300
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters, val_begin=max_iters + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[200], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=0.0001), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
