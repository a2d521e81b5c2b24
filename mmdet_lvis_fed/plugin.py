"""Import this module to register every mmdet class of the package, as mmdet's `projects/` do:
each class registers itself with a decorator into mmdet's registries when its module is imported.
Configs name it:

    custom_imports = dict(imports=['mmdet_lvis_fed.plugin'], allow_failed_imports=False)

It needs torch, mmengine and mmdet; the numpy core (`lvis_file`, `datasets.subset`,
`evaluation.federated_eval`, `evaluation.results_file`) never imports it.
"""
from . import checkpoint  # noqa: F401  (lets torch >= 2.6 load the checkpoints mmengine saves)
from .datasets import lvis_fed, samplers, transforms  # noqa: F401
from .engine import (checks, class_frequency, freeze, topk_test_loop, transfer,  # noqa: F401
                     validation_loss)
from .evaluation import lvis_fed_metric  # noqa: F401
from .models import calibration, ecm_loss, fed_roi_head, federated_loss, mmdet_losses  # noqa: F401
