# The federated test model calibrated at test time (its FedBBoxHead takes the calibration).
_base_ = './mask-rcnn_r18_fpn_gn-scratch_rfs-fed-loss_demo.py'

model = dict(roi_head=dict(bbox_head=dict(calibration=dict(gamma=0.0, freq_source='file'))))
