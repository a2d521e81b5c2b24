"""Read an LVIS annotation file without turning every annotation into Python objects.

LVIS v1 train is ~1 GB of JSON, nearly all of it 1.27M annotations' polygons; `json.load` spends
most of its time and memory building those tens of millions of floats. A category subset needs the
images, the categories and, of the annotations, only their image and category ids plus the chosen
categories' annotations in full. So: the file minus its annotations array is parsed normally; the
array itself is scanned for the `"image_id"` and `"category_id"` values (two C-level regex passes);
the chosen annotations alone are decoded. Where the file does not have the shape this relies on
(one annotations array, flat annotation objects), the whole file is parsed with `json.loads`.
"""
import gc
import json
import re
from contextlib import contextmanager

import numpy as np

from ..evaluation.lvis_data import LVISFormatError

_ANN_KEY = re.compile(rb'"annotations"\s*:\s*\[')
_IMG = re.compile(rb'"image_id"\s*:\s*(-?\d+)\s*[,}]')
_CAT = re.compile(rb'"category_id"\s*:\s*(-?\d+)\s*[,}]')
_ARRAY_END = re.compile(rb'\}\s*\]')


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
                    rest = json.loads(raw[:begin] + raw[end:])
                return cls(rest, (raw, begin, end), source=str(path))
            except ValueError:
                pass                       # not the shape we assumed: parse the whole file
        try:
            with _no_gc():
                data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise LVISFormatError(f'{path}: not valid JSON ({e})') from e
        return cls(data, source=str(path))

    def __len__(self):
        return len(self.ann_image_id)

    def load_all(self):
        """Parse every annotation at once: cheaper than one by one when most are wanted."""
        if self._anns is None:
            raw, begin, end = self._raw
            # One copy, brackets included, and the file's bytes released before parsing: the
            # peak stays at what json.load of the whole file needs.
            text = raw[begin - 1:end + 1].decode('utf-8')
            self._raw = self._starts = self._cols = raw = None
            try:
                with _no_gc():
                    self._anns = json.loads(text)
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
                out.append(json.loads(chunk))
            except ValueError as e:
                raise LVISFormatError(f'{self.source}: annotations[{i}] is not valid JSON '
                                      f'({e})') from e
        return out

    def check_annotation_ids(self, index, annotations):
        """The parsed annotations (`annotations(index)`) carry unique integer ids."""
        ids = [a.get('id') for a in annotations]
        for i, v in zip(index, ids):
            if not _is_id(v):
                raise LVISFormatError(f'{self.source}: annotations[{i}]: field "id" is '
                                      f'{json.dumps(v)}, not an integer id')
        seen = {}
        for i, v in zip(index, ids):
            if v in seen:
                raise LVISFormatError(f'{self.source}: annotations[{i}]: field "id" is {v}, the '
                                      f'same as annotations[{seen[v]}]')
            seen[v] = i

    def validate_ids(self):
        """Image and category ids are unique integers; every annotation's image and category
        exist. The error names the first record that breaks a rule. Returns the image ids."""
        cols = {}
        for name in ('images', 'categories'):
            records = getattr(self, name)
            bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)
                        or 'id' not in r), None)
            if bad is not None:
                raise LVISFormatError(f'{self.source}: {name}[{bad}] has no field "id"')
            ids = _id_column([r['id'] for r in records], self.source, name, 'id')
            uniq, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                dup = uniq[counts > 1][0]
                where = np.nonzero(ids == dup)[0]
                raise LVISFormatError(f'{self.source}: {name}[{where[1]}]: field "id" is {dup}, '
                                      f'the same as {name}[{where[0]}]')
            cols[name] = ids
        img_ids, cat_ids = cols['images'], cols['categories']
        for col, ids, key, name in ((self.ann_image_id, img_ids, 'image_id', 'images'),
                                    (self.ann_category_id, cat_ids, 'category_id', 'categories')):
            bad = ~np.isin(col, ids)
            if bad.any():
                i = int(np.argmax(bad))
                ann = self.annotations([i])[0]
                raise LVISFormatError(f'{self.source}: annotations[{i}] (id {ann.get("id")}): '
                                      f'field "{key}" is {int(col[i])}, which is not in "{name}"')
        return img_ids


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
    return isinstance(v, int) and not isinstance(v, bool)


def _id_column(values, source, records, key):
    """int64 ids, refusing anything that is not a JSON integer (a float 1.5 would truncate to 1,
    a string would be converted, a null would crash)."""
    for i, v in enumerate(values):
        if not _is_id(v):
            raise LVISFormatError(f'{source}: {records}[{i}]: field "{key}" is {json.dumps(v)}, '
                                  'not an integer id')
    return np.array(values, np.int64)


def _match_columns(matches):
    pos, val = [], []
    for m in matches:
        pos.append(m.start())
        val.append(m.group(1))
    return np.array(pos, np.int64), np.array(val, dtype=np.int64) if val else np.zeros(0, np.int64)
