from importlib.util import find_spec

from .federated_eval import EvalResult, evaluate
from .lvis_data import Detections, LVISFormatError, LVISGroundTruth, RLEColumn

__all__ = ['evaluate', 'EvalResult', 'Detections', 'LVISGroundTruth', 'LVISFormatError',
           'RLEColumn']
if find_spec('mmdet') is not None:  # the metric is registry glue; the core above needs only numpy
    from .lvis_fed_metric import LVISFedMetric
    __all__.append('LVISFedMetric')
