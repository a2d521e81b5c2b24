# Experiment 1, Baseline+++: Baseline+ with two more frequent categories.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'

classes = ('coffee_maker', 'cowboy_hat', 'monkey', 'cappuccino', 'chessboard', 'drumstick',
           'tennis_racket', 'skateboard')
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes)),
                           mask_head=dict(num_classes=len(classes))))
train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
