# Long-tail remedies as named pieces. An experiment config inherits this file beside its family
# base, picks pieces and states K where a loss takes it, e.g.
#     _base_ = ['./<family base>.py', '<...>/_base_/longtail.py']
#     model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
#         type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
# Nothing here is completed at run time: a class loss without num_classes does not build.

# Repeat-factor sampling: r(c) = max(1, sqrt(repeat_thr / f(c))). freq_source='subset' counts f
# over the training images; 'file' takes LVIS's own f (image_count over the images it was counted
# on, mmdet_lvis_fed/datasets/frequency.py). Choose repeat_thr on the scale of f: LVIS's 1e-3
# repeats nothing on a few thousand images counted as a subset.
rfs_sampler = dict(_delete_=True, type='RepeatFactorSampler', repeat_thr=0.1,
                   freq_source='subset')

# Federated loss, under type='FedRoIHead' and a bbox head of type='FedBBoxHead' (FedRoIHead hands
# it each image's lists): sigmoid BCE over K logits where an RoI is taught only the classes
# positive or verified negative on its image.
fed_loss = dict(_delete_=True, type='FederatedSigmoidLoss', unknown='exclude')

# EQL (Tan et al. 2020), under a FedBBoxHead: sigmoid BCE whose negative terms from other classes'
# foreground RoIs are dropped for tail classes (f < lambda_, f from the training file's
# image_count). 0.00177 is LVIS v1's value; a small file needs one on its own scale.
eql_loss = dict(_delete_=True, type='EQLLoss', lambda_=0.00177, freq_source='file')

# Seesaw (Wang et al. 2021) with a normalised classifier; mmdet's keyword is spelled tempearture.
# normed_conv2d is the mask head's counterpart (mask_head=dict(predictor_cfg=...)).
normed_linear = dict(type='NormedLinear', tempearture=20)
normed_conv2d = dict(type='NormedConv2d', tempearture=20)
seesaw_loss = dict(_delete_=True, type='FixedSeesawLoss', p=0.8, q=2.0, loss_weight=1.0)

# EQLv2 (Tan et al. 2021); use_distributed=True on several GPUs.
eqlv2_loss = dict(_delete_=True, type='FixedEQLV2Loss', use_distributed=False, mu=0.8, alpha=4.0,
                  gamma=12)

# ECM, effective class-margin loss (Cho and Kraehenbuehl 2022): sigmoid BCE over K+1 logits (the
# last one objectness) with per-class margins and weights that follow from the class frequencies,
# no long-tail hyper-parameter; scored sigmoid x (1 - objectness). On the stock box head with the
# authors' normalised classifiers:
#     bbox_head=dict(cls_predictor_cfg=_base_.normed_linear,
#                    loss_cls=dict(_base_.ecm_loss, num_classes=_base_.num_classes)),
#     mask_head=dict(predictor_cfg=_base_.normed_conv2d)
# fg_bg_ratio = background RoIs / foreground RoIs, the authors' measure on Mask R-CNN.
ecm_loss = dict(_delete_=True, type='ECMLoss', fg_bg_ratio=6.3313, freq_source='file',
                loss_weight=1.0)

# Test-time calibration (NorCal, Pan et al. 2021): the K foreground logits minus gamma * log f(c)
# before the head's activation, i.e. softmax p_c / f_c^gamma renormalised (background untouched),
# sigmoid odds / f_c^gamma; gamma = 0 is the plain model. f comes from the checkpoint's training
# data (ClassFrequencyHook). On the stock head (softmax, EQLv2, Seesaw, ECM)
#     bbox_head=dict(type='CalibratedBBoxHead', calibration=_base_.calibration)
# and on a FedBBoxHead (federated loss, EQL) bbox_head=dict(calibration=_base_.calibration).
# Choose gamma on the validation split, not here: tools/calibrate.py CONFIG CHECKPOINT sweeps it
# and writes the calibrated config.
calibration = dict(gamma=0.5, freq_source='file')

# Copy-paste (Ghiasi et al. 2021) that keeps the federated lists true, in mmdet's
# MultiImageMixDataset: a config wraps its training dataset, giving the inner dataset a pipeline
# that loads, scale-jitters and crops back to its own image size (sizes differ by family, see
# configs/demo/longtail/*copy-paste*), and the wrapper this mixing pipeline (then PackDetInputs
# with the federated meta_keys).
copy_paste_mix_pipeline = [
    dict(type='FedCopyPaste', max_num_pasted=100),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
]
