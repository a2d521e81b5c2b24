# Repeat-factor sampling (t = 0.5, as ./mask-rcnn_r18_fpn_base-frozen_rfs_150it_study-9cat.py) with
# the best of the losses alone: Seesaw with a normalised classifier had the highest box APr and
# mask APr of the four losses (README's table; it is also mmdet's own LVIS recipe, RFS + Seesaw).
# Seesaw counts its class statistics online, on the resampled stream.
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py',
          '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=_base_.normed_linear,
    loss_cls=dict(_base_.seesaw_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(sampler=dict(_base_.rfs_sampler, repeat_thr=0.5))
