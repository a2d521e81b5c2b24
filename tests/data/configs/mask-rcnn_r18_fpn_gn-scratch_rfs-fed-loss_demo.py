# The tests' small demo model with repeat-factor sampling and the federated loss, trained on the
# not-exhaustive images too.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_demo.py', '../../../configs/_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(sampler=_base_.rfs_sampler, dataset=dict(not_exhaustive='keep'))
