# Experiment 1 (Baseline+) with the equalization loss, lambda = 0.00177 on LVIS v1's image counts.
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.eql_loss, num_classes=_base_.num_classes))))
