"""Datasets: the framework-free subset logic (`subset`, `repeat_factors`) and the mmdet glue over
it (`lvis_fed.LVISFedDataset`, `samplers.RepeatFactorSampler`, `transforms.FedCopyPaste`), which
`mmdet_lvis_fed.plugin` imports."""
