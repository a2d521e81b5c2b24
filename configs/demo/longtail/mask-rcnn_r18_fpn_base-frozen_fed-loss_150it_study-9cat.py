# The federated loss fed each image's lists: sigmoid BCE where an RoI is taught only the classes
# positive or verified negative (neg_category_ids) on its image, the rest of the vocabulary left
# alone (FedRoIHead hands the lists to the FedBBoxHead).
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
