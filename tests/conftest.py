import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(osp.dirname(osp.abspath(__file__)), 'data')      # see data/README.md
LVIS_VAL_100 = osp.join(DATA, 'lvis_val_100.json')
COCO_TO_SYNSET = osp.join(DATA, 'coco_to_synset.json')


@pytest.fixture(autouse=True, scope='session')
def mmdet_scope():
    """Transforms and datasets built outside a Runner resolve mmdet's classes, as in a run (the
    plugin registered, as a config's custom_imports does it)."""
    import mmdet_lvis_fed.plugin  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')


@pytest.fixture
def lvis_val_100():
    return LVIS_VAL_100


def mmdet_lvis_metric(ann, samples, prefix):
    """mmdet's LVISMetric on the samples: its numbers (3 decimals) and its own results files."""
    np.float = float            # lvis-api 0.5.3 calls np.float, gone since numpy 1.24 (tests only)
    from mmdet.evaluation import LVISMetric
    metric = LVISMetric(ann_file=str(ann), metric=['bbox', 'segm'], outfile_prefix=prefix)
    metric.dataset_meta = dict(classes=())
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def synthetic_case(folder, num_images, dets_per_image, seed, num_cats=30):
    """Ground truth written to folder/gt.json, detection columns and their masks."""
    from mmdet_lvis_fed.testing import synthetic as syn
    gt = syn.make_ground_truth(num_images, num_cats=num_cats, seed=seed)
    ann = folder / 'gt.json'
    ann.write_text(json.dumps(gt))
    cols = syn.make_detections(gt, dets_per_image, seed=seed + 1)
    return gt, ann, cols, syn.detection_masks(gt, cols)


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """A small demo dataset (tools/make_demo_data.py): 40 train and 8 val images."""
    out = tmp_path_factory.mktemp('demo')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(out), '--train-images', '40', '--val-images', '8'], check=True,
                   capture_output=True)
    return str(out) + '/'


@pytest.fixture(scope='session')
def study_root(tmp_path_factory):
    """The study data (tools/make_demo_data.py --set study) with 10 test and 16 base images."""
    out = tmp_path_factory.mktemp('study')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--set',
                    'study', '--out', str(out), '--val-images', '10', '--base-images', '16'],
                   check=True, capture_output=True)
    return str(out) + '/'
