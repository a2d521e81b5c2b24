# The long-tail ablation's baseline (the family base of this folder): softmax cross-entropy and
# uniform sampling, on the demo data, classes and test protocol of `make demo`
# (../mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py) with a smaller detector, so that the whole
# ablation fits its time budget on a 2-core CPU: ResNet-18, 128-channel FPN, RPN and RoI heads, a
# 512-wide box head and a 2-conv mask head, 32 RoIs per image, 300 iterations of 2 images. Every
# remedy here inherits this file and says only what differs; tools/ablate.py trains and tests
# them per seed and tabulates APr/APc/APf against it.
_base_ = [
    '../../_base_/models/mask-rcnn_r18_fpn_gn-128ch.py',
    '../../_base_/datasets/lvis-fed_demo.py',
    '../../_base_/schedules/sgd_step.py',
    '../../_base_/default_runtime.py',
]

num_classes = len(_base_.classes)          # the 24 demo categories the datasets name
# 32 RoIs sampled per training image (the model base's 64 halved: a 160 px image holds a few
# objects, and the RoI heads' share of a training step falls by about 30%).
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)),
             train_cfg=dict(rcnn=dict(sampler=dict(num=32))),
             test_cfg=dict(rcnn=dict(max_per_img=50)))

# The same training budget for every config of the ablation: 300 iterations of 2 images, the
# learning rate x0.1 after iteration 200; the test follows training (no validation). Counted in
# iterations, not epochs, because the remedies change the epoch: repeat-factor sampling lengthens
# it (x1.3 here) and keeping the not-exhaustive images adds images (x1.6), so an epoch-based
# schedule would give them up to 2x the baseline's gradient steps. LVIS papers compare RFS at the
# same schedule too: detectron2's repeat-factor sampler changes what a step sees, not how many.
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
