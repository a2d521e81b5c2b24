# Equalization loss v2 (mmdet's, scored with its own sigmoid activation).
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(_base_.eqlv2_loss, num_classes=_base_.num_classes))))
