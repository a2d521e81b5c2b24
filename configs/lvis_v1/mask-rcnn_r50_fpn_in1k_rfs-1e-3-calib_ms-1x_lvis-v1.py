# Test-time calibration (NorCal, Pan et al. 2021) of the 1x baseline, no training: the 1,203
# foreground logits minus gamma * log f(c) before the softmax (p_c / f_c^gamma renormalised,
# background untouched), f from the checkpoint's training data (LVIS's image_count / 100,170,
# freq_source='file'). Test it with the baseline's checkpoint (retest_of):
#     mim test mmdet THIS_CONFIG --checkpoint <baseline's epoch_12.pth>
# gamma = 0.5 is stated, not chosen: choose it for the checkpoint at hand with
#     python tools/calibrate.py \
#         configs/lvis_v1/mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py CKPT
# which writes the calibrated config with the chosen gamma. Its validation split is split='val'
# of the training file, and this family trains on the whole file (split=None): those images were
# trained on, and the tool says so. gamma = 0 is the baseline bit for bit.
_base_ = './mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py'
retest_of = './mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead', calibration=dict(gamma=0.5, freq_source='file'))))
