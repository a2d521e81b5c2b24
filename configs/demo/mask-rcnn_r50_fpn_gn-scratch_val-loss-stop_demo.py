# The seed report's protocol on the demo data: train on a 9:1 split of the demo train file, compute
# the validation loss on the held-out tenth every epoch, stop when it has not improved for
# `patience` epochs, keep the best checkpoints by validation loss (best_val_loss.pth) and by mask AP
# on the validation split; the official-style val file stays the test set.
_base_ = './mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py'

train_dataloader = dict(dataset=dict(split='train'))
val_dataloader = dict(dataset=dict(ann_file='annotations/lvis_v1_train.json', split='val'))
test_dataloader = dict(dataset=dict(ann_file='annotations/lvis_v1_val.json', split=None))
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=1, val_begin=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1,
                                     save_best='lvis_fed/segm_AP', rule='greater'))
custom_hooks = [dict(type='ValidationLossHook', patience=2)]
