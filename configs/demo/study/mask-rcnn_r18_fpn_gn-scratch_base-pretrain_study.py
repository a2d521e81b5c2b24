# The study's "COCO-trained" detector: the small Mask R-CNN trained from scratch on the base set
# (data/study/annotations/base_train.json: 16 yellow and teal shape categories on 800 images,
# exhaustively annotated), the stand-in for mmdet's COCO Mask R-CNN that the report starts from.
# `make pretrain` trains it once (a keyed run of tools/ablate.py, in work_dirs/pretrain/) and
# publishes its checkpoint for both study targets: the experiments (`make experiments`) take its
# backbone ("ImageNet only") or backbone + FPN + RPN ("COCO") through TransferWeightsHook and
# re-initialise the class-specific layers, as the report's Table 4.2.1.2 does; the long-tail
# ablation (`make ablation`) takes every class-agnostic layer.
_base_ = [
    '../../_base_/models/mask-rcnn_r18_fpn_gn-128ch.py',
    '../../_base_/datasets/lvis-fed_study.py',
    '../../_base_/schedules/sgd_step.py',
    '../../_base_/default_runtime.py',
]

classes = ('yellow_circle', 'yellow_square', 'yellow_triangle', 'yellow_star', 'yellow_cross',
           'yellow_ring', 'yellow_diamond', 'yellow_hexagon', 'teal_circle', 'teal_square',
           'teal_triangle', 'teal_star', 'teal_cross', 'teal_ring', 'teal_diamond',
           'teal_hexagon')
num_classes = len(classes)
metainfo = dict(classes=classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)))
train_dataloader = dict(
    batch_size=4,
    dataset=dict(ann_file='annotations/base_train.json', split=None, metainfo=metainfo))
val_dataloader = dict(
    dataset=dict(ann_file='annotations/base_val.json', split=None, metainfo=metainfo))
test_dataloader = val_dataloader

# Trained once, tested once on base_val.json after training (no validation during training).
# 4 epochs (800 iterations of 4 images, about 11 min on 2 cores) so that `make ablation` from
# nothing fits its 45 minutes; until commit 583a093 it was 8 epochs (box AP 0.610 on base_val).
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[3], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=0.02, weight_decay=0.0001), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
