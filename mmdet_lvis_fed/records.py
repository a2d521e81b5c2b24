"""The record rules of the LVIS formats, written once for every reader: the annotation file's
(`lvis_file.LVISFile`) and the detections' (`evaluation.detections`, the results readers).

- An id is a JSON integer that fits in 64 bits (the id columns are int64): not a bool, not 1.5
  (it would truncate to 1), not "1", not null (`is_id`, `id_column`).
- A box is x, y, width, height: 4 finite numbers, width and height >= 0 (`bad_boxes`), for ground
  truth and detections alike.
- An LVIS image carries its federated lists, an LVIS category its frequency (`check_image`,
  `check_category`): without them nothing can be judged under the federated rules.
- A class name chooses exactly one category (`categories_named`, the one name lookup).

Only numpy and the standard library.
"""
import numpy as np

from .errors import LVISFormatError, describe, field_error

FEDERATED_LISTS = ('neg_category_ids', 'not_exhaustive_category_ids')
FREQUENCIES = ('r', 'c', 'f')
INT64 = (-2 ** 63, 2 ** 63 - 1)
_MISSING = object()


def is_id(v):
    # not bool, not 1.5, not "1", not null; and an int64, as the id columns hold them
    return type(v) is int and INT64[0] <= v <= INT64[1]


def not_id(v, what='an integer id'):
    """Why `v` is not an id (`is_id(v)` is False)."""
    if type(v) is int:
        return f'{v} does not fit in 64 bits'
    return f'{describe(v)} is not {what}'


def is_number(v):
    return type(v) is int or type(v) is float


def id_column(values, source, records, key):
    """int64 ids, refusing anything that is not a JSON integer (a float 1.5 would truncate to 1,
    a string would be converted, a null would crash)."""
    for i, v in enumerate(values):
        if not is_id(v):
            raise field_error(source, f'{records}[{i}]', key, not_id(v))
    return np.array(values, np.int64)


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
        more = f' ({len(missing)} unknown names: {missing[:5]})' if len(missing) > 1 else ''
        raise LVISFormatError(f'{source + ": " if source else ""}field "categories" has no '
                              f'category named {missing[0]!r}' + more)
    return [by_name[n] for n in names]


def required(record, key, source, rec):
    """`record[key]`; a missing key is an error naming the record and the field."""
    v = record.get(key, _MISSING)
    if v is _MISSING:
        raise field_error(source, rec, key, 'missing')
    return v


def check_image(im, src, rec):
    for key in ('id', 'height', 'width'):
        v = required(im, key, src, rec)
        if not is_id(v):
            raise field_error(src, rec, key, not_id(v, 'an integer'))
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
        if type(v) is not list or not all(map(is_id, v)):
            raise field_error(src, rec, key, f'{describe(v)} is not a list of category ids')


def check_category(c, src, rec):
    v = required(c, 'id', src, rec)
    if not is_id(v):
        raise field_error(src, rec, 'id', not_id(v))
    name = required(c, 'name', src, rec)
    if type(name) is not str:
        raise field_error(src, rec, 'name', f'{describe(name)} is not a string')
    f = c.get('frequency', _MISSING)
    if f is _MISSING:
        raise field_error(src, rec, 'frequency', 'missing: this looks like a COCO file, not LVIS '
                          "(LVIS categories are 'r'are, 'c'ommon or 'f'requent)")
    if f not in FREQUENCIES:
        raise field_error(src, rec, 'frequency', f"{describe(f)} is not one of 'r', 'c', 'f'")
    n = c.get('image_count', 0)
    if not is_id(n):
        raise field_error(src, rec, 'image_count', not_id(n, 'an integer'))
