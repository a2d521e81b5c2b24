"""LVIS ground truth in columns (no mmengine, no torch).

Images are indexed by position in the ascending image ids, categories by position in the ascending
category ids; an (image, category) pair is one int64 key (`columns.pair_keys`), and the federated
lists of every image (`neg_category_ids`, `not_exhaustive_category_ids`) become sorted key arrays.
The file is read and validated by `lvis_file.LVISFile`, the one reader of the annotation format.
"""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..errors import LVISFormatError, where
from ..lvis_file import LVISFile
from ..records import categories_named
from .columns import index_of, pair_keys
from .masks import RLEColumn, check_rle, check_rle_counts
from .polygons import encode_polygons, polygon_rows


@dataclass
class LVISGroundTruth:
    """LVIS ground truth in columns.

    Annotation columns keep the file's order, which decides ties in matching.
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
    _rle_column: Optional[RLEColumn] = field(default=None, repr=False)

    @property
    def num_cats(self):
        return len(self.cat_ids)

    @classmethod
    def from_file(cls, path, cat_ids=None):
        """Read an annotation file; with `cat_ids`, only those categories' annotations are parsed
        (a subset of the 1 GB LVIS train file loads in seconds). The whole file is validated
        either way (`LVISFile.validate_ids`)."""
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
            ann_ids=lvis.ann_id[index],
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
            f'{where(self.source)}field "categories": no category has the requested id '
            f'{cat_ids[i]}')))

    def cat_ids_of(self, names=None):
        """Category ids of mmdet's labels 0..K-1: those of `names` in that order
        (`records.categories_named`, the one name lookup), or without names every category
        sorted by id (the label order of mmdet's LVIS datasets)."""
        if names is None:
            return self.cat_ids
        cats = [dict(id=int(i), name=n) for i, n in zip(self.cat_ids, self.cat_names)]
        return np.array([c['id'] for c in categories_named(cats, names, self.source)], np.int64)

    def rles(self):
        """Ground-truth masks as compressed RLE, decoded once and cached (polygons are merged)."""
        if self._rles is None:
            out = [self._rle(i) for i in range(len(self.ann_segm))]
            given = [i for i, segm in enumerate(self.ann_segm) if isinstance(segm, dict)
                     and isinstance(segm.get('counts'), (str, bytes))]
            if given:
                check_rle_counts(RLEColumn.from_rles([out[i] for i in given]), self.source,
                                 lambda k: (f'annotation id {self.ann_ids[given[k]]}',
                                            'segmentation'))
            self._rles = out
        return self._rles

    def _rle(self, i):
        """Annotation i's mask as pycocotools makes it (polygons merged), its problems named."""
        from pycocotools import mask as mask_utils
        segm = self.ann_segm[i]
        h, w = (int(v) for v in self.img_hw[self.ann_img[i]])
        try:
            if isinstance(segm, list):
                return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
            if isinstance(segm, dict) and isinstance(segm.get('counts'), list):
                return mask_utils.frPyObjects(segm, h, w)
            check_rle(segm, h, w, self.source, f'annotation id {self.ann_ids[i]}')
            return segm
        except LVISFormatError:
            raise
        except Exception as e:
            raise LVISFormatError(f'{where(self.source)}annotation id {self.ann_ids[i]}: '
                                  f'field "segmentation" cannot be decoded ({e})') from e

    def rle_column(self):
        """The masks of `rles()` packed in one RLEColumn, decoded once to keep their areas and
        pixel boxes (`masks.check_rle_counts`), cached. Polygons are encoded by compiled code
        (`polygons.py`, the same strings as pycocotools'), the rest as `rles()` does."""
        if self._rle_column is None:
            column = self._polygon_column() if self._rles is None else None
            if column is None:
                column = RLEColumn.from_rles(self.rles())
            check_rle_counts(column, self.source, lambda i: (f'annotation id {self.ann_ids[i]}',
                                                             'segmentation'))
            self._rle_column = column
        return self._rle_column

    def _polygon_column(self):
        """All masks as one RLEColumn, the polygon rows by `polygons.encode_polygons`."""
        n = len(self.ann_segm)
        if not n:
            return None
        hw = self.img_hw[self.ann_img]
        fast = polygon_rows(self.ann_segm)
        rows = np.flatnonzero(fast)
        chars, offsets = encode_polygons([self.ann_segm[i] for i in rows], hw[rows, 0],
                                         hw[rows, 1])
        if len(rows) == n:
            return RLEColumn(chars.tobytes(), offsets, hw[:, 0], hw[:, 1])
        # the others one by one, in file order among the polygons
        strings = [None] * n
        for k, i in enumerate(rows):
            strings[i] = chars[offsets[k]:offsets[k + 1]].tobytes()
        for i in np.flatnonzero(~fast):
            counts = self._rle(i)['counts']
            strings[i] = counts if isinstance(counts, bytes) else counts.encode()
        lengths = np.fromiter(map(len, strings), np.int64, n)
        return RLEColumn(b''.join(strings), np.r_[0, np.cumsum(lengths)], hw[:, 0], hw[:, 1])
