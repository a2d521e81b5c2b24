"""Read an LVIS annotation file without turning every annotation into Python objects.

LVIS v1 train is ~1 GB of JSON, nearly all of it 1.27M annotations' polygons; `json.load` spends
most of its time and memory building those tens of millions of floats. A category subset needs the
images, the categories and, of the annotations, only their ids, image ids and category ids plus the
chosen categories' annotations in full. So: the file minus its annotations array is parsed normally;
the array itself is scanned for the `"id"`, `"image_id"` and `"category_id"` values
(`annotation_scan`: numpy over the raw bytes); the chosen annotations alone are decoded. The id
columns cover the whole file, so every reader (the dataset, the metric on a category subset, the
CLI) refuses the same file, a duplicate annotation id outside the subset included. Where the file
does not have the shape this relies on (one annotations array, flat annotation objects), the whole
file is parsed at once.

JSON is decoded by msgspec (into plain dicts and lists, three times `json`'s speed on an LVIS
file); where msgspec refuses the text, `json` decides: it reads the NaN and Infinity that Python
writes (the validators below then name the field) and words its errors with line and column.

What lazy parsing does not check: an annotation of a category the subset did not choose is never
decoded, so its JSON syntax (inside the annotations array), its box, area and segmentation go
unchecked, as do the federated contradictions that only involve such categories (a category both
annotated on an image and listed in its neg_category_ids: `datasets.subset` refuses it for the
chosen categories). Its three ids are read and checked like every other annotation's. A file used
with every category (the full-vocabulary configs, `tools/lvis_eval.py` without a subset) is checked
whole.

This is the one reader and validator of the annotation format (its record rules, shared with the
detections, are `records`): the dataset, the metric's ground
truth and the tools all read through it, so a file is refused (or accepted) the same way by all of
them. Only numpy and the standard library: it imports no torch, mmengine or mmdet.
"""
import gc
import json
import math
from contextlib import contextmanager

import msgspec
import numpy as np

from .annotation_scan import annotations_region, scan_annotations
from .errors import LVISFormatError, describe, field_error
from .io import read_bytes
from .records import (BOX_RULE, check_boxes, check_category, check_image, id_column, is_number,
                      required)

_MISSING = object()


@contextmanager
def _no_gc():
    """Parsing a million annotations creates millions of containers; the cyclic collector would
    traverse them again and again while nothing can be garbage yet."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class LVISFile:
    """An LVIS annotation file: `images`, `categories` (parsed), annotation id columns, and the
    annotations of any category subset on demand.

    Attributes:
        images, categories (list[dict]); ann_image_id, ann_category_id, ann_id (np.ndarray, file
        order).
    """

    def __init__(self, data: dict, raw_anns=None, source=None):
        self.source = source
        where = f'{source}: ' if source else ''
        if not isinstance(data, dict):
            raise LVISFormatError(f'{where}top level is a {type(data).__name__}, not an LVIS dict')
        for key in ('images', 'categories') + (() if raw_anns else ('annotations',)):
            if not isinstance(data.get(key), list):
                raise LVISFormatError(f'{where}field "{key}" is missing or not a list: not an '
                                      'LVIS annotation file')
        self.data = data
        self.images, self.categories = data['images'], data['categories']
        self._anns = None if raw_anns else data['annotations']
        self._raw, self._starts, self._cols = raw_anns, None, None

    @property
    def ann_image_id(self):
        return self._columns()[0]

    @property
    def ann_category_id(self):
        return self._columns()[1]

    @property
    def ann_id(self):
        return self._columns()[2]

    def _columns(self):
        """(image ids, category ids, ids) of all annotations: scanned from the raw bytes while the
        annotations are unparsed, read from the dicts once they are parsed."""
        if self._cols is None and self._anns is None:
            scan = scan_annotations(*self._raw)
            if scan is None:                     # not flat objects: parse them after all
                self.load_all()
            else:
                self._starts, self._cols = scan[0], scan[1:]
        if self._cols is None:
            anns, cols = self._anns, []
            for key in ('image_id', 'category_id', 'id'):
                bad = next((i for i, a in enumerate(anns)
                            if not isinstance(a, dict) or key not in a), None)
                if bad is not None:
                    if not isinstance(anns[bad], dict):
                        raise LVISFormatError(f'{self.source}: annotations[{bad}] is '
                                              f'{describe(anns[bad])}, not an object')
                    raise field_error(self.source, f'annotations[{bad}]', key, 'missing')
                cols.append(id_column([a[key] for a in anns], self.source, 'annotations', key))
            self._cols = tuple(cols)
        return self._cols

    @classmethod
    def read(cls, path):
        """Read `path`; annotations stay unparsed where the file has the expected shape."""
        raw = read_bytes(path)
        region = annotations_region(raw)
        if region is not None:
            begin, end = region
            try:
                with _no_gc():
                    rest = _loads(raw[:begin] + raw[end:])
                return cls(rest, (raw, begin, end), source=str(path))
            except ValueError:
                pass                       # not the shape we assumed: parse the whole file
        try:
            with _no_gc():
                data = _loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise LVISFormatError(f'{path}: not valid JSON ({e})') from e
        return cls(data, source=str(path))

    def __len__(self):
        return len(self.ann_image_id)

    def load_all(self):
        """Parse every annotation at once: cheaper than one by one when most are wanted."""
        if self._anns is None:
            raw, begin, end = self._raw
            # The array, brackets included, decoded in place (no copy of the file's bytes).
            self._raw = self._starts = self._cols = None
            try:
                with _no_gc():
                    self._anns = _loads(memoryview(raw)[begin - 1:end + 1])
            except ValueError as e:
                raise LVISFormatError(f'{self.source}: field "annotations" is not valid JSON '
                                      f'({e})') from e
        return self._anns

    def annotations(self, index):
        """The annotations at positions `index` (ascending), as dicts."""
        self._columns()
        if self._anns is not None:
            return [self._anns[i] for i in index]
        raw, starts = self._raw[0], self._starts
        out = []
        for i in index:
            chunk = raw[starts[i]:starts[i + 1]].rstrip()
            if chunk.endswith(b','):
                chunk = chunk[:-1]
            try:
                out.append(_loads(chunk))
            except ValueError as e:
                raise LVISFormatError(f'{self.source}: annotations[{i}] is not valid JSON '
                                      f'({e})') from e
        return out

    def check_annotations(self, index, annotations):
        """The parsed annotations (`annotations(index)`): a `bbox` of exactly 4 numbers that
        passes `check_boxes`, a finite `area`, and no nulls (ids are checked over the whole file
        with the id columns, see `validate_ids`). The error names the first bad record and
        field. Returns the boxes, (n, 4) float64."""
        src = self.source
        boxes = []
        for i, a in zip(index, annotations):
            rec = f'annotations[{i}]'
            if type(a) is not dict:
                raise LVISFormatError(f'{src}: {rec} is {describe(a)}, not an object')
            box = required(a, 'bbox', src, rec)
            if type(box) is not list or len(box) != 4 or not all(map(is_number, box)):
                raise field_error(src, rec, 'bbox', f'{describe(box)} is not 4 numbers '
                                  '[x, y, width, height]')
            boxes.append(box)
            area = required(a, 'area', src, rec)
            if not is_number(area) or not math.isfinite(area):
                raise field_error(src, rec, 'area', f'{describe(area)} is not a finite number')
            segm = a.get('segmentation', _MISSING)
            if segm is not _MISSING and type(segm) not in (list, dict):
                raise field_error(src, rec, 'segmentation', f'{describe(segm)} is neither '
                                  'polygons nor an RLE object')
            ignore = a.get('ignore', 0)
            if ignore not in (0, 1) or type(ignore) not in (int, bool):
                raise field_error(src, rec, 'ignore', f'{describe(ignore)} is not 0 or 1')
        boxes = np.array(boxes, np.float64).reshape(-1, 4)
        check_boxes(boxes, lambda k: field_error(src, f'annotations[{index[k]}]', 'bbox',
                                                 f'{describe(annotations[k]["bbox"])} {BOX_RULE}'))
        return boxes

    def validate_ids(self):
        """Images, categories and the annotations' ids and references to them: unique integer
        ids, annotation ids from 1, image sizes, the federated lists, category frequencies, and
        every annotation's image and category in the file. Annotation ids are checked over the
        whole file, whichever categories are read. The error names the first record that breaks
        a rule. Returns the image ids (file order)."""
        img_ids = self._check_records('images', check_image)
        cat_ids = self._check_records('categories', check_category)
        for col, ids, key, name in ((self.ann_image_id, img_ids, 'image_id', 'images'),
                                    (self.ann_category_id, cat_ids, 'category_id', 'categories')):
            bad = ~np.isin(col, ids)
            if bad.any():
                i = int(np.argmax(bad))
                ann = self.annotations([i])[0]
                raise field_error(self.source, f'annotations[{i}] (id {ann.get("id")})', key,
                                  f'{int(col[i])} is not in "{name}"')
        ids = self.ann_id
        if len(ids) and ids.min() < 1:
            # lvis-api records a match as the matched annotation's id, so a match to id 0 reads
            # as no match: its numbers would silently differ. LVIS ids start at 1.
            i = int(np.argmax(ids < 1))
            raise field_error(self.source, f'annotations[{i}]', 'id', f'{ids[i]}: annotation ids '
                              'start at 1 (lvis-api counts a match to id 0 as no match)')
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        again = np.nonzero(first[inverse] != np.arange(len(ids)))[0]
        if len(again):
            i = int(again[0])
            raise field_error(self.source, f'annotations[{i}]', 'id', f'{ids[i]} is the id of '
                              f'annotations[{first[inverse[i]]}] too')
        return img_ids

    def _check_records(self, name, check):
        records, src = getattr(self, name), self.source
        for i, r in enumerate(records):
            if type(r) is not dict:
                raise LVISFormatError(f'{src}: {name}[{i}] is {describe(r)}, not an object')
            check(r, src, f'{name}[{i}]')
        ids = np.array([r['id'] for r in records], np.int64)
        uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            where = np.nonzero(ids == dup)[0]
            raise field_error(src, f'{name}[{where[1]}]', 'id',
                              f'{dup} is the id of {name}[{where[0]}] too')
        return ids


def _loads(buf):
    try:
        return msgspec.json.decode(buf)
    except msgspec.DecodeError:
        return json.loads(bytes(buf))
