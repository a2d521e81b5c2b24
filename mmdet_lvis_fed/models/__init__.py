"""Long-tail models: federated and EQL sigmoid losses, the RoI head pair that feeds them, and
mmdet's Seesaw / EQLv2 fixed for evaluation. `federated_class_weights` and `eql_weights` are pure
torch and import without mmdet."""
from importlib.util import find_spec

from .class_weights import eql_weights, federated_class_weights, sampled_classes

__all__ = ['federated_class_weights', 'eql_weights', 'sampled_classes']
if find_spec('mmdet') is not None:
    from .fed_roi_head import FedBBoxHead, FedRoIHead
    from .federated_loss import EQLLoss, FederatedSigmoidLoss
    from .mmdet_losses import FixedEQLV2Loss, FixedSeesawLoss
    __all__ += ['FedBBoxHead', 'FedRoIHead', 'EQLLoss', 'FederatedSigmoidLoss',
                'FixedEQLV2Loss', 'FixedSeesawLoss']
