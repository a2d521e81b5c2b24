"""LVIS-format ground truth and detections as flat numpy arrays (no mmengine, no torch).

The evaluator works on columns instead of per-annotation dicts: a category id and an image id become
dense indices, an (image, category) pair becomes one int64 key, and the federated lists of every image
(`neg_category_ids`, `not_exhaustive_category_ids`) become sorted key arrays that `np.searchsorted`
can test in bulk.
"""
import json
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np


class LVISFormatError(ValueError):
    """Bad LVIS-format input; the message names the file (if any), the record and the field."""


def _where(source):
    return f'{source}: ' if source else ''


def load_json(path):
    """Read a JSON file, turning every failure into one error that names the file."""
    try:
        with open(path, 'rb') as f:
            return json.load(f)
    except OSError as e:
        raise LVISFormatError(f'{path}: cannot read file ({e.strerror or e})') from e
    except (ValueError, UnicodeDecodeError) as e:
        raise LVISFormatError(f'{path}: not valid JSON ({e})') from e


def _require(d, key, source, what):
    if not isinstance(d, dict) or key not in d:
        raise LVISFormatError(f'{_where(source)}{what} has no field "{key}"')
    return d[key]


def pair_keys(img_idx, cat_idx, num_cats):
    """One int64 key per (image, category) pair, ordered by image then category."""
    return np.asarray(img_idx, np.int64) * num_cats + np.asarray(cat_idx, np.int64)


def in_sorted(keys, sorted_keys):
    """Vectorised membership test of `keys` in an ascending unique array."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == len(sorted_keys)] = 0
    return sorted_keys[pos] == keys


def index_of(values, sorted_ids, source, what, field_name):
    """Map ids to dense indices in `sorted_ids`; an unknown id is an error naming the first record."""
    values = np.asarray(values, np.int64)
    if len(sorted_ids) == 0:
        if len(values):
            raise LVISFormatError(f'{_where(source)}{what} 0: unknown {field_name} {values[0]}')
        return values
    pos = np.searchsorted(sorted_ids, values)
    pos_c = np.minimum(pos, len(sorted_ids) - 1)
    bad = sorted_ids[pos_c] != values
    if bad.any():
        i = int(np.argmax(bad))
        raise LVISFormatError(f'{_where(source)}{what} {i}: unknown {field_name} {int(values[i])}')
    return pos_c


@dataclass
class LVISGroundTruth:
    """LVIS ground truth in columns.

    Images are indexed by position in the ascending `img_ids`, categories by position in the ascending
    `cat_ids`. Annotation columns keep the file's order, which decides ties in matching.
    """
    img_ids: np.ndarray
    img_hw: np.ndarray                 # (num_imgs, 2) height, width
    cat_ids: np.ndarray
    cat_names: List[str]
    cat_freq: np.ndarray               # 'r' | 'c' | 'f' per category (object array)
    neg_keys: np.ndarray               # sorted unique (image, category) keys
    nel_keys: np.ndarray               # sorted unique not-exhaustive keys
    ann_ids: np.ndarray
    ann_img: np.ndarray                # image index
    ann_cat: np.ndarray                # category index
    ann_bbox: np.ndarray               # (n, 4) x, y, w, h float64
    ann_area: np.ndarray
    ann_ignore: np.ndarray             # bool
    ann_segm: list = field(repr=False)
    source: Optional[str] = None
    _rles: Optional[list] = field(default=None, repr=False)

    @property
    def num_cats(self):
        return len(self.cat_ids)

    @classmethod
    def from_file(cls, path, cat_ids=None):
        """Read an annotation file; with `cat_ids`, only those categories' annotations are parsed
        (a subset of the 1 GB LVIS train file loads in seconds)."""
        from ..datasets.lvis_file import LVISFile   # pure reader; imported here to avoid a cycle
        lvis = LVISFile.read(path)
        if cat_ids is None:
            anns = lvis.load_all()
        else:
            keep = np.nonzero(np.isin(lvis.ann_category_id, np.asarray(list(cat_ids), np.int64)))[0]
            anns = lvis.annotations(keep)
        return cls.from_dict(dict(images=lvis.images, categories=lvis.categories,
                                  annotations=anns), source=str(path))

    @classmethod
    def from_dict(cls, data, source=None):
        if not isinstance(data, dict):
            raise LVISFormatError(f'{_where(source)}top level is a {type(data).__name__}, '
                                  'not an LVIS annotation dict')
        images = _require(data, 'images', source, 'the file')
        cats = _require(data, 'categories', source, 'the file')
        anns = _require(data, 'annotations', source, 'the file')
        for name, value in (('images', images), ('categories', cats), ('annotations', anns)):
            if not isinstance(value, list):
                raise LVISFormatError(f'{_where(source)}field "{name}" is not a list')

        cat_ids = np.array([_require(c, 'id', source, f'categories[{i}]')
                            for i, c in enumerate(cats)], np.int64)
        order = np.argsort(cat_ids, kind='stable')
        cat_ids = cat_ids[order]
        if len(cat_ids) > 1 and (np.diff(cat_ids) == 0).any():
            dup = int(cat_ids[1:][np.diff(cat_ids) == 0][0])
            raise LVISFormatError(f'{_where(source)}categories: duplicate id {dup}')
        cats = [cats[i] for i in order]
        freq = np.array([_require(c, 'frequency', source, f'category {c["id"]}') for c in cats],
                        dtype=object)
        bad = [f for f in freq if f not in ('r', 'c', 'f')]
        if bad:
            raise LVISFormatError(f'{_where(source)}categories: field "frequency" is {bad[0]!r}, '
                                  "not one of 'r', 'c', 'f'")
        names = [c.get('name', str(c['id'])) for c in cats]

        img_ids = np.array([_require(im, 'id', source, f'images[{i}]')
                            for i, im in enumerate(images)], np.int64)
        order = np.argsort(img_ids, kind='stable')
        img_ids = img_ids[order]
        images = [images[i] for i in order]
        img_hw = np.array([(_require(im, 'height', source, f'image {im["id"]}'),
                            _require(im, 'width', source, f'image {im["id"]}')) for im in images],
                          np.int64).reshape(-1, 2)
        num_cats = len(cat_ids)

        def federated_keys(field_name):
            img_idx, cat_list = [], []
            for i, im in enumerate(images):
                ids = im.get(field_name, [])
                img_idx.append(np.full(len(ids), i, np.int64))
                cat_list.append(np.asarray(ids, np.int64))
            if not images:
                return np.zeros(0, np.int64)
            cids = np.concatenate(cat_list)
            iidx = np.concatenate(img_idx)
            # Categories named in a federated list but absent from the file cannot be evaluated.
            pos = np.searchsorted(cat_ids, cids)
            ok = pos < num_cats
            ok[ok] = cat_ids[pos[ok]] == cids[ok]
            return np.unique(pair_keys(iidx[ok], pos[ok], num_cats))

        ann_img = index_of([_require(a, 'image_id', source, f'annotations[{i}]')
                            for i, a in enumerate(anns)], img_ids, source, 'annotation', 'image_id')
        ann_cat = index_of([a.get('category_id', -1) for a in anns], cat_ids, source,
                           'annotation', 'category_id')
        ann_bbox = np.array([_require(a, 'bbox', source, f'annotations[{i}]')
                             for i, a in enumerate(anns)], np.float64).reshape(-1, 4)
        ann_area = np.array([_require(a, 'area', source, f'annotations[{i}]')
                             for i, a in enumerate(anns)], np.float64)
        return cls(
            img_ids=img_ids, img_hw=img_hw, cat_ids=cat_ids, cat_names=names, cat_freq=freq,
            neg_keys=federated_keys('neg_category_ids'),
            nel_keys=federated_keys('not_exhaustive_category_ids'),
            ann_ids=np.array([a.get('id', i + 1) for i, a in enumerate(anns)], np.int64),
            ann_img=ann_img, ann_cat=ann_cat, ann_bbox=ann_bbox, ann_area=ann_area,
            ann_ignore=np.array([bool(a.get('ignore', 0)) for a in anns], bool),
            ann_segm=[a.get('segmentation') for a in anns], source=source)

    def cat_indices(self, cat_ids=None):
        """Dense indices of the evaluated categories (all of them when `cat_ids` is None)."""
        if cat_ids is None:
            return np.arange(self.num_cats)
        return np.unique(index_of(list(cat_ids), self.cat_ids, self.source, 'requested category',
                                  'category id'))

    def rles(self):
        """Ground-truth masks as compressed RLE, decoded once and cached (polygons are merged)."""
        if self._rles is None:
            from pycocotools import mask as mask_utils
            out = []
            for i, segm in enumerate(self.ann_segm):
                h, w = (int(v) for v in self.img_hw[self.ann_img[i]])
                try:
                    if isinstance(segm, list):
                        rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
                    elif isinstance(segm, dict) and isinstance(segm.get('counts'), list):
                        rle = mask_utils.frPyObjects(segm, h, w)
                    else:
                        rle = segm
                        check_rle(rle, h, w, self.source, f'annotation id {self.ann_ids[i]}')
                except LVISFormatError:
                    raise
                except Exception as e:
                    raise LVISFormatError(f'{_where(self.source)}annotation id {self.ann_ids[i]}: '
                                          f'field "segmentation" cannot be decoded ({e})') from e
                out.append(rle)
            given = [i for i, segm in enumerate(self.ann_segm) if isinstance(segm, dict)
                     and isinstance(segm.get('counts'), (str, bytes))]
            if given:
                check_rle_counts(RLEColumn.from_rles([out[i] for i in given]), self.source,
                                 lambda k: f'annotation id {self.ann_ids[given[k]]}')
            self._rles = out
        return self._rles


def check_rle_counts(column, source, name_of):
    """Refuse masks whose RLE runs do not cover exactly their height x width: pycocotools would
    read past them or loop for ever (see rle_check.py). `name_of(row)` names a record."""
    from .rle_check import bad_rle_rows
    bad = bad_rle_rows(column.counts, column.offsets, column.heights, column.widths)
    if len(bad):
        i = int(bad[0])
        raise LVISFormatError(
            f'{_where(source)}{name_of(i)}: field "segmentation": its RLE "counts" do not '
            f'decode to {int(column.heights[i])} x {int(column.widths[i])} pixels (runs are '
            f'negative, malformed, or overrun the mask{f"; {len(bad)} such masks" if len(bad) > 1 else ""})')


def check_rle(rle, h, w, source, what):
    if not isinstance(rle, dict) or 'counts' not in rle or 'size' not in rle:
        raise LVISFormatError(f'{_where(source)}{what}: field "segmentation" is not an RLE dict '
                              'with "size" and "counts"')
    if not isinstance(rle['counts'], (str, bytes)):
        raise LVISFormatError(f'{_where(source)}{what}: field "segmentation" cannot be decoded: '
                              f'"counts" is a {type(rle["counts"]).__name__}, not a compressed '
                              'RLE string')
    if [int(v) for v in rle['size']] != [h, w]:
        raise LVISFormatError(f'{_where(source)}{what}: segmentation size {list(rle["size"])} '
                              f'does not match the image size [{h}, {w}]')


@dataclass
class Detections:
    """Detections in columns: image id, category id, score, box (x, y, w, h) and optional RLE."""
    image_id: np.ndarray
    category_id: np.ndarray
    score: np.ndarray
    bbox: np.ndarray
    segm: Optional[Sequence] = None     # compressed RLE dicts aligned with the rows
    source: Optional[str] = None
    box_given: bool = True              # False when boxes were derived from masks (lvis-api area rule)

    def __len__(self):
        return len(self.score)

    @classmethod
    def empty(cls):
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)), [])

    @classmethod
    def from_results(cls, results, source=None):
        """From the official LVIS results format (a list of dicts)."""
        if not isinstance(results, list):
            raise LVISFormatError(f'{_where(source)}results must be a list of detections, '
                                  f'not a {type(results).__name__}')
        if not results:
            return cls.empty()
        for i, r in enumerate(results):
            for key in ('image_id', 'category_id', 'score'):
                if not isinstance(r, dict) or key not in r:
                    raise LVISFormatError(f'{_where(source)}detection {i} has no field "{key}"')
        has_segm = 'segmentation' in results[0]
        segm = [r.get('segmentation') for r in results] if has_segm else None
        if has_segm and any(s is None for s in segm):
            i = next(i for i, s in enumerate(segm) if s is None)
            raise LVISFormatError(f'{_where(source)}detection {i} has no field "segmentation"')
        box_given = 'bbox' in results[0]
        if box_given:
            bbox = np.array([r.get('bbox', (math.nan,) * 4) for r in results], np.float64)
        else:
            from pycocotools import mask as mask_utils
            try:
                bbox = np.asarray(mask_utils.toBbox(segm), np.float64)
            except Exception as e:
                raise LVISFormatError(f'{_where(source)}detections: field "segmentation" '
                                      f'cannot be decoded ({e})') from e
        return cls(np.array([r['image_id'] for r in results], np.int64),
                   np.array([r['category_id'] for r in results], np.int64),
                   np.array([r['score'] for r in results], np.float64),
                   bbox.reshape(-1, 4), segm, source, box_given)

    @classmethod
    def from_file(cls, path):
        return cls.from_results(load_json(path), source=str(path))


class RLEColumn:
    """Compressed RLE masks packed in one bytes blob: no Python object per mask until one is read.

    Millions of masks as dicts cost gigabytes; here they cost their compressed counts plus 24 bytes.
    Indexing gives the pycocotools dict of one mask.
    """

    def __init__(self, counts: bytes, offsets: np.ndarray, heights: np.ndarray, widths: np.ndarray):
        self.counts, self.offsets = counts, np.asarray(offsets, np.int64)
        self.heights, self.widths = np.asarray(heights, np.int64), np.asarray(widths, np.int64)

    @classmethod
    def from_rles(cls, rles):
        counts = [r['counts'] if isinstance(r['counts'], bytes) else r['counts'].encode()
                  for r in rles]
        sizes = np.array([r['size'] for r in rles], np.int64).reshape(-1, 2)
        return cls(b''.join(counts), np.r_[0, np.cumsum([len(c) for c in counts])],
                   sizes[:, 0], sizes[:, 1])

    @classmethod
    def concat(cls, columns):
        columns = list(columns)
        if not columns:
            return cls.from_rles([])
        shift = np.cumsum([0] + [c.offsets[-1] for c in columns[:-1]])
        return cls(b''.join(c.counts for c in columns),
                   np.r_[0, np.concatenate([c.offsets[1:] + s for c, s in zip(columns, shift)])],
                   np.concatenate([c.heights for c in columns]),
                   np.concatenate([c.widths for c in columns]))

    def __len__(self):
        return len(self.heights)

    def __getitem__(self, i):
        return {'size': [int(self.heights[i]), int(self.widths[i])],
                'counts': self.counts[self.offsets[i]:self.offsets[i + 1]]}

    def __iter__(self):
        return (self[i] for i in range(len(self)))
