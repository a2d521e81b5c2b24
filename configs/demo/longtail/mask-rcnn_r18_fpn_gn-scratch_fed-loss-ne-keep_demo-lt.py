# Federated loss, and training also on the images where a category is not exhaustively annotated:
# their unannotated instances are not taught as background, because a not-exhaustive class keeps
# only its positive terms. The test split is unchanged (not_exhaustive='exclude' there).
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(dataset=dict(not_exhaustive='keep'))
