"""mmdet-lvis-fed: federated LVIS subsets for MMDetection 3.x.

`import mmdet_lvis_fed` (a config's ``custom_imports``) registers its dataset, metric, sampler,
transforms, hooks, runner, heads and losses into mmdet's registries: at once where mmengine is
loaded, else on the first registry lookup (see `registration.py`). The evaluator core
(`mmdet_lvis_fed.evaluation.federated_eval`), the file readers (`lvis_file`,
`evaluation.results_file`) and the subset logic (`datasets.subset`) import numpy only, never torch,
mmengine or mmdet.
"""
from .lazy import lazy_exports
from .registration import register_on_import

__version__ = '0.1.0'

# Public classes, imported from their modules on first access (PEP 562).
_LAZY = {
    'LVISFedDataset': 'datasets.lvis_fed', 'RepeatFactorSampler': 'datasets.samplers',
    'FedCopyPaste': 'datasets.transforms', 'LVISFedMetric': 'evaluation.lvis_fed_metric',
    'LVISFedRunner': 'engine.runner', 'NumClassesCheckHook': 'engine.runner',
    'ClassFrequencyHook': 'engine.runner', 'TransferWeightsHook': 'engine.transfer',
    'ValidationLossHook': 'engine.validation_loss', 'FedRoIHead': 'models.fed_roi_head',
    'FedBBoxHead': 'models.fed_roi_head', 'FederatedSigmoidLoss': 'models.federated_loss',
    'EQLLoss': 'models.federated_loss', 'FixedSeesawLoss': 'models.mmdet_losses',
    'FixedEQLV2Loss': 'models.mmdet_losses',
}
__all__ = ['__version__'] + list(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)

register_on_import()
