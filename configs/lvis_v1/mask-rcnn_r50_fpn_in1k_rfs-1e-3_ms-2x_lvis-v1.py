# The LVIS v1 baseline on mmdet's 2x schedule: 24 epochs, lr x0.1 after epochs 16 and 22 (mmdet's
# mask-rcnn_r50_fpn_sample1e-3_ms-2x recipe, published for LVIS v0.5; its v1 config is 1x).
# Everything else as mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_lvis-fed.py',
    '../_base_/datasets/lvis-v1_instance.py',
    'mmdet::_base_/schedules/schedule_2x.py',
    '../_base_/default_runtime.py',
]

num_classes = 1203          # every category of the LVIS v1 files: the datasets name none
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes),
                           mask_head=dict(num_classes=num_classes)))
