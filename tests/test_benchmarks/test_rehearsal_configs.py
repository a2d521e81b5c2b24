"""The rehearsal's configs (benchmarks/rehearsal_configs.py): literals only, K kept."""
import ast
import os.path as osp

from mmengine.config import Config

from mmdet_lvis_fed.benchmarks import rehearsal_configs
from tests.conftest import ROOT

BASELINE = osp.join(ROOT, 'configs', 'lvis_v1', 'mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py')
PIECE = osp.join(ROOT, 'configs', '_base_', 'lvis-fixed-ap_test.py')


def test_written_configs_hold_literals_and_keep_k(tmp_path):
    data_root = str(tmp_path / "it's\ndata")                  # a quote and a newline
    train, test = rehearsal_configs.write_configs(str(tmp_path / 'cfg'), BASELINE, data_root, iters=7,
                                          scale=(64, 48), val_images=11, max_dets_per_cat=13,
                                          fixed_ap_piece=PIECE)
    for path in (train, test):
        body = ast.parse(open(path).read()).body
        assert {type(n).__name__ for n in body} == {'Assign'}, path
    cfg = Config.fromfile(test)
    assert cfg.model.roi_head.bbox_head.num_classes == 1203
    assert cfg.model.roi_head.mask_head.num_classes == 1203
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.init_cfg is None
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=7, val_interval=10**9)
    assert cfg.test_cfg.type == 'TopKTestLoop' and cfg.test_cfg.max_dets_per_cat == 13
    assert cfg.test_evaluator.max_dets_per_cat == 13 and cfg.test_evaluator.max_dets == -1
    assert cfg.model.test_cfg.rcnn.max_per_img == -1
    ds = cfg.test_dataloader.dataset
    assert ds.indices == 11 and ds.data_root == data_root + '/'
    resize = [t for t in ds.pipeline if t['type'] == 'Resize']
    assert resize and all(t['scale'] == (64, 48) for t in resize)
    assert cfg.val_dataloader is None and cfg.val_cfg is None
