"""mmdet_lvis_fed.datasets.subset_files (the code of tools/make_subset.py): exact counts, the same
split as LVISFedDataset, atomic output."""
import json
import os

import pytest

from mmdet.registry import DATASETS
from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.datasets.subset import in_val_split


def expected(data, cat_ids, split, policy='keep', frac=0.3, seed=0):
    """The rules written out plainly: per category (positive images, negative images, instances)."""
    chosen = set(cat_ids)
    pos = {}
    for a in data['annotations']:
        if a['category_id'] in chosen:
            pos.setdefault(a['image_id'], []).append(a['category_id'])
    images = []
    for im in data['images']:
        if not (chosen & set(im['neg_category_ids']) or im['id'] in pos):
            continue
        if policy == 'exclude' and chosen & set(im['not_exhaustive_category_ids']):
            continue
        if split is not None and bool(in_val_split([im['id']], frac, seed)[0]) != (split == 'val'):
            continue
        images.append(im)
    ids = {im['id'] for im in images}
    counts = {}
    for c in cat_ids:
        counts[c] = dict(
            positive_images=len({i for i in ids if c in pos.get(i, ())}),
            negative_images=sum(c in im['neg_category_ids'] for im in images),
            instances=sum(pos.get(i, []).count(c) for i in ids))
    return sorted(ids), counts


def run(train, val, out, **options):
    from mmdet_lvis_fed.datasets.subset_files import make_subset
    return make_subset(str(train), str(val), str(out), val_fraction=0.3, **options)[0]


@pytest.mark.parametrize('policy', ['keep', 'exclude'])
def test_counts_on_the_real_file(lvis_val_100, tmp_path, policy):
    with open(lvis_val_100) as f:
        data = json.load(f)
    names = ['knob', 'orange_(fruit)', 'streetlight', 'ashtray', 'beef_(food)', 'shark']
    ids = [next(c['id'] for c in data['categories'] if c['name'] == n) for n in names]
    run(lvis_val_100, lvis_val_100, tmp_path, classes=names, not_exhaustive=policy)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    for split, src_split in (('train', 'train'), ('val', 'val'), ('test', None)):
        imgs, counts = expected(data, ids, src_split, policy)
        out = json.loads((tmp_path / f'{split}.json').read_text())
        assert sorted(im['id'] for im in out['images']) == imgs
        assert [c['id'] for c in out['categories']] == ids
        for row in summary:
            assert row[split] == counts[row['id']], (split, row['name'])
        for im in out['images']:
            assert set(im['neg_category_ids']) <= set(ids)


def test_subset_files_agree_with_the_dataset_split(tmp_path):
    gt = syn.make_ground_truth(300, num_cats=30, seed=2)
    (tmp_path / 'train.json').write_text(json.dumps(gt))
    run(tmp_path / 'train.json', tmp_path / 'train.json', tmp_path / 'out',
        num_per_freq=dict(f=2, c=2, r=1), seed=1)
    out = json.loads((tmp_path / 'out' / 'train.json').read_text())
    names = tuple(c['name'] for c in out['categories'])
    ids = [c['id'] for c in out['categories']]
    assert [c['frequency'] for c in out['categories']] == ['f', 'f', 'c', 'c', 'r']
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    for split, src_split in (('train', 'train'), ('val', 'val'), ('test', None)):
        imgs, counts = expected(gt, ids, src_split, policy='exclude')
        got = json.loads((tmp_path / 'out' / f'{split}.json').read_text())
        assert sorted(im['id'] for im in got['images']) == imgs
        assert {r['id']: r[split] for r in summary} == counts
    for split in ('train', 'val'):
        full = DATASETS.build(dict(type='LVISFedDataset', ann_file=str(tmp_path / 'train.json'),
                                   metainfo=dict(classes=names), split=split, val_fraction=0.3,
                                   check_files=False, test_mode=True, pipeline=[]))
        sub = DATASETS.build(dict(type='LVISFedDataset',
                                  ann_file=str(tmp_path / 'out' / f'{split}.json'),
                                  metainfo=dict(classes=names), check_files=False,
                                  test_mode=True, pipeline=[]))
        assert [d['img_id'] for d in sub] == [d['img_id'] for d in full]
        assert [d['instances'] for d in sub] == [d['instances'] for d in full]
        assert [d['neg_labels'] for d in sub] == [d['neg_labels'] for d in full]


def test_a_failure_writes_nothing(tmp_path):
    from mmdet_lvis_fed.errors import CommandError
    gt = syn.make_ground_truth(20, num_cats=10, seed=2)
    (tmp_path / 'train.json').write_text(json.dumps(gt))
    with pytest.raises(CommandError, match="has no category named 'zebra'"):
        run(tmp_path / 'train.json', tmp_path / 'train.json', tmp_path / 'out', classes=['zebra'])
    assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')
