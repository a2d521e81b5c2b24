# The best combination on the demo ablation: repeat-factor sampling with the federated loss
# trained on not-exhaustive images too.
_base_ = './mask-rcnn_r50_fpn_gn-scratch_fed-loss-ne-keep_demo-lt.py'    # has the longtail pieces

train_dataloader = dict(sampler=_base_.rfs_sampler)
