# Repeat-factor sampling (t = 0.1) with the effective class-margin loss and normalised classifiers:
# the authors' strongest 1x recipe on LVIS v1 (Mask R-CNN R50-FPN, 26.4 mask AP). The margins keep
# the file's frequencies (freq_source='file'), not the resampled ones, as the authors' counts do.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(
    bbox_head=dict(cls_predictor_cfg=_base_.normed_linear,
                   loss_cls=dict(_base_.ecm_loss, num_classes=_base_.num_classes)),
    mask_head=dict(predictor_cfg=_base_.normed_conv2d)))
train_dataloader = dict(sampler=_base_.rfs_sampler)
