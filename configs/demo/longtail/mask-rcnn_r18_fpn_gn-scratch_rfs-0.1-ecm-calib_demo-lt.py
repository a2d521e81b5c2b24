# Test-time calibration (NorCal) of mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py, no
# training: the K foreground logits minus gamma * log f(c) before the head's activation, f from the
# checkpoint's training data ('file'). gamma chosen on the validation split (split='val' of the
# training file) by box APr, with box APf at most 0.02 below gamma = 0's (the training dataset
# reads the whole file: these images were trained on); written (and to choose again, re-run) by
#     python tools/calibrate.py configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py work_dirs/ablation/configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt/7c2ba7e741e0/seed0/epoch_3.pth --metric APr --gammas 0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1.0 --work-dir work_dirs/calibrate/rfs-0.1-ecm --out-config configs/demo/longtail/mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm-calib_demo-lt.py
# tools/ablate.py tests this config with the checkpoint of retest_of's run (same seed).
#
#     gamma     box AP    box APr    box APc    box APf
#         0     0.2657     0.0515     0.2925     0.3131
#       0.1     0.2658     0.0587     0.2911     0.3124
#       0.2     0.2712     0.0726     0.3033     0.3089
#       0.3     0.2710     0.0726     0.3053     0.3067
#       0.4     0.2772     0.0674     0.3301     0.3000
#       0.5     0.2543     0.0941     0.2692     0.2945  <- chosen
#       0.6     0.2544     0.0941     0.2720     0.2922
#       0.8     0.2460     0.0917     0.2839     0.2638
#         1     0.2277     0.0530     0.2751     0.2438
_base_ = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py'
retest_of = './mask-rcnn_r18_fpn_gn-scratch_rfs-0.1-ecm_demo-lt.py'

model = dict(roi_head=dict(bbox_head=dict(
    type='CalibratedBBoxHead',
    calibration=dict(gamma=0.5, freq_source='file'))))
