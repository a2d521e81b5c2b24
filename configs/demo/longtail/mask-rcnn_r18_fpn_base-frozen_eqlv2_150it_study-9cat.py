# Equalization loss v2 (Tan et al. 2021; mmdet's, scored with its own sigmoid activation): each
# class's gradients re-weighed by its accumulated positive/negative gradient ratio.
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(_base_.eqlv2_loss, num_classes=_base_.num_classes))))
