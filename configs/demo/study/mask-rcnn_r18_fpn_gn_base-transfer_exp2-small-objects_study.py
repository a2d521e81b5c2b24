# Experiment 2, default anchors: six categories of small objects (2.5-6 px in radius on 128 x 128
# images): frequent pink_circle, pink_square; common pink_triangle, pink_star; rare pink_cross,
# pink_diamond. mmdet's default anchors: one size per FPN level, 8 x the stride (32 px on P2 ...
# 512 px on P6). Otherwise Baseline+.
_base_ = './mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat_study.py'

classes = ('pink_circle', 'pink_square', 'pink_triangle', 'pink_star', 'pink_cross',
           'pink_diamond')
num_classes = len(classes)
metainfo = dict(classes=classes)
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = dict(dataset=dict(metainfo=metainfo))
model = dict(
    rpn_head=dict(anchor_generator=dict(scales=[8])),
    roi_head=dict(bbox_head=dict(num_classes=num_classes),
                  mask_head=dict(num_classes=num_classes)))
