# The best combination of the first round: repeat-factor sampling with the federated loss, trained
# on not-exhaustive images too.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(sampler=_base_.rfs_sampler, dataset=dict(not_exhaustive='keep'))
