# Effective class-margin loss (Cho and Kraehenbuehl, ECCV 2022): sigmoid BCE over K+1 logits whose
# per-class margins and weights follow from the class frequencies (the demo train file's
# image_count), with no long-tail hyper-parameter to tune. The authors' normalised classifiers on
# the box and mask heads (cosine logits x 20): a rare class's small weight norm no longer lowers
# its scores. Scored sigmoid x (1 - objectness) at test time, not softmax.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(
    bbox_head=dict(cls_predictor_cfg=_base_.normed_linear,
                   loss_cls=dict(_base_.ecm_loss, num_classes=_base_.num_classes)),
    mask_head=dict(predictor_cfg=_base_.normed_conv2d)))
