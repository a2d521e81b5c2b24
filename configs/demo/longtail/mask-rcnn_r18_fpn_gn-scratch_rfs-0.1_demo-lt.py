# Repeat-factor sampling. On the demo's 600 training images a rare category in 3 images has
# f = 0.005: t = 0.1 repeats its images sqrt(0.1 / 0.005) = 4.5 times on average, a common one in
# 20 images 1.7 times, frequent ones (f > 0.17) not at all. LVIS's t = 1e-3 would repeat nothing.
_base_ = ['./mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py', '../../_base_/longtail.py']

train_dataloader = dict(sampler=_base_.rfs_sampler)
