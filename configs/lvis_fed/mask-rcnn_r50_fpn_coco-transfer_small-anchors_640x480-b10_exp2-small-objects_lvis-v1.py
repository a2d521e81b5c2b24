# Experiment 2, small anchors of sizes 2, 4, 8, 16, 32, 64 instead of mmdet's 32 ... 512.
#
# How sizes map to mmdet's AnchorGenerator: on FPN level l (stride s_l = 4, 8, 16, 32, 64) an
# anchor is base_size_l * scale wide and high at ratio 1 (w = size / sqrt(r), h = size * sqrt(r) at
# ratio r), centred on every s_l-th pixel. The default is base_size = stride, scales=[8]: one size
# per level, 32 (P2) ... 512 (P6). Here base_sizes = 2, 4, 8, 16, 32 with scales=[1, 2] give two
# sizes per level, {2, 4} on P2 up to {32, 64} on P6: the six sizes asked for, three ratios each
# (6 anchors per position, so the COCO RPN's class/box convs no longer fit and are re-initialised;
# the transfer log says so).
#
# Why the smallest barely cover a stride-4 grid: P2 places one anchor centre every 4 px, so a 2x2
# anchor covers a quarter of its 4x4 cell and a 4x4 one exactly the cell. An object a few pixels
# wide that sits between centres overlaps no anchor by the RPN's positive IoU of 0.7 (a 2x2 box
# shifted by 1 px already has IoU 1/3 with its anchor); it is learnt only through the assigner's
# low-quality match of each ground truth to its best anchor. Finer anchors than the stride add
# scales, not positions.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp2-small-objects_lvis-v1.py'

model = dict(
    rpn_head=dict(anchor_generator=dict(
        type='AnchorGenerator', strides=[4, 8, 16, 32, 64], base_sizes=[2, 4, 8, 16, 32],
        scales=[1, 2], ratios=[0.5, 1.0, 2.0])))
