"""mmdet_lvis_fed.datasets.val_split: the validation split of a training config, the one rule the
validation loss and the calibration sweep share."""
from mmdet_lvis_fed.datasets.val_split import trained_on_val, val_split


def test_the_split_is_the_innermost_training_dataset_with_split_val():
    inner = dict(type='LVISFedDataset', ann_file='train.json', split='train', val_fraction=0.2,
                 split_seed=3, indices=[0, 1], pipeline=[dict(type='LoadImageFromFile')])
    mix = dict(type='MultiImageMixDataset', dataset=inner, pipeline=[dict(type='CopyPaste')])
    outer = dict(type='ClassBalancedDataset', dataset=mix, pipeline=[dict(type='Outer')])
    split, wrappers = val_split(outer)
    assert split == dict(type='LVISFedDataset', ann_file='train.json', split='val',
                         val_fraction=0.2, split_seed=3,
                         pipeline=[dict(type='LoadImageFromFile')])
    # the wrappers' pipelines, innermost first (the order the loss appends them in)
    assert wrappers == [[dict(type='CopyPaste')], [dict(type='Outer')]]
    assert inner['split'] == 'train' and inner['indices'] == [0, 1]     # the config untouched
    split['pipeline'].append('x')
    assert inner['pipeline'] == [dict(type='LoadImageFromFile')]        # a copy, not a view
    assert not trained_on_val(outer)


def test_a_training_set_on_the_whole_file_was_trained_on_its_val_split():
    whole = dict(type='LVISFedDataset', ann_file='train.json')
    assert val_split(whole) == (dict(whole, split='val'), [])
    assert trained_on_val(whole) and trained_on_val(dict(type='CBD', dataset=whole))
