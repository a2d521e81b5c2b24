"""Repeat-factor sampling (Gupta et al., LVIS 2019), framework-free.

For a category c with image frequency f(c) (the share of images that contain it),
r(c) = max(1, sqrt(t / f(c))); an image is repeated r(I) = max over its categories (1 with none).
Each epoch an image appears floor(r) + Bernoulli(frac(r)) times, so r copies on average
(detectron2's `RepeatFactorTrainingSampler`; mmengine's `ClassBalancedDataset` uses ceil(r)).

Choosing t: oversampling starts at the categories with f < t. LVIS's t = 1e-3 is a full-LVIS
value (100k images: categories in fewer than 100 images). On a 2,000-image subset a rare category
in 5 images has f = 0.0025 > 1e-3 and nothing is repeated: pick t on the subset's scale, e.g. the
f of the most frequent category you want boosted (r = sqrt(t / f) for the rarer ones), or count f
on the whole file (`freq_source='file'`), where 1e-3 means what it means for LVIS.
"""
from typing import Optional, Sequence

import numpy as np

from .frequency import category_frequency


def repeat_factors(image_labels: Sequence[Sequence[int]], repeat_thr: float,
                   cat_freq: Optional[np.ndarray] = None, num_classes: Optional[int] = None
                   ) -> np.ndarray:
    """r(I) for each image, in the order given.

    Args:
        image_labels: the category labels (0..K-1) of each image's instances.
        repeat_thr: t.
        cat_freq: f(c) per label; counted over `image_labels` when None.
        num_classes: K (defaults to the largest label + 1, or len(cat_freq)).
    """
    if isinstance(repeat_thr, bool) or not (isinstance(repeat_thr, (int, float))
                                            and np.isfinite(repeat_thr) and repeat_thr > 0):
        raise ValueError(f'repeat_thr must be a finite number > 0, not {repeat_thr!r}')
    if cat_freq is None:
        k = num_classes if num_classes is not None else 1 + max(
            (int(max(x)) for x in image_labels if len(x)), default=-1)
        cat_freq = category_frequency(image_labels, k)
    cat_freq = np.asarray(cat_freq, np.float64)
    with np.errstate(divide='ignore'):
        cat_r = np.maximum(1.0, np.sqrt(repeat_thr / cat_freq))   # f = 0 -> inf, never used
    out = np.ones(len(image_labels), np.float64)
    for i, labels in enumerate(image_labels):
        if len(labels):
            out[i] = cat_r[np.asarray(labels, np.int64)].max()
    return out


def draw_copies(factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copies of each image for one epoch: floor(r) + Bernoulli(frac(r))."""
    base = np.floor(factors)
    return (base + (rng.random(len(factors)) < factors - base)).astype(np.int64)
