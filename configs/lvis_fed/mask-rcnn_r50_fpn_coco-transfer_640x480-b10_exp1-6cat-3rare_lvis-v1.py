# Experiment 1, Baseline++: Baseline+ with three more rare categories.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py'

classes = _base_.classes + ('horse_buggy', 'armor', 'smoothie')
