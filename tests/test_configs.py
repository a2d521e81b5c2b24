"""Every config under configs/ loads, builds its model and builds its datasets on generated data."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(out), '--train-images', '40', '--val-images', '10'], check=True,
                   capture_output=True)
    return str(out)


def test_there_are_configs():
    assert any('demo' in p for p in CONFIGS)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_builds_model_and_datasets(path, demo_root):
    register_all_modules()
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmdet_lvis_fed']
    model = MODELS.build(cfg.model)
    n_cls = model.roi_head.bbox_head.num_classes
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds_cfg = cfg[split]['dataset'].copy()
        ds_cfg.update(data_root=demo_root + '/', check_files=True)
        if 'classes' in ds_cfg.get('metainfo', {}) or ds_cfg.get('num_per_freq'):
            pytest.skip('real LVIS category names: covered by the tests of configs/lvis_fed')
        ds = DATASETS.build(ds_cfg)
        assert len(ds) > 0
        assert len(ds.metainfo['classes']) == n_cls
