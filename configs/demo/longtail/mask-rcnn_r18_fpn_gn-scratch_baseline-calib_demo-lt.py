# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py, no training:
# the K foreground logits minus gamma * log f(c) before the head's activation, f from the
# checkpoint's training data ('file'). gamma chosen on the validation split (split='val' of the
# training file) by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset
# reads the whole file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt/90f1631e8016/seed0/epoch_3.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/baseline --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_baseline-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.2145     0.0000     0.1494     0.3438  <- chosen
#       0.1     0.2114     0.0000     0.1475     0.3387
#       0.2     0.2086     0.0000     0.1574     0.3237
#       0.3     0.1954     0.0000     0.1244     0.3236
#       0.4     0.1917     0.0000     0.1268     0.3132
#       0.5     0.2047     0.0000     0.1675     0.3060
#       0.6     0.1989     0.0000     0.1682     0.2926
#       0.8     0.1820     0.0000     0.1494     0.2717
#         1     0.1356     0.0000     0.0670     0.2417
_base_ = './mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead',
    calibration=dict(gamma=0.0, freq_source='file'))))
