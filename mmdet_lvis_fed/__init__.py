"""mmdet-lvis-fed: federated LVIS subsets for MMDetection 3.x.

Importing this package loads nothing heavy: the annotation reader (`lvis_file`), the subset logic
(`datasets.subset`), the evaluator (`evaluation.federated_eval`) and the results reader import
numpy only, never torch, mmengine or mmdet. The mmdet classes (dataset, metric, sampler,
transforms, hooks, heads, losses) are registered into mmdet's registries by importing
`mmdet_lvis_fed.plugin`, which every config names:

    custom_imports = dict(imports=['mmdet_lvis_fed.plugin'], allow_failed_imports=False)
"""
__version__ = '0.1.0'
