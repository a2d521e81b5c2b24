# Equalization loss. lambda_ on the demo file's scale: f < 0.167 (fewer than 100 of its 600
# training images) marks the rare and common classes as the tail, as LVIS's 1.76e-3 does for
# categories in fewer than ~100 of its 57k (v0.5) images.
_base_ = ['./mask-rcnn_r50_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

eql = _base_.eql_bbox_head
model = dict(roi_head=dict(bbox_head=dict(eql, loss_cls=dict(eql.loss_cls, lambda_=0.167))))
