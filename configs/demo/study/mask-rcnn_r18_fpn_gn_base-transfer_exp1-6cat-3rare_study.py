# Experiment 1, Baseline++: Baseline+ with three more rare categories.
_base_ = './mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat_study.py'

classes = _base_.classes + ('purple_diamond', 'purple_hexagon', 'purple_star')
num_classes = len(classes)
metainfo = dict(classes=classes)
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = dict(dataset=dict(metainfo=metainfo))
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)))
