# Effective class-margin loss (Cho and Kraehenbuehl 2022), the authors' recipe
# (janghyuncho/ECM-Loss configs/effective_class_margin_loss/r50_ecm_1x.py on mmdet's LVIS v1 base
# with repeat-factor sampling t = 1e-3): sigmoid BCE over K+1 logits with per-class margins and
# weights from LVIS's image counts (freq_source='file', ClassFrequencyHook), fg_bg_ratio 6.3313;
# normalised box and mask classifiers (cosine logits x 20); scored sigmoid x (1 - objectness).
# Their optimiser differs from mmdet's 1x in two places, kept here: gradients clipped to norm 5
# (detectron2's default, they note) and a 10,000-iteration linear warmup from lr x 1e-4.
_base_ = ['./mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(
    bbox_head=dict(cls_predictor_cfg=_base_.normed_linear,
                   loss_cls=dict(_base_.ecm_loss, num_classes=_base_.num_classes)),
    mask_head=dict(predictor_cfg=_base_.normed_conv2d)))
optim_wrapper = dict(clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=10000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
