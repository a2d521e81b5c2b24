from .runner import ClassFrequencyHook, LVISFedRunner, NumClassesCheckHook
from .subset_config import apply_subset, check_mixing, subset_num_classes
from .transfer import TransferWeightsHook, transfer_state_dict
from .validation_loss import ValidationLossHook

__all__ = ['ValidationLossHook', 'TransferWeightsHook', 'transfer_state_dict', 'LVISFedRunner',
           'NumClassesCheckHook', 'ClassFrequencyHook', 'apply_subset', 'check_mixing',
           'subset_num_classes']
