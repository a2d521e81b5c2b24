"""mmdet-lvis-fed: federated LVIS subsets for MMDetection 3.x.

Importing the package registers its dataset, metric, sampler, transforms, hooks, runner, heads
and losses into mmdet's registries. The
evaluator core (`mmdet_lvis_fed.evaluation.federated_eval`, `lvis_data`) and the subset logic are
plain numpy and work where mmdet is not installed; the registry glue is then skipped.
"""
from importlib.util import find_spec

__version__ = '0.1.0'
__all__ = ['__version__']

if find_spec('mmdet') is not None:
    from . import checkpoint  # noqa: F401  (torch>=2.6 loads what mmengine saved)
    from .datasets import FedCopyPaste, LVISFedDataset, RepeatFactorSampler
    from .engine import (ClassFrequencyHook, LVISFedRunner, NumClassesCheckHook,
                         TransferWeightsHook, ValidationLossHook)
    from .evaluation import LVISFedMetric
    from .models import (EQLLoss, FedBBoxHead, FederatedSigmoidLoss, FedRoIHead, FixedEQLV2Loss,
                         FixedSeesawLoss)
    __all__ += ['LVISFedDataset', 'LVISFedMetric', 'ValidationLossHook', 'TransferWeightsHook',
                'RepeatFactorSampler', 'FedCopyPaste', 'LVISFedRunner', 'NumClassesCheckHook',
                'ClassFrequencyHook', 'FedRoIHead', 'FedBBoxHead', 'FederatedSigmoidLoss',
                'EQLLoss', 'FixedSeesawLoss', 'FixedEQLV2Loss']
