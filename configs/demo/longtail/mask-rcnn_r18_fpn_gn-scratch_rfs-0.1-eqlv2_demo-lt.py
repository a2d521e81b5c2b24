# Repeat-factor sampling (t = 0.1, as in ./mask-rcnn_r18_fpn_gn-scratch_rfs-0.1_demo-lt.py) with
# EQLv2. They act at two levels: RFS shows the rare classes' images more often, EQLv2 re-weighs
# each class's gradients by its accumulated positive/negative ratio. The gradient statistics are
# collected on the resampled stream, so they are less skewed than without RFS.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(_base_.eqlv2_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(sampler=_base_.rfs_sampler)
