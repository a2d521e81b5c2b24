from .transfer import TransferWeightsHook, transfer_state_dict
from .validation_loss import ValidationLossHook

__all__ = ['ValidationLossHook', 'TransferWeightsHook', 'transfer_state_dict']
