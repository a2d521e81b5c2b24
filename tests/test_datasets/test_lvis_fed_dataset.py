"""LVISFedDataset: every subset rule with exact expectations, on the real v0.5 file and on v1 data."""
import json

import numpy as np
import pytest

from mmdet.registry import DATASETS
from mmdet_lvis_fed.datasets.lvis_fed import LVISFedDataset
from mmdet_lvis_fed.datasets.subset import in_val_split
from mmdet_lvis_fed.errors import LVISFormatError
from tests.conftest import COCO_TO_SYNSET


def build(ann_file, **kw):
    kw.setdefault('check_files', False)
    kw.setdefault('pipeline', [])
    return DATASETS.build(dict(type='LVISFedDataset', ann_file=str(ann_file),
                               data_prefix=dict(img=''), **kw))


def load(path):
    with open(path) as f:
        return json.load(f)


def expected_images(data, cat_ids, policy='exclude'):
    """The subset rules, written out plainly over the raw JSON."""
    chosen = set(cat_ids)
    pos = {}
    for a in data['annotations']:
        if a['category_id'] in chosen:
            pos.setdefault(a['image_id'], set()).add(a['category_id'])
    keep = []
    for im in data['images']:
        neg = chosen & set(im['neg_category_ids'])
        nel = chosen & set(im['not_exhaustive_category_ids'])
        if not (neg or im['id'] in pos):
            continue
        if nel and policy == 'exclude':
            continue
        keep.append(im['id'])
    return keep, pos


@pytest.fixture
def v05(lvis_val_100):
    return lvis_val_100


def classes_with_everything(data):
    """Categories of the real file that have positives, negatives and not-exhaustive images."""
    pos = {a['category_id'] for a in data['annotations']}
    neg = {c for im in data['images'] for c in im['neg_category_ids']}
    nel = {c for im in data['images'] for c in im['not_exhaustive_category_ids']}
    by_id = {c['id']: c for c in data['categories']}
    both = sorted(pos & neg & nel) + sorted((pos & neg) - nel)[:3] + sorted(neg - pos)[:2]
    return [by_id[c]['name'] for c in both[:8]], [c for c in both[:8]]


@pytest.mark.parametrize('policy', ['exclude', 'keep'])
def test_real_v05_file_membership_labels_and_federated_lists(v05, policy):
    data = load(v05)
    names, ids = classes_with_everything(data)
    ds = build(v05, metainfo=dict(classes=tuple(names)), not_exhaustive=policy, test_mode=True)
    keep, pos = expected_images(data, ids, policy)
    assert sorted(d['img_id'] for d in ds) == sorted(keep)
    assert ds.metainfo['classes'] == tuple(names)
    assert ds.metainfo['lvis_cat_ids'] == tuple(ids)
    by_id = {c['id']: c for c in data['categories']}
    assert ds.metainfo['frequencies'] == tuple(by_id[c]['frequency'] for c in ids)
    label = {c: i for i, c in enumerate(ids)}
    imgs = {im['id']: im for im in data['images']}
    n_inst = 0
    for d in ds:
        im = imgs[d['img_id']]
        assert d['neg_labels'] == sorted(label[c] for c in im['neg_category_ids'] if c in label)
        assert d['not_exhaustive_labels'] == sorted(
            label[c] for c in im['not_exhaustive_category_ids'] if c in label)
        # v0.5 names files the COCO 2014 way; the images are COCO 2017's
        assert d['img_path'] == im['file_name'][-16:]
        want = [a for a in data['annotations'] if a['image_id'] == im['id']
                and a['category_id'] in label and a['bbox'][2] >= 1 and a['bbox'][3] >= 1]
        assert [i['bbox_label'] for i in d['instances']] == [label[a['category_id']] for a in want]
        n_inst += len(want)
    assert n_inst > 0
    if policy == 'keep':
        assert any(d['not_exhaustive_labels'] for d in ds)
    else:
        assert not any(d['not_exhaustive_labels'] for d in ds)


def test_negatives_only_images_train_vs_test(v05):
    data = load(v05)
    names, ids = classes_with_everything(data)
    keep, pos = expected_images(data, ids)
    test = build(v05, metainfo=dict(classes=tuple(names)), test_mode=True)
    train = build(v05, metainfo=dict(classes=tuple(names)))
    kept_train = build(v05, metainfo=dict(classes=tuple(names)),
                       filter_cfg=dict(filter_empty_gt=False))
    neg_only = [i for i in keep if i not in pos]
    assert neg_only, 'the fixture should have negatives-only images'
    assert sorted(d['img_id'] for d in test) == sorted(keep)
    assert sorted(d['img_id'] for d in train) == sorted(i for i in keep if i in pos)
    assert sorted(d['img_id'] for d in kept_train) == sorted(keep)


def test_split_is_deterministic_disjoint_and_complete(v05):
    data = load(v05)
    names, ids = classes_with_everything(data)
    kw = dict(metainfo=dict(classes=tuple(names)), test_mode=True, val_fraction=0.3)
    full = {d['img_id'] for d in build(v05, **kw)}
    tr = {d['img_id'] for d in build(v05, split='train', **kw)}
    va = {d['img_id'] for d in build(v05, split='val', **kw)}
    assert tr | va == full and not tr & va and va
    assert va == {i for i in full if in_val_split([i], 0.3)[0]}
    other = {d['img_id'] for d in build(v05, split='val', split_seed=1, **kw)}
    assert other != va
    # The split of the image ids alone: about the requested fraction on many ids.
    share = in_val_split(np.arange(1, 200_001), 0.1, 0).mean()
    assert abs(share - 0.1) < 0.005


def test_num_per_freq_with_seed_and_exclude_coco(v05):
    data = load(v05)
    ds = build(v05, num_per_freq=dict(f=2, c=2, r=1), seed=3, test_mode=True)
    assert ds.metainfo['frequencies'] == ('f', 'f', 'c', 'c', 'r')
    again = build(v05, num_per_freq=dict(f=2, c=2, r=1), seed=3, test_mode=True)
    assert again.metainfo['classes'] == ds.metainfo['classes']
    other = build(v05, num_per_freq=dict(f=2, c=2, r=1), seed=4, test_mode=True)
    assert other.metainfo['classes'] != ds.metainfo['classes']
    from mmdet_lvis_fed.datasets.subset import coco_synsets
    coco = coco_synsets()
    by_id = {c['id']: c for c in data['categories']}
    no_coco = build(v05, num_per_freq=dict(f=10), seed=0, exclude_coco=True, test_mode=True)
    assert not any(by_id[c]['synset'] in coco for c in no_coco.metainfo['lvis_cat_ids'])
    with_coco = [c for c in data['categories'] if c['frequency'] == 'f' and c['synset'] in coco
                 and c['image_count'] > 0]
    assert with_coco, 'the fixture has frequent COCO categories to leave out'


def test_coco_synsets_match_the_lvis_api_mapping():
    from mmdet_lvis_fed.datasets.subset import coco_synsets
    assert coco_synsets() == {v['synset'] for v in load(COCO_TO_SYNSET).values()}
    assert len(coco_synsets()) == 80


def write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def v1_data():
    cats = [dict(id=1, name='a_f', frequency='f', synset='a.n.01'),
            dict(id=2, name='b_c', frequency='c', synset='b.n.01'),
            dict(id=3, name='c_r', frequency='r', synset='c.n.01')]
    images = [dict(id=i, width=64, height=48, neg_category_ids=neg, not_exhaustive_category_ids=nel,
                   coco_url=f'http://images.cocodataset.org/train2017/{i:012d}.jpg')
              for i, neg, nel in [(1, [2], []), (2, [], [1]), (3, [1, 3], []), (4, [], [])]]
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 10, 10], area=100.0,
                 segmentation=[[1, 1, 11, 1, 11, 11, 1, 11]]),
            dict(id=2, image_id=2, category_id=1, bbox=[2, 2, 10, 10], area=100.0,
                 segmentation=[[2, 2, 12, 2, 12, 12, 2, 12]]),
            dict(id=3, image_id=4, category_id=2, bbox=[3, 3, 5, 5], area=25.0,
                 segmentation=[[3, 3, 8, 3, 8, 8, 3, 8]])]
    return dict(images=images, annotations=anns, categories=cats)


def test_v1_paths_from_coco_url_and_missing_files(tmp_path):
    ann = write(tmp_path / 'v1.json', v1_data())
    root = tmp_path / 'root'
    (root / 'train2017').mkdir(parents=True)
    for i in (1, 3):
        (root / 'train2017' / f'{i:012d}.jpg').write_bytes(b'')
    kw = dict(data_root=str(root), metainfo=dict(classes=('a_f', 'c_r')), test_mode=True)
    ds = DATASETS.build(dict(type='LVISFedDataset', ann_file=str(ann), data_prefix=dict(img=''),
                             pipeline=[], **kw))
    assert [d['img_path'] for d in ds] == [str(root / 'train2017' / f'{i:012d}.jpg')
                                           for i in (1, 3)]
    # 'exclude' drops image 2 (a_f not exhaustive); image 4 has neither class as pos or neg.
    assert [d['img_id'] for d in ds] == [1, 3]
    assert ds.get_data_info(1)['neg_labels'] == [0, 1]
    with pytest.raises(LVISFormatError, match=r'1 of 3 image files named in field "images" are '
                                              r'missing, e.g. .*000000000002.jpg'):
        DATASETS.build(dict(type='LVISFedDataset', ann_file=str(ann), data_prefix=dict(img=''),
                            pipeline=[], data_root=str(root), not_exhaustive='keep',
                            metainfo=dict(classes=('a_f', 'c_r')), test_mode=True))


def test_v1_federated_labels_exact(tmp_path):
    ann = write(tmp_path / 'v1.json', v1_data())
    ds = build(ann, metainfo=dict(classes=('c_r', 'a_f', 'b_c')), not_exhaustive='keep',
               test_mode=True)
    got = {d['img_id']: (d['neg_labels'], d['not_exhaustive_labels'],
                         [i['bbox_label'] for i in d['instances']]) for d in ds}
    assert got == {1: ([2], [], [1]), 2: ([], [1], [1]), 3: ([0, 1], [], []), 4: ([], [], [2])}


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d.pop('annotations'), 'field "annotations" is missing or not a list'),
    (lambda d: d['annotations'][1].update(image_id=99),
     r'annotations\[1\] \(id 2\): field "image_id": 99 is not in "images"'),
    (lambda d: d['annotations'][2].update(category_id=7),
     r'annotations\[2\] \(id 3\): field "category_id": 7 is not in "categories"'),
    (lambda d: d['images'][0].update(id=1.5), r'images\[0\]: field "id": 1.5 is not an integer'),
    (lambda d: d['images'][2].update(id='3'), r'images\[2\]: field "id": "3" is not an integer'),
    (lambda d: d['images'][3].update(id=1), r'images\[3\]: field "id": 1 is the id of images\[0\] too'),
    (lambda d: d['annotations'][1].update(image_id=None),
     r'annotations\[1\]: field "image_id": null is not an integer id'),
    (lambda d: d['annotations'][1].update(image_id=2.0),
     r'annotations\[1\]: field "image_id": 2.0 is not an integer id'),
    (lambda d: (d['annotations'][1].update(id=1),        # both in the subset: image 2 made
                d['images'][1].update(not_exhaustive_category_ids=[])),      # exhaustive
     r'annotations\[1\]: field "id": 1 is the id of annotations\[0\] too'),
])
def test_bad_files_name_the_file_and_field(tmp_path, mutate, message):
    data = v1_data()
    mutate(data)
    ann = write(tmp_path / 'bad.json', data)
    with pytest.raises(LVISFormatError, match=f'{ann}: {message}'):
        build(ann, metainfo=dict(classes=('a_f',)))


def test_unreadable_unknown_name_and_empty_subset(tmp_path):
    bad = tmp_path / 'broken.json'
    bad.write_text('{"images": [')
    with pytest.raises(LVISFormatError, match=f'{bad}: not valid JSON'):
        build(bad, metainfo=dict(classes=('a_f',)))
    with pytest.raises(LVISFormatError, match=f'{tmp_path / "nope.json"}: cannot read file'):
        build(tmp_path / 'nope.json', metainfo=dict(classes=('a_f',)))
    ann = write(tmp_path / 'v1.json', v1_data())
    with pytest.raises(LVISFormatError, match='field "categories" has no category named \'zebra\''):
        build(ann, metainfo=dict(classes=('a_f', 'zebra')))
    data = v1_data()
    data['images'][0]['neg_category_ids'] = []
    data['annotations'] = [a for a in data['annotations'] if a['category_id'] != 2]
    ann = write(tmp_path / 'empty.json', data)
    with pytest.raises(LVISFormatError, match="the subset is empty: no image has \\['b_c'\\]"):
        build(ann, metainfo=dict(classes=('b_c',)))


def test_corrupt_chosen_annotation_names_the_file(tmp_path):
    data = v1_data()
    # one chosen category of many: only its annotations are decoded, one by one
    data['categories'] += [dict(id=i, name=f'x{i}', frequency='r', synset=f'x{i}.n.01')
                           for i in range(4, 14)]
    text = json.dumps(data).replace('"bbox": [2, 2, 10, 10]', '"bbox": [2, 2, 10,, 10]')
    bad = tmp_path / 'corrupt.json'
    bad.write_text(text)
    with pytest.raises(LVISFormatError, match=f'{bad}: annotations\\[1\\] is not valid JSON'):
        build(bad, metainfo=dict(classes=('a_f',)), not_exhaustive='keep')
    # most categories chosen: the annotations are parsed at once
    with pytest.raises(LVISFormatError, match=f'{bad}: field "annotations" is not valid JSON'):
        build(bad, metainfo=dict(classes=tuple(c['name'] for c in data['categories'])))


@pytest.mark.parametrize('kw, message', [
    (dict(num_per_freq=dict(f=-1, c=1)), r'num_per_freq counts must be integers >= 0'),
    (dict(num_per_freq=dict(f=0)), r'chooses no category'),
    (dict(metainfo=dict(classes=('a_f',)), split='train', val_fraction='0.1'),
     r'val_fraction must be a number from 0 to 1'),
    (dict(metainfo=dict(classes=('a_f',)), split='train', val_fraction=2),
     r'val_fraction must be a number from 0 to 1, not 2'),
])
def test_bad_dataset_arguments(tmp_path, kw, message):
    ann = write(tmp_path / 'v1.json', v1_data())
    with pytest.raises(ValueError, match=message):
        build(ann, **kw)


def test_a_string_where_a_tuple_of_classes_is_expected_is_refused(tmp_path):
    ann = write(tmp_path / 'v1.json', v1_data())
    with pytest.raises(LVISFormatError, match=r"classes must be a tuple of category names, not "
                                              r"the string 'a_f' .*\('a_f',\)"):
        build(ann, metainfo=dict(classes='a_f'))


def test_a_training_split_that_filtering_empties_is_refused(tmp_path):
    # c_r is only verified negative (image 3): the subset has images, but none to train on.
    ann = write(tmp_path / 'v1.json', v1_data())
    assert len(build(ann, metainfo=dict(classes=('c_r',)), test_mode=True)) == 1
    with pytest.raises(LVISFormatError, match=r"v1.json: no training image is left for classes "
                                              r"\['c_r'\] in split None .*filter_empty_gt"):
        build(ann, metainfo=dict(classes=('c_r',)))


def test_cat_ids_are_a_list_with_a_sets_membership(tmp_path):
    import pickle
    from mmdet_lvis_fed.datasets.subset import CategoryIds
    ds = build(write(tmp_path / 'v1.json', v1_data()), metainfo=dict(classes=('c_r', 'a_f')))
    assert type(ds.cat_ids) is CategoryIds and ds.cat_ids == [3, 1]     # label order
    assert 1 in ds.cat_ids and 2 not in ds.cat_ids and list(ds.cat_ids) == [3, 1]
    back = pickle.loads(pickle.dumps(ds.cat_ids))
    assert back == [3, 1] and 3 in back and 2 not in back


def test_a_category_both_present_and_verified_absent_is_refused(tmp_path):
    data = v1_data()
    data['images'][0]['neg_category_ids'] = [1, 2]        # image 1 has an annotation of a_f (1)
    ann = write(tmp_path / 'both.json', data)
    with pytest.raises(LVISFormatError, match=(
            f'{ann}: images\\[0\\] \\(id 1\\): field "neg_category_ids": lists category 1, which '
            'is annotated on this image')):
        build(ann, metainfo=dict(classes=('a_f', 'b_c')), not_exhaustive='keep')
    # lazy: a subset whose categories do not meet the contradiction reads the file
    assert [d['img_id'] for d in build(ann, metainfo=dict(classes=('b_c', )), test_mode=True)] == [
        1, 4]


@pytest.mark.parametrize('bad', ['abc', 0, -5, 2.5, True])
def test_a_bad_count_of_images_names_the_file_and_field(tmp_path, bad):
    data = v1_data()
    data['info'] = dict(image_count_images=bad)
    for c in data['categories']:
        c['image_count'] = 1
    ann = write(tmp_path / 'info.json', data)
    with pytest.raises(LVISFormatError, match=f'{ann}: info: field "image_count_images": '):
        build(ann, metainfo=dict(classes=('a_f', )))


def test_lazy_parsing_leaves_unchosen_annotations_unchecked_as_documented(tmp_path):
    # lvis_file.py's docstring: an annotation of a category not chosen is never decoded
    data = v1_data()
    data['categories'] += [dict(id=i, name=f'x{i}', frequency='r', synset=f'x{i}.n.01')
                           for i in range(4, 14)]
    text = json.dumps(data).replace('"bbox": [3, 3, 5, 5]', '"bbox": [3, 3, 5,, 5]')   # b_c's
    bad = tmp_path / 'corrupt.json'
    bad.write_text(text)
    assert len(build(bad, metainfo=dict(classes=('a_f', )), not_exhaustive='keep')) == 2
    with pytest.raises(LVISFormatError, match='not valid JSON'):
        build(bad, metainfo=dict(classes=('b_c', )), not_exhaustive='keep')
