# Seesaw loss (Wang et al. 2021) with a normalised linear classifier (mmdet's, its class counts
# frozen outside training).
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=_base_.normed_linear,
    loss_cls=dict(_base_.seesaw_loss, num_classes=_base_.num_classes))))
