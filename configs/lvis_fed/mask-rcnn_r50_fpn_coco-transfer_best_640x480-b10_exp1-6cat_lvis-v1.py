# Experiment 1 (Baseline+) with the combination that did best in the demo ablation (README):
# repeat-factor sampling with the federated loss, trained on not-exhaustive images too.
_base_ = './mask-rcnn_r50_fpn_coco-transfer_fed-loss-ne-keep_640x480-b10_exp1-6cat_lvis-v1.py'

train_dataloader = dict(sampler=dict(_base_.rfs_sampler, repeat_thr=1e-3, freq_source='file'))
