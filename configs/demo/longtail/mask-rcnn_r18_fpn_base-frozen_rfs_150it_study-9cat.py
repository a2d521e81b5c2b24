# Repeat-factor sampling (Gupta et al. 2019): r(c) = max(1, sqrt(t / f(c))), f(c) the share of the
# training images holding c, drawn as detectron2 does (floor(r) + Bernoulli(frac) copies per
# epoch). LVIS's t = 1e-3 sits at its frequent threshold (100 of ~100k images); here the
# frequent categories hold 20-23 of the 39 training images, so t = 0.5: a rare category in 1
# image is repeated sqrt(0.5 / (1/39)) = 4.4 times, a common one in 5-6 images 1.8-1.9 times,
# a frequent one not at all.
_base_ = ['./mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py', '../../_base_/longtail.py']

train_dataloader = dict(sampler=dict(_base_.rfs_sampler, repeat_thr=0.5))
