# The tests' small demo model with test-time calibration (NorCal) on its softmax box head.
_base_ = './mask-rcnn_r18_fpn_gn-scratch_demo.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead', calibration=dict(gamma=0.0, freq_source='file'))))
