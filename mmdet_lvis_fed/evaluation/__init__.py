"""The federated evaluator: a numpy core (`federated_eval.evaluate` over `ground_truth`,
`detections`, `masks`, `boundary`, `limits`, `matching`, `accumulation`, `summary`; the readers
in `results_file`) and the mmengine metric over it (`lvis_fed_metric.LVISFedMetric`, which
`mmdet_lvis_fed.plugin` imports)."""
