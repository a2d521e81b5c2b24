"""Read an LVIS annotation file without turning every annotation into Python objects.

LVIS v1 train is ~1 GB of JSON, nearly all of it 1.27M annotations' polygons; `json.load` spends
most of its time and memory building those tens of millions of floats. A category subset needs the
images, the categories and, of the annotations, only their image and category ids plus the chosen
categories' annotations in full. So: the file minus its annotations array is parsed normally; the
array itself is scanned for the `"image_id"` and `"category_id"` values (two C-level regex passes);
the chosen annotations alone are decoded. Where the file does not have the shape this relies on
(one annotations array, flat annotation objects), the whole file is parsed at once.

JSON is decoded by msgspec (into plain dicts and lists, three times `json`'s speed on an LVIS
file); where msgspec refuses the text, `json` decides: it reads the NaN and Infinity that Python
writes (the validators below then name the field) and words its errors with line and column.

This is the one reader and validator of the annotation format: the dataset, the metric's ground
truth and the tools all read through it, so a file is refused (or accepted) the same way by all of
them. Only numpy and the standard library: it imports no torch, mmengine or mmdet.
"""
import gc
import json
import math
import re
from contextlib import contextmanager

import msgspec
import numpy as np

from .errors import LVISFormatError, describe, field_error

_ANN_KEY = re.compile(rb'"annotations"\s*:\s*\[')
_IMG = re.compile(rb'"image_id"\s*:\s*(-?\d+)\s*[,}]')
_CAT = re.compile(rb'"category_id"\s*:\s*(-?\d+)\s*[,}]')
_ARRAY_END = re.compile(rb'\}\s*\]')
_MISSING = object()
FEDERATED_LISTS = ('neg_category_ids', 'not_exhaustive_category_ids')
FREQUENCIES = ('r', 'c', 'f')


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
        images, categories (list[dict]); ann_image_id, ann_category_id (np.ndarray, file order).
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

    def _columns(self):
        """(image ids, category ids) of all annotations: scanned from the raw bytes while the
        annotations are unparsed, read from the dicts once they are parsed."""
        if self._cols is None and self._anns is None:
            scan = _scan_annotations(*self._raw)
            if scan is None:                     # not flat objects: parse them after all
                self.load_all()
            else:
                self._starts, img, cat = scan
                self._cols = img, cat
        if self._cols is None:
            anns = self._anns
            bad = next((i for i, a in enumerate(anns) if not isinstance(a, dict)
                        or 'image_id' not in a or 'category_id' not in a), None)
            if bad is not None:
                raise LVISFormatError(f'{self.source}: annotations[{bad}] has no field '
                                      '"image_id" or "category_id"')
            self._cols = tuple(_id_column([a[key] for a in anns], self.source, 'annotations', key)
                               for key in ('image_id', 'category_id'))
        return self._cols

    @classmethod
    def read(cls, path):
        """Read `path`; annotations stay unparsed where the file has the expected shape."""
        try:
            with open(path, 'rb') as f:
                raw = f.read()
        except OSError as e:
            raise LVISFormatError(f'{path}: cannot read file ({e.strerror or e})') from e
        region = _annotations_region(raw)
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
        """The parsed annotations (`annotations(index)`): unique integer ids from 1, a `bbox` of
        exactly 4 finite numbers with width and height >= 0, a finite `area`, and no nulls (image
        and category ids are checked with the id columns, see `_columns`). The error names the
        first bad record and field."""
        src, seen = self.source, {}
        boxes = []
        for i, a in zip(index, annotations):
            rec = f'annotations[{i}]'
            if type(a) is not dict:
                raise LVISFormatError(f'{src}: {rec} is {describe(a)}, not an object')
            ann_id = _get(a, 'id', src, rec)
            if not _is_id(ann_id):
                raise field_error(src, rec, 'id', f'{describe(ann_id)} is not an integer id')
            if ann_id < 1:
                # lvis-api records a match as the matched annotation's id, so a match to id 0
                # reads as no match: its numbers would silently differ. LVIS ids start at 1.
                raise field_error(src, rec, 'id', f'{ann_id}: annotation ids start at 1 '
                                  '(lvis-api counts a match to id 0 as no match)')
            if ann_id in seen:
                raise field_error(src, rec, 'id', f'{ann_id} is the id of '
                                  f'annotations[{seen[ann_id]}] too')
            seen[ann_id] = i
            box = _get(a, 'bbox', src, rec)
            if type(box) is not list or len(box) != 4 or not all(map(_is_number, box)):
                raise field_error(src, rec, 'bbox', f'{describe(box)} is not 4 numbers '
                                  '[x, y, width, height]')
            boxes.append(box)
            area = _get(a, 'area', src, rec)
            if not _is_number(area) or not math.isfinite(area):
                raise field_error(src, rec, 'area', f'{describe(area)} is not a finite number')
            segm = a.get('segmentation', _MISSING)
            if segm is not _MISSING and type(segm) not in (list, dict):
                raise field_error(src, rec, 'segmentation', f'{describe(segm)} is neither '
                                  'polygons nor an RLE object')
            ignore = a.get('ignore', 0)
            if ignore not in (0, 1) or type(ignore) not in (int, bool):
                raise field_error(src, rec, 'ignore', f'{describe(ignore)} is not 0 or 1')
        boxes = np.array(boxes, np.float64).reshape(-1, 4)
        with np.errstate(invalid='ignore'):
            bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
        if bad.any():
            k = int(np.argmax(bad))
            raise field_error(src, f'annotations[{index[k]}]', 'bbox',
                              f'{describe(annotations[k]["bbox"])} is not finite, or has a '
                              'negative width or height')
        return boxes

    def validate_ids(self):
        """Images, categories and the annotations' references to them: unique integer ids,
        image sizes, the federated lists, category frequencies, and every annotation's image and
        category in the file. The error names the first record that breaks a rule. Returns the
        image ids (file order)."""
        img_ids = self._check_records('images', _check_image)
        cat_ids = self._check_records('categories', _check_category)
        for col, ids, key, name in ((self.ann_image_id, img_ids, 'image_id', 'images'),
                                    (self.ann_category_id, cat_ids, 'category_id', 'categories')):
            bad = ~np.isin(col, ids)
            if bad.any():
                i = int(np.argmax(bad))
                ann = self.annotations([i])[0]
                raise field_error(self.source, f'annotations[{i}] (id {ann.get("id")})', key,
                                  f'{int(col[i])} is not in "{name}"')
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


def _get(record, key, source, rec):
    v = record.get(key, _MISSING)
    if v is _MISSING:
        raise field_error(source, rec, key, 'missing')
    return v


def _check_image(im, src, rec):
    for key in ('id', 'height', 'width'):
        v = _get(im, key, src, rec)
        if not _is_id(v):
            raise field_error(src, rec, key, f'{describe(v)} is not an integer')
        if key != 'id' and v <= 0:
            raise field_error(src, rec, key, f'{v} is not a positive size')
    for key in FEDERATED_LISTS:
        v = im.get(key, _MISSING)
        if v is _MISSING:
            raise field_error(src, rec, key, 'missing: this looks like a COCO file, not LVIS. '
                              'LVIS images list the categories verified absent '
                              '(neg_category_ids) and those not exhaustively annotated '
                              '(not_exhaustive_category_ids); without them nothing is judged '
                              'under the federated rules')
        if type(v) is not list or not all(map(_is_id, v)):
            raise field_error(src, rec, key, f'{describe(v)} is not a list of category ids')


def _check_category(c, src, rec):
    v = _get(c, 'id', src, rec)
    if not _is_id(v):
        raise field_error(src, rec, 'id', f'{describe(v)} is not an integer id')
    name = _get(c, 'name', src, rec)
    if type(name) is not str:
        raise field_error(src, rec, 'name', f'{describe(name)} is not a string')
    f = c.get('frequency', _MISSING)
    if f is _MISSING:
        raise field_error(src, rec, 'frequency', 'missing: this looks like a COCO file, not LVIS '
                          "(LVIS categories are 'r'are, 'c'ommon or 'f'requent)")
    if f not in FREQUENCIES:
        raise field_error(src, rec, 'frequency', f"{describe(f)} is not one of 'r', 'c', 'f'")
    n = c.get('image_count', 0)
    if not _is_id(n):
        raise field_error(src, rec, 'image_count', f'{describe(n)} is not an integer')


def _loads(buf):
    try:
        return msgspec.json.decode(buf)
    except msgspec.DecodeError:
        return json.loads(bytes(buf))


def _annotations_region(raw):
    """[begin, end) of the annotations array's content, or None."""
    keys = list(_ANN_KEY.finditer(raw))
    if len(keys) != 1:
        return None
    begin = keys[0].end()                     # just after '['
    if re.match(rb'\s*\]', raw[begin:begin + 64]):
        return begin, raw.index(b']', begin)
    # The array ends at the first '}' then ']' (polygon lists end in ']]', never '}]').
    close = _ARRAY_END.search(raw, begin)
    return None if close is None else (begin, close.end() - 1)


def _scan_annotations(raw, begin, end):
    """(object starts, image ids, category ids) of flat annotation objects, or None."""
    region = raw[begin:end]
    # Flat annotation objects (polygons, no nested braces): each '{' starts one annotation.
    opens = np.array([m.start() for m in re.finditer(rb'\{', region)], np.int64)
    if region.count(b'}') != len(opens):
        return None                            # nested objects (e.g. RLE segmentations)
    img_pos, img_val = _match_columns(_IMG.finditer(region))
    cat_pos, cat_val = _match_columns(_CAT.finditer(region))
    n = len(opens)
    if len(img_val) != n or len(cat_val) != n:
        return None
    # each id must fall inside its own object
    if n and ((np.searchsorted(opens, img_pos, 'right') - 1 != np.arange(n)).any()
              or (np.searchsorted(opens, cat_pos, 'right') - 1 != np.arange(n)).any()):
        return None
    return np.r_[opens, len(region)] + begin, img_val, cat_val


def _is_id(v):
    return type(v) is int          # not bool, not 1.5, not "1", not null


def _is_number(v):
    return type(v) is int or type(v) is float


def _id_column(values, source, records, key):
    """int64 ids, refusing anything that is not a JSON integer (a float 1.5 would truncate to 1,
    a string would be converted, a null would crash)."""
    for i, v in enumerate(values):
        if not _is_id(v):
            raise field_error(source, f'{records}[{i}]', key, f'{describe(v)} is not an integer id')
    return np.array(values, np.int64)


def _match_columns(matches):
    pos, val = [], []
    for m in matches:
        pos.append(m.start())
        val.append(m.group(1))
    return np.array(pos, np.int64), np.array(val, dtype=np.int64) if val else np.zeros(0, np.int64)
