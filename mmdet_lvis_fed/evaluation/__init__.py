"""The federated evaluator: a numpy core (`federated_eval` and the modules it uses, the results
reader `results_file`) and the mmengine metric over it (`lvis_fed_metric.LVISFedMetric`, which
`mmdet_lvis_fed.plugin` imports)."""
