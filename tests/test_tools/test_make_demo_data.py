"""The demo data: LVIS v1 layout, federated fields consistent, deterministic."""
import json
import os.path as osp
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_data_is_consistent_and_deterministic(demo_root, tmp_path):
    ann = json.load(open(osp.join(demo_root, 'annotations', 'lvis_v1_train.json')))
    pos = {}
    for a in ann['annotations']:
        pos.setdefault(a['image_id'], set()).add(a['category_id'])
        assert a['area'] > 0 and a['segmentation'] and len(a['bbox']) == 4
    counts = {c['id']: 0 for c in ann['categories']}
    for cats in pos.values():
        for c in cats:
            counts[c] += 1
    for c in ann['categories']:
        want = 'f' if counts[c['id']] > 100 else 'c' if counts[c['id']] > 10 else 'r'
        assert c['frequency'] == want and c['image_count'] == counts[c['id']]
    for im in ann['images']:
        assert not set(im['neg_category_ids']) & pos.get(im['id'], set())
        assert set(im['not_exhaustive_category_ids']) <= pos.get(im['id'], set())
        assert osp.exists(osp.join(demo_root, im['coco_url'].split('.org/')[1]))
    assert any(im['not_exhaustive_category_ids'] for im in ann['images'])
    # same seed, same files
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(tmp_path), '--train-images', '40', '--val-images', '8'], check=True,
                   capture_output=True)
    again = json.load(open(tmp_path / 'annotations' / 'lvis_v1_train.json'))
    assert again == ann


def test_default_demo_can_measure_the_rare_group(tmp_path):
    """With the defaults every category has >= 20 instances in the test split (what the demo's
    test dataloader keeps), while rare categories stay rare in training (1-10 train images)."""
    from collections import Counter

    from mmdet.registry import DATASETS
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
                    str(tmp_path)], check=True, capture_output=True)
    train = json.load(open(tmp_path / 'annotations' / 'lvis_v1_train.json'))
    rare = [c for c in train['categories'] if c['frequency'] == 'r']
    assert len(rare) == 6 and all(1 <= c['image_count'] <= 10 for c in rare)
    test = DATASETS.build(dict(type='LVISFedDataset', data_root=str(tmp_path) + '/',
                               ann_file='annotations/lvis_v1_val.json', test_mode=True,
                               pipeline=[]))
    counts = Counter(inst['bbox_label'] for i in range(len(test))
                     for inst in test.get_data_info(i)['instances'])
    assert len(counts) == 24 and min(counts.values()) >= 20
