"""Looking through wrappers: the one way the package finds the dataset inside dataset wrappers
and the model inside a model wrapper (no torch, mmengine or mmdet imported at module level).

Datasets come wrapped in two forms, and both are walked here with the same rule: as configs
(`dict(type='ClassBalancedDataset', dataset=dict(...))`, mmdet's MultiImageMixDataset with its own
`pipeline`) and as built objects (whose wrappers keep the inner dataset as `.dataset`).
"""


def dataset_chain(dataset):
    """The datasets from the outermost wrapper to the innermost dataset: for a config, each dict
    down its `dataset` key; for a built dataset, each object down its `dataset` attribute."""
    chain = []
    while dataset is not None:
        chain.append(dataset)
        dataset = (dataset.get('dataset') if isinstance(dataset, dict)
                   else getattr(dataset, 'dataset', None))
        if isinstance(chain[-1], dict) and not isinstance(dataset, dict):
            break
    return chain


def unwrap_dataset(dataset, having=None):
    """The innermost dataset (config or object); with `having`, the outermost one in the chain
    that has that attribute (e.g. 'get_cat_ids': a wrapper that keeps indices, such as
    MultiImageMixDataset, has none, its dataset does), or None when none has."""
    chain = dataset_chain(dataset)
    if having is None:
        return chain[-1]
    return next((ds for ds in chain if hasattr(ds, having)), None)


def unwrap_model(model):
    """The model inside mmengine's model wrappers (DistributedDataParallel and the like)."""
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model
