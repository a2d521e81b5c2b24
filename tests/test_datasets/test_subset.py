"""The federated subset (datasets/subset.py) on a hand-written file: which categories, which
images under each not_exhaustive policy, which annotations, the split, and the index mmdet reads."""
import json
import re

import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.datasets.subset import (CategoryIds, FederatedSubset, LVISIndex, image_path,
                                            in_val_split, select_categories)
from mmdet_lvis_fed.lvis_file import LVISFile

# Categories: a (f), b (c), c (r), d (f, on no image: image_count 0), e (f).
CATS = [dict(id=1, name='a', frequency='f', image_count=3, synset='a.n.01'),
        dict(id=2, name='b', frequency='c', image_count=1, synset='b.n.01'),
        dict(id=3, name='c', frequency='r', image_count=1, synset='c.n.01'),
        dict(id=4, name='d', frequency='f', image_count=0, synset='d.n.01'),
        dict(id=5, name='e', frequency='f', image_count=1, synset='person.n.01')]


def image(i, neg=(), ne=()):
    return dict(id=i, height=10, width=10, coco_url=f'http://images.cocodataset.org/val2017/'
                f'{i:012d}.jpg', neg_category_ids=list(neg), not_exhaustive_category_ids=list(ne))


# Choosing {a, b}:
#   image 10: a annotated, b verified absent            -> in
#   image 11: only c annotated, nothing of a, b listed   -> out (a, b unknown there)
#   image 12: nothing annotated, a verified absent       -> in (a negative image)
#   image 13: a annotated but not exhaustively           -> out under 'exclude', in under 'keep'
#   image 14: b annotated, c verified absent             -> in
IMAGES = [image(10, neg=[2]), image(11), image(12, neg=[1]), image(13, ne=[1]), image(14, neg=[3])]
ANNS = [dict(id=1, image_id=10, category_id=1), dict(id=2, image_id=11, category_id=3),
        dict(id=3, image_id=13, category_id=1), dict(id=4, image_id=14, category_id=2),
        dict(id=5, image_id=10, category_id=1), dict(id=6, image_id=14, category_id=5)]
for a in ANNS:
    a.update(bbox=[1, 1, 2, 2], area=4, segmentation=[[1, 1, 3, 1, 3, 3, 1, 3]])


def lvis(images=IMAGES, anns=ANNS):
    return LVISFile(json.loads(json.dumps(dict(images=images, annotations=anns, categories=CATS))),
                    source='hand.json')


def subset(classes=('b', 'a'), **kw):
    f = lvis()
    return FederatedSubset(f, select_categories(f.categories, classes=classes), **kw)


def test_images_and_annotations_of_the_chosen_categories():
    s = subset()
    assert s.cat_ids == [2, 1]                                  # label order: the names'
    assert [im['id'] for im in s.images] == [10, 12, 14]
    assert [a['id'] for a in s.annotations] == [1, 4, 5]       # a and b on kept images
    keep = subset(not_exhaustive='keep')
    assert [im['id'] for im in keep.images] == [10, 12, 13, 14]
    assert [a['id'] for a in keep.annotations] == [1, 3, 4, 5]


def test_a_category_both_annotated_and_verified_absent_is_refused():
    images = [image(10, neg=[1])] + IMAGES[1:]
    with pytest.raises(LVISFormatError, match=re.escape(
            'hand.json: images[0] (id 10): field "neg_category_ids": lists category 1, which is '
            'annotated on this image')):
        FederatedSubset(lvis(images), [CATS[0]])
    # a category not chosen is not checked (its annotations are never decoded)
    FederatedSubset(lvis(images), [CATS[1]])


def splitmix_val(img_id, fraction, seed):
    """in_val_split's rule written out in Python integers: splitmix64's finaliser of
    (id + seed * golden gamma), its top 53 bits as a fraction in [0, 1)."""
    m = (1 << 64) - 1
    x = (img_id + seed * 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    x ^= x >> 31
    return (x >> 11) / float(1 << 53) < fraction


def test_the_split_is_a_hash_of_the_image_id():
    ids = list(range(1, 2001))
    for fraction, seed in ((0.1, 0), (0.5, 3)):
        assert in_val_split(ids, fraction, seed).tolist() == [splitmix_val(i, fraction, seed)
                                                             for i in ids]
    val = [im['id'] for im in subset(split='val', val_fraction=0.5, split_seed=3).images]
    train = [im['id'] for im in subset(split='train', val_fraction=0.5, split_seed=3).images]
    assert sorted(val + train) == [10, 12, 14]
    assert val == [i for i in (10, 12, 14) if splitmix_val(i, 0.5, 3)]


def test_draws_per_frequency_group():
    # f: a and e eligible (d is on no image); c: b; r: c. Labels: f, then c, then r, by id.
    chosen = select_categories(CATS, num_per_freq=dict(f=2, c=1, r=1), seed=5)
    assert [c['id'] for c in chosen] == [1, 5, 2, 3]
    assert [c['id'] for c in select_categories(CATS, num_per_freq=dict(f=1), seed=5,
                                               exclude_coco=True)] == [1]   # e is COCO's person
    with pytest.raises(ValueError, match=re.escape(
            "hand.json: num_per_freq asks for 3 'f' categories, the file has 2 eligible")):
        select_categories(CATS, num_per_freq=dict(f=3), source='hand.json')
    with pytest.raises(ValueError, match='give exactly one of classes'):
        select_categories(CATS, classes=('a',), num_per_freq=dict(f=1))
    with pytest.raises(ValueError, match=re.escape("COCO categories: ['e']")):
        select_categories(CATS, classes=('e',), exclude_coco=True)


def test_image_paths_of_both_lvis_versions():
    assert image_path(dict(coco_url='http://images.cocodataset.org/train2017/000000391895.jpg')) \
        == 'train2017/000000391895.jpg'
    assert image_path(dict(file_name='COCO_val2014_000000266409.jpg')) == '000000266409.jpg'


def test_the_index_mmdet_reads():
    index = LVISIndex(subset())
    ids = index.get_cat_ids(('b', 'a'))
    assert ids == [2, 1] and isinstance(ids, CategoryIds) and 1 in ids and 3 not in ids
    assert index.get_img_ids() == [10, 12, 14]
    assert index.get_ann_ids([10, 14]) == [1, 5, 4]
    assert [im['file_name'] for im in index.load_imgs([14])] == ['val2017/000000000014.jpg']
    assert [a['category_id'] for a in index.load_anns([4, 5])] == [2, 1]
