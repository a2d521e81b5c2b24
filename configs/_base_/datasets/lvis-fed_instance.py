# A federated LVIS subset for instance segmentation (LVISFedDataset + LVISFedMetric), real LVIS v1
# layout under data_root: annotations/lvis_v1_{train,val}.json, train2017/, val2017/. train and val
# are a deterministic 9:1 split of the official train file; the official val file is the test set.
#
# The experiment config chooses the categories and says so in every dataloader and in the heads:
#     classes = ('coffee_maker', ...)            # label order = this order
#     metainfo = dict(classes=classes)
#     train_dataloader = dict(dataset=dict(metainfo=metainfo))
#     val_dataloader = dict(dataset=dict(metainfo=metainfo))
#     test_dataloader = dict(dataset=dict(metainfo=metainfo))
#     model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes)),
#                                mask_head=dict(num_classes=len(classes))))
# (without classes a dataset takes every category of its file).
dataset_type = 'LVISFedDataset'
data_root = 'data/lvis_v1/'
backend_args = None
img_scale = (1333, 800)
# PackDetInputs' default meta_keys plus the federated lists (FedRoIHead reads them). The tuple
# replaces mmdet's default, so it is spelled out whole.
fed_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                 'flip_direction', 'neg_labels', 'not_exhaustive_labels')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=fed_meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    # Images where the chosen categories are only verified negative have no boxes to learn from:
    # filter_empty_gt leaves them out of training (they stay in val and test, where they decide
    # false positives). not_exhaustive='exclude' drops images where a chosen category is not
    # exhaustively annotated (their missing instances would be taught as background).
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_train.json',
        split='train', val_fraction=0.1, split_seed=0, not_exhaustive='exclude',
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_train.json',
        split='val', val_fraction=0.1, split_seed=0, not_exhaustive='exclude', test_mode=True,
        pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_val.json',
        not_exhaustive='exclude', test_mode=True, pipeline=test_pipeline,
        backend_args=backend_args))

# ann_file comes from the dataset (its metainfo), so the metric always matches the split.
val_evaluator = dict(type='LVISFedMetric', metric=['bbox', 'segm'])
test_evaluator = dict(type='LVISFedMetric', metric=['bbox', 'segm'], classwise=True)
