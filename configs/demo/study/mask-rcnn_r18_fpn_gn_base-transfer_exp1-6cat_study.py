# The seed report's Experiment 1, Baseline+ (the family base of this folder), scaled to the
# embedded study data (tools/make_demo_data.py --set study): two frequent, two common and two
# rare LVIS-like categories; backbone, FPN and RPN from the detector pretrained on the base set
# (the report's COCO model; mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.py), loaded by
# TransferWeightsHook, which re-initialises and logs the class-specific layers.
# The report's protocol: SGD momentum 0.9, weight decay 0.005, the learning rate x0.1 in steps;
# the validation loss on the 9:1 split of the train file every epoch, early stopping after
# `patience` epochs without improvement, the test on the best-validation-loss checkpoint
# (tools/ablate.py tests best_val_loss.pth). Scaled to the demo: 128 x 128 images, batch 2
# (the report: 640 x 480, batch 10), ResNet-18 with 128-channel heads (the report: ResNet-50).
_base_ = [
    '../../_base_/models/mask-rcnn_r18_fpn_gn-128ch.py',
    '../../_base_/datasets/lvis-fed_study.py',
    '../../_base_/schedules/sgd_lr5e-3_step3e.py',
    '../../_base_/default_runtime.py',
]

classes = ('orange_circle', 'orange_square',             # frequent
           'orange_triangle', 'orange_star',             # common
           'orange_cross', 'orange_ring')                # rare
num_classes = len(classes)
metainfo = dict(classes=classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)))
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = dict(dataset=dict(metainfo=metainfo))

max_epochs = 12            # an upper bound: early stopping ends most runs sooner
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='StepLR', step_size=6, gamma=0.1, by_epoch=True),
]
optim_wrapper = dict(optimizer=dict(lr=0.01), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=1))

# The detector `make pretrain` trains once (a keyed run of tools/ablate.py, published here; the
# bytes of this file are part of every run key, so a retrained detector trains these again).
pretrained = 'work_dirs/pretrain/mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.pth'
custom_hooks = [
    dict(type='ValidationLossHook', patience=3),
    dict(type='TransferWeightsHook', checkpoint=pretrained,
         modules=('backbone', 'neck', 'rpn_head')),
]
