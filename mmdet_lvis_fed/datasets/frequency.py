"""Class frequencies f(c), defined once for every consumer: repeat-factor sampling, EQL, the sampled
federated loss, ECM and test-time calibration (framework-free).

LVIS states each category's `image_count`: the number of images of the *training* file it is
annotated in. So f(c) = image_count / the number of images that count was made on, which is not
always the number of images of the file at hand: the official val file repeats the train file's
counts, and a subset file (tools/make_subset.py) keeps the full file's counts over far fewer images.
Files written by this project's tools say what their counts were made on in
`info.image_count_images`; a file that does not is taken to have counted its own images (true of the
LVIS train files).

Two sources, chosen by the consumer (`freq_source`):

* 'file': image_count / image_count_images, LVIS's own f (the same on the full file and on any
  subset of it);
* 'subset': the share of the dataset's own images whose instances include c (after the dataset's
  filters), what mmengine's ClassBalancedDataset counts.
"""
from typing import Optional, Sequence

import numpy as np

from ..errors import describe, field_error

FREQ_SOURCES = ('file', 'subset')
COUNTED_ON_KEY = 'image_count_images'


def counted_on(info: Optional[dict], num_images: int, source: Optional[str] = None) -> int:
    """The number of images a file's `image_count`s were made on (see the module docstring).
    A stated number must be a whole number > 0: anything else is an error naming `source`, the
    file, and the field."""
    n = (info or {}).get(COUNTED_ON_KEY) if isinstance(info, dict) else None
    if n is None:
        return int(num_images)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise field_error(source, 'info', COUNTED_ON_KEY,
                          f'{describe(n)} is not a number of images (a whole number > 0)')
    return int(n)


def category_frequency(image_labels: Sequence[Sequence[int]], num_classes: int) -> np.ndarray:
    """f(c) over a set of images: the share of images whose labels contain c."""
    return image_counts(image_labels, num_classes) / max(len(image_labels), 1)


def image_counts(image_labels: Sequence[Sequence[int]], num_classes: int) -> np.ndarray:
    """Images whose labels contain c, per label 0..K-1."""
    count = np.zeros(num_classes, np.float64)
    for labels in image_labels:
        count[np.unique(np.asarray(labels, np.int64))] += 1
    return count


def class_frequency(metainfo: dict, source: str = 'file') -> np.ndarray:
    """f per label of a dataset (`LVISFedDataset.metainfo`, or a checkpoint's `dataset_meta`).

    Refuses what would make f meaningless: a class without a count, a count <= 0, a count above the
    number of images it was made on.
    """
    if source not in FREQ_SOURCES:
        raise ValueError(f'freq_source must be one of {FREQ_SOURCES}, not {source!r}')
    classes = tuple(metainfo.get('classes') or ())
    where = metainfo.get('ann_file') or 'the dataset'
    if source == 'subset':
        count, total = metainfo.get('subset_image_count'), metainfo.get('subset_num_images')
        if count is None or not total:
            raise ValueError(f"freq_source='subset': {where} has no training images to count "
                             'classes on (subset_image_count / subset_num_images in its metainfo)')
        return np.asarray(count, np.float64) / float(total)
    count, total = metainfo.get('image_count'), metainfo.get(COUNTED_ON_KEY)
    if count is None or total is None or any(c is None for c in count):
        missing = [n for n, c in zip(classes, count or [None] * len(classes)) if c is None]
        raise ValueError(f"freq_source='file' needs each class's image_count from the annotation "
                         f'file; {where} has none for {missing[:5] or "its classes"}')
    for name, c in zip(classes, count):
        if not c > 0:
            raise ValueError(f"freq_source='file': {where}: category {name!r} has image_count "
                             f'{c}: a frequency needs a count > 0')
        if c > total:
            raise ValueError(f"freq_source='file': {where}: category {name!r} has image_count {c}, "
                             f'more than the {total} images it would have been counted on: the '
                             'counts come from another file; state its number of images in the '
                             f'file\'s info.{COUNTED_ON_KEY}')
    return np.asarray(count, np.float64) / float(total)
