"""The validation split of a training config: the package's one rule for it (no torch, mmengine or
mmdet imported).

LVIS has no validation split of its own (its val file is the test set of every study here), so
the models are chosen on the 9:1 split of the training file that LVISFedDataset makes:
`split='train'` trains on 9 parts, `split='val'` (the same `val_fraction` and `split_seed`) is
the tenth. Both users of the split start from here: ValidationLossHook (the loss on it, with the
training pipeline's annotations) and the calibration sweep (AP on it, with the test pipeline).
"""
import copy

from ..wrappers import dataset_chain


def val_split(train_dataset):
    """(the validation split's dataset config, the pipelines of the wrappers around the training
    dataset, outermost last).

    The split is a copy of the innermost training dataset config with `split='val'`, its
    `val_fraction` and `split_seed` kept; `indices` (a selection of the training images) dropped.
    The wrappers (ClassBalancedDataset, MultiImageMixDataset) are not kept: their pipelines are
    returned for a caller that appends them (the loss needs what they load)."""
    chain = dataset_chain(train_dataset)
    split = copy.deepcopy(dict(chain[-1]))
    split['split'] = 'val'
    split.pop('indices', None)
    return split, [list(ds.get('pipeline') or []) for ds in reversed(chain[:-1])]


def trained_on_val(train_dataset):
    """Whether the training dataset reads the whole file (split=None): then its validation split
    was trained on."""
    return dataset_chain(train_dataset)[-1].get('split') is None
