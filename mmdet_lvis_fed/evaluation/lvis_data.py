"""LVIS-format ground truth and detections as flat numpy arrays (no mmengine, no torch).

The evaluator works on columns instead of per-annotation dicts: a category id and an image id become
dense indices, an (image, category) pair becomes one int64 key, and the federated lists of every image
(`neg_category_ids`, `not_exhaustive_category_ids`) become sorted key arrays that `np.searchsorted`
can test in bulk.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from ..errors import LVISFormatError, field_error
from ..errors import where as _where
from ..lvis_file import LVISFile

__all__ = ['LVISGroundTruth', 'Detections', 'RLEColumn', 'LVISFormatError', 'pair_keys',
           'in_sorted', 'index_of', 'sort_by', 'check_rle_counts', 'check_rle']


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


def index_of(values, sorted_ids, name_bad):
    """Map ids to dense indices in `sorted_ids`. An id not there raises the LVISFormatError that
    `name_bad(i)` makes for the first such row `i`."""
    values = np.asarray(values, np.int64)
    if len(sorted_ids) == 0:
        if len(values):
            raise name_bad(0)
        return values
    lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
    if 0 <= lo and hi < 4 * len(sorted_ids) + (1 << 16) and len(values) > len(sorted_ids):
        # Ids are small integers (LVIS's are): one table lookup per value instead of a search.
        table = np.full(hi + 2, -1, np.int64)
        table[sorted_ids] = np.arange(len(sorted_ids))
        pos = table[np.clip(values, -1, hi + 1)]
        bad = pos < 0
    else:
        pos = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
        bad = sorted_ids[pos] != values
    if bad.any():
        raise name_bad(int(np.argmax(bad)))
    return pos


def sort_by(primary, descending):
    """Order by `primary` ascending, then `descending` descending, ties in input order (two
    stable sorts: quicker than np.lexsort)."""
    order = np.argsort(-descending, kind='stable')
    return order[np.argsort(primary[order], kind='stable')]


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
        return cls.from_lvis_file(LVISFile.read(path), cat_ids)

    @classmethod
    def from_dict(cls, data, source=None):
        """From an annotation dict already in memory (validated exactly as a file is)."""
        return cls.from_lvis_file(LVISFile(data, source=source))

    @classmethod
    def from_lvis_file(cls, lvis: LVISFile, cat_ids=None):
        """Columns of a validated `LVISFile` (see `LVISFile.validate_ids` and
        `check_annotations` for the rules); with `cat_ids`, of those categories' annotations."""
        if cat_ids is None:
            lvis.load_all()                 # every annotation is wanted: one parse
        lvis.validate_ids()
        if cat_ids is None:
            index = np.arange(len(lvis))
        else:
            index = np.nonzero(np.isin(lvis.ann_category_id,
                                       np.asarray(list(cat_ids), np.int64)))[0]
        anns = lvis.annotations(index)
        ann_bbox = lvis.check_annotations(index, anns)

        cats = sorted(lvis.categories, key=lambda c: c['id'])
        cat_ids = np.array([c['id'] for c in cats], np.int64)
        images = sorted(lvis.images, key=lambda im: im['id'])
        img_ids = np.array([im['id'] for im in images], np.int64)
        num_cats = len(cat_ids)

        def federated_keys(field_name):
            lists = [im[field_name] for im in images]
            img_idx = np.repeat(np.arange(len(images)), [len(v) for v in lists])
            cids = np.array([c for v in lists for c in v], np.int64)
            # Categories named in a federated list but absent from the file cannot be evaluated.
            pos = np.searchsorted(cat_ids, cids)
            ok = pos < num_cats
            ok[ok] = cat_ids[pos[ok]] == cids[ok]
            return np.unique(pair_keys(img_idx[ok], pos[ok], num_cats))

        return cls(
            img_ids=img_ids,
            img_hw=np.array([(im['height'], im['width']) for im in images],
                            np.int64).reshape(-1, 2),
            cat_ids=cat_ids, cat_names=[c['name'] for c in cats],
            cat_freq=np.array([c['frequency'] for c in cats], dtype=object),
            neg_keys=federated_keys('neg_category_ids'),
            nel_keys=federated_keys('not_exhaustive_category_ids'),
            ann_ids=np.array([a['id'] for a in anns], np.int64),
            ann_img=np.searchsorted(img_ids, lvis.ann_image_id[index]),
            ann_cat=np.searchsorted(cat_ids, lvis.ann_category_id[index]),
            ann_bbox=ann_bbox, ann_area=np.array([a['area'] for a in anns], np.float64),
            ann_ignore=np.array([bool(a.get('ignore', 0)) for a in anns], bool),
            ann_segm=[a.get('segmentation') for a in anns], source=lvis.source)

    def cat_indices(self, cat_ids=None):
        """Dense indices of the evaluated categories (all of them when `cat_ids` is None)."""
        if cat_ids is None:
            return np.arange(self.num_cats)
        cat_ids = np.asarray(list(cat_ids), np.int64)
        return np.unique(index_of(cat_ids, self.cat_ids, lambda i: LVISFormatError(
            f'{_where(self.source)}field "categories": no category has the requested id '
            f'{cat_ids[i]}')))

    def cat_ids_of(self, names=None):
        """Category ids of mmdet's labels 0..K-1: those of `names` in that order, or without
        names every category sorted by id (the label order of mmdet's LVIS datasets)."""
        if names is None:
            return self.cat_ids
        by_name = dict(zip(self.cat_names, self.cat_ids))
        missing = [n for n in names if n not in by_name]
        if missing:
            raise LVISFormatError(f'{_where(self.source)}field "categories": no category is named '
                                  f'{missing[0]!r}')
        return np.array([by_name[n] for n in names], np.int64)

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


def check_rle_counts(column, source, name_of, rows=None):
    """Refuse masks whose RLE runs do not cover exactly their height x width: pycocotools would
    read past them or loop for ever (see rle_check.py). Only `rows` (all by default) are decoded,
    each once per column: the evaluator asks for the masks pycocotools is about to read.
    `name_of(row)` names a record."""
    from .rle_check import bad_rle_rows
    rows = np.arange(len(column)) if rows is None else np.asarray(rows, np.int64)
    rows = rows[~column.counts_checked[rows]]
    if not len(rows):
        return
    bad = rows[bad_rle_rows(column.counts, column.offsets, column.heights, column.widths, rows)]
    if len(bad):
        i = int(bad.min())
        raise LVISFormatError(
            f'{_where(source)}{name_of(i)}: field "segmentation": its RLE "counts" do not '
            f'decode to {int(column.heights[i])} x {int(column.widths[i])} pixels (runs are '
            f'negative, malformed, or overrun the mask{f"; {len(bad)} such masks" if len(bad) > 1 else ""})')
    column.counts_checked[rows] = True


def check_rle(rle, h, w, source, what):
    if not isinstance(rle, dict) or 'counts' not in rle or 'size' not in rle:
        raise field_error(source, what, 'segmentation', 'not an RLE dict with "size" and "counts"')
    if not isinstance(rle['counts'], (str, bytes)):
        raise field_error(source, what, 'segmentation', f'cannot be decoded: "counts" is a '
                          f'{type(rle["counts"]).__name__}, not a compressed RLE string')
    if [int(v) for v in rle['size']] != [h, w]:
        raise field_error(source, what, 'segmentation', f'size {list(rle["size"])} does not '
                          f'match the image size [{h}, {w}]')


@dataclass
class Detections:
    """Detections in columns: image id, category id, score, box (x, y, w, h) and optional RLE."""
    image_id: np.ndarray
    category_id: np.ndarray
    score: np.ndarray
    bbox: np.ndarray
    segm: Optional[Sequence] = None     # RLEColumn (or RLE dicts) aligned with the rows
    source: Optional[str] = None
    box_given: bool = True     # False: boxes derived from masks, areas from masks (lvis-api's rule)
    images: Optional[np.ndarray] = None   # the images predicted on, with or without detections

    def __len__(self):
        return len(self.score)

    @classmethod
    def empty(cls):
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)), [])


class RLEColumn:
    """Compressed RLE masks packed in one bytes blob: no Python object per mask until one is read.

    Millions of masks as dicts cost gigabytes; here they cost their compressed counts plus 24 bytes.
    Indexing gives the pycocotools dict of one mask.
    """

    def __init__(self, counts: bytes, offsets: np.ndarray, heights: np.ndarray, widths: np.ndarray):
        self.counts, self.offsets = counts, np.asarray(offsets, np.int64)
        self.heights, self.widths = np.asarray(heights, np.int64), np.asarray(widths, np.int64)
        # per mask, set by check_rle_counts: decoding a string to check it costs more than IoU
        self.counts_checked = np.zeros(len(self.heights), bool)

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
