# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py, no
# training: the K foreground logits minus gamma * log f(c) before the head's activation, f from the
# checkpoint's training data ('file'). gamma chosen on the validation split (split='val' of the
# training file) by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset
# reads the whole file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt/dafde88845df/seed0/iter_300.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/rfs-0.1-ecm --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.0810     0.0354     0.0797     0.0973
#       0.1     0.0817     0.0405     0.0790     0.0979
#       0.2     0.0796     0.0405     0.0788     0.0933
#       0.3     0.0795     0.0409     0.0814     0.0908
#       0.4     0.0804     0.0415     0.0862     0.0883
#       0.5     0.0798     0.0487     0.0852     0.0853  <- chosen
#       0.6     0.0796     0.0487     0.0888     0.0816
#       0.8     0.0710     0.0361     0.0912     0.0645
#         1     0.0566     0.0300     0.0657     0.0572
_base_ = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead',
    calibration=dict(gamma=0.5, freq_source='file'))))
