"""Repeat-factor sampling against detectron2's formula, computed independently on a hand-made file."""
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
