# Equalization loss v2 (Tan et al. 2021), the authors' recipe (tztztztztz/eqlv2
# configs/end2end/eqlv2_r50_8x2_1x.py): 1x, multi-scale, and no repeat-factor sampling (their
# baseline sets oversample_thr=0.0): EQLv2's published 23.7 mask AP is measured with uniform
# sampling, so the sampler here is mmdet's DefaultSampler. mu = 0.8, alpha = 4, gamma = 12.
# FixedEQLV2Loss is mmdet's EQLV2Loss scored with its own sigmoid x (1 - objectness) and with
# gradient statistics gathered in training only. use_distributed=True sums them over the GPUs every
# step, as the authors' loss always does; it needs a distributed launch (set it False for a
# single-process run, e.g. `mim train` without --launcher).
_base_ = ['./mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    loss_cls=dict(_base_.eqlv2_loss, num_classes=_base_.num_classes, use_distributed=True),
    # The authors start the sigmoid classifier at the prior 0.001 (their ConvFCBBoxHead:
    # normal_init(fc_cls, std=0.01, bias=bias_init_with_prob(0.001))); mmdet's head starts the
    # bias at 0, i.e. a loss of 1,204 x ln 2 per RoI at the first step. mmdet's other two
    # initialisers are restated because this list replaces them.
    init_cfg=[
        dict(type='Normal', std=0.01, bias_prob=0.001, override=dict(name='fc_cls')),
        dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
        dict(type='Xavier', distribution='uniform',
             override=[dict(name='shared_fcs'), dict(name='cls_fcs'), dict(name='reg_fcs')]),
    ])))
train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
