# Federated sigmoid loss: per RoI only the classes positive or verified negative on its image.
_base_ = ['./mask-rcnn_r50_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

model = dict(roi_head=_base_.fed_roi_head)
