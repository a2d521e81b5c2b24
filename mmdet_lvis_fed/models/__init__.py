"""Long-tail models: federated and EQL sigmoid losses, the RoI head pair that feeds them, and
mmdet's Seesaw / EQLv2 fixed for evaluation (imported by `mmdet_lvis_fed.plugin`).
`class_weights` is pure torch and imports without mmdet."""
