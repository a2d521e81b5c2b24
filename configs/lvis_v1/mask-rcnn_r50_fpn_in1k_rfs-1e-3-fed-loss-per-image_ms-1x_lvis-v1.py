# The per-image federated loss on the baseline: sigmoid BCE over the K = 1203 class logits where
# an RoI on image I is taught only the classes annotated on I or in its neg_category_ids (nobody
# looked for the others there), and a class in its not_exhaustive_category_ids keeps its positive
# terms but loses its negative ones (unknown='exclude'). FedRoIHead hands the lists, which
# PackDetInputs keeps in the train pipeline (fed_meta_keys, ../_base_/datasets/
# lvis-v1_instance.py), to the box head.
_base_ = ['./mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py', '../_base_/longtail.py']

model = dict(roi_head=dict(type='FedRoIHead', bbox_head=dict(
    type='FedBBoxHead', loss_cls=dict(_base_.fed_loss, num_classes=_base_.num_classes))))
