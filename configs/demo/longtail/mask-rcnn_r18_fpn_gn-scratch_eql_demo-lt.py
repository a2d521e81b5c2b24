# Equalization loss. lambda_ on the demo file's scale: f < 0.167 (fewer than 100 of its 600
# training images) marks the rare and common classes as the tail, as LVIS's 1.77e-3 does for
# categories in fewer than ~100 of its 57k (v0.5) images.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    type='FedBBoxHead',
    loss_cls=dict(_base_.eql_loss, num_classes=_base_.num_classes, lambda_=0.167))))
