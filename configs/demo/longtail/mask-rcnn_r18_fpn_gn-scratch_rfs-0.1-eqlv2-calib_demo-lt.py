# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py, no
# training: the K foreground logits minus gamma * log f(c) before the head's activation, f from the
# checkpoint's training data ('file'). gamma chosen on the validation split (split='val' of the
# training file) by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset
# reads the whole file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt/84f7c5520743/seed0/iter_300.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/rfs-0.1-eqlv2 --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.0981     0.0016     0.1104     0.1192  <- chosen
#       0.1     0.0951     0.0009     0.1150     0.1089
#       0.2     0.0944     0.0007     0.1145     0.1077
#       0.3     0.0918     0.0006     0.1159     0.1009
#       0.4     0.0899     0.0342     0.1163     0.0849
#       0.5     0.0929     0.0451     0.1267     0.0789
#       0.6     0.0914     0.0517     0.1214     0.0780
#       0.8     0.0937     0.0513     0.1237     0.0812
#         1     0.0951     0.0513     0.1207     0.0868
_base_ = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-eqlv2_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead',
    calibration=dict(gamma=0.0, freq_source='file'))))
