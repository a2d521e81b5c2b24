# Experiment 1, Baseline: only the backbone comes from the pretrained detector (the report's
# "ResNet-50 pretrained on ImageNet"); FPN, RPN and RoI heads start from random initialisation.
_base_ = './mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat_study.py'

custom_hooks = [
    dict(type='ValidationLossHook', patience=3),
    dict(type='TransferWeightsHook', checkpoint=_base_.pretrained, modules=('backbone', )),
]
