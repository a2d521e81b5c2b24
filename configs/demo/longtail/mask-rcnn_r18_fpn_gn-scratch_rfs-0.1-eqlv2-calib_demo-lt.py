# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py, no
# training: the K foreground logits minus gamma * log f(c) before the head's activation, f from the
# checkpoint's training data ('file'). gamma chosen on the validation split (split='val' of the
# training file) by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset
# reads the whole file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt/cd63d6fe2135/seed0/epoch_3.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/rfs-0.1-eqlv2 --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.2304     0.0685     0.1868     0.3231  <- chosen
#       0.1     0.2327     0.0566     0.2100     0.3115
#       0.2     0.2316     0.0566     0.2137     0.3058
#       0.3     0.2294     0.0508     0.2210     0.2965
#       0.4     0.2330     0.0469     0.2512     0.2789
#       0.5     0.2261     0.0385     0.2501     0.2673
#       0.6     0.2245     0.0387     0.2585     0.2562
#       0.8     0.2244     0.0389     0.2708     0.2449
#         1     0.2548     0.0334     0.3710     0.2253
_base_ = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead',
    calibration=dict(gamma=0.0, freq_source='file'))))
