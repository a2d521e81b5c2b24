"""Datasets: the framework-free subset logic (`subset`, `repeat_factors`) and the mmdet glue over
it (`LVISFedDataset`, `RepeatFactorSampler`, `FedCopyPaste`: imported on first access)."""
from ..lazy import lazy_exports
from .repeat_factors import category_frequency, draw_copies, repeat_factors
from .subset import FederatedSubset, LVISIndex, in_val_split, select_categories

_LAZY = {'LVISFedDataset': 'lvis_fed', 'RepeatFactorSampler': 'samplers',
         'FedCopyPaste': 'transforms', 'FED_META_KEYS': 'transforms',
         'merge_federated_lists': 'transforms'}
__all__ = ['FederatedSubset', 'LVISIndex', 'in_val_split', 'select_categories',
           'repeat_factors', 'category_frequency', 'draw_copies'] + list(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
