"""Federated LVIS subsets, framework-free: which categories, which images, which split.

Shared by `LVISFedDataset` and `tools/make_subset.py`, so that a subset file written by the tool and
the dataset reading the full file agree image for image.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..errors import field_error
from ..records import categories_named

FREQ_ORDER = ('f', 'c', 'r')
NOT_EXHAUSTIVE_POLICIES = ('exclude', 'keep')
SPLITS = (None, 'train', 'val')


def coco_synsets():
    """WordNet synsets of the 80 COCO categories (LVIS categories carry a `synset` field)."""
    with open(osp.join(osp.dirname(__file__), 'coco_synsets.json')) as f:
        return set(json.load(f).values())


def select_categories(categories: Sequence[dict], classes: Optional[Sequence[str]] = None,
                      num_per_freq: Optional[Dict[str, int]] = None, seed: int = 0,
                      exclude_coco: bool = False, source: Optional[str] = None) -> List[dict]:
    """Choose the subset's categories, in label order.

    Args:
        categories: the annotation file's `categories`.
        classes: category names; labels follow this order.
        num_per_freq: e.g. ``dict(f=2, c=2, r=2)``: that many categories drawn (with `seed`) from
            each frequency group, among those with at least one image (`image_count` > 0 where the
            file has it). Labels: frequent, then common, then rare, each by LVIS id.
        seed: seed of the draw.
        exclude_coco: leave out categories that are also COCO categories (by synset).
        source: file name for error messages.
    """
    where = f'{source}: ' if source else ''
    if (classes is None) == (num_per_freq is None):
        raise ValueError('give exactly one of classes=(...) and num_per_freq=dict(f=.., c=.., r=..)')
    coco = coco_synsets() if exclude_coco else set()
    if classes is not None:
        chosen = categories_named(categories, classes, source)
        clash = [c['name'] for c in chosen if c.get('synset') in coco]
        if clash:
            raise ValueError(f'exclude_coco=True but these classes are COCO categories: {clash}')
        return chosen
    unknown = set(num_per_freq) - set(FREQ_ORDER)
    if unknown:
        raise ValueError(f'num_per_freq keys must be among f, c, r; got {sorted(unknown)}')
    bad = {k: v for k, v in num_per_freq.items()
           if isinstance(v, bool) or not isinstance(v, int) or v < 0}
    if bad:
        raise ValueError(f'num_per_freq counts must be integers >= 0, got {bad}')
    if not sum(num_per_freq.values()):
        raise ValueError(f'num_per_freq={dict(num_per_freq)} chooses no category')
    rng = np.random.default_rng(seed)
    chosen = []
    for f in FREQ_ORDER:
        want = int(num_per_freq.get(f, 0))
        pool = sorted((c for c in categories if c.get('frequency') == f
                       and c.get('image_count', 1) > 0 and c.get('synset') not in coco),
                      key=lambda c: c['id'])
        if want > len(pool):
            raise ValueError(f'{where}num_per_freq asks for {want} {f!r} categories, the file has '
                             f'{len(pool)} eligible')
        idx = np.sort(rng.choice(len(pool), want, replace=False)) if want else []
        chosen += [pool[i] for i in idx]
    return chosen


def in_val_split(img_ids, val_fraction: float = 0.1, split_seed: int = 0) -> np.ndarray:
    """Deterministic train/val membership of each image id.

    A hash of (image id, seed) decides, so an image lands in the same split whichever file or subset
    it is read from (the full LVIS train file, or a subset file written by tools/make_subset.py).
    """
    # splitmix64 finaliser (arithmetic modulo 2**64: the overflow is the hash)
    with np.errstate(over='ignore'):
        x = np.asarray(img_ids, np.uint64) + np.uint64(split_seed) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53) < val_fraction


def image_path(img: dict) -> str:
    """Path of an image relative to the data root, for both LVIS layouts.

    v1 images have no `file_name`: the split folder is in `coco_url`
    (http://images.cocodataset.org/train2017/000000391895.jpg -> train2017/000000391895.jpg).
    v0.5 names files in the COCO 2014 way (COCO_val2014_000000266409.jpg); the images themselves
    are the COCO 2017 ones, named by the last 16 characters.
    """
    if 'coco_url' in img and not img.get('file_name'):
        return img['coco_url'].replace('http://images.cocodataset.org/', '')
    name = img['file_name']
    return name[-16:] if name.startswith('COCO') else name


class FederatedSubset:
    """The images of a federated category subset, with their federated lists as category ids.

    An image belongs to the subset when a chosen category is positive (annotated) or verified
    negative on it; everything else about that image is unknown for the subset and it is dropped.

    Args:
        lvis: the annotation file (`LVISFile.read(path)`, or `LVISFile(dict)`), v0.5 or v1.
        categories: the chosen categories (`select_categories`), in label order.
        not_exhaustive: 'exclude' drops images where a chosen category is flagged not exhaustive
            (the seed report's choice: their missing instances would be taught as background);
            'keep' keeps them.
        split: None (all), 'train' or 'val': a deterministic split of the file's images.
        val_fraction, split_seed: see `in_val_split`.
        source: file name for error messages.
    """

    def __init__(self, lvis, categories, not_exhaustive='exclude', split=None, val_fraction=0.1,
                 split_seed=0):
        if not_exhaustive not in NOT_EXHAUSTIVE_POLICIES:
            raise ValueError(f"not_exhaustive must be 'exclude' or 'keep', not {not_exhaustive!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be None, 'train' or 'val', not {split!r}")
        if (isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float))
                or not 0 <= val_fraction <= 1):
            raise ValueError(f'val_fraction must be a number from 0 to 1, not {val_fraction!r}')
        if len(categories) > 0.25 * len(lvis.categories):
            lvis.load_all()     # most annotations are wanted: one parse beats one per object
        img_ids = lvis.validate_ids()
        a_img, a_cat = lvis.ann_image_id, lvis.ann_category_id
        self.categories = list(categories)
        self.cat_ids = [int(c['id']) for c in self.categories]
        chosen = np.array(self.cat_ids, np.int64)
        images = lvis.images
        take = np.isin(a_cat, chosen)
        ann_idx = np.nonzero(take)[0]
        pos_img = set(a_img[ann_idx].tolist())
        cat_set = set(self.cat_ids)
        keep, neg_img, neg_cat = [], [], []     # (image, chosen category) verified absent
        for i, im in enumerate(images):
            neg = cat_set.intersection(im.get('neg_category_ids', ()))
            if not neg and im['id'] not in pos_img:
                continue
            if neg and im['id'] in pos_img:
                neg_img += [i] * len(neg)
                neg_cat += neg
            nel = cat_set.intersection(im.get('not_exhaustive_category_ids', ()))
            if nel and not_exhaustive == 'exclude':
                continue
            keep.append(i)
        _check_present_and_absent(lvis, img_ids, ann_idx, chosen, neg_img, neg_cat)
        keep = np.array(keep, np.int64)
        if split is not None and len(keep):
            val = in_val_split(img_ids[keep], val_fraction, split_seed)
            keep = keep[val if split == 'val' else ~val]
        self.images = [images[i] for i in keep]
        kept_ids = img_ids[keep]
        ann_idx = ann_idx[np.isin(a_img[ann_idx], kept_ids)]
        self.annotations = lvis.annotations(ann_idx)
        lvis.check_annotations(ann_idx, self.annotations)


def _check_present_and_absent(lvis, img_ids, ann_idx, chosen, neg_img, neg_cat):
    """Refuse an image that lists a chosen category as verified absent (neg_category_ids) while
    it has annotations of it: the federated rules would count its instances both as ground truth
    and as proof that every detection of the category there is false. lvis-api accepts such a
    file silently. Only the chosen categories are checked (lazy parsing: lvis_file.py and
    annotation_scan.py)."""
    if not neg_img:
        return
    order = np.argsort(img_ids, kind='stable')
    k = len(chosen)
    cat_order = np.argsort(chosen)
    a_img = lvis.ann_image_id[ann_idx]
    a_cat = lvis.ann_category_id[ann_idx]
    img_pos = order[np.searchsorted(img_ids[order], a_img)]
    pos_keys = img_pos * k + cat_order[np.searchsorted(chosen[cat_order], a_cat)]
    neg_keys = (np.asarray(neg_img, np.int64) * k
                + cat_order[np.searchsorted(chosen[cat_order], np.asarray(neg_cat, np.int64))])
    both = np.flatnonzero(np.isin(neg_keys, pos_keys))
    if len(both):
        i, c = neg_img[both[0]], neg_cat[both[0]]
        raise field_error(lvis.source, f'images[{i}] (id {lvis.images[i]["id"]})',
                          'neg_category_ids', f'lists category {c}, which is annotated on this '
                          'image: a category cannot be both present and verified absent '
                          f'({len(both)} such pairs among the chosen categories)')


class CategoryIds(list):
    """The chosen category ids in label order: a list, whose `in` is a set's.

    mmdet's `CocoDataset.parse_data_info` asks `ann['category_id'] not in self.cat_ids` of every
    annotation; over a list of all 1,203 LVIS categories that scan costs about 7 us an
    annotation, 9 s of a full-vocabulary parse of LVIS v1 train's 1.27M annotations (0.2 us
    with a set)."""

    def __init__(self, ids=()):
        super().__init__(ids)
        self._set = frozenset(self)

    def __contains__(self, cat_id):
        return cat_id in self._set


class LVISIndex:
    """The COCO-API subset that mmdet's `CocoDataset.load_data_list` reads, over a `FederatedSubset`.

    mmdet's own LVIS datasets load through lvis-api (a run-time dependency we avoid, and an index of
    all 1.27M train annotations); this index holds only the subset's images and annotations.
    """

    def __init__(self, subset: FederatedSubset):
        self.subset = subset
        self.cats = {c['id']: c for c in subset.categories}
        # The records are the dataset's own parse of the file: annotated in place, as mmdet's
        # loader does (it adds `img_id`), rather than copied.
        self.imgs = {}
        for img in subset.images:
            img['file_name'] = image_path(img)
            self.imgs[img['id']] = img
        self.anns = {}
        self.img_ann_map = {i: [] for i in self.imgs}
        self.cat_img_map = {c: [] for c in self.cats}
        for a in subset.annotations:
            self.anns[a['id']] = a
            self.img_ann_map[a['image_id']].append(a['id'])
            self.cat_img_map[a['category_id']].append(a['image_id'])

    def get_cat_ids(self, cat_names=()):
        by_name = {c['name']: i for i, c in self.cats.items()}
        return CategoryIds(by_name[n] for n in cat_names)  # label order = the order of the names

    def get_img_ids(self):
        return list(self.imgs)

    def get_ann_ids(self, img_ids=()):
        return [a for i in img_ids for a in self.img_ann_map[i]]

    def load_imgs(self, ids):
        return [self.imgs[i] for i in ids]

    def load_anns(self, ids):
        return [self.anns[i] for i in ids]
