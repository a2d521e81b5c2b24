# Federated sigmoid loss: per RoI only the classes positive or verified negative on its image.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
