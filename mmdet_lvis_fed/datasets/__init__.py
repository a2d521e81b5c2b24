from importlib.util import find_spec

from .repeat_factors import category_frequency, draw_copies, repeat_factors
from .subset import FederatedSubset, LVISIndex, in_val_split, select_categories

__all__ = ['FederatedSubset', 'LVISIndex', 'in_val_split', 'select_categories',
           'repeat_factors', 'category_frequency', 'draw_copies']
if find_spec('mmdet') is not None:  # registry glue over the framework-free cores above
    from .lvis_fed import LVISFedDataset
    from .samplers import RepeatFactorSampler
    from .transforms import FED_META_KEYS, FedCopyPaste, merge_federated_lists
    __all__ += ['LVISFedDataset', 'RepeatFactorSampler', 'FedCopyPaste', 'FED_META_KEYS',
                'merge_federated_lists']
