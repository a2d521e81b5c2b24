# A federated LVIS subset for instance segmentation (LVISFedDataset + LVISFedMetric).
# Real LVIS v1 layout under data_root: annotations/lvis_v1_{train,val}.json, train2017/, val2017/.
# train and val are a deterministic 9:1 split of the official train file; the official val file is
# the test set.
#
# Choose the categories at the top level of the experiment config, where a child can change them:
#     classes = ('coffee_maker', ...)                       (label order = this order), or
#     subset = dict(num_per_freq=dict(f=2, c=2, r=2), seed=0, exclude_coco=True)
# LVISFedRunner writes `classes` and `subset` into the train, val and test datasets when the run
# starts and sets num_classes of the heads (and of the class loss) to K; a key set on one dataset
# itself wins over `subset` (e.g. train_dataloader.dataset.not_exhaustive='keep' alone).
custom_imports = dict(imports=['mmdet_lvis_fed'], allow_failed_imports=False)
runner_type = 'LVISFedRunner'

dataset_type = 'LVISFedDataset'
data_root = 'data/lvis_v1/'
backend_args = None
img_scale = (1333, 800)
classes = None            # None: every category of the file, unless subset.num_per_freq draws them
subset = dict(not_exhaustive='exclude', split_seed=0, val_fraction=0.1)
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
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''), split='train',
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''), split='val', test_mode=True,
        pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''), test_mode=True,
        pipeline=test_pipeline, backend_args=backend_args))

# ann_file comes from the dataset (its metainfo), so the metric always matches the split.
val_evaluator = dict(type='LVISFedMetric', metric=['bbox', 'segm'])
test_evaluator = dict(type='LVISFedMetric', metric=['bbox', 'segm'], classwise=True)
