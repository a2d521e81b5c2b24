# Experiment 1 (Baseline+) with the equalization loss, lambda = 0.00177 on LVIS v1's image counts.
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=_base_.eql_bbox_head))
