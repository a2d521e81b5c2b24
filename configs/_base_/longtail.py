# Long-tail remedies as named pieces; an experiment config picks them, e.g.
#     _base_ = ['./baseline.py', '<...>/_base_/longtail.py']
#     model = dict(roi_head=_base_.fed_roi_head)
# Class-loss num_classes=None is filled with the head's K when the run starts (LVISFedRunner).

# Repeat-factor sampling: r(c) = max(1, sqrt(repeat_thr / f(c))), f counted over the training
# subset. Choose repeat_thr on the subset's scale (mmdet_lvis_fed/datasets/repeat_factors.py):
# LVIS's 1e-3 repeats nothing on a few thousand images.
rfs_sampler = dict(_delete_=True, type='RepeatFactorSampler', repeat_thr=0.1,
                   freq_source='subset')

# Federated loss: sigmoid BCE over K logits, per RoI only the classes positive or verified negative
# on its image (FedRoIHead hands FedBBoxHead each image's lists).
fed_roi_head = dict(
    type='FedRoIHead',
    bbox_head=dict(type='FedBBoxHead',
                   loss_cls=dict(_delete_=True, type='FederatedSigmoidLoss', num_classes=None,
                                 unknown='exclude')))

# EQL (Tan et al. 2020): sigmoid BCE whose negative terms from other classes' foreground RoIs are
# dropped for tail classes (image share f < lambda_, from the file's image_count).
eql_bbox_head = dict(type='FedBBoxHead',
                     loss_cls=dict(_delete_=True, type='EQLLoss', num_classes=None,
                                   lambda_=0.00177))

# Seesaw (Wang et al. 2021) with a normalised classifier; mmdet's keyword is spelled tempearture.
seesaw_bbox_head = dict(
    cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
    loss_cls=dict(_delete_=True, type='FixedSeesawLoss', p=0.8, q=2.0, num_classes=None,
                  loss_weight=1.0))

# EQLv2 (Tan et al. 2021); use_distributed=True on several GPUs.
eqlv2_bbox_head = dict(
    loss_cls=dict(_delete_=True, type='FixedEQLV2Loss', num_classes=None,
                  use_distributed=False, mu=0.8, alpha=4.0, gamma=12))
