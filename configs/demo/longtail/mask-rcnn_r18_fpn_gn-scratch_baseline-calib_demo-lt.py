# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py, no training:
# the K foreground logits minus gamma * log f(c) before the head's activation, f from the
# checkpoint's training data ('file'). gamma chosen on the validation split (split='val' of the
# training file) by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset
# reads the whole file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt/114296b437f2/seed0/iter_300.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/baseline --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_baseline-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.1070     0.0000     0.0362     0.2056  <- chosen
#       0.1     0.1047     0.0000     0.0345     0.2021
#       0.2     0.1012     0.0000     0.0313     0.1971
#       0.3     0.0969     0.0000     0.0293     0.1893
#       0.4     0.0964     0.0000     0.0314     0.1864
#       0.5     0.0883     0.0000     0.0210     0.1775
#       0.6     0.0792     0.0000     0.0124     0.1650
#       0.8     0.0621     0.0000     0.0076     0.1312
#         1     0.0485     0.0000     0.0036     0.1046
_base_ = './mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead',
    calibration=dict(gamma=0.0, freq_source='file'))))
