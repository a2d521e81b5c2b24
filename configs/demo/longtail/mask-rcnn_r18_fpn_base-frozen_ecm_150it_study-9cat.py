# Effective class-margin loss (Cho and Kraehenbuehl, ECCV 2022): sigmoid BCE over K+1 logits whose
# per-class margins and weights follow from the class frequencies (the train file's
# image_count), with no long-tail hyper-parameter; the authors' normalised classifiers on the box
# and mask heads. Scored sigmoid x (1 - objectness) at test time, not softmax.
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(
    bbox_head=dict(cls_predictor_cfg=_base_.normed_linear,
                   loss_cls=dict(_base_.ecm_loss, num_classes=_base_.num_classes)),
    mask_head=dict(predictor_cfg=_base_.normed_conv2d)))
