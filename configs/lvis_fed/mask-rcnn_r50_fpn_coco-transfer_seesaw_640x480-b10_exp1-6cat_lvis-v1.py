# Experiment 1 (Baseline+) with the Seesaw loss and a normalised classifier.
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    cls_predictor_cfg=_base_.normed_linear,
    loss_cls=dict(_base_.seesaw_loss, num_classes=_base_.num_classes))))
