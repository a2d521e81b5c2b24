# Experiment 1, Baseline+++: Baseline+ with two more frequent categories.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'

classes = _base_.classes + ('tennis_racket', 'skateboard')
