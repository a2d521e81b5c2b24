# Experiment 2, default anchors: small-object categories, frequent grape, crumb; common pea_(food),
# peach; rare apricot, crouton. Otherwise Baseline+.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'

classes = ('grape', 'crumb', 'pea_(food)', 'peach', 'apricot', 'crouton')
num_classes = len(classes)
metainfo = dict(classes=classes)
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = dict(dataset=dict(metainfo=metainfo))
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)))
