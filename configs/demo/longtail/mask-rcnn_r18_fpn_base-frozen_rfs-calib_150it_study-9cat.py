# Test-time calibration (NorCal, Pan et al. 2021) of the best trained row, RFS (the highest box
# APr of the table), no training: the K foreground logits minus gamma * log f(c) before the
# softmax, f from the checkpoint's training data (image_count of the train file). tools/ablate.py
# tests it with the checkpoint of retest_of's run (same seed).
# gamma was chosen on the validation split, which the model was not trained on (split='val' of the
# train file), by box AP: its rare group is one instance of orange_cross, a category with no
# training image, so APr is 0 at every gamma and cannot choose. To choose again:
#     python tools/calibrate.py <the RFS config> <its seed-0 checkpoint> --metric AP
_base_ = './mask-rcnn_r18_fpn_base-frozen_rfs_150it_study-9cat.py'
retest_of = './mask-rcnn_r18_fpn_base-frozen_rfs_150it_study-9cat.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead', calibration=dict(gamma=0.4, freq_source='file'))))
