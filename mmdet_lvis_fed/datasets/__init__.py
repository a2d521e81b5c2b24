from importlib.util import find_spec

from .subset import FederatedSubset, LVISIndex, in_val_split, select_categories

__all__ = ['FederatedSubset', 'LVISIndex', 'in_val_split', 'select_categories']
if find_spec('mmdet') is not None:  # the dataset is registry glue over the framework-free subset
    from .lvis_fed import LVISFedDataset
    __all__.append('LVISFedDataset')
