# Experiment 1 (Baseline+) with repeat-factor sampling at LVIS's own threshold: f from the file
# (freq_source='file': image_count over the images it was counted on), where t = 1e-3 repeats
# categories in fewer than ~100 of LVIS v1's 100k training images (rare ones about 3x). Counted
# over the subset, 1e-3 would repeat nothing (mmdet_lvis_fed/datasets/repeat_factors.py).
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

train_dataloader = dict(sampler=dict(_base_.rfs_sampler, repeat_thr=1e-3, freq_source='file'))
