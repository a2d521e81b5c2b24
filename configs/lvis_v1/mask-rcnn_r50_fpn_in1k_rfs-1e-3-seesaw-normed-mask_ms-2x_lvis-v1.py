# Seesaw loss (Wang et al. 2021), mmdet's recipe
# configs/seesaw_loss/mask-rcnn_r50_fpn_seesaw-loss-normed-mask_sample1e-3-ms-2x_lvis-v1.py:
# repeat-factor sampling t = 1e-3, 2x, p = 0.8, q = 2.0, a normalised linear classifier on the box
# head and a normalised 1x1 conv on the mask head (cosine logits x 20). FixedSeesawLoss is mmdet's
# SeesawLoss whose class counts grow in training mode only. Validation only after the last epoch,
# as mmdet's config has it.
_base_ = ['./mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(
    bbox_head=dict(cls_predictor_cfg=_base_.normed_linear,
                   loss_cls=dict(_base_.seesaw_loss, num_classes=_base_.num_classes)),
    mask_head=dict(predictor_cfg=_base_.normed_conv2d)))
train_cfg = dict(val_interval=24)
