"""mmdet_lvis_fed.wrappers: one rule for the dataset inside dataset wrappers (configs and built
objects) and the model inside a model wrapper."""
from types import SimpleNamespace

import torch

from mmdet_lvis_fed.wrappers import dataset_chain, unwrap_dataset, unwrap_model


def test_a_config_chain_from_the_outermost_wrapper_in():
    inner = dict(type='LVISFedDataset', ann_file='a.json')
    mix = dict(type='MultiImageMixDataset', dataset=inner, pipeline=[dict(type='CopyPaste')])
    outer = dict(type='ClassBalancedDataset', oversample_thr=1e-3, dataset=mix)
    assert dataset_chain(outer) == [outer, mix, inner]
    assert unwrap_dataset(outer) is inner and unwrap_dataset(inner) is inner
    assert dataset_chain(None) == []


def test_a_built_chain_and_the_first_that_has_an_attribute():
    inner = SimpleNamespace(get_cat_ids=lambda i: [1], metainfo={})
    mix = SimpleNamespace(dataset=inner)              # keeps indices, has no get_cat_ids
    balanced = SimpleNamespace(dataset=mix, get_cat_ids=lambda i: [2])
    assert dataset_chain(balanced) == [balanced, mix, inner]
    assert unwrap_dataset(balanced) is inner
    assert unwrap_dataset(mix, having='get_cat_ids') is inner
    assert unwrap_dataset(balanced, having='get_cat_ids') is balanced
    assert unwrap_dataset(mix, having='nothing_has_this') is None


def test_the_model_inside_a_model_wrapper():
    from mmengine.model import MMDistributedDataParallel
    model = torch.nn.Linear(2, 2)
    wrapped = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    torch.nn.Module.__init__(wrapped)
    wrapped.module = model
    assert unwrap_model(wrapped) is model and unwrap_model(model) is model
    plain = torch.nn.Sequential(model)             # a module with children is not a wrapper
    assert unwrap_model(plain) is plain
