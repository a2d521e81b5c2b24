"""The federated evaluator: a numpy core (`federated_eval`, `lvis_data`, `results_file`) and the
mmengine metric over it (`LVISFedMetric`, imported on first access: it needs mmengine)."""
from ..lazy import lazy_exports
from .federated_eval import EvalResult, evaluate
from .lvis_data import Detections, LVISFormatError, LVISGroundTruth, RLEColumn

__all__ = ['evaluate', 'EvalResult', 'Detections', 'LVISGroundTruth', 'LVISFormatError',
           'RLEColumn', 'LVISFedMetric']

__getattr__ = lazy_exports(__name__, {'LVISFedMetric': 'lvis_fed_metric'})
