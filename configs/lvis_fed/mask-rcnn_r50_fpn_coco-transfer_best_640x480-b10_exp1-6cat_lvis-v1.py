# Experiment 1 (Baseline+) with the combination that did best in the first demo ablation:
# repeat-factor sampling (LVIS's t = 1e-3 on the file's f) with the federated loss, trained on
# not-exhaustive images too.
_base_ = ['./mask-rcnn_r50_fpn_coco-transfer_640x480-b10_exp1-6cat_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
train_dataloader = dict(sampler=dict(_base_.rfs_sampler, repeat_thr=1e-3, freq_source='file'),
                        dataset=dict(not_exhaustive='keep'))
