"""RepeatFactorSampler (datasets/samplers.py): its factors against detectron2's formula computed
independently on a hand-made file, and its epochs (copies, order, shards) worked by hand."""
import json
import math
from collections import Counter

import numpy as np
import pytest
from mmengine.dataset import ClassBalancedDataset

from mmdet.registry import DATASETS, DATA_SAMPLERS
from mmdet_lvis_fed.datasets.samplers import RepeatFactorSampler

# image id -> (category id, bbox width) of its annotations. Image 3 has none (in the subset through
# a verified negative); image 4's only annotation is 0.5 px wide, which mmdet's parser drops, so it
# has no instances either: both sit between images with instances (the mmengine #1048 case).
ANNS = {1: [(1, 10)], 2: [(1, 10), (2, 10)], 3: [], 4: [(3, 0.5)], 5: [(1, 10)], 6: [(4, 10)],
        7: [(1, 10), (1, 10)], 8: [(2, 10)], 9: [(1, 10)], 10: [(3, 10)], 11: [(1, 10)],
        12: [(1, 10), (4, 10)]}
IMAGE_COUNT = {1: 7, 2: 2, 3: 2, 4: 2}
THR = 0.3


@pytest.fixture
def rfs_file(tmp_path):
    images = [dict(id=i, width=100, height=100, coco_url=f'http://x/train2017/{i:012d}.jpg',
                   neg_category_ids=[3] if not a else [], not_exhaustive_category_ids=[])
              for i, a in ANNS.items()]
    anns = [dict(id=len(images) * 10 + n, image_id=i, category_id=c, bbox=[5, 5, w, 10],
                 area=w * 10, segmentation=[[5, 5, 5 + w, 5, 5 + w, 15, 5, 15]])
            for n, (i, (c, w)) in enumerate((i, a) for i, al in ANNS.items() for a in al)]
    cats = [dict(id=c, name=f'cat{c}', frequency='r', image_count=n, synset=f'cat{c}.n.01')
            for c, n in IMAGE_COUNT.items()]
    path = tmp_path / 'rfs.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return str(path)


def dataset(path):
    return DATASETS.build(dict(type='LVISFedDataset', ann_file=path, data_prefix=dict(img=''),
                               pipeline=[], check_files=False,
                               filter_cfg=dict(filter_empty_gt=False)))


def detectron2_factors(thr, freq=None):
    """detectron2's repeat_factors_from_category_frequency over the raw file, written out again:
    categories of an image = its annotations that mmdet keeps (w >= 1 and h >= 1)."""
    cats_of = {i: {c for c, w in a if w >= 1} for i, a in ANNS.items()}
    if freq is None:
        counts = Counter(c for cs in cats_of.values() for c in cs)
        freq = {c: counts[c] / len(ANNS) for c in IMAGE_COUNT}
    cat_r = {c: max(1.0, math.sqrt(thr / f)) for c, f in freq.items() if f > 0}
    return [max((cat_r[c] for c in cats_of[i]), default=1.0) for i in ANNS]


def test_factors_equal_detectron2_and_stay_aligned(rfs_file):
    ds = dataset(rfs_file)
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == list(ANNS)
    sampler = RepeatFactorSampler(ds, THR, seed=0)
    expected = detectron2_factors(THR)
    assert sampler.repeat_factors.tolist() == pytest.approx(expected, abs=1e-12)
    assert expected[2] == expected[3] == 1.0 and expected[9] == pytest.approx(math.sqrt(3.6))
    # mmengine's ClassBalancedDataset (ceil copies, fixed once) computes the same factors
    cbd = ClassBalancedDataset(dataset(rfs_file), oversample_thr=THR)
    assert cbd._get_repeat_factors(cbd.dataset, THR) == pytest.approx(expected, abs=1e-12)
    assert [Counter(cbd.repeat_indices)[i] for i in range(len(ANNS))] == [
        math.ceil(r) for r in expected]


def test_file_frequencies(rfs_file):
    sampler = RepeatFactorSampler(dataset(rfs_file), THR, seed=0, freq_source='file')
    freq = {c: n / len(ANNS) for c, n in IMAGE_COUNT.items()}    # image 4 counts for cat3 here
    assert sampler.repeat_factors.tolist() == pytest.approx(detectron2_factors(THR, freq))
    with pytest.raises(ValueError, match='freq_source'):
        RepeatFactorSampler(dataset(rfs_file), THR, freq_source='images')


def test_draws_average_to_the_factors_and_are_deterministic(rfs_file):
    sampler = DATA_SAMPLERS.build(dict(type='RepeatFactorSampler', dataset=dataset(rfs_file),
                                       repeat_thr=THR, seed=3))
    r = sampler.repeat_factors
    epochs = 2000
    mean = np.mean([sampler.draw(e) for e in range(epochs)], axis=0)
    frac = r - np.floor(r)
    sigma = np.sqrt(frac * (1 - frac) / epochs)
    assert (np.abs(mean - r) <= 3 * sigma + 1e-12).all()
    # one epoch: fixed length round(sum r), same seed and epoch -> same list, another epoch differs
    sampler.set_epoch(5)
    first = list(sampler)
    assert len(first) == len(sampler) == round(r.sum())
    again = DATA_SAMPLERS.build(dict(type='RepeatFactorSampler', dataset=dataset(rfs_file),
                                     repeat_thr=THR, seed=3))
    again.set_epoch(5)
    assert list(again) == first
    again.set_epoch(6)
    assert list(again) != first


def test_shards_across_ranks(rfs_file):
    shards = []
    for rank in (0, 1):
        s = RepeatFactorSampler(dataset(rfs_file), THR, seed=1)
        s.rank, s.world_size = rank, 2
        s.num_samples = math.ceil(s.total / 2)
        shards.append(list(s))
    whole = RepeatFactorSampler(dataset(rfs_file), THR, seed=1)
    whole.num_samples = 2 * math.ceil(whole.total / 2)        # the same padded length, one rank
    full = list(whole)
    assert shards[0] == full[0::2] and shards[1] == full[1::2]


@pytest.mark.parametrize('thr', [float('nan'), float('inf'), 0.0, -0.1, True, '0.1'])
def test_thresholds_that_are_not_finite_and_positive_are_refused(rfs_file, thr):
    with pytest.raises(ValueError, match='repeat_thr must be a finite number > 0'):
        RepeatFactorSampler(dataset(rfs_file), thr, seed=0)


def test_file_counts_that_are_not_positive_are_refused(tmp_path, rfs_file):
    data = json.loads(open(rfs_file).read())
    data['categories'][1]['image_count'] = 0
    path = tmp_path / 'zero.json'
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="category 'cat2' has image_count 0"):
        RepeatFactorSampler(dataset(str(path)), THR, seed=0, freq_source='file')


def test_an_epoch_far_larger_than_the_dataset_is_logged(rfs_file):
    import io
    import logging
    from mmengine.logging import MMLogger
    ds = dataset(rfs_file)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = MMLogger.get_current_instance()        # the run's logger: its log file in a run
    logger.addHandler(handler)
    try:
        sampler = RepeatFactorSampler(ds, 1e3, seed=0)
    finally:
        logger.removeHandler(handler)
    assert len(sampler) > 10 * len(ANNS)
    assert 'an epoch holds' in stream.getvalue() and 'x the 12 images' in stream.getvalue()


# --- epochs worked by hand, on a dataset that only says each image's labels ---------------------

class Labelled:
    """The least a sampler reads: len, get_cat_ids and the classes."""
    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, i):
        return self.labels[i]


# 16 images: class 'a' on all, 'b' on images 1-4 (f = 1/4), 'c' on image 0 (f = 1/16). With t = 1:
# r(a) = 1, r(b) = sqrt(1 / (1/4)) = 2, r(c) = sqrt(16) = 4, so the images' factors are 4 (image
# 0), 2 (images 1-4) and 1 (images 5-15), whole numbers: every epoch draws exactly 4 + 8 + 11 = 23.
INTEGER = [[0, 2]] + [[0, 1]] * 4 + [[0]] * 11
BY_HAND = [0] * 4 + [i for i in range(1, 5) for _ in range(2)] + list(range(5, 16))


def test_whole_factors_give_the_same_epoch_every_time():
    s = RepeatFactorSampler(Labelled(INTEGER), 1.0, seed=3, shuffle=False)
    assert s.repeat_factors.tolist() == [4.0] * 1 + [2.0] * 4 + [1.0] * 11
    assert len(s) == s.total == 23
    for epoch in (0, 7):
        s.set_epoch(epoch)
        assert list(s) == BY_HAND
    shuffled = RepeatFactorSampler(Labelled(INTEGER), 1.0, seed=3)
    shuffled.set_epoch(1)
    one = list(shuffled)
    assert sorted(one) == BY_HAND and one != BY_HAND
    shuffled.set_epoch(2)
    assert sorted(shuffled) == BY_HAND and list(shuffled) != one


def test_two_ranks_split_one_epoch_and_pad_from_its_start(monkeypatch):
    import mmdet_lvis_fed.datasets.samplers as samplers
    shards = []
    for rank in (0, 1):
        monkeypatch.setattr(samplers, 'get_dist_info', lambda rank=rank: (rank, 2))
        s = RepeatFactorSampler(Labelled(INTEGER), 1.0, seed=3, shuffle=False)
        assert len(s) == 12                                  # ceil(23 / 2)
        shards.append(list(s))
    # 23 indices padded to 24 with the first one; rank r takes positions r, r + 2, ...
    padded = BY_HAND + BY_HAND[:1]
    assert shards == [padded[0::2], padded[1::2]]


def test_fractional_factors_draw_floor_plus_a_coin_per_epoch():
    # 4 images, K = 3: labels [0], [0, 1], [2], []: f = 1/2, 1/4, 1/4; t = 1/2:
    # r = (1, sqrt(2), sqrt(2), 1 for the image without labels).
    s = RepeatFactorSampler(Labelled([[0], [0, 1], [2], []]), 0.5, seed=0)
    assert s.repeat_factors.tolist() == pytest.approx([1, math.sqrt(2), math.sqrt(2), 1])
    assert len(s) == 5 == round(2 + 2 * math.sqrt(2))          # 4.83
    draws = np.array([s.draw(e) for e in range(4000)])
    assert set(np.unique(draws[:, [0, 3]])) == {1} and set(np.unique(draws[:, 1:3])) <= {1, 2}
    assert draws[:, 1:3].mean(axis=0) == pytest.approx([math.sqrt(2)] * 2, abs=0.03)
    assert (s.draw(5) == s.draw(5)).all()                  # a function of (seed, epoch)
    # the epoch keeps its fixed length whatever was drawn
    s.set_epoch(9)
    assert len(list(s)) == 5
