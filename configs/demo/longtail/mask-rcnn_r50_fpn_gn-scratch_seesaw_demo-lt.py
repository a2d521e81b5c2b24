# Seesaw loss with a normalised linear classifier (mmdet's, with its statistics frozen outside
# training).
_base_ = ['./mask-rcnn_r50_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=_base_.seesaw_bbox_head))
