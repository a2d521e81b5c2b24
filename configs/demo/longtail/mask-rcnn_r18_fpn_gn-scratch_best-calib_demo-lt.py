# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py, no training: the
# K foreground logits minus gamma * log f(c) before the head's activation, f from the checkpoint's
# training data ('file'). gamma chosen on the validation split (split='val' of the training file)
# by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset reads the whole
# file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_best_demo-lt/c68c8830ebe7/seed0/iter_300.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/best --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_best-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.0720     0.0000     0.0378     0.1263
#       0.1     0.0684     0.0000     0.0297     0.1255
#       0.2     0.0696     0.0000     0.0329     0.1253
#       0.3     0.0766     0.0337     0.0378     0.1254
#       0.4     0.0762     0.0337     0.0386     0.1239
#       0.5     0.0750     0.0337     0.0369     0.1225
#       0.6     0.0782     0.0337     0.0458     0.1219
#       0.8     0.0752     0.0384     0.0458     0.1137  <- chosen
#         1     0.0580     0.0337     0.0255     0.0951
_base_ = './mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    calibration=dict(gamma=0.8, freq_source='file'))))
