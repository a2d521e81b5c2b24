"""Long-tail models: federated and EQL sigmoid losses, the RoI head pair that feeds them, and
mmdet's Seesaw / EQLv2 fixed for evaluation. `federated_class_weights` and `eql_weights` are pure
torch and import without mmdet; the mmdet classes are imported on first access."""
from ..lazy import lazy_exports
from .class_weights import eql_weights, federated_class_weights, sampled_classes

_LAZY = {'FedBBoxHead': 'fed_roi_head', 'FedRoIHead': 'fed_roi_head',
         'EQLLoss': 'federated_loss', 'FederatedSigmoidLoss': 'federated_loss',
         'FixedEQLV2Loss': 'mmdet_losses', 'FixedSeesawLoss': 'mmdet_losses'}
__all__ = ['federated_class_weights', 'eql_weights', 'sampled_classes'] + list(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
