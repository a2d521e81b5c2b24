"""`RepeatFactorSampler`: repeat-factor sampling as an mmengine sampler (see repeat_factors.py)."""
import math
from typing import Iterator, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from torch.utils.data import Sampler

from mmdet.registry import DATA_SAMPLERS

from ..wrappers import unwrap_dataset
from .frequency import FREQ_SOURCES, class_frequency
from .repeat_factors import draw_copies, repeat_factors

# An epoch this many times the dataset is almost always a threshold on the wrong scale.
GROWTH_WARNING = 10


def _labelled(dataset):
    """The dataset that knows each index's categories (through index-preserving wrappers such as
    MultiImageMixDataset, which has no `get_cat_ids`)."""
    ds = unwrap_dataset(dataset, having='get_cat_ids')
    if ds is None:
        raise TypeError(f'RepeatFactorSampler needs a dataset with get_cat_ids(); '
                        f'{type(dataset).__name__} has none')
    return ds


@DATA_SAMPLERS.register_module()
class RepeatFactorSampler(Sampler):
    """Each epoch, image i appears floor(r_i) + Bernoulli(frac(r_i)) times, shuffled, sharded.

    The draw is a function of (seed, epoch) only, so every rank draws the same list and takes its
    own shard. The length is fixed at round(sum r) (so epoch-based schedules keep their iteration
    counts): an epoch that drew more copies drops the surplus from the end of its shuffled order,
    one that drew fewer repeats its start.

    Args:
        dataset: the training dataset (``LVISFedDataset``, or a wrapper around one).
        repeat_thr (float): t in r(c) = max(1, sqrt(t / f(c))). See repeat_factors.py for how to
            choose it: 1e-3 does nothing on a 2,000-image subset.
        seed (int, optional): defaults to a seed shared by all ranks.
        shuffle (bool): shuffle each epoch's list. Defaults to True.
        freq_source (str): 'subset' counts f(c) over this dataset's images (the categories of
            their parsed instances); 'file' takes LVIS's own f, the annotation file's
            ``image_count`` over the images it was counted on (see datasets/frequency.py), the same
            on the full file and on a subset file. Defaults to 'subset'.
    """

    def __init__(self, dataset, repeat_thr: float, seed: Optional[int] = None,
                 shuffle: bool = True, freq_source: str = 'subset'):
        if freq_source not in FREQ_SOURCES:
            raise ValueError(f'freq_source must be one of {FREQ_SOURCES}, not {freq_source!r}')
        self.rank, self.world_size = get_dist_info()
        self.dataset, self.shuffle = dataset, shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.repeat_thr, self.freq_source = repeat_thr, freq_source
        labelled = _labelled(dataset)
        image_labels = [labelled.get_cat_ids(i) for i in range(len(dataset))]
        meta = labelled.metainfo
        freq = class_frequency(meta, 'file') if freq_source == 'file' else None
        self.repeat_factors = repeat_factors(image_labels, repeat_thr, freq, len(meta['classes']))
        self.epoch = 0
        self.total = int(round(float(self.repeat_factors.sum())))
        self.num_samples = math.ceil(self.total / self.world_size)
        if self.total > GROWTH_WARNING * len(dataset):
            print_log(f'RepeatFactorSampler(repeat_thr={repeat_thr}, freq_source={freq_source!r}): '
                      f'an epoch holds {self.total} samples, {self.total / len(dataset):.1f}x the '
                      f'{len(dataset)} images of the dataset; is the threshold on the scale of '
                      'the frequencies? (see mmdet_lvis_fed/datasets/repeat_factors.py)',
                      logger='current', level=30)

    def draw(self, epoch: int) -> np.ndarray:
        """Copies of each index for `epoch` (before the list is cut to the fixed length)."""
        return draw_copies(self.repeat_factors, np.random.default_rng([self.seed, epoch]))

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        indices = np.repeat(np.arange(len(self.repeat_factors)), self.draw(self.epoch))
        if self.shuffle:
            indices = rng.permutation(indices)
        size = self.num_samples * self.world_size
        if len(indices) < size:
            indices = np.resize(indices, size)     # repeats from the start
        indices = indices[:size]
        return iter(indices[self.rank:size:self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
