# The embedded demo data (tools/make_demo_data.py, `make demo` renders it into data/demo/): LVIS v1
# layout, 160 x 160 images of 24 shape categories, long-tailed in its train file (9 frequent, 9
# common, 6 rare by LVIS's rule on image counts) and federated (neg_category_ids,
# not_exhaustive_category_ids). The official-style val file is the demo's test split.
_base_ = './lvis-fed_instance.py'

data_root = 'data/demo/'
img_scale = (160, 160)
# Every category of the demo files, in id order (labels 0..23).
classes = ('red_circle', 'red_square', 'red_triangle', 'red_star', 'red_cross', 'red_ring',
           'red_diamond', 'red_hexagon', 'green_circle', 'green_square', 'green_triangle',
           'green_star', 'green_cross', 'green_ring', 'green_diamond', 'green_hexagon',
           'blue_circle', 'blue_square', 'blue_triangle', 'blue_star', 'blue_cross', 'blue_ring',
           'blue_diamond', 'blue_hexagon')
metainfo = dict(classes=classes)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=_base_.fed_meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, split=None,
                 filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/lvis_v1_val.json',
                 split=None, pipeline=test_pipeline))
test_dataloader = val_dataloader
