# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py, no training: the
# K foreground logits minus gamma * log f(c) before the head's activation, f from the checkpoint's
# training data ('file'). gamma chosen on the validation split (split='val' of the training file)
# by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset reads the whole
# file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_best_demo-lt/442387125fb9/seed0/epoch_3.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/best --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_best-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.2939     0.1101     0.2442     0.3992
#       0.1     0.2930     0.1101     0.2442     0.3974
#       0.2     0.2887     0.0934     0.2442     0.3934
#       0.3     0.2871     0.0859     0.2442     0.3923
#       0.4     0.2852     0.0859     0.2442     0.3880
#       0.5     0.2829     0.0859     0.2442     0.3829
#       0.6     0.3226     0.3192     0.2566     0.3823  <- chosen
#       0.8     0.3188     0.3192     0.2578     0.3728
#         1     0.3063     0.3192     0.2566     0.3462
_base_ = './mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_best_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    calibration=dict(gamma=0.6, freq_source='file'))))
