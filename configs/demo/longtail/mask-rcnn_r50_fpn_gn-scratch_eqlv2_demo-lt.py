# Equalization loss v2 (mmdet's, scored with its own sigmoid activation).
_base_ = ['./mask-rcnn_r50_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=_base_.eqlv2_bbox_head))
