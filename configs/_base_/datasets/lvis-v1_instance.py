# Full LVIS v1 for instance segmentation, mmdet's LVIS recipe (mmdet::_base_/datasets/
# lvis_v1_instance.py) on LVISFedDataset + LVISFedMetric: every one of the 1,203 categories.
# Layout under data_root: annotations/lvis_v1_{train,val}.json, train2017/, val2017/. Image paths
# come from each image's coco_url (http://images.cocodataset.org/train2017/x.jpg ->
# train2017/x.jpg), as mmdet's LVISV1Dataset reads them: some val images live in train2017/.
#
# No dataset names classes: without metainfo.classes a dataset takes every category of its file,
# in id order (label i = LVIS id i + 1). The model states K = 1203 in both heads.
#
# Splits as in mmdet and detectron2: train on the whole train file (split=None), validate and
# test on the official val file.
#
# not_exhaustive='keep' everywhere, as the published baselines do (mmdet and detectron2 train and
# test on every image). 'exclude' drops an image as soon as one of its categories is flagged not
# exhaustive: over 1,203 categories that is most of LVIS, and a test set without them is not the
# one the published numbers are measured on. The metric applies LVIS's rule instead: a
# detection of a not-exhaustive category that matches no annotation is ignored, not counted false.
_base_ = './lvis-fed_instance.py'

data_root = 'data/lvis_v1/'
# mmdet's LVIS multi-scale training: the short side one of 640 ... 800, the long side <= 1333.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize',
         scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    # The federated lists ride along (FedRoIHead reads them; other heads ignore them).
    dict(type='PackDetInputs', meta_keys=_base_.fed_meta_keys),
]
# Repeat-factor sampling at LVIS's t = 1e-3 (Gupta et al. 2019), f(c) = image_count / 100,170
# from the file (detectron2's r(c) = max(1, sqrt(t / f(c))), r(I) = max over the image's
# categories; floor(r) + Bernoulli(frac r) copies per epoch, detectron2's draw, not mmengine's
# ceil). AspectRatioBatchSampler groups landscape and portrait images as mmdet does.
train_dataloader = dict(
    batch_size=2, num_workers=2,
    sampler=dict(_delete_=True, type='RepeatFactorSampler', repeat_thr=1e-3, freq_source='file'),
    # filter_empty_gt and min_size as mmdet's LVIS config: images without instances, or with a
    # side under 32 px, are left out of training.
    dataset=dict(data_root=data_root, ann_file='annotations/lvis_v1_train.json', split=None,
                 not_exhaustive='keep', filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='annotations/lvis_v1_val.json', split=None,
                 not_exhaustive='keep'))
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='annotations/lvis_v1_val.json', split=None,
                 not_exhaustive='keep'))
# LVISFedMetric (from lvis-fed_instance.py): bbox and segm, up to 300 detections per image, the
# ann_file taken from the dataset; classwise per-category AP at test.
