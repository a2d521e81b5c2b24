# Experiment 1 (Baseline+) with the federated loss, also training on images where a chosen category
# is not exhaustively annotated (their missing instances are not taught as background); the
# validation and test splits are unchanged.
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(dataset=dict(not_exhaustive='keep'))
