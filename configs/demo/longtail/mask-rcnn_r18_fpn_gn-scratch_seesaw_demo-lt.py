# Seesaw loss with a normalised linear classifier (mmdet's, with its statistics frozen outside
# training).
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=_base_.normed_linear,
    loss_cls=dict(_base_.seesaw_loss, num_classes=_base_.num_classes))))
