# A small Mask R-CNN for the CPU studies: ResNet-18 + FPN with GroupNorm (trainable from scratch
# on small batches), 128-channel FPN, RPN and RoI heads, a 512-wide box head and a 2-conv mask
# head, anchors of 16 px at stride 4 (scales=[4]) for small rendered shapes, 64 sampled RoIs per
# image, and at test time 300 proposals and up to 100 detections per image. The experiment config
# states K (num_classes) of both heads.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

ch = 128
norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=ch, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=ch, feat_channels=ch, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=ch),
        bbox_head=dict(in_channels=ch, fc_out_channels=512),
        mask_roi_extractor=dict(out_channels=ch),
        mask_head=dict(in_channels=ch, num_convs=2, conv_out_channels=128, norm_cfg=norm_cfg)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=300),
                  rcnn=dict(score_thr=0.0001, max_per_img=100)))
