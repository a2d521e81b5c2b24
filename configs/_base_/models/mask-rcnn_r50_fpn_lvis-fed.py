# Mask R-CNN R50-FPN as the seed report used it: 256-channel FPN and mask head (mmdet's defaults,
# spelled out), and the LVIS test protocol: up to 300 detections per image with a score threshold
# low enough not to cut the precision-recall curve short.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    neck=dict(out_channels=256),
    roi_head=dict(mask_head=dict(in_channels=256, conv_out_channels=256)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
