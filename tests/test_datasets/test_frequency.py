"""Class frequencies mean one thing everywhere: f(c) = images of c over the images its image_count
was counted on, the same on the full file and on a subset written by tools/make_subset.py."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmdet.registry import DATASETS
from mmdet_lvis_fed.datasets.frequency import class_frequency, counted_on
from tests.conftest import ROOT

CLASSES = ('red_circle', 'green_star', 'blue_ring')


def fed_dataset(ann_file, classes=CLASSES, **kwargs):
    return DATASETS.build(dict(type='LVISFedDataset', ann_file=ann_file, metainfo=dict(
        classes=classes), data_prefix=dict(img=''), pipeline=[], check_files=False, **kwargs))


def test_full_file_and_subset_file_give_the_same_file_frequency(demo_root, tmp_path):
    train = osp.join(demo_root, 'annotations', 'lvis_v1_train.json')
    val = osp.join(demo_root, 'annotations', 'lvis_v1_val.json')
    out = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_subset.py'),
                          '--train-ann', train, '--val-ann', val, '--out-dir',
                          str(tmp_path / 'sub'), '--classes', *CLASSES],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    full = json.load(open(train))
    by_name = {c['name']: c for c in full['categories']}
    # By hand: image_count over the full train file's images.
    want = np.array([by_name[n]['image_count'] for n in CLASSES]) / len(full['images'])
    f_full = class_frequency(fed_dataset(train).metainfo, 'file')
    sub = fed_dataset(str(tmp_path / 'sub' / 'train.json'), split=None)
    f_sub = class_frequency(sub.metainfo, 'file')
    np.testing.assert_allclose(f_full, want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(f_sub, want, rtol=0, atol=1e-15)
    # The subset file has far fewer images: dividing by them would give other numbers.
    subset_data = json.load(open(tmp_path / 'sub' / 'train.json'))
    assert len(subset_data['images']) < len(full['images'])
    assert subset_data['info']['image_count_images'] == len(full['images'])
    # 'subset' counts the dataset's own (filtered) images by hand.
    labels = [{inst['bbox_label'] for inst in sub.get_data_info(i)['instances']}
              for i in range(len(sub))]
    np.testing.assert_allclose(class_frequency(sub.metainfo, 'subset'),
                               [sum(k in s for s in labels) / len(sub) for k in range(3)])


def test_counted_on():
    assert counted_on(None, 120) == 120
    assert counted_on(dict(image_count_images=100170), 5000) == 100170


@pytest.mark.parametrize('meta,match', [
    (dict(classes=('a',), image_count=(None,), image_count_images=10), 'needs each class'),
    (dict(classes=('a',), image_count=(0,), image_count_images=10), "has image_count 0"),
    (dict(classes=('a',), image_count=(12,), image_count_images=10), 'more than the 10 images'),
    (dict(classes=('a',)), 'needs each class'),
])
def test_frequencies_that_mean_nothing_are_refused(meta, match):
    with pytest.raises(ValueError, match=match):
        class_frequency(meta, 'file')
