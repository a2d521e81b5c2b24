# Experiment 2, small anchors of 2, 4, 8, 16, 32 and 64 px instead of the default 32 ... 512.
# On FPN level l (stride s_l = 4, 8, 16, 32, 64) an anchor is base_size_l * scale on a side at
# ratio 1: base_sizes 2, 4, 8, 16, 32 with scales [1, 2] give {2, 4} on P2 up to {32, 64} on P6,
# three ratios each: 6 anchors per position, so the pretrained RPN's class and box convs (3 anchors)
# no longer fit and are re-initialised (the transfer log names them). P2 places an anchor centre
# every 4 px, so a 2 x 2 anchor covers a quarter of its cell: anchors finer than the stride add
# scales, not positions (see the same experiment in configs/lvis_fed/ for the arithmetic).
_base_ = './mask-rcnn_r18_fpn_gn_base-transfer_exp2-small-objects_study.py'

model = dict(
    rpn_head=dict(anchor_generator=dict(
        type='AnchorGenerator', strides=[4, 8, 16, 32, 64], base_sizes=[2, 4, 8, 16, 32],
        scales=[1, 2], ratios=[0.5, 1.0, 2.0])))
