"""LVIS v1's real category list, and synthetic annotation files over it (numpy only, no torch).

The list (`lvis_v1_categories.json`, package data) holds the 1,203 categories of the LVIS v1 train
file, with `id`, `name`, `synset`, `frequency` and `image_count`, and the number of train images
the counts were made on (100,170). LVIS data, CC BY 4.0 (lvisdataset.org), transcribed from the
lists that detectron2 ships; its `description` says so.

This module owns LVIS v1's sizes (`NUM_CLASSES`, `GROUP_SIZES`, `TRAIN_IMAGES`, ...) and is the
one generator of LVIS-v1-shaped files: the rehearsal's scaled-down data and the benchmarks'
full-size file (`write_full_size`) are drawn by the same code.

`make_lvis_v1` / `write_lvis_v1` draw an LVIS-v1-shaped file with those categories: tiny images,
every category on at least one image, each category on a share of the images proportional to its
real `image_count` (exactly `image_count` images when `num_images` is 100,170), LVIS's ratio of
annotations per (image, category) pair, and the federated lists (`neg_category_ids`,
`not_exhaustive_category_ids`) on every image. Everything is drawn as numpy columns; the file is
written in one pass, encoded a chunk at a time, so LVIS-train scale (100,170 images, ~1.27M
annotations) takes seconds and never holds a million annotation dicts at once.
"""
import json
import os.path as osp
from typing import Callable, Optional, Tuple

import msgspec
import numpy as np

from ..datasets.frequency import COUNTED_ON_KEY
from ..io import atomic_write

CATEGORIES_FILE = osp.join(osp.dirname(osp.abspath(__file__)), 'lvis_v1_categories.json')
# LVIS v1's sizes, the package's one copy (the train and val files of lvisdataset.org): 1,203
# categories, 405 frequent, 461 common, 337 rare; 1,270,141 train annotations over the 360,952
# (image, category) pairs that the categories' image_count sum to.
NUM_CLASSES = 1203
GROUP_SIZES = (('f', 405), ('c', 461), ('r', 337))
TRAIN_IMAGES = 100_170
VAL_IMAGES = 19_809
TRAIN_ANNOTATIONS = 1_270_141
VAL_ANNOTATIONS = 244_707
INSTANCES_PER_PAIR = TRAIN_ANNOTATIONS / 360_952
# The benchmarks' full-size files (`write_full_size`): COCO-sized images and 40-vertex polygons,
# so that a file of LVIS v1 train's counts takes about LVIS v1 train's bytes (~1 GB).
FULL_SIZE = dict(image_size=(640, 480), poly_points=40)


def read_categories_file() -> dict:
    """The shipped file as it is: `description`, `num_train_images`, `categories`."""
    with open(CATEGORIES_FILE) as f:
        return json.load(f)


def lvis_v1_categories() -> list:
    """The 1,203 LVIS v1 categories (fresh dicts: id, name, synset, frequency, image_count), in
    id order (ids 1..1203, so label i is id i + 1)."""
    return sorted(read_categories_file()['categories'], key=lambda c: c['id'])


def num_train_images() -> int:
    """The number of LVIS v1 train images the categories' image_count were made on (100,170)."""
    return int(read_categories_file()['num_train_images'])


def draw_boxes(rng, n, img_w, img_h, min_side=1.0):
    """(n, 4) x, y, w, h boxes inside an img_w x img_h image, sides log-uniform from `min_side`
    to 90% of the width: tiny to huge, as LVIS's are."""
    w = np.exp(rng.uniform(np.log(min_side), np.log(0.9 * img_w), n))
    h = np.clip(w * np.exp(rng.normal(0, 0.4, n)), min_side, 0.9 * img_h)
    x = rng.uniform(0, 1, n) * (img_w - w)
    y = rng.uniform(0, 1, n) * (img_h - h)
    return np.round(np.stack([x, y, w, h], 1), 2)


def _category_images(rng, num_images, per_cat):
    """(image, category) index pairs: category c on per_cat[c] distinct images, and every image
    with at least one category when there are at least as many pairs as images."""
    k = len(per_cat)
    pair_cat = rng.permutation(np.repeat(np.arange(k), per_cat))
    # The first num_images pairs give each image one category (distinct images by construction).
    anchor = pair_cat[:num_images]
    img_parts, cat_parts = [np.arange(len(anchor))], [anchor]
    rest = np.bincount(pair_cat[num_images:], minlength=k)
    order = np.argsort(anchor, kind='stable')
    bounds = np.searchsorted(anchor[order], np.arange(k + 1))
    for c in np.flatnonzero(rest):
        holders = order[bounds[c]:bounds[c + 1]]          # images whose anchor is c
        pool = np.delete(np.arange(num_images), holders)
        img_parts.append(rng.choice(pool, rest[c], replace=False))
        cat_parts.append(np.full(rest[c], c))
    img, cat = np.concatenate(img_parts), np.concatenate(cat_parts)
    by_image = np.lexsort((cat, img))
    return img[by_image], cat[by_image]


def _lists(rng, num_images, pair_img, pair_cat, k, max_negatives, not_exhaustive_share):
    """Per image, the verified-negative and not-exhaustive category indices, as CSR columns
    (offsets, values)."""
    # Negatives: up to max_negatives categories drawn per image, minus its positives and repeats.
    n_draw = rng.integers(0, max_negatives + 1, num_images)
    neg_img = np.repeat(np.arange(num_images), n_draw)
    neg_key = np.unique(neg_img.astype(np.int64) * k + rng.integers(0, k, len(neg_img)))
    pos_key = pair_img.astype(np.int64) * k + pair_cat
    neg_key = neg_key[~np.isin(neg_key, pos_key)]
    ne = rng.random(len(pair_img)) < not_exhaustive_share
    out = []
    for key in (neg_key, pos_key[ne]):                      # both sorted by image, then category
        img = key // k
        out.append((np.searchsorted(img, np.arange(num_images + 1)), key % k))
    return out


def draw_lvis_v1(num_images: int, seed: int = 0, image_size: Tuple[int, int] = (64, 48),
                 instances_per_pair: float = INSTANCES_PER_PAIR, max_negatives: int = 8,
                 not_exhaustive_share: float = 0.1, poly_points: int = 8):
    """The columns of a synthetic LVIS v1 file (see `make_lvis_v1` for the arguments)."""
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, not {num_images}')
    if instances_per_pair < 1:
        raise ValueError(f'instances_per_pair must be >= 1, not {instances_per_pair}')
    width, height = (int(v) for v in image_size)
    rng = np.random.default_rng(seed)
    cats = lvis_v1_categories()
    k = len(cats)
    counts = np.array([c['image_count'] for c in cats], np.float64)
    per_cat = np.clip(np.rint(counts * num_images / num_train_images()), 1, num_images)
    pair_img, pair_cat = _category_images(rng, num_images, per_cat.astype(np.int64))
    neg, ne = _lists(rng, num_images, pair_img, pair_cat, k, max_negatives, not_exhaustive_share)
    per_pair = rng.geometric(1.0 / instances_per_pair, len(pair_img))   # >= 1, mean as given
    ann_img, ann_cat = np.repeat(pair_img, per_pair), np.repeat(pair_cat, per_pair)
    boxes = draw_boxes(rng, len(ann_img), width, height, min_side=2.0)
    return dict(categories=cats, num_images=num_images, width=width, height=height,
                neg=neg, not_exhaustive=ne, ann_img=ann_img, ann_cat=ann_cat, boxes=boxes,
                poly_points=int(poly_points), seed=seed)


def _image_records(cols, lo, hi, folder):
    ids = [c['id'] for c in cols['categories']]
    (neg_off, neg), (ne_off, ne) = cols['neg'], cols['not_exhaustive']
    return [dict(id=i + 1, width=cols['width'], height=cols['height'], license=1,
                 coco_url=f'http://images.cocodataset.org/{folder}/{i + 1:012d}.jpg',
                 flickr_url='', date_captured='2013-11-14 16:28:13',
                 neg_category_ids=[ids[c] for c in neg[neg_off[i]:neg_off[i + 1]].tolist()],
                 not_exhaustive_category_ids=[ids[c] for c in ne[ne_off[i]:ne_off[i + 1]].tolist()])
            for i in range(lo, hi)]


def _annotation_records(cols, lo, hi):
    """Annotations lo..hi-1: boxes and polygons with poly_points vertices inscribed in them."""
    b = cols['boxes'][lo:hi]
    n = cols['poly_points']
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    half_w, half_h = b[:, 2:3] / 2, b[:, 3:4] / 2
    poly = np.empty((len(b), 2 * n))
    poly[:, 0::2] = np.round(b[:, 0:1] + half_w * (1 + np.cos(t)), 2)
    poly[:, 1::2] = np.round(b[:, 1:2] + half_h * (1 + np.sin(t)), 2)
    area = 0.5 * n * np.sin(2 * np.pi / n) * half_w[:, 0] * half_h[:, 0]   # the polygon's area
    ids = np.array([c['id'] for c in cols['categories']])
    return [dict(id=j, image_id=im, category_id=c, bbox=bb, area=a, segmentation=[p])
            for j, im, c, bb, a, p in zip(range(lo + 1, hi + 1),
                                          (cols['ann_img'][lo:hi] + 1).tolist(),
                                          ids[cols['ann_cat'][lo:hi]].tolist(), b.tolist(),
                                          np.round(area, 2).tolist(), poly.tolist())]


def _category_records(cols, lvis_counts):
    cats = [dict(c) for c in cols['categories']]
    if not lvis_counts:
        on = np.bincount(np.unique(cols['ann_img'] * len(cats) + cols['ann_cat']) % len(cats),
                         minlength=len(cats))
        for c, n in zip(cats, on.tolist()):
            c['image_count'] = n
    return cats


def _info(cols, lvis_counts):
    info = dict(description=f'synthetic LVIS v1 file (mmdet_lvis_fed.testing.lvis_v1, seed '
                            f'{cols["seed"]}), categories of LVIS v1, CC BY 4.0')
    if lvis_counts:
        info[COUNTED_ON_KEY] = num_train_images()
    return info


def make_lvis_v1(num_images: int, seed: int = 0, image_size: Tuple[int, int] = (64, 48),
                 split: str = 'train', lvis_counts: bool = True,
                 instances_per_pair: float = INSTANCES_PER_PAIR, max_negatives: int = 8,
                 not_exhaustive_share: float = 0.1, poly_points: int = 8) -> dict:
    """A synthetic LVIS-v1-shaped annotation dict with the real 1,203 categories.

    Category c is annotated on round(image_count_c * num_images / 100,170) images (at least one,
    at most all), each image has at least one category while there are as many (image, category)
    pairs as images, and a pair has 1 + Geometric instances (mean `instances_per_pair`).

    Args:
        num_images (int): images in the file.
        seed (int): seed of every draw. Defaults to 0.
        image_size (tuple): (width, height) of every image. Defaults to (64, 48), above the
            32-pixel `min_size` of the LVIS training configs.
        split (str): image folder in `coco_url`, 'train' (train2017/) or 'val' (val2017/).
            Defaults to 'train'.
        lvis_counts (bool): True: each category keeps LVIS's real `image_count` and `info` says
            they were counted on LVIS's 100,170 train images (`image_count_images`), so that
            frequencies from the file (freq_source='file') are LVIS's own at any `num_images`, as
            in a subset file; False: `image_count` counts this file's images and `info` has no such
            key. The two agree at `num_images=100170`. Defaults to True.
        instances_per_pair (float): mean annotations per (image, category) pair. Defaults to LVIS
            v1 train's 3.52.
        max_negatives (int): verified-negative categories drawn per image, 0..max (positives and
            repeats removed). Defaults to 8.
        not_exhaustive_share (float): share of (image, category) pairs listed as not exhaustive.
            Defaults to 0.1.
        poly_points (int): vertices of each instance's polygon (an ellipse inscribed in its box).
            Defaults to 8.
    """
    cols = draw_lvis_v1(num_images, seed, image_size, instances_per_pair, max_negatives,
                        not_exhaustive_share, poly_points)
    return dict(info=_info(cols, lvis_counts), licenses=[],
                categories=_category_records(cols, lvis_counts),
                images=_image_records(cols, 0, num_images, _folder(split)),
                annotations=_annotation_records(cols, 0, len(cols['ann_img'])))


def _folder(split):
    if split not in ('train', 'val'):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    return f'{split}2017'


def write_lvis_v1(path: str, num_images: int, seed: int = 0, chunk: int = 100_000,
                  progress: Optional[Callable[[str], None]] = None, **kwargs) -> str:
    """Write `make_lvis_v1(num_images, seed, **kwargs)`'s file to `path` (whole or not at all),
    encoding `chunk` records at a time. Returns `path`.

    At `num_images=100170` it has LVIS v1 train's shape: 100,170 images, about 1.27M annotations,
    each category on exactly its real `image_count` images."""
    split = kwargs.pop('split', 'train')
    lvis_counts = kwargs.pop('lvis_counts', True)
    cols = draw_lvis_v1(num_images, seed, **kwargs)
    folder = _folder(split)
    encode = msgspec.json.encode
    n_anns = len(cols['ann_img'])

    def items(make, total):
        for lo in range(0, total, chunk):
            part = encode(make(lo, min(lo + chunk, total)))[1:-1]
            yield (b',' if lo else b'') + part
            if progress:
                progress(f'  {min(lo + chunk, total)}/{total} records written')

    def write(f):
        f.write(b'{"info":' + encode(_info(cols, lvis_counts)) + b',"licenses":[],"categories":'
                + encode(_category_records(cols, lvis_counts)) + b',"images":[')
        for part in items(lambda lo, hi: _image_records(cols, lo, hi, folder), num_images):
            f.write(part)
        f.write(b'],"annotations":[')
        for part in items(lambda lo, hi: _annotation_records(cols, lo, hi), n_anns):
            f.write(part)
        f.write(b']}')
    return atomic_write(path, write, binary=True)


def write_full_size(path: str, split: str = 'train',
                    progress: Optional[Callable[[str], None]] = None) -> str:
    """The benchmarks' file: `write_lvis_v1` at LVIS v1's image count of `split` (100,170 train
    images, about 1.27M annotations, 0.80 GiB; or 19,809 val images), `FULL_SIZE`'s images and
    polygons. The same file for the loading and memory benchmarks and the rehearsal's scale."""
    num_images = dict(train=TRAIN_IMAGES, val=VAL_IMAGES).get(split)
    if num_images is None:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    return write_lvis_v1(path, num_images, seed=0 if split == 'train' else 1, split=split,
                         progress=progress, **FULL_SIZE)
