"""Read an LVIS annotation file without turning every annotation into Python objects.

LVIS v1 train is ~1 GB of JSON, nearly all of it 1.27M annotations' polygons; `json.load` spends
most of its time and memory building those tens of millions of floats. A category subset needs the
images, the categories and, of the annotations, only their ids, image ids and category ids plus
the chosen categories' annotations in full. So: the file minus its annotations array is parsed
normally; the array itself is scanned for the `"id"`, `"image_id"` and `"category_id"` values (numpy over
the raw bytes: the key positions, then each value's digits); the chosen annotations alone are
decoded. The id columns cover the
whole file, so every reader (the dataset, the metric on a category subset, the CLI) refuses the
same file, a duplicate annotation id outside the subset included. Where the file does not have the
shape this relies on (one annotations array, flat annotation objects), the whole file is parsed at
once.

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
from .io import read_bytes

_ANN_KEY = re.compile(rb'"annotations"\s*:\s*\[')
# The annotation keys whose integer values are read without parsing the annotations. At most 18
# digits: always an int64. A longer id sends the file to the full parse, whose validators name it.
_KEYS = (b'image_id', b'category_id', b'id')
_MAX_SPACES = 64       # whitespace runs around a key's colon and value (pretty-printed files)
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
            scan = _scan_annotations(*self._raw)
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
                cols.append(_id_column([a[key] for a in anns], self.source, 'annotations', key))
            self._cols = tuple(cols)
        return self._cols

    @classmethod
    def read(cls, path):
        """Read `path`; annotations stay unparsed where the file has the expected shape."""
        raw = read_bytes(path)
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
        check_boxes(boxes, lambda k: field_error(src, f'annotations[{index[k]}]', 'bbox',
                                                 f'{describe(annotations[k]["bbox"])} {BOX_RULE}'))
        return boxes

    def validate_ids(self):
        """Images, categories and the annotations' ids and references to them: unique integer
        ids, annotation ids from 1, image sizes, the federated lists, category frequencies, and
        every annotation's image and category in the file. Annotation ids are checked over the
        whole file, whichever categories are read. The error names the first record that breaks
        a rule. Returns the image ids (file order)."""
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


BOX_RULE = 'is not finite, or has a negative width or height'


def bad_boxes(boxes):
    """Rows of (n, 4) x, y, width, height boxes that break the one box rule of ground truth and
    detections: 4 finite numbers, width and height >= 0 (lvis-api would compute areas and IoUs
    from them: an infinite box matches everything, a negative one gets a negative area)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    with np.errstate(invalid='ignore'):
        return ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < 0) | (boxes[:, 3] < 0)


def check_boxes(boxes, error_of):
    """Raise `error_of(k)` for the first row k of `boxes` that breaks the box rule."""
    bad = bad_boxes(boxes)
    if bad.any():
        raise error_of(int(np.argmax(bad)))


def categories_named(categories, names, source=None):
    """The categories called `names`, in that order (so label k is `names[k]`): the one
    name-to-category lookup of the package (datasets, metric, tools). Refuses a bare string (a
    one-class tuple needs its trailing comma), a name given twice and an unknown name."""
    if isinstance(names, (str, bytes)):
        raise LVISFormatError(f'classes must be a tuple of category names, not the string {names!r}'
                              f" (a tuple of one class needs a trailing comma: ({names!r},))")
    names = list(names)
    if not names:
        raise LVISFormatError('classes is empty: name at least one category (or leave classes '
                              'out to take every category of the file)')
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise LVISFormatError(f'classes must be category names (strings), not {describe(bad[0])}')
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LVISFormatError(f'classes names {twice[0]!r} more than once: {names}')
    by_name, ids_of = {}, {}
    for c in categories:
        if isinstance(c, dict):
            by_name[c.get('name')] = c
            ids_of.setdefault(c.get('name'), []).append(c.get('id'))
    shared = [n for n in names if len(ids_of.get(n, ())) > 1]
    if shared:
        raise LVISFormatError(f'{source + ": " if source else ""}field "categories": '
                              f'{len(ids_of[shared[0]])} categories are named {shared[0]!r} (ids '
                              f'{ids_of[shared[0]]}): the name cannot choose between them')
    missing = [n for n in names if n not in by_name]
    if missing:
        raise LVISFormatError(f'{source + ": " if source else ""}field "categories" has no category '
                              f'named {missing[0]!r}' + (f' ({len(missing)} unknown names: '
                                                         f'{missing[:5]})' if len(missing) > 1 else ''))
    return [by_name[n] for n in names]


def _get(record, key, source, rec):
    v = record.get(key, _MISSING)
    if v is _MISSING:
        raise field_error(source, rec, key, 'missing')
    return v


def _check_image(im, src, rec):
    for key in ('id', 'height', 'width'):
        v = _get(im, key, src, rec)
        if not _is_id(v):
            raise field_error(src, rec, key, _not_id(v, 'an integer'))
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
        raise field_error(src, rec, 'id', _not_id(v))
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
        raise field_error(src, rec, 'image_count', _not_id(n, 'an integer'))


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
    """(object starts, image ids, category ids, ids) of flat annotation objects, or None."""
    region = raw[begin:end]
    a = np.frombuffer(region, np.uint8)
    # Flat annotation objects (polygons, no nested braces): each '{' starts one annotation.
    opens = _positions_of(region, ord('{'))
    if region.count(b'}') != len(opens):
        return None                            # nested objects (e.g. RLE segmentations)
    n = len(opens)
    quotes = _key_quotes(a)
    columns = []
    for key in _KEYS:
        found = _int_values(a, quotes, key)
        if found is None:
            return None
        pos, val = found
        # exactly one value per object, inside its own object
        if len(val) != n or (n and (np.searchsorted(opens, pos, 'right') - 1
                                    != np.arange(n)).any()):
            return None
        columns.append(val)
    return (np.r_[opens, len(region)] + begin, *columns)


def _key_quotes(a, step=1 << 24):
    """Positions of the '"' that open a key starting with 'i' or 'c' (the annotation keys read
    here), found by numpy 16 MB at a time."""
    out = [np.zeros(0, np.int64)]
    for i in range(0, len(a), step):
        q = np.flatnonzero(a[i:i + step] == ord('"')) + i
        q = q[q + 1 < len(a)]
        out.append(q[_FIRST_LETTER[a[q + 1]]])
    return np.concatenate(out)


def _int_values(a, quotes, key):
    """Positions and values of every `"key": <integer>` in the bytes `a`, or None where one of
    them is not followed by a plain integer of at most 18 digits (the file then takes the full
    parse, whose validators name the field). The numpy counterpart of the regex
    `"key"\\s*:\\s*(-?\\d{1,18})\\s*[,}]`, run over all occurrences at once, one byte
    position at a time."""
    needle = np.frombuffer(b'"' + key + b'"', np.uint8)
    pos = quotes[quotes + len(needle) < len(a)]
    for k, byte in enumerate(needle[1:], 1):          # the candidates shrink at every byte
        pos = pos[a[pos + k] == byte]
    last = len(a) - 1

    def skip_spaces(p):
        for _ in range(_MAX_SPACES):
            space = _SPACE[a[p]]
            if not space.any():
                return p
            p = np.minimum(p + space, last)
        return None

    p = skip_spaces(pos + len(needle))
    if p is None or not (a[p] == ord(':')).all():
        return None
    p = skip_spaces(np.minimum(p + 1, last))
    if p is None:
        return None
    neg = a[p] == ord('-')
    p = np.minimum(p + neg, last)
    value = np.zeros(len(p), np.int64)
    length = np.zeros(len(p), np.int64)
    for _ in range(19):
        c = a[p]
        d = _DIGIT[c]
        if not d.any():
            break
        value = np.where(d, value * 10 + (c.astype(np.int64) - ord('0')), value)
        length += d
        p = np.minimum(p + d, last)
    if not ((length >= 1) & (length <= 18)).all():
        return None
    p = skip_spaces(p)
    if p is None or not _TERMINATOR[a[p]].all():
        return None
    return pos, np.where(neg, -value, value)


def _byte_class(chars):
    table = np.zeros(256, bool)
    table[np.frombuffer(chars, np.uint8)] = True
    return table


def _positions_of(buf, byte, step=1 << 24):
    """Positions of `byte` in `buf`, found by numpy 16 MB at a time (twice a regex's speed;
    a comparison of the whole 1 GB file at once would hold a 1 GB mask)."""
    a = np.frombuffer(buf, np.uint8)
    return np.concatenate([np.zeros(0, np.int64)] + [
        np.flatnonzero(a[i:i + step] == byte) + i for i in range(0, len(a), step)])


def _is_id(v):
    # not bool, not 1.5, not "1", not null; and an int64, as the id columns hold them
    return type(v) is int and -2 ** 63 <= v < 2 ** 63


def _not_id(v, what='an integer id'):
    """Why `v` is not an id (`_is_id(v)` is False)."""
    if type(v) is int:
        return f'{v} does not fit in 64 bits'
    return f'{describe(v)} is not {what}'


def _is_number(v):
    return type(v) is int or type(v) is float


def _id_column(values, source, records, key):
    """int64 ids, refusing anything that is not a JSON integer (a float 1.5 would truncate to 1,
    a string would be converted, a null would crash)."""
    for i, v in enumerate(values):
        if not _is_id(v):
            raise field_error(source, f'{records}[{i}]', key, _not_id(v))
    return np.array(values, np.int64)


# Byte classes of the annotation scan (a 256-entry table: one lookup per byte).
_FIRST_LETTER = _byte_class(b'ic')
_SPACE = _byte_class(b' \t\n\r')
_DIGIT = _byte_class(b'0123456789')
_TERMINATOR = _byte_class(b',}')
