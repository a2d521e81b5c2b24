# The sampled federated loss of Zhou et al. 2021 (CenterNet2's LVIS entry; detectron2's
# FED_LOSS_NUM_CLASSES = 50, FED_LOSS_FREQ_WEIGHT_POWER = 0.5) on the baseline: sigmoid BCE over
# the K = 1203 class logits, where each batch teaches only the classes of its foreground RoIs plus
# classes drawn without replacement with p ~ image_count^0.5 (LVIS's counts, freq_source='file',
# set by ClassFrequencyHook), 50 in all. The stock RoI head, not FedRoIHead: the set is shared by
# the batch (unknown='sample' without per-image lists), as in the paper. FedBBoxHead only starts
# the classifier bias at the prior 0.01, as detectron2 does for its sigmoid classifier.
_base_ = ['./mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(bbox_head=dict(
    type='FedBBoxHead',
    loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes, unknown='sample',
                  num_sampled=50, freq_weight_power=0.5, freq_source='file'))))
