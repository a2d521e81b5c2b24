# Repeat-factor sampling (t = 0.1) with Seesaw loss and a normalised classifier: mmdet's own best
# LVIS recipe (configs/seesaw_loss, RFS 2x: +2 box AP over uniform sampling). Seesaw counts its
# class statistics online, so it sees the resampled counts and mitigates less than without RFS.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=_base_.normed_linear,
    loss_cls=dict(_base_.seesaw_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(sampler=_base_.rfs_sampler)
