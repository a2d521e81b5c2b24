"""The Fixed AP benchmark's pieces (benchmarks/fixed_ap.py): the child config it tests, and what
it reads back from the piece's log."""
from mmengine.config import Config

from mmdet_lvis_fed.benchmarks.fixed_ap import child_config, pass_two


def test_the_child_applies_the_piece_to_the_baseline(tmp_path):
    cfg = Config.fromfile(child_config(str(tmp_path)))
    assert cfg.test_cfg == dict(type='TopKTestLoop', max_dets_per_cat=10000, masks='evaluated')
    assert cfg.model.test_cfg.rcnn.max_per_img == -1
    assert cfg.test_evaluator.max_dets == -1 and cfg.test_evaluator.max_dets_per_cat == 10000
    assert cfg.model.roi_head.bbox_head.num_classes == 24          # the baseline's


def test_pass_two_is_read_from_the_log():
    some = ('12/06 21:22:11 - mmengine - INFO - TopKTestLoop pass 2 of 2: 24000 detections kept, '
            '3210 masks computed (the others empty), 10.8 s\n')
    every = 'x - TopKTestLoop pass 2 of 2: 24000 detections kept with masks, 53.2 s\n'
    assert pass_two(some) == '  (pass 2: 24000 kept, 3210 masks, 10.8 s)'
    assert pass_two(every) == '  (pass 2: 24000 kept, 24000 masks, 53.2 s)'
    assert pass_two('no such line') == ''
