"""Every config under configs/ loads, builds its model and builds its datasets on generated data."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def test_there_are_configs():
    assert any('demo' in p for p in CONFIGS)


def lvis_like_root(tmp_path, classes):
    """A generated LVIS v1 layout whose first categories carry the config's class names."""
    import json
    from mmdet_lvis_fed import synthetic as syn
    os.makedirs(tmp_path / 'annotations', exist_ok=True)
    for name, seed in (('train', 0), ('val', 1)):
        gt = syn.make_ground_truth(120, num_cats=2 * len(classes), seed=seed, mean_pos_cats=3)
        for cat, cls in zip(gt['categories'], classes):
            cat['name'] = cls
        (tmp_path / 'annotations' / f'lvis_v1_{name}.json').write_text(json.dumps(gt))
    return str(tmp_path) + '/'


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_builds_model_and_datasets(path, demo_root, tmp_path):
    register_all_modules()
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmdet_lvis_fed']
    model = MODELS.build(cfg.model)
    n_cls = model.roi_head.bbox_head.num_classes
    classes = cfg.train_dataloader.dataset.get('metainfo', {}).get('classes')
    # Real-LVIS configs read a generated file with their class names; images are not checked.
    root, check = (lvis_like_root(tmp_path, classes), False) if classes else (demo_root, True)
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds_cfg = cfg[split]['dataset'].copy()
        ds_cfg.update(data_root=root, check_files=check)
        ds = DATASETS.build(ds_cfg)
        assert len(ds) > 0
        assert len(ds.metainfo['classes']) == n_cls
