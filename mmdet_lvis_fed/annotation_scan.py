"""Find the three ids of every annotation in the raw bytes of an LVIS file, without decoding it.

Why this exists: LVIS v1 train is ~1 GB of JSON, nearly all of it 1.27M annotations' polygons,
and decoding them builds ~100M Python floats. A category subset keeps a few thousand annotations,
but every reader must still refuse the same file, a duplicate annotation id outside the subset
included, so it needs every annotation's `"id"`, `"image_id"` and `"category_id"`. This scan finds
them with numpy over the bytes of the annotations array (the key positions, then each value's
digits), and each annotation's byte range so that only the chosen ones are decoded
(`lvis_file.LVISFile.annotations`). The figures it buys are in tools/README.md ("Loading",
`tools/benchmark_loading.py`: a 2/2/2 subset of the 0.80 GiB LVIS-v1-shaped file in 4.8 s,
8.3x faster than mmdet's `LVISV1Dataset`).

It relies on a shape: one `"annotations"` array of flat objects (polygons, no nested braces) whose
three ids are plain integers of at most 18 digits. Where the bytes do not have it (RLE
segmentations, a longer id, a string id), it answers None and the reader parses the whole file,
whose validators then name the field. A test checks that it reads every integer as `json` does,
whitespace and key order included.
"""
import re

import numpy as np

_ANN_KEY = re.compile(rb'"annotations"\s*:\s*\[')
# The annotation keys whose integer values are read without parsing the annotations. At most 18
# digits: always an int64. A longer id sends the file to the full parse, whose validators name it.
_KEYS = (b'image_id', b'category_id', b'id')
_MAX_SPACES = 64       # whitespace runs around a key's colon and value (pretty-printed files)
_ARRAY_END = re.compile(rb'\}\s*\]')


def annotations_region(raw):
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


def scan_annotations(raw, begin, end):
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


# Byte classes of the annotation scan (a 256-entry table: one lookup per byte).
_FIRST_LETTER = _byte_class(b'ic')
_SPACE = _byte_class(b' \t\n\r')
_DIGIT = _byte_class(b'0123456789')
_TERMINATOR = _byte_class(b',}')
